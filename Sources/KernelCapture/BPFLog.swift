internal import CBPF
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// What libbpf prints (warnings, and the verifier's log when the kernel refuses a program),
/// kept instead of written to stderr, so an error can end with the lines that explain it.
final class BPFLog: Sendable {
    private static let shared = BPFLog()
    private let kept = Mutex<[String]>([])

    /// Starts keeping libbpf's messages (from now on, for the whole process) and returns the log.
    static func capture() -> BPFLog {
        libbpf_set_print(printMessage)
        Self.shared.kept.withLock { $0.removeAll() }
        return Self.shared
    }

    var lines: [String] { self.kept.withLock { $0 } }

    fileprivate func append(_ text: String) {
        self.kept.withLock { lines in
            lines.append(contentsOf: text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init))
            if lines.count > 4096 { lines.removeFirst(lines.count - 4096) }
        }
    }

    /// The last lines for an error message ("" when there are none): with `verifier`, the last
    /// ones of the verifier's log, which say what it refused.
    func tail(verifier: Bool = false) -> String {
        var lines = self.lines
        if verifier, let end = lines.lastIndex(where: { $0.contains("END PROG LOAD LOG") }) {
            let start = lines[..<end].lastIndex(where: { $0.contains("BEGIN PROG LOAD LOG") }).map { $0 + 1 } ?? 0
            lines = Array(lines[start..<end])
        }
        let last = lines.suffix(verifier ? 12 : 4)
        return last.isEmpty ? "" : "\n" + last.map { "  " + $0 }.joined(separator: "\n")
    }
}

/// libbpf's print callback: formats the message into the shared log.
private let printMessage: libbpf_print_fn_t = { _, format, arguments in
    guard let format, let arguments else { return 0 }
    var buffer = [CChar](repeating: 0, count: 4096)
    let written = vsnprintf(&buffer, buffer.count, format, arguments)
    guard written > 0 else { return 0 }
    BPFLog.sharedLog.append(String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self))
    return written
}

extension BPFLog {
    fileprivate static var sharedLog: BPFLog { Self.shared }
}
