import FlowLog
#if canImport(Glibc)
import Glibc
#endif

/// Turns flowmon's JSON lines into what a person asked for: reads them from a file
/// descriptor (the pipe the pipeline writes to), keeps the records the filter accepts, and
/// writes each as a compact line or as the JSON line it was; at the end, the run summary.
///
/// It runs on its own thread beside the pipeline, which keeps writing JSON lines exactly as
/// without it. When its own output fails (the reader of standard output went away), it
/// closes its end of the pipe, so the pipeline's next write fails the way it would have.
package final class Presenter: @unchecked Sendable {
    package enum Format: String, Sendable { case compact, json }

    let format: Format
    let filter: RecordFilter
    let printer: CompactPrinter
    let output: Int32
    /// Where the summary goes (standard output in compact mode, standard error with JSON), or -1.
    let summaryOutput: Int32
    package private(set) var summary = RunSummary()
    package private(set) var writeError: Int32 = 0
    /// With `--last N`: the last N records that passed, written at the end (`finish`).
    var held: Held?

    package init(format: Format, filter: RecordFilter, color: Bool, output: Int32, summaryOutput: Int32?) {
        self.format = format
        self.filter = filter
        self.printer = CompactPrinter(color: color)
        self.output = output
        self.summaryOutput = summaryOutput ?? -1
        self.held = filter.last.map { Held(capacity: $0) }
    }

    /// Reads `input` to its end (or until writing fails), then writes the summary and closes `input`.
    package func run(input: Int32) {
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var out: [UInt8] = []
        reading: while self.writeError == 0 {
            let count = chunk.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            pending.append(contentsOf: chunk[0..<count])
            var start = 0
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                self.present(pending[start..<newline], into: &out)
                start = newline + 1
            }
            pending.removeFirst(start)
            if !out.isEmpty {
                if !self.write(out, to: self.output) { break reading }
                out.removeAll(keepingCapacity: true)
            }
        }
        if self.writeError == 0 && !pending.isEmpty {
            self.present(pending[...], into: &out)
            _ = self.write(out, to: self.output)
        }
        self.finish()
        close(input)
    }

    /// Shows one record read elsewhere (`line` is its JSON line) at once; false when the
    /// output cannot be written.
    package func show(_ event: FlowLogEvent, line: ArraySlice<UInt8>) -> Bool {
        var out: [UInt8] = []
        self.present(event, line: line, into: &out)
        return out.isEmpty || self.write(out, to: self.output)
    }

    /// Writes the records `--last` held back, and shows every later one at once.
    package func releaseLast() {
        guard let held = self.held else { return }
        self.held = nil
        var out: [UInt8] = []
        for index in 0..<held.lines.count { out += held.lines[(held.next + index) % held.lines.count] }
        if self.writeError == 0 && !out.isEmpty { _ = self.write(out, to: self.output) }
    }

    /// At the end: the records `--last` held back, then the summary.
    package func finish() {
        self.releaseLast()
        if self.writeError == 0 && self.summaryOutput >= 0 {
            _ = self.write(Array(("\n" + self.summary.render()).utf8), to: self.summaryOutput)
        }
    }

    func present(_ line: ArraySlice<UInt8>, into out: inout [UInt8]) {
        guard let event = FlowLogEvent(line: line) else {
            // Not a record (cannot come from flowmon): passed on as it is.
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
            return
        }
        self.present(event, line: line, into: &out)
    }

    func present(_ event: FlowLogEvent, line: ArraySlice<UInt8>, into out: inout [UInt8]) {
        // The summary counts every record; the filters choose only what is shown.
        self.summary.add(event)
        guard self.filter.matches(event) else { return }
        var text: [UInt8] = []
        switch self.format {
        case .json:
            text.append(contentsOf: line)
        case .compact:
            // The final stats line is the summary's first rows when a summary follows.
            if event.kind == .stats && self.summaryOutput == self.output { return }
            // A policy-violation alert repeats its connection's AUDIT line; it is shown when
            // alerts are asked for (`--type alert`) and counted in the summary either way.
            if case .alert(let alert) = event, alert.kind == "policy_violation", !self.filter.asksForAlerts { return }
            text.append(contentsOf: self.printer.line(event).utf8)
        }
        text.append(UInt8(ascii: "\n"))
        if self.held != nil {
            self.held!.keep(text)
        } else {
            out += text
        }
    }

    /// The last records shown with `--last`, in a ring.
    struct Held {
        var lines: [[UInt8]] = []
        var next = 0
        let capacity: Int

        mutating func keep(_ line: [UInt8]) {
            if self.lines.count < self.capacity {
                self.lines.append(line)
            } else {
                self.lines[self.next] = line
                self.next = (self.next + 1) % self.capacity
            }
        }
    }

    func write(_ bytes: [UInt8], to descriptor: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            if written < 0 {
                if errno == EINTR { continue }
                self.writeError = errno
                return false
            }
            offset += written
        }
        return true
    }
}
