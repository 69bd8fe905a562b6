@testable import Datapath
import Decoding
import FlowCore
import Testing

/// Reading ahead in the flow table (`prefetchSlot`, `prefetchEntry`, `record(prepared:)`)
/// changes nothing the table does, and `flushAll` ends every connection in order and leaves
/// the table empty and small, ready for more.
struct FlowTableReadAheadTests {
    /// Packets of 3,000 connections both ways, some through VXLAN with two VNIs: what ends.
    static func traffic(_ table: FlowTable, readAhead: Bool) -> [String] {
        var ended: [String] = []
        var generator = SplitMix(seed: 7)
        for step in 0..<20_000 {
            let connection = UInt32(generator.next() % 3_000)
            var packet = generator.next() % 2 == 0
                ? Packet.udp(1 + connection % 50, UInt16(1024 + connection), 200, 53)
                : Packet.udp(200, 53, 1 + connection % 50, UInt16(1024 + connection))
            if connection % 7 == 0 {
                packet.tunnel = .vxlan
                packet.tunnelVNI = 100 + connection % 2
            }
            let prepared = readAhead ? table.prefetchSlot(&packet) : nil
            if let prepared { table.prefetchEntry(hash: prepared.hash) }
            table.record(packet, time: Packet.at(Double(step) / 100), length: 60, prepared: prepared) { flow, reason in
                ended.append("\(flow.flowID) \(reason) \(flow.packetsToServer) \(flow.packetsToClient)")
            }
        }
        table.flushAll { flow, reason in ended.append("\(flow.flowID) \(reason) \(flow.packetsToServer) \(flow.packetsToClient)") }
        return ended
    }

    /// The key and hash `prefetchSlot` hands on are the ones the table files the packet's
    /// connection under, for every tunnel-key mode: the same connections, packets and endings either way.
    @Test(arguments: [TunnelKeyMode.auto, .vni, .none])
    func aPrefetchedHashFindsTheSameConnections(mode: TunnelKeyMode) {
        let plain = Self.traffic(FlowTable(capacity: 1_000, tunnelKey: mode), readAhead: false)
        let ahead = Self.traffic(FlowTable(capacity: 1_000, tunnelKey: mode), readAhead: true)
        #expect(plain.count > 3_000)
        #expect(ahead == plain)
    }

    /// Prefetching for any hash, of a member or not, in an empty or a crowded index, reads and
    /// changes nothing it should not.
    @Test func prefetchingAnyHashChangesNothing() {
        let table = FlowTable(capacity: 64)
        var generator = SplitMix(seed: 3)
        for _ in 0..<1_000 { table.prefetchEntry(hash: generator.next()) }
        for port in UInt16(0)..<64 {
            table.record(Packet.udp(1, port, 2, 9), time: Packet.at(0), length: 60) { _, _ in }
        }
        for _ in 0..<10_000 { table.prefetchEntry(hash: generator.next() & 0xffff_ffff) }
        #expect(table.count == 64)
        #expect(table.counters.created == 64)
    }

    /// 20,000 connections, many starting at the same instant: `flushAll` ends them by start, then
    /// flow id, announcing each batch's first start, and leaves the index back at its first
    /// 4,096 slots; the same connections then start anew.
    @Test func flushAllEndsEveryConnectionInOrderAndEmptiesTheTable() {
        let table = FlowTable(capacity: 32_768)
        var generator = SplitMix(seed: 11)
        var packets: [PacketSummary] = []
        for index in 0..<20_000 {
            let packet = Packet.udp(1 + UInt32(index % 200), UInt16(1024 + index / 200), 300, 80)
            packets.append(packet)
            table.record(packet, time: Packet.at(Double(generator.next() % 50)), length: 60) { _, _ in }
        }
        #expect(table.index.slotCount > 4096)
        var ended: [(start: Int64, id: UInt64)] = []
        var bounds: [(position: Int, start: Int64)] = []
        table.flushAll(batch: 1_000) { flow, reason in
            #expect(reason == .shutdown)
            ended.append((flow.start.nanoseconds, flow.flowID))
        } batchEnd: { next in
            bounds.append((ended.count, next.nanoseconds))
        }
        #expect(ended.count == 20_000)
        #expect(zip(ended, ended.dropFirst()).allSatisfy { ($0.start, $0.id) < ($1.start, $1.id) })
        #expect(bounds.map(\.position) == Array(stride(from: 1_000, to: 20_000, by: 1_000)))
        #expect(bounds.allSatisfy { ended[$0.position].start == $0.start })
        #expect(table.count == 0 && table.counters.shutdown == 20_000 && table.counters.ended == 20_000)
        #expect(table.index.slotCount == 4096)
        for packet in packets {
            let (_, isNew) = table.record(packet, time: Packet.at(60), length: 60) { _, _ in }
            #expect(isNew)
        }
        #expect(table.count == 20_000)
        #expect(table.lookup(FlowKey.canonical(source: Packet.address(1), sourcePort: 1024, destination: Packet.address(300),
                                               destinationPort: 80, ipProtocol: IPProtocolNumber.udp, vni: 0).key) != nil)
    }
}
