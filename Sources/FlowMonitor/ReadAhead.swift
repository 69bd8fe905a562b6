import Datapath
import Decoding
import FlowCore

/// The decoded packets a worker has received and not yet accounted: each is held until
/// `distance` more have come, so that the flow table has started loading its index slot and
/// entry into the cache (`FlowTable.prefetchSlot`, then halfway `prefetchEntry`) by the time
/// it is accounted. At half a million connections both are cache misses, and a lookup that
/// issues them only when it needs them waits for each in turn, packet after packet.
///
/// Packets are accounted in the order they came, only later; the owner hands over the rest
/// (`flush`) before anything else reaches the flow table (a marker, a packet with payload, an
/// aggregate) and before the summaries' memory is given back (a ring's records when its
/// drain ends). The summaries stay where they are: in the worker's ring, or, for the reading
/// thread's own share, in `slots`, which it decodes into. Fixed storage, allocated once.
final class ReadAhead {
    struct Pending {
        var summary: UnsafeMutablePointer<PacketSummary>
        var event: UInt64
        var time: Int64
        var length: UInt32
        /// What `prefetchSlot` returned; nil: nothing to prefetch (no network layer).
        var prepared: FlowTable.Prepared?
    }

    /// Packets between a packet's slot prefetch and its lookup (its entry is prefetched
    /// halfway). About a lookup's miss latency over a packet's other work at 500,000 connections.
    static let distance = 8
    private static let capacity = 16
    private static let mask = capacity - 1

    /// The table prefetched into: the owner's (`FlowProcessor.program.flows`), which outlives
    /// this; unretained (a reference would be retained around every call into it).
    private let flows: Unmanaged<FlowTable>
    private let pending: UnsafeMutablePointer<Pending>
    /// Summaries the reading thread decodes into (worker 0 on the reading thread).
    private let slots: UnsafeMutablePointer<PacketSummary>
    private var first = 0
    private var count = 0

    init(flows: FlowTable) {
        self.flows = .passUnretained(flows)
        self.pending = .allocate(capacity: Self.capacity)
        self.slots = .allocate(capacity: Self.capacity)
        self.slots.initialize(repeating: PacketSummary(), count: Self.capacity)
    }

    deinit {
        self.pending.deallocate()
        self.slots.deinitialize(count: Self.capacity)
        self.slots.deallocate()
    }

    /// A free summary to decode the next packet into (the decoder resets it); it is the next
    /// one `enqueue` takes when it is handed back there (at most `distance` are held, so one is
    /// always free).
    @inline(__always)
    func nextSlot() -> UnsafeMutablePointer<PacketSummary> {
        self.slots + ((self.first + self.count) & Self.mask)
    }

    /// Holds one decoded packet, starts prefetching for it, and accounts the oldest held when
    /// more than `distance` are.
    @inline(__always)
    func enqueue(_ summary: UnsafeMutablePointer<PacketSummary>, event: UInt64, time: Int64, length: UInt32,
                 into processor: FlowProcessor) {
        let prepared = summary.pointee.ipVersion != 0
            ? self.flows._withUnsafeGuaranteedRef { $0.prefetchSlot(&summary.pointee) } : nil
        self.pending[(self.first + self.count) & Self.mask] = Pending(summary: summary, event: event, time: time,
                                                                       length: length, prepared: prepared)
        self.count += 1
        if self.count > Self.distance / 2,
           let halfway = self.pending[(self.first + self.count - 1 - Self.distance / 2) & Self.mask].prepared
        {
            self.flows._withUnsafeGuaranteedRef { $0.prefetchEntry(hash: halfway.hash) }
        }
        if self.count > Self.distance { self.accountOldest(processor) }
    }

    /// Accounts every packet held, in order.
    @inline(__always)
    func flush(_ processor: FlowProcessor) {
        while self.count > 0 { self.accountOldest(processor) }
    }

    @inline(__always)
    private func accountOldest(_ processor: FlowProcessor) {
        let packet = self.pending[self.first]
        self.first = (self.first + 1) & Self.mask
        self.count -= 1
        processor.process(&packet.summary.pointee, event: packet.event, time: CaptureTime(nanoseconds: packet.time),
                          length: packet.length, prepared: packet.prepared)
    }
}
