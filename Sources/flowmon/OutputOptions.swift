import ArgumentParser
import FlowMonitor
import Output

#if canImport(Glibc)
import Glibc
#endif

extension ProcessorConfiguration {
    /// This configuration with the record options of `options` (`--community-id-seed`).
    func with(_ options: OutputOptions) -> ProcessorConfiguration {
        var configuration = self
        configuration.communityIDSeed = options.communityIDSeed
        return configuration
    }
}

/// Where `replay` and `capture` write their records.
struct OutputOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: ArgumentHelp("Write JSON lines to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Option(help: ArgumentHelp("Also write one Hubble-format line per policy decision on a new connection (as 'hubble observe -o json' prints; readable with 'hubble observe --input-file').", valueName: "file"))
    var hubble: String?

    @Option(help: ArgumentHelp("Seed of the 'community_id' of flow and alert records (Community ID v1, as Suricata's 'community-id-seed'): tools that correlate IDs must use the same seed.", valueName: "0-65535"))
    var communityIDSeed: UInt16 = 0

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

    /// How a run whose output failed ends. When the reader of the records went away (`flowmon
    /// replay … | head`: standard output, or the `--output` FIFO, closed by its reader) the run
    /// stops quietly with status 0, as a Unix filter does: SIGPIPE's default action ends the
    /// writer without a message (POSIX, signal.h). flowmon ignores SIGPIPE and stops at the EPIPE
    /// instead, so the other outputs still get every whole line written before. Any other
    /// failure, including a side output's (`--hubble`, `--alerts`) reader going away, is one
    /// line on standard error and status 1. `outputs` are those opened, the records' first;
    /// call it after the presenter, if any, has finished.
    static func exitCode(after error: any Error & CustomStringConvertible, outputs: [JSONLinesOutput],
                         presenter: PresenterThread?) -> ExitCode {
        for output in outputs { try? output.flush() }
        if let records = outputs.first, records.readerWentAway {
            // With a presenter, the records go through it; its own write failed first.
            let code = presenter.map(\.presenter.writeError) ?? EPIPE
            if code == EPIPE { return .success }
            if code != 0 {
                Diagnostics.error("cannot write to \(records.name): \(String(cString: strerror(code)))")
                return .failure
            }
        }
        Diagnostics.error(error.description)
        return .failure
    }
}
