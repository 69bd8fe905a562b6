/// The DNS messages in one TCP segment's payload: over TCP each message is preceded by its
/// length in two bytes (RFC 1035 §4.2.2), and one segment may carry several messages, or the
/// end of one that an earlier segment began (RFC 7766 §8). Iterating yields every complete
/// message in order, then, if the segment ends inside a message, one `.partial` that says how
/// much of it is here; `DNSStreamAssembler` joins such a message with the segments that follow.
/// No allocation.
///
///     for frame in DNSOverTCP(segment: payload) { ... }   // .message(bytes) ..., then maybe .partial
public struct DNSOverTCP: Sequence, IteratorProtocol {
    /// One frame of a segment.
    public enum Frame {
        /// A complete message (without its length prefix), for `DNSMessage.parse`.
        case message(UnsafeRawBufferPointer)
        /// A message that continues past the segment: its length from the prefix (nil when the
        /// segment ends after the prefix's first byte) and how many of its bytes are here.
        case partial(length: Int?, received: Int)
    }

    let segment: UnsafeRawBufferPointer
    var position = 0

    /// The frames of `segment` (kept alive by the caller while it uses them), which starts
    /// where a message starts.
    public init(segment: UnsafeRawBufferPointer) {
        self.segment = segment
    }

    public mutating func next() -> Frame? {
        let available = self.segment.count &- self.position
        guard available > 0 else { return nil }
        guard available >= 2 else {
            self.position = self.segment.count
            return .partial(length: nil, received: 0)
        }
        let length = Int(self.segment[self.position]) << 8 | Int(self.segment[self.position &+ 1])
        let start = self.position &+ 2
        guard length <= self.segment.count &- start else {
            self.position = self.segment.count
            return .partial(length: length, received: self.segment.count &- start)
        }
        self.position = start &+ length
        return .message(UnsafeRawBufferPointer(rebasing: self.segment[start..<(start &+ length)]))
    }
}
