import Datapath
import Decoding
import FlowCore
import Testing

struct FragmentTableTests {
    static func fragment(id: UInt32, offset: UInt16, more: Bool, ports: Bool) -> PacketSummary {
        var s = Packet.udp(1, ports ? 5353 : 0, 2, ports ? 2049 : 0)
        s.hasPorts = ports
        s.isFragment = true
        s.fragmentID = id
        s.fragmentOffset = offset
        s.moreFragments = more
        return s
    }

    @Test func laterFragmentsGetTheFirstFragmentsPorts() {
        let table = FragmentTable(capacity: 4)
        var first = Self.fragment(id: 9, offset: 0, more: true, ports: true)
        #expect(table.observe(&first, time: Packet.at(0), length: 1514) == .record(extraPackets: 0, extraBytes: 0))
        var second = Self.fragment(id: 9, offset: 185, more: false, ports: false)
        #expect(table.observe(&second, time: Packet.at(0.001), length: 600) == .record(extraPackets: 0, extraBytes: 0))
        #expect(second.hasPorts && second.sourcePort == 5353 && second.destinationPort == 2049)
        #expect(table.counters.attributed == 1)
    }

    @Test func fragmentsBeforeTheFirstAreAttributedWhenItArrives() {
        let table = FragmentTable(capacity: 4)
        var late = Self.fragment(id: 3, offset: 185, more: false, ports: false)
        #expect(table.observe(&late, time: Packet.at(0), length: 600) == .held)
        var middle = Self.fragment(id: 3, offset: 100, more: true, ports: false)
        #expect(table.observe(&middle, time: Packet.at(0.1), length: 700) == .held)
        var first = Self.fragment(id: 3, offset: 0, more: true, ports: true)
        #expect(table.observe(&first, time: Packet.at(0.2), length: 1514) == .record(extraPackets: 2, extraBytes: 1300))
        table.flushAll()
        #expect(table.counters.orphaned == 0)
    }

    @Test func fragmentsWhoseFirstNeverComesAreOrphansAfterTheTimeout() {
        let table = FragmentTable(capacity: 4, timeout: .seconds(60))
        var late = Self.fragment(id: 4, offset: 185, more: false, ports: false)
        _ = table.observe(&late, time: Packet.at(0), length: 600)
        table.expire(now: Packet.at(59))
        #expect(table.counters.orphaned == 0)
        table.expire(now: Packet.at(60))
        #expect(table.counters.orphaned == 1)
    }

    @Test func aFullTableEvictsTheOldestDatagramAndCountsIt() {
        let table = FragmentTable(capacity: 2)
        for id in UInt32(0)..<5 {
            var packet = Self.fragment(id: id, offset: 10, more: false, ports: false)
            _ = table.observe(&packet, time: Packet.at(Double(id)), length: 100)
        }
        #expect(table.counters.evicted == 3)
        #expect(table.counters.orphaned == 3)
        table.flushAll()
        #expect(table.counters.orphaned == 5)
    }
}
