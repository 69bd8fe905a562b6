#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

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

    /// Scans `bytes[start..<end]` as `scan(_:)` would one byte at a time, up to the first byte
    /// that is not `.byte`: its index and step, or `(end, .byte)` when all of them belong to the
    /// head. Only line feeds can end a run, so it looks for them with `memchr` (a head split over
    /// segments, or the binary body a head scan runs into, is mostly bytes between them).
    public mutating func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> (index: Int, step: Step) {
        guard let base = bytes.baseAddress, start >= 0, start < end, end <= bytes.count else { return (end, .byte) }
        var position = start
        while position < end {
            let found = memchr(base + position, 0x0A, end &- position)
            let lineFeed = found.map { base.distance(to: UnsafeRawPointer($0)) } ?? end
            if !self.lineHasContent {
                var index = position
                while index < lineFeed, bytes[index] == 0x0D { index &+= 1 }
                if index < lineFeed { self.lineHasContent = true }
            }
            guard lineFeed < end else { return (end, .byte) }
            let step = self.scan(0x0A)
            if step != .byte { return (lineFeed, step) }
            position = lineFeed &+ 1
        }
        return (end, .byte)
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
