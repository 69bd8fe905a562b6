/// One direction of an HTTP/1.x connection: where its byte stream is (TCP sequence numbers),
/// how far it was read, and where it is in the current message (RFC 9112 §6-§7).
struct HTTPStream: Sendable {
    enum Phase: Sendable, Equatable {
        /// Reading a head into `head` (leading empty lines skipped).
        case head
        /// A body of Content-Length bytes: this many to go.
        case body(remaining: Int)
        /// A chunk-size line (RFC 9112 §7.1): the size so far, whether a digit was seen, the
        /// line's bytes so far, whether in a chunk extension.
        case chunkSize(value: Int, digits: Bool, lineBytes: Int, inExtension: Bool)
        case chunkData(remaining: Int)
        /// The CRLF after chunk data.
        case chunkDataEnd(sawCR: Bool)
        /// The trailer section, up to its empty line (bytes so far, whether the line has any).
        case trailers(lineHasContent: Bool, bytes: Int)
        /// A response body that ends when the server closes (RFC 9112 §6.3 rule 8).
        case untilClose
        /// Not parsed: stopped, or another protocol after 101 or a CONNECT tunnel.
        case ignored
    }

    /// The sequence number of the next byte expected; nil before the first segment.
    var next: UInt32?
    /// Bytes read so far (bounded by `HTTPLimits.depth`).
    var consumed = 0
    var phase = Phase.head
    var head: [UInt8] = []
    /// Why the head being read will be refused when it ends, known from its start line once a
    /// segment ends after it (the parser reads the start line first): its bytes are then only
    /// counted in `uncopied`, for the `headBytes` limit, not gathered (a body read as a head,
    /// as after a body longer than its framing said, is up to `headBytes` of them).
    var refusal: HTTPParseError?
    var uncopied = 0
    /// Whether the start line of the head being read was checked (`refusal`).
    var startLineChecked = false
    var scanner = HTTPHeadScanner()
    /// When the head being read started.
    var headTime: Int64 = 0

    /// The part of a segment that is new: the offset of its first unseen byte, or why none.
    /// Advances `next`; a segment after it is a gap (RFC 9293 §3.4: sequence numbers modulo
    /// 2^32).
    mutating func newBytes(count: Int, sequence: UInt32) -> Result<Int, HTTPParseError> {
        var offset = 0
        if let next = self.next {
            let delta = Int64(Int32(bitPattern: sequence &- next))
            if delta > 0 { return .failure(.gap) }
            if delta < 0 {
                guard -delta < Int64(count) else { return .failure(.retransmission) }
                offset = Int(-delta)
            }
        }
        self.next = sequence &+ UInt32(truncatingIfNeeded: count)
        return .success(offset)
    }

    var isParsing: Bool { self.phase != .ignored }

    /// The head was read (or refused): ready for the next one.
    mutating func resetHead() {
        self.head = []
        self.refusal = nil
        self.uncopied = 0
        self.startLineChecked = false
        self.scanner = HTTPHeadScanner()
    }
}
