internal import CIntrinsics
import Decoding
import FlowCore

/// A fixed-capacity bidirectional connection table: the conntrack of flowmon.
///
/// Memory is reserved once, in `init`: `capacity` entries and an open-addressing index
/// of twice as many slots (linear probing, backward-shift deletion, no tombstones), mapped
/// lazily (`ZeroedMemory`), so a table sized for a node costs only the pages its flows have
/// used. It never grows: when full, the least recently active flow is evicted and handed to `onEnd` with
/// reason `.evicted` (Suricata's emergency mode and Cilium's CT GC both trade old entries
/// for new ones; we count every eviction).
///
/// Time is an input: every call takes the packet's time and nothing here reads a clock,
/// so a replay gives the same records on every run. The table keeps its own clock, the
/// latest packet time seen, so a capture whose timestamps step backwards cannot make
/// flows expire out of order.
///
/// Flows are kept on three lists, one per `FlowPhase`, each ordered by last activity, so
/// expiry only looks at list heads: `expire(now:)` costs O(flows expired).
public final class FlowTable {
    public let capacity: Int
    public let timeouts: FlowTimeouts
    public let tunnelKey: TunnelKeyMode

    let entries: UnsafeMutablePointer<FlowEntry>
    /// Each entry's place on its expiry list (or the free list), kept apart from the entries:
    /// 12 bytes per flow, so moving a flow to its list's tail touches a small, mostly cached
    /// array instead of two other flows' entries.
    let links: UnsafeMutablePointer<FlowLink>
    var index: SlotIndex
    /// List heads and tails per phase (3 + 3), and the head of the list of freed slots at index 6.
    let lists: UnsafeMutablePointer<Int32>
    /// Slots never used yet: `fresh..<capacity`, taken in order once no freed slot is left.
    private var fresh = 0
    let timeoutNanoseconds: (Int64, Int64, Int64)

    /// The latest packet time seen.
    public private(set) var clock: Int64 = .min
    public private(set) var count = 0
    public private(set) var counters = FlowTableCounters()

    /// Bytes of table memory per connection slot: the entry, its list link, and its share of
    /// the index (at least two 8-byte slots per entry; exactly two when the capacity is a power of two).
    public static let bytesPerFlow = MemoryLayout<FlowEntry>.stride + MemoryLayout<FlowLink>.stride + 2 * 8

    public init(capacity: Int, timeouts: FlowTimeouts = FlowTimeouts(), tunnelKey: TunnelKeyMode = .auto) {
        precondition(capacity > 0 && capacity < Int(Int32.max / 2), "FlowTable capacity must be in 1..<2^30, got \(capacity)")
        self.capacity = capacity
        self.timeouts = timeouts
        self.tunnelKey = tunnelKey
        self.timeoutNanoseconds = (timeouts.nanoseconds(for: .new), timeouts.nanoseconds(for: .established),
                                   timeouts.nanoseconds(for: .closed))
        self.index = SlotIndex(capacity: capacity)
        // Entries and links are written before they are read: an entry when its slot is
        // first taken (`insert`), a link when its entry is linked or freed.
        self.entries = ZeroedMemory.allocate(FlowEntry.self, count: capacity, hugePages: true)
        self.links = ZeroedMemory.allocate(FlowLink.self, count: capacity, hugePages: true)
        self.lists = .allocate(capacity: 7)
        self.lists.initialize(repeating: -1, count: 7)
    }

    deinit {
        ZeroedMemory.free(self.entries, count: self.capacity)
        ZeroedMemory.free(self.links, count: self.capacity)
        self.index.free()
        self.lists.deallocate()
    }

    // MARK: Recording packets

    /// Accounts one decoded packet to its connection, creating the connection if needed.
    ///
    /// - Parameters:
    ///   - summary: the decoded packet; it must have a network layer (`ipVersion != 0`).
    ///   - time: the packet's capture time.
    ///   - length: the packet's length on the wire, counted in `bytes_to*`.
    ///   - extraPackets/extraBytes: earlier fragments of this datagram that arrived before
    ///     its first fragment and are attributed now.
    ///   - prepared: the packet's key and hash from `prefetchSlot`, or nil to work them out here.
    ///   - onEnd: receives flows that end because of this packet (eviction, TCP port reuse).
    ///
    /// - Returns: the connection's entry (valid until the next call that may end flows) and
    ///   whether this packet created it, so the caller can decide its policy verdict once.
    @discardableResult
    public func record(_ summary: borrowing PacketSummary, time: CaptureTime, length: UInt32,
                       extraPackets: UInt64 = 0, extraBytes: UInt64 = 0, prepared: Prepared? = nil,
                       onEnd: (borrowing FlowEntry, FlowEndReason) -> Void) -> (entry: UnsafeMutablePointer<FlowEntry>, isNew: Bool)
    {
        let observation: PacketObservation
        let hash: UInt64
        if let prepared {
            (observation, hash) = (prepared.observation, prepared.hash)
        } else {
            observation = PacketObservation(summary, tunnelKey: self.tunnelKey)
            hash = self.indexHash(observation.key)
        }
        if time.nanoseconds > self.clock { self.clock = time.nanoseconds }
        var index: Int
        if self.tunnelKey == .auto {
            let found = self.findSegment(observation.key, fromLow: observation.fromLow, hasVNI: summary.tunnel.hasVNI,
                                         hash: hash)
            index = found.index
            if index < 0, found.segments >= Self.maxSegments {
                self.counters.evicted &+= 1
                self.remove(found.stalest, reason: .evicted, onEnd: onEnd)
            }
        } else {
            index = self.find(observation.key, hash: hash)
        }
        if index >= 0, observation.startsNewConnection,
           self.entries[index].tcpState == .closed || self.entries[index].tcpState == .reset
        {
            self.counters.tcpReuse &+= 1
            self.remove(index, reason: .tcpReuse, onEnd: onEnd)
            index = -1
        }
        let isNew = index < 0
        if isNew {
            index = self.insert(observation, hash: hash, time: time, onEnd: onEnd)
        }
        let entry = self.entries.advanced(by: index)
        let fromInitiator = observation.fromLow == entry.pointee.initiatorIsLow
        entry.pointee.apply(summary, fromInitiator: fromInitiator, time: time, length: length,
                            extraPackets: extraPackets, extraBytes: extraBytes)
        self.touch(Int32(index), phase: entry.pointee.phase)
        return (entry, isNew)
    }

    // MARK: Reading ahead

    /// A packet's connection key and index hash, worked out ahead of its turn (`prefetchSlot`), so
    /// that `record` does not work them out again.
    public struct Prepared {
        let observation: PacketObservation
        /// For `prefetchEntry`.
        public let hash: UInt64
    }

    /// The first half of reading ahead for a packet `record` will account a few packets later:
    /// starts loading its index slot into the cache and returns its key and the slot's hash,
    /// for `prefetchEntry` and then `record`.
    /// At half a million connections the slot and the entry are each a cache miss that the
    /// lookup otherwise waits for, one packet after another; a worker that sees the packets
    /// coming issues both for several at once. It changes nothing in the table: a packet that
    /// ends up elsewhere (an ICMP error quoting a connection, a fragment) only costs a wasted load.
    /// The summary is only read; `inout` passes it by address (a borrowed pointee is copied first).
    @inline(__always)
    public func prefetchSlot(_ summary: inout PacketSummary) -> Prepared {
        let observation = PacketObservation(summary, tunnelKey: self.tunnelKey)
        let hash = self.indexHash(observation.key)
        self.index.prefetch(hash: hash)
        return Prepared(observation: observation, hash: hash)
    }

    /// The second half: reads the slot `prefetchSlot` loaded (by now in the cache) and starts
    /// loading the entry it points to, and that entry's expiry link.
    @inline(__always)
    public func prefetchEntry(hash: UInt64) {
        let index = self.index.firstCandidate(hash: hash)
        guard index >= 0 else { return }
        // An entry spans four or five cache lines (228 bytes): the first (the key the lookup
        // compares) and every other one, which the core's adjacent-line prefetcher pairs up.
        let entry = UnsafeRawPointer(self.entries + index)
        flowmon_prefetch(entry)
        flowmon_prefetch(entry + 128)
        flowmon_prefetch(entry + (MemoryLayout<FlowEntry>.size - 1))
        flowmon_prefetch(self.links + index)
    }

    /// Accounts an ICMP error (`PacketSummary.quotesConnection`) to the connection whose packet
    /// it quotes, if that connection is tracked; it then starts no connection of its own and
    /// gets no policy verdict (Cilium's `CT_RELATED`). The error travels back toward the
    /// quoted packet's sender. Returns false, changing nothing, when no connection matches.
    public func recordRelated(_ summary: borrowing PacketSummary, time: CaptureTime, length: UInt32) -> Bool {
        let quoted = PacketObservation.quotedConnection(summary, tunnelKey: self.tunnelKey)
        let hash = self.indexHash(quoted.key)
        // With `auto`, matched as a packet of that connection travelling back, with the error's VNI.
        let index = self.tunnelKey == .auto
            ? self.findSegment(quoted.key, fromLow: !quoted.fromLow, hasVNI: summary.tunnel.hasVNI, hash: hash).index
            : self.find(quoted.key, hash: hash)
        guard index >= 0 else { return false }
        if time.nanoseconds > self.clock { self.clock = time.nanoseconds }
        let entry = self.entries.advanced(by: index)
        let quotedFromInitiator = quoted.fromLow == entry.pointee.initiatorIsLow
        entry.pointee.applyRelatedError(summary, fromInitiator: !quotedFromInitiator, time: time, length: length)
        self.counters.relatedICMP &+= 1
        self.touch(Int32(index), phase: entry.pointee.phase)
        return true
    }

    /// Adds a kernel aggregate to its connection: packets and bytes each way, the latest time,
    /// TCP flags OR-ed; nothing is judged again and the TCP state does not move (every packet
    /// that moves it came up as a record). When the table no longer has the connection (evicted,
    /// or ended before these packets were read), it is created as a first packet would create
    /// it and counted in `counters.createdFromKernel`; the caller judges it (`isNew`). Allocates
    /// nothing.
    @discardableResult
    public func apply(_ aggregate: FlowAggregate,
                      onEnd: (borrowing FlowEntry, FlowEndReason) -> Void) -> (entry: UnsafeMutablePointer<FlowEntry>, isNew: Bool) {
        if aggregate.last.nanoseconds > self.clock { self.clock = aggregate.last.nanoseconds }
        let hash = self.indexHash(aggregate.key)
        var index = self.tunnelKey == .auto
            ? self.findSegment(aggregate.key, fromLow: aggregate.packetsFromLow > 0, hasVNI: false, hash: hash).index
            : self.find(aggregate.key, hash: hash)
        let isNew = index < 0
        if isNew {
            let observation = PacketObservation(key: aggregate.key, fromLow: aggregate.initiatorIsLow,
                                                initiatorIsLow: aggregate.initiatorIsLow, startsNewConnection: false,
                                                ipVersion: aggregate.key.lowAddress.isIPv4 ? 4 : 6)
            index = self.insert(observation, hash: hash, time: aggregate.last, onEnd: onEnd)
            self.counters.createdFromKernel &+= 1
        }
        let entry = self.entries.advanced(by: index)
        entry.pointee.apply(aggregate)
        self.touch(Int32(index), phase: entry.pointee.phase)
        return (entry, isNew)
    }

    /// The entry for `key`, if tracked (for tests and tools; not the packet path).
    public func lookup(_ key: FlowKey) -> FlowEntry? {
        let index = self.find(key, hash: self.indexHash(key))
        return index >= 0 ? self.entries[index] : nil
    }

    // MARK: Expiry

    /// Ends every flow idle longer than its phase's timeout at `now`, oldest deadline
    /// first (ties by flow id), so output order depends only on the input.
    public func expire(now: CaptureTime, onEnd: (borrowing FlowEntry, FlowEndReason) -> Void) {
        if now.nanoseconds > self.clock { self.clock = now.nanoseconds }
        while let index = self.nextExpired(now: self.clock) {
            self.counters.timedOut &+= 1
            self.remove(index, reason: .timeout, onEnd: onEnd)
        }
    }

    /// Ends every remaining flow with reason `.shutdown`, ordered by start time then flow id.
    /// After every `batch` flows, while more remain, `batchEnd` receives the start of the next
    /// one: no flow ended after that started earlier (the end of a run is written as it goes).
    ///
    /// The order is sorted on copies of the keys (start, flow id), not by reading two entries per
    /// comparison, and the flows are not taken out of the index and lists one by one (each a
    /// cache miss at half a million connections): the table is emptied at once at the end.
    public func flushAll(batch: Int = .max, onEnd: (borrowing FlowEntry, FlowEndReason) -> Void,
                         batchEnd: (_ nextStart: CaptureTime) -> Void = { _ in }) {
        var live: [(start: Int64, flowID: UInt64, index: Int32)] = []
        live.reserveCapacity(self.count)
        for phase in 0..<3 {
            var index = self.lists[phase]
            while index >= 0 {
                let entry = self.entries.advanced(by: Int(index))
                live.append((entry.pointee.start.nanoseconds, entry.pointee.flowID, index))
                index = self.links[Int(index)].next
            }
        }
        // Stable, as before: equal keys keep their list order.
        live.sort { ($0.start, $0.flowID) < ($1.start, $1.flowID) }
        for position in live.indices {
            if position > 0 && position % max(1, batch) == 0 { batchEnd(CaptureTime(nanoseconds: live[position].start)) }
            if position + 4 < live.count { flowmon_prefetch(self.entries + Int(live[position + 4].index)) }
            self.counters.shutdown &+= 1
            self.counters.ended &+= 1
            self.count -= 1
            onEnd(self.entries[Int(live[position].index)], .shutdown)
        }
        self.removeAll()
    }

    /// Forgets every flow (their records are written): empty index and lists, every slot fresh.
    func removeAll() {
        self.index.removeAll()
        self.lists.initialize(repeating: -1, count: 7)
        self.fresh = 0
        self.count = 0
    }

    func deadline(_ index: Int32) -> Int64 {
        let entry = self.entries.advanced(by: Int(index))
        let timeout: Int64
        switch entry.pointee.phase {
        case .new: timeout = self.timeoutNanoseconds.0
        case .established: timeout = self.timeoutNanoseconds.1
        case .closed: timeout = self.timeoutNanoseconds.2
        }
        let (sum, overflow) = entry.pointee.lastActivity.addingReportingOverflow(timeout)
        return overflow ? .max : sum
    }

    /// The list head with the earliest deadline, if that deadline has passed.
    func nextExpired(now: Int64) -> Int? {
        var best: Int32 = -1
        var bestDeadline = Int64.max
        var bestID = UInt64.max
        for phase in 0..<3 {
            let head = self.lists[phase]
            guard head >= 0 else { continue }
            let deadline = self.deadline(head)
            let id = self.entries[Int(head)].flowID
            if deadline < bestDeadline || (deadline == bestDeadline && id < bestID) {
                best = head
                bestDeadline = deadline
                bestID = id
            }
        }
        return best >= 0 && bestDeadline <= now ? Int(best) : nil
    }

    // MARK: Index and lists

    /// The hash a key is indexed by: with `auto`, every VNI of a 5-tuple is under one hash, so
    /// `findSegment` sees all of them in one probe run.
    func indexHash(_ key: FlowKey) -> UInt64 {
        self.tunnelKey == .auto ? key.fiveTupleHash : key.hashValue64
    }

    func find(_ key: FlowKey, hash: UInt64) -> Int {
        self.index.find(hash: hash) { self.entries[$0].key == key }
    }

    /// Most connections of one inner 5-tuple under different VNIs at once (`--tunnel-key auto`):
    /// they share one index hash, so without a bound packets with ever new VNIs would make one
    /// probe run as long as the table. Starting one more ends the one whose last packet is oldest.
    static let maxSegments = 8

    /// `--tunnel-key auto` (`TunnelKeyMode.auto`): the connection of `key`'s 5-tuple that a packet
    /// going `fromLow` with VNI `key.vni` belongs to, or -1 to start one; and how many connections
    /// that 5-tuple has on this side of the tunnel, and the one whose last packet is oldest (ties:
    /// the lower flow id), to end when a new one would exceed `maxSegments`. Only connections inside
    /// VXLAN/Geneve are candidates for a packet inside (`hasVNI`), only the others for one outside.
    /// In order: the connection whose VNI that way is the packet's; else, among those not yet seen
    /// that way, the one whose first VNI is the packet's (one segment both ways), else the only one
    /// (Cilium, where each way carries its sender's identity). The answer depends only on the
    /// connections of this 5-tuple, never on where they sit in the index, so it is the same for any
    /// number of workers.
    func findSegment(_ key: FlowKey, fromLow: Bool, hasVNI: Bool, hash: UInt64)
        -> (index: Int, segments: Int, stalest: Int)
    {
        var sameSegment = -1
        var unseen = -1
        var unseenCount = 0
        var segments = 0
        var stalest = -1
        let exact = self.index.find(hash: hash) { index in
            let entry = self.entries.advanced(by: index)
            guard entry.pointee.key.sameFiveTuple(key), entry.pointee.tunnel.hasVNI == hasVNI else { return false }
            segments += 1
            if stalest < 0 || (entry.pointee.end.nanoseconds, entry.pointee.flowID)
                < (self.entries[stalest].end.nanoseconds, self.entries[stalest].flowID) { stalest = index }
            let way = entry.pointee.tunnelWay(fromLow: fromLow)
            if way.seen { return way.vni == key.vni }
            if entry.pointee.key.vni == key.vni {
                sameSegment = index
            } else {
                unseen = index
                unseenCount += 1
            }
            return false
        }
        if exact >= 0 { return (exact, segments, stalest) }
        if sameSegment >= 0 { return (sameSegment, segments, stalest) }
        return (unseenCount == 1 ? unseen : -1, segments, stalest)
    }

    func insert(_ observation: PacketObservation, hash: UInt64, time: CaptureTime,
                onEnd: (borrowing FlowEntry, FlowEndReason) -> Void) -> Int
    {
        if self.lists[6] < 0 && self.fresh == self.capacity {
            // Full: evict the least recently active flow.
            var victim: Int32 = -1
            var oldest = Int64.max
            for phase in 0..<3 {
                let head = self.lists[phase]
                if head >= 0, self.entries[Int(head)].lastActivity < oldest {
                    victim = head
                    oldest = self.entries[Int(head)].lastActivity
                }
            }
            self.counters.evicted &+= 1
            self.remove(Int(victim), reason: .evicted, onEnd: onEnd)
        }
        let index: Int
        if self.lists[6] >= 0 {
            index = Int(self.lists[6])
            self.lists[6] = self.links[index].next
        } else {
            index = self.fresh
            self.fresh += 1
        }
        var entry = FlowEntry(key: observation.key, initiatorIsLow: observation.initiatorIsLow,
                              ipVersion: observation.ipVersion, time: time)
        entry.flowID = Self.flowID(hash: observation.key.hashValue64, start: time)
        entry.phase = .new
        entry.lastActivity = self.clock
        self.entries[index] = entry
        self.link(Int32(index), phase: .new)

        self.index.insert(hash: hash, entry: index)
        self.count += 1
        self.counters.created &+= 1
        return index
    }

    func remove(_ index: Int, reason: FlowEndReason, onEnd: (borrowing FlowEntry, FlowEndReason) -> Void) {
        onEnd(self.entries[index], reason)
        self.unlink(Int32(index))
        self.index.remove(hash: self.indexHash(self.entries[index].key), entry: index)
        self.links[index].next = self.lists[6]
        self.lists[6] = Int32(index)
        self.count -= 1
        self.counters.ended &+= 1
    }

    func touch(_ index: Int32, phase: FlowPhase) {
        self.entries[Int(index)].lastActivity = self.clock
        // Already the newest of its list: the order holds as it is.
        if self.links[Int(index)].phase == phase && self.lists[3 + Int(phase.rawValue)] == index { return }
        self.unlink(index)
        self.link(index, phase: phase)
    }

    func link(_ index: Int32, phase: FlowPhase) {
        let list = Int(phase.rawValue)
        let tail = self.lists[3 + list]
        self.links[Int(index)] = FlowLink(previous: tail, next: -1, phase: phase)
        if tail >= 0 { self.links[Int(tail)].next = index } else { self.lists[list] = index }
        self.lists[3 + list] = index
    }

    func unlink(_ index: Int32) {
        let link = self.links[Int(index)]
        let list = Int(link.phase.rawValue)
        if link.previous >= 0 { self.links[Int(link.previous)].next = link.next } else { self.lists[list] = link.next }
        if link.next >= 0 { self.links[Int(link.next)].previous = link.previous } else { self.lists[3 + list] = link.previous }
    }

    /// A deterministic flow id from the key hash and start time, in 1..<2^52.
    static func flowID(hash: UInt64, start: CaptureTime) -> UInt64 {
        let mixed = (hash ^ UInt64(bitPattern: start.nanoseconds)).multipliedFullWidth(by: 0x9e37_79b9_7f4a_7c15)
        let id = (mixed.high ^ mixed.low) & 0x000f_ffff_ffff_ffff
        return id == 0 ? 1 : id
    }
}

/// Counts of what the flow table did; reported in `stats`.
public struct FlowTableCounters: Sendable, Equatable {
    public var created: UInt64 = 0
    public var ended: UInt64 = 0
    public var timedOut: UInt64 = 0
    public var evicted: UInt64 = 0
    public var tcpReuse: UInt64 = 0
    public var shutdown: UInt64 = 0
    /// ICMP errors counted on the connection they quote (`recordRelated`).
    public var relatedICMP: UInt64 = 0
    /// Connections created from a kernel aggregate (eBPF mode 2) because the table no longer
    /// had them: evicted, or ended before the kernel's counts were read (`apply(_:onEnd:)`).
    public var createdFromKernel: UInt64 = 0
    public init() {}

    /// Adds another shard's counters.
    public mutating func add(_ other: FlowTableCounters) {
        self.created &+= other.created
        self.ended &+= other.ended
        self.timedOut &+= other.timedOut
        self.evicted &+= other.evicted
        self.tcpReuse &+= other.tcpReuse
        self.shutdown &+= other.shutdown
        self.relatedICMP &+= other.relatedICMP
        self.createdFromKernel &+= other.createdFromKernel
    }
}

/// A flow's neighbours on its expiry list (or the next free entry), and which list it is on
/// (which may lag the flow's phase until its next packet).
struct FlowLink {
    var previous: Int32
    var next: Int32
    var phase: FlowPhase
}
