/// Reads a connection's ClientHello from its first client segments, in capture order: the
/// common case (the whole ClientHello in the first segment) without copying; one split across
/// records or segments is gathered, in order, up to `limit` bytes.
public struct TLSClientHelloReader: Sendable {
    /// 16 KiB: a ClientHello with post-quantum key shares is about 1.8 KiB; one above 16 KiB is
    /// refused (`tls.too_long`).
    public static let defaultLimit = 16384

    public enum Outcome: Sendable, Equatable {
        /// Not all of it yet: feed the next client segment.
        case needMore
        case hello(TLSClientHello)
        /// Not a ClientHello flowmon can read; the reader is done.
        case failed(TLSParseError)
    }

    public let limit: Int
    var bytes: [UInt8] = []
    var next: UInt32?
    var done = false

    public init(limit: Int = TLSClientHelloReader.defaultLimit) {
        self.limit = limit
    }

    /// Reads one client segment's payload sent with TCP sequence number `sequence`. After
    /// `.hello` or `.failed` it returns `.needMore` no more: what follows is ignored (`.failed`
    /// and `.hello` are returned once).
    public mutating func feed(_ payload: UnsafeRawBufferPointer, sequence: UInt32) -> Outcome {
        guard !self.done, !payload.isEmpty else { return .needMore }
        var offset = 0
        if let next = self.next {
            let delta = Int64(Int32(bitPattern: sequence &- next))
            if delta > 0 { return self.finish(.failed(.gap)) }
            if -delta >= Int64(payload.count) { return .needMore }
            offset = Int(-delta)
        }
        self.next = sequence &+ UInt32(truncatingIfNeeded: payload.count)
        if self.bytes.isEmpty && offset == 0 {
            let outcome = Self.outcome(payload, limit: self.limit)
            guard outcome == .needMore else { return self.finish(outcome) }
        }
        let room = self.limit + 5 * (self.limit / 16384 + 1) - self.bytes.count
        self.bytes += payload[offset..<min(payload.count, offset + max(room, 0))]
        let outcome = self.bytes.withUnsafeBytes { Self.outcome($0, limit: self.limit) }
        if outcome == .needMore && room <= payload.count - offset { return self.finish(.failed(.tooLong)) }
        return outcome == .needMore ? .needMore : self.finish(outcome)
    }

    static func outcome(_ bytes: UnsafeRawBufferPointer, limit: Int) -> Outcome {
        do throws(TLSParseError) {
            return .hello(try TLSClientHello(parsing: bytes, limit: limit))
        } catch .truncated {
            return .needMore
        } catch {
            return .failed(error)
        }
    }

    mutating func finish(_ outcome: Outcome) -> Outcome {
        self.done = true
        self.bytes = []
        return outcome
    }
}
