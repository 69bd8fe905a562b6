import Agent
#if canImport(Glibc)
import Glibc
#endif

/// One-line messages on standard error, prefixed with the program name.
///
/// Messages quote names that come from outside (file names, pod names, policy names, label
/// values), so each message is made one line before it is written: control characters
/// (U+0000-U+001F, U+007F-U+009F) and U+2028/U+2029 are written as `\n`, `\r`, `\t` or
/// `\u{1b}`. A log collector then sees one line per message, and a name cannot move the
/// terminal's cursor or send it escape sequences. Backslashes are left as they are.
enum Diagnostics {
    static func error(_ message: String) { write("flowmon: error: \(oneLine(message))\n") }
    /// An agent error and the further errors of the same load, one line each.
    static func error(_ error: AgentError) { for line in error.lines { Self.error(line) } }
    static func notice(_ message: String) { write("flowmon: notice: \(oneLine(message))\n") }
    static func line(_ message: String) { write(oneLine(message) + "\n") }

    /// `message` with its control characters and line separators escaped.
    static func oneLine(_ message: String) -> String {
        guard message.unicodeScalars.contains(where: needsEscape) else { return message }
        var text = ""
        for scalar in message.unicodeScalars {
            guard needsEscape(scalar) else {
                text.unicodeScalars.append(scalar)
                continue
            }
            switch scalar {
            case "\n": text += "\\n"
            case "\r": text += "\\r"
            case "\t": text += "\\t"
            default: text += "\\u{\(String(scalar.value, radix: 16))}"
            }
        }
        return text
    }

    static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7f...0x9f).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    private static func write(_ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                if written <= 0 { if errno == EINTR { continue } else { return } }
                offset += written
            }
        }
    }
}
