import FlowCore

/// Packets per interface of a live capture (`stats.capture.interfaces`): read, counted where
/// they were seen first at another interface (`seen_elsewhere`), and dropped at a full worker
/// ring. Kept by the capture thread in a fixed-capacity table (the interfaces seen least
/// recently give way on a node with more); nothing allocates per packet.
public final class InterfaceCounters {
    public struct Counts: Sendable, Equatable {
        public var packets: UInt64 = 0
        public var bytes: UInt64 = 0
        public var seenElsewhere: UInt64 = 0
        public var ringDropped: UInt64 = 0
        /// The capture time of the interface's latest packet (the table's eviction order).
        var latest: Int64 = .min

        public init() {}
    }

    private let table: EvictingHashTable<UInt32, Counts>

    public init(capacity: Int = 1024) {
        self.table = EvictingHashTable(capacity: capacity)
    }

    /// Counts a packet read on interface `index`; returns its slot for the counts that follow.
    @inline(__always)
    @discardableResult
    public func count(_ index: UInt32, length: UInt32, time: CaptureTime) -> Int {
        let place = self.table.place(index, hash: UInt64(index) &* 0x9E37_79B9_7F4A_7C15) { $0.latest }
        switch place {
        case .found: break
        case .free, .evicting: self.table.store(index, Counts(), at: place.index)  // a new interface
        }
        let slot = place.index
        self.table[slot].packets &+= 1
        self.table[slot].bytes &+= UInt64(length)
        self.table[slot].latest = time.nanoseconds
        return slot
    }

    /// Adds what the eBPF datapath's mode 2 counted at interface `index` without sending it up:
    /// packets and bytes, of which `seenElsewhere` were counted at another interface (per read of
    /// the kernel's counters, not per packet).
    public func add(_ index: UInt32, packets: UInt64, bytes: UInt64, seenElsewhere: UInt64, time: CaptureTime) {
        guard packets > 0 else { return }
        let slot = self.count(index, length: 0, time: time)
        self.table[slot].packets &+= packets &- 1  // `count` counted one
        self.table[slot].bytes &+= bytes
        self.table[slot].seenElsewhere &+= seenElsewhere
    }

    @inline(__always)
    public func countSeenElsewhere(slot: Int) { self.table[slot].seenElsewhere &+= 1 }

    @inline(__always)
    public func countRingDropped(slot: Int) { self.table[slot].ringDropped &+= 1 }

    /// Every interface's counts, by index.
    public func snapshot() -> [(index: UInt32, counts: Counts)] {
        (0..<self.table.slotCount).compactMap { slot in self.table.key(at: slot).map { ($0, self.table[slot]) } }
            .sorted { $0.index < $1.index }
    }
}
