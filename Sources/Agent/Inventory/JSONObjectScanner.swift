/// Splits a byte stream of concatenated JSON objects into one object at a time, as
/// `kubectl get pods -A --watch --output-watch-events -o json` writes them: each object
/// pretty-printed over several lines, the next one following with no separator (RFC 8259
/// allows any whitespace between values; a stream of values is RFC 7464's idea, without its
/// record separators). Bytes are fed as they arrive, so an object may be split across reads.
///
/// The scanner counts `{`/`[` against `}`/`]` outside strings (a string ends at a `"` not
/// preceded by an odd run of `\`), so braces and escaped quotes in label values do not
/// confuse it; the object itself is parsed afterwards, so a mismatched bracket is reported by
/// the JSON parser. An object cut short (its writer died and a new one started) is
/// recognised by a `{` at the start of a line inside it, where kubectl's indented output never
/// has one: the cut object is given up (`Piece.truncated`) and the new one taken (a string
/// never runs past the end of a line, where a valid one never does, so this holds whatever
/// the broken object held).
package struct JSONObjectScanner: Sendable {
    /// What the stream yielded.
    package enum Piece: Equatable, Sendable {
        /// A complete top-level value's bytes, and the stream line it started on.
        case object([UInt8], line: Int)
        /// An object cut short, from `line`; its bytes are dropped.
        case truncated(line: Int)
        /// Text outside any object (not whitespace), from `line`, skipped up to the next `{`.
        case stray(line: Int)
        /// An object longer than `maximumObjectSize`, from `line`; skipped.
        case tooLong(line: Int)
    }

    /// The longest object kept (a pod is a few KiB; a `List` of every pod may be large).
    package var maximumObjectSize: Int
    private var buffer: [UInt8] = []
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var skippingStray = false
    private var tooLong = false
    private var atLineStart = true
    private var line = 1
    private var objectLine = 1

    package init(maximumObjectSize: Int = 256 << 20) {
        self.maximumObjectSize = maximumObjectSize
    }

    /// Whether an object has begun and not ended (at the end of a stream: it was cut short).
    package var isInsideObject: Bool { self.depth > 0 }

    /// The stream line the unfinished object started on.
    package var unfinishedLine: Int { self.objectLine }

    /// Feeds the next bytes; returns the pieces they completed, in order.
    package mutating func feed(_ bytes: some Sequence<UInt8>) -> [Piece] {
        var pieces: [Piece] = []
        for byte in bytes {
            let lineStart = self.atLineStart
            self.atLineStart = byte == 0x0A
            if byte == 0x0A { self.line += 1 }
            guard self.depth > 0 else {
                switch byte {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    self.skippingStray = false
                    self.begin(byte)
                case 0x20, 0x09, 0x0A, 0x0D:
                    continue
                default:
                    if !self.skippingStray {
                        self.skippingStray = true
                        pieces.append(.stray(line: self.line))
                    }
                }
                continue
            }
            if self.inString {
                if byte == 0x0A {
                    // A JSON string holds no raw line break (RFC 8259 section 7): the object is
                    // broken, and its next line is read as JSON text again, so a new object can
                    // still be recognised at the start of a line.
                    self.inString = false
                    self.escaped = false
                } else if self.escaped {
                    self.escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    self.escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    self.inString = false
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""):
                    self.inString = true
                case UInt8(ascii: "{") where lineStart:
                    pieces.append(.truncated(line: self.objectLine))
                    self.depth = 0
                    self.begin(byte)
                    continue
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    self.depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    self.depth -= 1
                default:
                    break
                }
            }
            self.keep(byte)
            if self.depth == 0 {
                pieces.append(self.tooLong ? .tooLong(line: self.objectLine) : .object(self.buffer, line: self.objectLine))
                self.buffer.removeAll(keepingCapacity: self.buffer.capacity <= 1 << 20)
                self.tooLong = false
            }
        }
        return pieces
    }

    private mutating func begin(_ byte: UInt8) {
        self.buffer.removeAll(keepingCapacity: true)
        self.tooLong = false
        self.inString = false
        self.escaped = false
        self.depth = 1
        self.objectLine = self.line
        self.keep(byte)
    }

    private mutating func keep(_ byte: UInt8) {
        guard !self.tooLong else { return }
        if self.buffer.count >= self.maximumObjectSize {
            self.tooLong = true
            self.buffer.removeAll()
        } else {
            self.buffer.append(byte)
        }
    }
}
