import Datapath
import Decoding
import FlowCore
import Testing

/// Kernel aggregates (the eBPF datapath's mode 2) added to the flow table: counts each way
/// relative to the connection's initiator, times, flags, no change of TCP state, and a
/// connection the table no longer has created as a first packet would create it.
struct FlowAggregateTests {
    /// The key of a connection between 10.244.0.`a`:`aPort` and 10.244.0.`b`:`bPort`.
    static func key(_ a: UInt32, _ aPort: UInt16, _ b: UInt32, _ bPort: UInt16, _ ipProtocol: UInt8) -> FlowKey {
        FlowKey.canonical(source: Packet.address(a), sourcePort: aPort, destination: Packet.address(b),
                          destinationPort: bPort, ipProtocol: ipProtocol, vni: 0).key
    }

    @Test func anAggregateAddsToTheConnectionEachWayWithoutMovingItsState() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        // The high endpoint (10.244.0.2) starts: "from low" is the responder's way.
        table.record(Packet.tcp(2, 40000, 1, 80, TCPFlag.syn), time: Packet.at(0), length: 74, onEnd: ended.callAsFunction)
        table.record(Packet.tcp(1, 80, 2, 40000, TCPFlag.syn | TCPFlag.ack), time: Packet.at(0.1), length: 74, onEnd: ended.callAsFunction)
        table.record(Packet.tcp(2, 40000, 1, 80, TCPFlag.ack), time: Packet.at(0.2), length: 66, onEnd: ended.callAsFunction)
        let before = table.lookup(Self.key(2, 40000, 1, 80, IPProtocolNumber.tcp))!
        #expect(before.tcpState == .established && before.history.rawValue != 0)

        let aggregate = FlowAggregate(key: Self.key(2, 40000, 1, 80, IPProtocolNumber.tcp), packetsFromLow: 7, packetsFromHigh: 5,
                                      bytesFromLow: 7000, bytesFromHigh: 330, flagsFromLow: TCPFlag.ack | TCPFlag.psh,
                                      flagsFromHigh: TCPFlag.ack, last: Packet.at(3))
        let (entry, isNew) = table.apply(aggregate, onEnd: ended.callAsFunction)
        #expect(!isNew)
        let flow = entry.pointee
        #expect(flow.packetsToServer == 2 + 5 && flow.bytesToServer == 140 + 330)
        #expect(flow.packetsToClient == 1 + 7 && flow.bytesToClient == 74 + 7000)
        #expect(flow.flagsToClient == TCPFlag.syn | TCPFlag.ack | TCPFlag.psh)
        #expect(flow.tcpState == .established && flow.history == before.history && flow.phase == .established)
        #expect(flow.start == Packet.at(0) && flow.end == Packet.at(3))
        #expect(table.counters.createdFromKernel == 0 && table.counters.created == 1)
        // The table's clock moved with it: the connection is not idle at 3 s + 299 s.
        table.expire(now: Packet.at(302.9), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty)
        table.expire(now: Packet.at(303), onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.timeout])
    }

    @Test func aConnectionTheTableNoLongerHasIsCreatedAndCounted() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        let aggregate = FlowAggregate(key: Self.key(1, 53, 2, 40000, IPProtocolNumber.udp), packetsFromLow: 3, packetsFromHigh: 4,
                                      bytesFromLow: 300, bytesFromHigh: 200, last: Packet.at(5))
        let (entry, isNew) = table.apply(aggregate, onEnd: ended.callAsFunction)
        #expect(isNew)
        let flow = entry.pointee
        // Both sides sent: the side with the ephemeral port is taken for the client.
        #expect(flow.sourceAddress == Packet.address(2) && flow.sourcePort == 40000 && flow.destinationPort == 53)
        #expect(flow.packetsToServer == 4 && flow.bytesToServer == 200 && flow.packetsToClient == 3 && flow.bytesToClient == 300)
        #expect(flow.phase == .established && flow.connState.description == "SF")
        #expect(table.counters.createdFromKernel == 1 && table.counters.created == 1)

        // One side only: that side started it.
        let oneWay = FlowAggregate(key: Self.key(1, 5000, 2, 6000, IPProtocolNumber.udp), packetsFromLow: 0, packetsFromHigh: 2,
                                   bytesFromLow: 0, bytesFromHigh: 100, last: Packet.at(6))
        let created = table.apply(oneWay, onEnd: ended.callAsFunction).entry.pointee
        #expect(created.sourceAddress == Packet.address(2) && created.packetsToServer == 2 && created.packetsToClient == 0)
        #expect(created.phase == .new && created.connState.description == "S0")
        #expect(table.counters.createdFromKernel == 2)
    }

    @Test func aTCPConnectionCreatedFromAnAggregateIsPickedUpMidstream() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        let aggregate = FlowAggregate(key: Self.key(1, 443, 2, 51000, IPProtocolNumber.tcp), packetsFromLow: 10, packetsFromHigh: 8,
                                      bytesFromLow: 15000, bytesFromHigh: 600, flagsFromLow: TCPFlag.ack, flagsFromHigh: TCPFlag.ack,
                                      last: Packet.at(1))
        let flow = table.apply(aggregate, onEnd: ended.callAsFunction).entry.pointee
        #expect(flow.tcpState == .established && flow.phase == .established && flow.connState.description == "OTH")
        #expect(flow.flagsToServer == TCPFlag.ack && flow.flagsToClient == TCPFlag.ack)
    }
}
