import ArgumentParser
import Foundation
import Presentation

#if canImport(Glibc)
import Glibc
#endif

extension Presenter.Format: ExpressibleByArgument {}

/// How the output is shown, and which records: shared by `replay`, `capture` and `observe`.
struct PresentationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("'compact': one line per connection for a person (the default when standard output is a terminal); 'json': JSON lines (the default otherwise).", valueName: "compact|json"))
    var format: Presenter.Format?

    @Flag(help: "No colours in compact output (also when NO_COLOR is set, or output is not a terminal).")
    var noColor = false

    @Flag(inversion: .prefixedNo, help: "Print a run summary at the end: on standard output in compact format (the default there), on standard error with JSON.")
    var summary: Bool?

    @OptionGroup(title: "Filters (as hubble observe's)") var filters: FilterOptions

    func filter() throws(FilterError) -> RecordFilter {
        try self.filters.filter()
    }

    /// Opens (creates or truncates) the file the presenter writes to.
    static func openOutput(_ path: String) throws -> Int32 {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            Diagnostics.error("cannot open output file \(path): \(String(cString: strerror(errno)))")
            throw ExitCode.failure
        }
        return descriptor
    }

    /// The format in effect: compact by default only when writing to a terminal.
    func effectiveFormat(outputPath: String?) -> Presenter.Format {
        self.format ?? (outputPath == nil && isatty(1) == 1 ? .compact : .json)
    }

    /// `observe`'s: compact unless `--format json`, as `hubble observe`'s.
    var observeFormat: Presenter.Format { self.format ?? .compact }

    /// Whether the output is not plain JSON lines (compact, filtered or summarized), so a
    /// presenter must stand between the pipeline and the output.
    func needsPresenter(outputPath: String?) throws(FilterError) -> Bool {
        let filter = try self.filter()
        return self.effectiveFormat(outputPath: outputPath) == .compact || !filter.isEmpty || self.summary == true
    }

    /// The presenter, writing to `output` (when `needsPresenter`).
    func presenter(outputPath: String?, output: Int32, format: Presenter.Format? = nil,
                   summaryByDefault: Bool? = nil) throws(FilterError) -> Presenter {
        let format = format ?? self.effectiveFormat(outputPath: outputPath)
        let filter = try self.filter()
        let summary = self.summary ?? summaryByDefault ?? (format == .compact)
        let noColorVariable = getenv("NO_COLOR").map { String(cString: $0) } ?? ""
        let color = format == .compact && !self.noColor && noColorVariable.isEmpty && isatty(output) == 1
        let summaryOutput: Int32? = summary ? (format == .compact ? output : 2) : nil
        return Presenter(format: format, filter: filter, color: color, output: output, summaryOutput: summaryOutput)
    }
}

/// A presenter running on its own thread, fed through a pipe by the pipeline's output.
final class PresenterThread: @unchecked Sendable {
    let presenter: Presenter
    let writeEnd: Int32
    let finished = DispatchSemaphore(value: 0)

    /// Starts the thread; the pipeline writes its JSON lines to `writeEnd`.
    init(_ presenter: Presenter) throws {
        var descriptors: [Int32] = [0, 0]
        guard pipe(&descriptors) == 0 else { throw ValidationError("cannot create a pipe: \(String(cString: strerror(errno)))") }
        self.presenter = presenter
        self.writeEnd = descriptors[1]
        let readEnd = descriptors[0]
        let thread = Thread { [presenter, finished] in
            presenter.run(input: readEnd)
            finished.signal()
        }
        thread.name = "flowmon-presenter"
        thread.start()
    }

    /// Closes the pipeline's end and waits until everything (and the summary) is written.
    func finish() {
        close(self.writeEnd)
        self.finished.wait()
    }
}
