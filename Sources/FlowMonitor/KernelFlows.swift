import Datapath
import FlowCore
import KernelCapture

/// The user-space half of the eBPF datapath's mode 2 (`flowmon capture --ebpf-mode flows`): at
/// every sweep, before the sweep marker, the pipeline reads the kernel's flow map
/// (`KernelCapture.readFlows`) and this table turns each connection's
/// totals into what changed since the last read, a `FlowAggregate` for the worker that owns the
/// connection. Per connection, twice a second, not per packet.
///
/// Kernel entries that counted nothing new and whose latest packet is older than the shortest
/// flow timeout are deleted, so the map stays bounded; a later packet of the connection finds no
/// entry and comes up as a record, so nothing is counted twice. One race remains: a packet the
/// kernel counts between `deleteFlow`'s last look at the entry and the delete (microseconds, on a
/// connection idle for seconds until that instant) is lost with the entry.
final class KernelFlows {
    struct Seen {
        var packets: (fromLow: UInt64, fromHigh: UInt64)
        var bytes: (fromLow: UInt64, fromHigh: UInt64)
        /// The read that last found the entry: entries the kernel no longer has are forgotten.
        var read: UInt64
    }

    /// What the kernel had counted for each connection at the last read.
    private(set) var seen: [FlowKey: Seen] = [:]
    private var read: UInt64 = 0
    /// A kernel entry idle this long is deleted: the shortest flow timeout.
    let idleNanoseconds: Int64
    /// The kernel's counters at the last read.
    private var counters = KernelCapture.Counters()
    /// The kernel's per-interface counts at the last read, by interface index.
    private var interfaces: [UInt32: (packets: UInt64, bytes: UInt64, seenElsewhere: UInt64)] = [:]
    /// What the kernel counted per interface since the last read (packets include `seenElsewhere`).
    private(set) var interfaceDeltas: [(index: UInt32, packets: UInt64, bytes: UInt64, seenElsewhere: UInt64)] = []
    /// What the last read counted, one aggregate per connection with new packets (kept to be
    /// reused: the pipeline hands them over after draining the ring).
    private(set) var aggregates: [FlowAggregate] = []

    init(timeouts: FlowTimeouts) {
        self.idleNanoseconds = min(timeouts.nanoseconds(for: .new), timeouts.nanoseconds(for: .established),
                                   timeouts.nanoseconds(for: .closed))
    }

    /// One connection's totals, read now: what it counted since the last read (nil when nothing),
    /// and whether its entry is idle past the timeout and should be deleted.
    func step(_ totals: KernelCapture.FlowTotals, now: CaptureTime) -> (aggregate: FlowAggregate?, idle: Bool) {
        let key = Self.key(totals)
        var before = self.seen[key] ?? Seen(packets: (0, 0), bytes: (0, 0), read: 0)
        // Fewer than before: the kernel's entry was deleted and made again since; all of it is new.
        if totals.packets.fromLow < before.packets.fromLow || totals.packets.fromHigh < before.packets.fromHigh {
            before = Seen(packets: (0, 0), bytes: (0, 0), read: 0)
        }
        self.seen[key] = Seen(packets: totals.packets, bytes: totals.bytes, read: self.read)
        let packets = (totals.packets.fromLow &- before.packets.fromLow, totals.packets.fromHigh &- before.packets.fromHigh)
        guard packets.0 > 0 || packets.1 > 0 else {
            return (nil, now.nanoseconds &- totals.last.nanoseconds > self.idleNanoseconds)
        }
        let aggregate = FlowAggregate(
            key: key, packetsFromLow: packets.0, packetsFromHigh: packets.1,
            bytesFromLow: totals.bytes.fromLow &- before.bytes.fromLow, bytesFromHigh: totals.bytes.fromHigh &- before.bytes.fromHigh,
            flagsFromLow: totals.tcpFlags.fromLow, flagsFromHigh: totals.tcpFlags.fromHigh, last: totals.last)
        return (aggregate, false)
    }

    /// Forgets a connection whose kernel entry was deleted.
    func forget(_ totals: KernelCapture.FlowTotals) {
        self.seen[Self.key(totals)] = nil
    }

    /// The kernel's key as flowmon's `FlowKey` (the kernel parses no tunnel: no VNI).
    static func key(_ totals: KernelCapture.FlowTotals) -> FlowKey {
        FlowKey(lowAddress: totals.low, highAddress: totals.high, lowPort: totals.lowPort, highPort: totals.highPort,
                ipProtocol: totals.ipProtocol, vni: 0)
    }

    /// Starts a read of the whole map.
    func beginRead() { self.read &+= 1 }

    /// Ends a read: forgets the connections the map no longer holds.
    func endRead() {
        let current = self.read
        if self.seen.contains(where: { $0.value.read != current }) {
            self.seen = self.seen.filter { $0.value.read == current }
        }
    }

    /// Reads the kernel's flow map and counters (at `now`, the sweep's time): puts each
    /// connection's new counts in `aggregates`, deletes the idle entries, and returns what the
    /// kernel counted since the last read without sending it up (aggregated, and not counted
    /// because another interface counts it).
    func collect(from kernel: KernelCapture, now: CaptureTime)
        -> (aggregated: (packets: UInt64, bytes: UInt64), seenElsewhere: (packets: UInt64, bytes: UInt64)) {
        self.beginRead()
        self.aggregates.removeAll(keepingCapacity: true)
        var idle: [KernelCapture.FlowTotals] = []
        kernel.readFlows { totals in
            let (aggregate, isIdle) = self.step(totals, now: now)
            if let aggregate { self.aggregates.append(aggregate) }
            if isIdle { idle.append(totals) }
        }
        self.endRead()
        for totals in idle where kernel.deleteFlow(ifUnchanged: totals) { self.forget(totals) }
        // After the map: a packet counted while the map was read is in these counters and in the
        // next read's aggregates (at the end of a capture, like a record left in the ring, in
        // these counters only).
        let counters = kernel.counters()
        defer { self.counters = counters }
        self.interfaceDeltas.removeAll(keepingCapacity: true)
        var interfaces: [UInt32: (packets: UInt64, bytes: UInt64, seenElsewhere: UInt64)] = [:]
        for count in kernel.interfaceCounts() {
            let now = (packets: count.aggregated.packets &+ count.seenElsewhere.packets,
                       bytes: count.aggregated.bytes &+ count.seenElsewhere.bytes, seenElsewhere: count.seenElsewhere.packets)
            // An interface detached and attached again starts from zero.
            var before = self.interfaces[count.index] ?? (0, 0, 0)
            if now.packets < before.packets { before = (0, 0, 0) }
            interfaces[count.index] = now
            if now.packets > before.packets {
                self.interfaceDeltas.append((count.index, now.packets &- before.packets, now.bytes &- before.bytes,
                                             now.seenElsewhere &- before.seenElsewhere))
            }
        }
        self.interfaces = interfaces
        return ((counters.aggregatedPackets &- self.counters.aggregatedPackets, counters.aggregatedBytes &- self.counters.aggregatedBytes),
                (counters.seenElsewhere &- self.counters.seenElsewhere, counters.seenElsewhereBytes &- self.counters.seenElsewhereBytes))
    }
}
