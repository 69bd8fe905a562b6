import ArgumentParser
import Output

/// Where `replay` and `capture` write their records.
struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Write JSON lines to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Also write one Hubble-format line per policy decision on a new connection (as 'hubble observe -o json' prints; readable with 'hubble observe --input-file').", valueName: "file"))
    var hubble: String?

    /// The pipeline's output: JSON lines to --output or standard output, or, for compact,
    /// filtered or summarized output, a pipe to a presenter thread that writes there.
    func openRecords(_ presentation: PresentationOptions) throws -> (sink: JSONLinesOutput, presenter: PresenterThread?) {
        guard try presentation.needsPresenter(outputPath: self.output) else {
            let sink = try self.output.map { path throws(OutputError) in try JSONLinesOutput(path: path) }
                ?? JSONLinesOutput(fileDescriptor: 1, name: "standard output")
            return (sink, nil)
        }
        let presenterOutput = try self.output.map { try PresentationOptions.openOutput($0) } ?? 1
        let presenter = try PresenterThread(try presentation.presenter(outputPath: self.output, output: presenterOutput))
        return (JSONLinesOutput(fileDescriptor: presenter.writeEnd, name: self.output ?? "standard output"), presenter)
    }

    func openHubble() throws(OutputError) -> JSONLinesOutput? {
        try self.hubble.map { path throws(OutputError) in try JSONLinesOutput(path: path) }
    }
}
