#if canImport(Glibc)
import Glibc
#endif

/// One-line messages on standard error, prefixed with the program name.
enum Diagnostics {
    static func error(_ message: String) { write("flowmon: error: \(message)\n") }
    static func notice(_ message: String) { write("flowmon: notice: \(message)\n") }
    static func line(_ message: String) { write(message + "\n") }

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
