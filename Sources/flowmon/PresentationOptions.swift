import ArgumentParser
import Foundation
import Presentation

#if canImport(Glibc)
import Glibc
#endif

extension Presenter.Format: ExpressibleByArgument {}

/// How the output is shown, and which records: shared by `replay` and `capture`.
struct PresentationOptions: ParsableArguments {
    @Option(help: ArgumentHelp("'compact': one line per connection for a person (the default when standard output is a terminal); 'json': JSON lines (the default otherwise).", valueName: "compact|json"))
    var format: Presenter.Format?

    @Flag(help: "No colours in compact output (also when NO_COLOR is set, or output is not a terminal).")
    var noColor = false

    @Flag(inversion: .prefixedNo, help: "Print a run summary at the end: on standard output in compact format (the default there), on standard error with JSON.")
    var summary: Bool?

    @Option(help: ArgumentHelp("Only connections from this pod: [NAMESPACE/]NAME-PREFIX. Repeatable (any may match).", valueName: "pod"))
    var fromPod: [String] = []

    @Option(help: ArgumentHelp("Only connections to this pod: [NAMESPACE/]NAME-PREFIX. Repeatable.", valueName: "pod"))
    var toPod: [String] = []

    @Option(help: ArgumentHelp("Only connections from or to this namespace. Repeatable.", valueName: "namespace"))
    var namespace: [String] = []

    @Option(help: ArgumentHelp("Only connections whose source labels match: comma-separated key=value, key!=value, key, !key (a key may carry its source, k8s:app=web). Repeatable.", valueName: "selector"))
    var fromLabel: [String] = []

    @Option(help: ArgumentHelp("Only connections whose destination labels match (as --from-label). Repeatable.", valueName: "selector"))
    var toLabel: [String] = []

    @Option(help: ArgumentHelp("Only connections with this verdict: FORWARDED, AUDIT or DROPPED (no policy counts as FORWARDED). Repeatable.", valueName: "verdict"))
    var verdict: [String] = []

    @Option(help: ArgumentHelp("Only connections with this source or destination port. Repeatable.", valueName: "port"))
    var port: [Int] = []

    @Option(help: ArgumentHelp("Only connections of this protocol: tcp, udp, sctp, icmp, icmpv6 or a number. Repeatable.", valueName: "protocol"))
    var `protocol`: [String] = []

    @Option(help: ArgumentHelp("Only these records: flow, alert, stats, lost. Repeatable.", valueName: "type"))
    var type: [String] = []

    func validate() throws {
        do {
            _ = try self.filter()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func filter() throws(FilterError) -> RecordFilter {
        try RecordFilter(fromPods: self.fromPod, toPods: self.toPod, namespaces: self.namespace, fromLabels: self.fromLabel,
                         toLabels: self.toLabel, verdicts: self.verdict, ports: self.port, protocols: self.protocol,
                         types: self.type)
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

    /// Whether the output is not plain JSON lines (compact, filtered or summarized), so a
    /// presenter must stand between the pipeline and the output.
    func needsPresenter(outputPath: String?) throws(FilterError) -> Bool {
        let filter = try self.filter()
        return self.effectiveFormat(outputPath: outputPath) == .compact || !filter.isEmpty || self.summary == true
    }

    /// The presenter, writing to `output` (when `needsPresenter`).
    func presenter(outputPath: String?, output: Int32) throws(FilterError) -> Presenter {
        let format = self.effectiveFormat(outputPath: outputPath)
        let filter = try self.filter()
        let summary = self.summary ?? (format == .compact)
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
