/// Finds where an HTTP/1.x message head ends, a byte at a time (so a head split across segments
/// is scanned once): at the empty line after the start line and the field lines. Empty lines
/// before the start line are skipped (RFC 9112 §2.2); a line may end with CRLF or a bare LF.
public struct HTTPHeadScanner: Sendable {
    /// Whether a non-empty line (the start line) was seen.
    public private(set) var started = false
    private var lineHasContent = false

    public init() {}

    public enum Step: Sendable, Equatable {
        /// The byte belongs to the head.
        case byte
        /// The byte ends an empty line before the start line: what came so far is not part of
        /// the head.
        case leadingEmptyLine
        /// The byte ends the head (the LF of its empty line).
        case end
    }

    public mutating func scan(_ byte: UInt8) -> Step {
        if byte == 0x0A {
            defer { self.lineHasContent = false }
            if self.lineHasContent {
                self.started = true
                return .byte
            }
            return self.started ? .end : .leadingEmptyLine
        }
        if byte != 0x0D { self.lineHasContent = true }
        return .byte
    }

    /// Where the head in `bytes` ends: the index after its empty line, and where it starts
    /// (after the leading empty lines); nil when no head ends within the first `limit` bytes.
    public static func head(in bytes: UnsafeRawBufferPointer, limit: Int) -> Range<Int>? {
        var scanner = HTTPHeadScanner()
        var start = 0
        for index in 0..<min(bytes.count, limit) {
            switch scanner.scan(bytes[index]) {
            case .byte: break
            case .leadingEmptyLine: start = index + 1
            case .end: return start..<(index + 1)
            }
        }
        return nil
    }
}
