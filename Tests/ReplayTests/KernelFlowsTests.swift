import Datapath
import FlowCore
@testable import FlowMonitor
import KernelCapture
import Testing

/// The user-space merge of the eBPF datapath's mode 2: the kernel's per-connection totals
/// become what changed since the last read, and idle entries are named
/// for deletion.
struct KernelFlowsTests {
    static let second: Int64 = 1_000_000_000

    static func totals(packets: (UInt64, UInt64), bytes: (UInt64, UInt64), flags: (UInt16, UInt16) = (0, 0),
                       last seconds: Int64, port: UInt16 = 40000) -> KernelCapture.FlowTotals {
        KernelCapture.FlowTotals(low: IPAddress(ipv4: 0x0af4_000b), high: IPAddress(ipv4: 0x0af4_000c), lowPort: port, highPort: 8080,
                                 ipProtocol: 6, packets: (packets.0, packets.1), bytes: (bytes.0, bytes.1),
                                 tcpFlags: (flags.0, flags.1), last: CaptureTime(nanoseconds: seconds * Self.second))
    }

    @Test func eachReadHandsOverWhatChangedSinceTheLastOne() {
        let flows = KernelFlows(timeouts: FlowTimeouts())
        flows.beginRead()
        let first = flows.step(Self.totals(packets: (10, 4), bytes: (1000, 400), flags: (0x10, 0x18), last: 1), now: CaptureTime(nanoseconds: Self.second))
        flows.endRead()
        let key = FlowKey(lowAddress: IPAddress(ipv4: 0x0af4_000b), highAddress: IPAddress(ipv4: 0x0af4_000c), lowPort: 40000,
                          highPort: 8080, ipProtocol: 6, vni: 0)
        #expect(first.aggregate == FlowAggregate(key: key, packetsFromLow: 10, packetsFromHigh: 4, bytesFromLow: 1000,
                                                 bytesFromHigh: 400, flagsFromLow: 0x10, flagsFromHigh: 0x18,
                                                 last: CaptureTime(nanoseconds: Self.second)))
        #expect(!first.idle)

        flows.beginRead()
        let second = flows.step(Self.totals(packets: (15, 4), bytes: (1500, 400), flags: (0x10, 0x18), last: 2), now: CaptureTime(nanoseconds: 2 * Self.second))
        flows.endRead()
        #expect(second.aggregate?.packetsFromLow == 5 && second.aggregate?.packetsFromHigh == 0)
        #expect(second.aggregate?.bytesFromLow == 500 && second.aggregate?.bytesFromHigh == 0)
        #expect(second.aggregate?.last == CaptureTime(nanoseconds: 2 * Self.second))

        // Nothing new: no aggregate; idle once the latest packet is older than the shortest timeout (10 s).
        flows.beginRead()
        let quiet = flows.step(Self.totals(packets: (15, 4), bytes: (1500, 400), last: 2), now: CaptureTime(nanoseconds: 12 * Self.second))
        let idle = flows.step(Self.totals(packets: (15, 4), bytes: (1500, 400), last: 2), now: CaptureTime(nanoseconds: 12 * Self.second + 1))
        flows.endRead()
        #expect(quiet.aggregate == nil && !quiet.idle)
        #expect(idle.aggregate == nil && idle.idle)
    }

    @Test func anEntryMadeAgainCountsFromZeroAndOneGoneIsForgotten() {
        let flows = KernelFlows(timeouts: FlowTimeouts(new: .seconds(30), established: .seconds(60), closed: .seconds(5)))
        #expect(flows.idleNanoseconds == 5 * Self.second)
        flows.beginRead()
        _ = flows.step(Self.totals(packets: (100, 90), bytes: (10_000, 9000), last: 1), now: .zero)
        _ = flows.step(Self.totals(packets: (1, 1), bytes: (100, 100), last: 1, port: 40001), now: .zero)
        flows.endRead()
        #expect(flows.seen.count == 2)
        // The first one was deleted (by flowmon) and made again by a later packet: fewer than before.
        flows.forget(Self.totals(packets: (100, 90), bytes: (10_000, 9000), last: 1))
        flows.beginRead()
        let again = flows.step(Self.totals(packets: (3, 0), bytes: (300, 0), last: 9), now: .zero)
        flows.endRead()
        #expect(again.aggregate?.packetsFromLow == 3 && again.aggregate?.bytesFromLow == 300)
        // The second was not in that read: the kernel no longer has it.
        #expect(flows.seen.count == 1)
        flows.beginRead()
        let lower = flows.step(Self.totals(packets: (2, 0), bytes: (200, 0), last: 10), now: .zero)
        flows.endRead()
        #expect(lower.aggregate?.packetsFromLow == 2, "counts below the last read: the entry was made again, all of it is new")
    }
}
