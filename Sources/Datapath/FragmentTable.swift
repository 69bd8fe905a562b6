import Decoding
import FlowCore

/// Attributes IP fragments to their connection without reassembling or copying payload.
///
/// Only the first fragment of a datagram carries the transport header (RFC 791 §3.2,
/// RFC 8200 §4.5). The table remembers, per datagram (source, destination, protocol,
/// identification), the ports the first fragment revealed, and gives them to the later
/// fragments so they count toward the same flow. Fragments that arrive before their first
/// fragment are held as counts only and attributed when it comes; if it never comes
/// before the datagram times out or is evicted, they are counted as orphans.
///
/// Fixed capacity, allocated once; datagrams leave in arrival order (a FIFO ring), so
/// expiry and eviction are O(1). Time is the packet time; nothing reads a clock.
public final class FragmentTable {
    public let capacity: Int
    public let timeout: Duration
    public private(set) var counters = FragmentCounters()

    private struct Datagram {
        var source: IPAddress = .zero
        var destination: IPAddress = .zero
        var identification: UInt32 = 0
        var ipProtocol: UInt8 = 0
        var hash: UInt64 = 0
        var arrival: Int64 = 0
        /// True once the first fragment was seen and the fields below are valid.
        var resolved = false
        var hasPorts = false
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var hasICMP = false
        var icmpType: UInt8 = 0
        var icmpCode: UInt8 = 0
        var icmpIdentifier: UInt16 = 0
        /// Fragments seen before the first one: counted, not yet attributed.
        var pendingPackets: UInt64 = 0
        var pendingBytes: UInt64 = 0

        func matches(_ s: PacketSummary) -> Bool {
            self.identification == s.fragmentID && self.ipProtocol == s.ipProtocol
                && self.source == s.source && self.destination == s.destination
        }
    }

    private let ring: UnsafeMutablePointer<Datagram>
    private var index: SlotIndex
    private var head = 0
    private var live = 0
    private var clock: Int64 = .min
    private let timeoutNanoseconds: Int64

    public init(capacity: Int = 8192, timeout: Duration = .seconds(60)) {
        precondition(capacity > 0 && capacity < Int(Int32.max / 2), "FragmentTable capacity must be in 1..<2^30, got \(capacity)")
        self.capacity = capacity
        self.timeout = timeout
        self.timeoutNanoseconds = timeout.flowmonNanoseconds
        // All zero is `Datagram()`: mapped lazily, touched as datagrams arrive.
        self.ring = ZeroedMemory.allocate(Datagram.self, count: capacity)
        self.index = SlotIndex(capacity: capacity)
    }

    deinit {
        ZeroedMemory.free(self.ring, count: self.capacity)
        self.index.free()
    }

    /// What to do with a fragment after `observe`.
    public enum Outcome: Equatable, Sendable {
        /// Record the packet in the flow table; `summary` now carries the datagram's ports.
        /// `extraPackets`/`extraBytes` are earlier fragments to attribute with it.
        case record(extraPackets: UInt64, extraBytes: UInt64)
        /// Held until the datagram's first fragment arrives (or counted as orphan).
        case held
    }

    /// Looks at one fragment (`summary.isFragment` must be true) and fills in the ports
    /// of non-first fragments whose first fragment was seen.
    public func observe(_ summary: inout PacketSummary, time: CaptureTime, length: UInt32) -> Outcome {
        if time.nanoseconds > self.clock { self.clock = time.nanoseconds }
        self.expire()
        let hash = Self.hash(summary)
        let isFirst = summary.fragmentOffset == 0
        var slot = self.index.find(hash: hash) { self.ring[$0].matches(summary) }

        if isFirst {
            guard summary.hasPorts || summary.hasICMP else {
                // A first fragment too short for its transport header: nothing to attribute by.
                self.counters.orphaned &+= 1
                return .held
            }
            if slot < 0 { slot = self.add(summary, hash: hash) }
            let datagram = self.ring.advanced(by: slot)
            let extra = (datagram.pointee.pendingPackets, datagram.pointee.pendingBytes)
            datagram.pointee.resolved = true
            datagram.pointee.hasPorts = summary.hasPorts
            datagram.pointee.sourcePort = summary.sourcePort
            datagram.pointee.destinationPort = summary.destinationPort
            datagram.pointee.hasICMP = summary.hasICMP
            datagram.pointee.icmpType = summary.icmpType
            datagram.pointee.icmpCode = summary.icmpCode
            datagram.pointee.icmpIdentifier = summary.icmpIdentifier
            datagram.pointee.pendingPackets = 0
            datagram.pointee.pendingBytes = 0
            self.counters.attributed &+= extra.0
            return .record(extraPackets: extra.0, extraBytes: extra.1)
        }

        if slot < 0 { slot = self.add(summary, hash: hash) }
        let datagram = self.ring.advanced(by: slot)
        guard datagram.pointee.resolved else {
            datagram.pointee.pendingPackets &+= 1
            datagram.pointee.pendingBytes &+= UInt64(length)
            return .held
        }
        summary.hasPorts = datagram.pointee.hasPorts
        summary.sourcePort = datagram.pointee.sourcePort
        summary.destinationPort = datagram.pointee.destinationPort
        summary.hasICMP = datagram.pointee.hasICMP
        summary.icmpType = datagram.pointee.icmpType
        summary.icmpCode = datagram.pointee.icmpCode
        summary.icmpIdentifier = datagram.pointee.icmpIdentifier
        self.counters.attributed &+= 1
        return .record(extraPackets: 0, extraBytes: 0)
    }

    /// Drops datagrams older than the timeout at `now`, counting unattributed fragments.
    public func expire(now: CaptureTime) {
        if now.nanoseconds > self.clock { self.clock = now.nanoseconds }
        self.expire()
    }

    /// Drops every datagram (end of input), counting unattributed fragments as orphans.
    public func flushAll() {
        while self.live > 0 { self.dropOldest() }
    }

    private func expire() {
        while self.live > 0 {
            let (deadline, overflow) = self.ring[self.head].arrival.addingReportingOverflow(self.timeoutNanoseconds)
            if !overflow && deadline <= self.clock { self.dropOldest() } else { return }
        }
    }

    private func add(_ summary: PacketSummary, hash: UInt64) -> Int {
        if self.live == self.capacity {
            self.counters.evicted &+= 1
            self.dropOldest()
        }
        let slot = (self.head + self.live) % self.capacity
        var datagram = Datagram()
        datagram.source = summary.source
        datagram.destination = summary.destination
        datagram.identification = summary.fragmentID
        datagram.ipProtocol = summary.ipProtocol
        datagram.hash = hash
        datagram.arrival = self.clock
        self.ring[slot] = datagram
        self.index.insert(hash: hash, entry: slot)
        self.live += 1
        self.counters.datagrams &+= 1
        return slot
    }

    private func dropOldest() {
        let datagram = self.ring[self.head]
        self.counters.orphaned &+= datagram.pendingPackets
        self.index.remove(hash: datagram.hash, entry: self.head)
        self.head = (self.head + 1) % self.capacity
        self.live -= 1
    }

    private static func hash(_ s: PacketSummary) -> UInt64 {
        FlowKey(lowAddress: s.source, highAddress: s.destination, lowPort: UInt16(truncatingIfNeeded: s.fragmentID),
                highPort: UInt16(truncatingIfNeeded: s.fragmentID >> 16), ipProtocol: s.ipProtocol, vni: 0).hashValue64
    }
}

/// What the fragment table did; reported in `stats`.
public struct FragmentCounters: Sendable, Equatable {
    /// Datagrams tracked.
    public var datagrams: UInt64 = 0
    /// Non-first fragments counted toward their flow.
    public var attributed: UInt64 = 0
    /// Fragments whose first fragment was never seen (or had no transport header).
    public var orphaned: UInt64 = 0
    /// Datagrams dropped because the table was full.
    public var evicted: UInt64 = 0
    public init() {}

    /// Adds another worker's counters.
    public mutating func add(_ other: FragmentCounters) {
        self.datagrams &+= other.datagrams
        self.attributed &+= other.attributed
        self.orphaned &+= other.orphaned
        self.evicted &+= other.evicted
    }
}
