/// DNS over TCP, one direction of each connection followed in order: a message that spans
/// segments (RFC 7766 §8 allows any split, down to a length prefix cut in two) is assembled
/// and handed over whole, as are the complete messages inside single segments.
///
/// Bytes are taken only in sequence order. A retransmitted segment (or its part already seen)
/// is skipped; a segment that starts past the expected sequence number, or a payload cut short
/// by the snapshot length, leaves a hole: the message being assembled is dropped (`gaps`), and
/// nothing more is read from that direction until a segment starts a message again at a known
/// boundary (the direction's next segment after the hole is taken as starting one, the way an
/// unfollowed segment is). Nothing is guessed across a hole.
///
/// Bounded: at most `maximumStreams` directions hold a partial message at once, each at most
/// one message (65,537 bytes with its prefix). A direction idle for `idleNanoseconds` of packet
/// time gives its room up when room is needed. A message that finds no room, gives its room
/// up, or whose connection ends inside it is counted (`incomplete`). Segments that hold only complete messages, the common case, are
/// read in place without allocating.
public struct DNSStreamAssembler<Key: Hashable> {
    /// A direction's message in progress: the bytes received so far from its length prefix on,
    /// and the sequence number its next byte has.
    struct Partial {
        var bytes: [UInt8]
        var nextSequence: UInt32
        var seen: Int64

        /// The message's length once both prefix bytes are here.
        var length: Int? { self.bytes.count >= 2 ? Int(self.bytes[0]) << 8 | Int(self.bytes[1]) : nil }
        /// Bytes still to come: the rest of the prefix (at least one) or of the message.
        var missing: Int { self.length.map { $0 + 2 - self.bytes.count } ?? 2 - self.bytes.count }
    }

    public struct Counters: Sendable, Equatable {
        /// Messages assembled from more than one segment.
        public var assembled: UInt64 = 0
        /// Messages in progress dropped at a hole in the sequence or a cut payload.
        public var gaps: UInt64 = 0
        /// Messages never completed: their connection ended inside them, or they found no
        /// room (`maximumStreams` directions held one already).
        public var incomplete: UInt64 = 0
    }

    private var partials: [Key: Partial] = [:]
    public let maximumStreams: Int
    public let idleNanoseconds: Int64
    public private(set) var counters = Counters()

    public init(maximumStreams: Int = 1024, idleNanoseconds: Int64 = 30_000_000_000) {
        self.maximumStreams = maximumStreams
        self.idleNanoseconds = idleNanoseconds
    }

    /// Directions holding a partial message.
    public var count: Int { self.partials.count }

    /// One segment of the direction `key`: `payload` holds its first bytes, `wireLength` how
    /// many it carried (more when the capture cut it), `sequence` its first byte's number.
    /// `body` gets every message completed by it, in order, valid during the call.
    public mutating func feed(_ payload: UnsafeRawBufferPointer, wireLength: Int, sequence: UInt32, key: Key,
                              time: Int64, _ body: (UnsafeRawBufferPointer) -> Void) {
        var start = 0
        if !self.partials.isEmpty, let index = self.partials.index(forKey: key) {
            // Serial-number arithmetic (RFC 1982): how far this segment starts past the expected byte.
            let offset = Int32(bitPattern: sequence &- self.partials.values[index].nextSequence)
            if offset > 0 {
                self.partials.remove(at: index)
                self.counters.gaps &+= 1
                return
            }
            let already = Int(-offset)
            guard already < payload.count else { return }  // all seen before
            start = already
            let taken = Swift.min(self.partials.values[index].missing, payload.count - start)
            self.partials.values[index].bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[start..<(start + taken)]))
            // The prefix may have just completed: what it now says is missing can be more.
            let more = Swift.min(self.partials.values[index].missing, payload.count - start - taken)
            if more > 0 {
                self.partials.values[index].bytes.append(
                    contentsOf: UnsafeRawBufferPointer(rebasing: payload[(start + taken)..<(start + taken + more)]))
            }
            start += taken + more
            if self.partials.values[index].missing == 0 {
                let partial = self.partials.remove(at: index).value
                self.counters.assembled &+= 1
                partial.bytes.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[2...])) }
            } else {
                self.partials.values[index].nextSequence = sequence &+ UInt32(truncatingIfNeeded: start)
                self.partials.values[index].seen = time
                if payload.count < wireLength {
                    self.partials.remove(at: index)
                    self.counters.gaps &+= 1
                }
                return
            }
        }
        let rest = UnsafeRawBufferPointer(rebasing: payload[start...])
        for frame in DNSOverTCP(segment: rest) {
            switch frame {
            case .message(let message):
                body(message)
            case .partial(let length, let received):
                // The segment ends inside a message: keep it from its prefix on, unless the
                // capture cut the segment (the rest of the message is not in hand).
                guard payload.count == wireLength else {
                    self.counters.gaps &+= 1
                    return
                }
                let begin = rest.count - received - (length == nil ? 1 : 2)
                self.keep(UnsafeRawBufferPointer(rebasing: rest[begin...]), key: key,
                          nextSequence: sequence &+ UInt32(truncatingIfNeeded: payload.count), time: time)
            }
        }
    }

    /// The connection ended (FIN or RST) or went: forgets what `key` was assembling.
    public mutating func end(_ key: Key) {
        guard !self.partials.isEmpty, self.partials.removeValue(forKey: key) != nil else { return }
        self.counters.incomplete &+= 1
    }

    private mutating func keep(_ bytes: UnsafeRawBufferPointer, key: Key, nextSequence: UInt32, time: Int64) {
        if self.partials.count >= self.maximumStreams {
            let idle = self.idleNanoseconds, held = self.partials.count
            self.partials = self.partials.filter { time - $0.value.seen < idle }
            self.counters.incomplete &+= UInt64(held - self.partials.count)
        }
        guard self.partials.count < self.maximumStreams else {
            self.counters.incomplete &+= 1
            return
        }
        self.partials[key] = Partial(bytes: Array(bytes), nextSequence: nextSequence, seen: time)
    }
}
