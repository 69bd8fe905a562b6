/// The DNS messages in one TCP segment's payload: over TCP each message is preceded by its
/// length in two bytes (RFC 1035 §4.2.2), and one segment may carry several messages, or the
/// end of one that an earlier segment began (RFC 7766 §8). Iterating yields every complete
/// message in order, then, if the segment ends inside a message, one `.partial` that says how
/// much is missing; nothing is guessed about bytes that do not start where a message starts.
/// No allocation.
///
///     var frames = DNSOverTCP(segment: payload, skipping: carried)
///     for frame in frames { ... }        // .message(bytes) ..., then maybe .partial
///
/// A caller that follows the stream in order passes, as `skipping` for the next segment, the
/// `missing` bytes of the previous one's `.partial` (and `skipRemaining` when a segment is
/// shorter than that), so that it resynchronizes on the next length prefix.
public struct DNSOverTCP: Sequence, IteratorProtocol {
    /// One frame of a segment.
    public enum Frame {
        /// A complete message (without its length prefix), for `DNSMessage.parse`.
        case message(UnsafeRawBufferPointer)
        /// A message that continues past the segment: its length from the prefix (nil when the
        /// segment ends after the prefix's first byte) and how many of its bytes are here.
        case partial(length: Int?, received: Int)

        /// For `.partial`, the bytes of the message still to come (the prefix's second byte
        /// and the message when its length is unknown: nil); nil for `.message`.
        public var missing: Int? {
            guard case .partial(let length?, let received) = self else { return nil }
            return length - received
        }
    }

    let segment: UnsafeRawBufferPointer
    var position: Int
    /// Bytes of a message begun before this segment that are still to come after it, when the
    /// segment is shorter than `skipping`.
    public let skipRemaining: Int

    /// The frames of `segment` (kept alive by the caller while it uses them), whose first
    /// `skipping` bytes end a message begun in an earlier segment.
    public init(segment: UnsafeRawBufferPointer, skipping: Int = 0) {
        self.segment = segment
        let skipped = Swift.min(Swift.max(skipping, 0), segment.count)
        self.position = skipped
        self.skipRemaining = Swift.max(skipping, 0) - skipped
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
