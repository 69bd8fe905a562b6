import Datapath
import Decoding
import FlowCore
import Testing

/// `--tunnel-key auto` (`TunnelKeyMode.auto`, docs/output.md "Tunnels"): each direction keeps the VNI of its
/// first packet; a packet joins the connection of its 5-tuple whose VNI its way is its own, else one
/// not yet seen its way (the one of its own VNI first, else the only one), else starts a connection.
struct TunnelKeyTests {
    static func vxlan(_ packet: PacketSummary, _ vni: UInt32) -> PacketSummary {
        var packet = packet
        packet.tunnel = .vxlan
        packet.tunnelDepth = 1
        packet.tunnelVNI = vni
        return packet
    }

    static func record(_ table: FlowTable, _ packet: PacketSummary, at seconds: Double) {
        table.record(packet, time: Packet.at(seconds), length: 100) { _, _ in }
    }

    /// The connection 10.244.0.1:40000 → 10.244.0.2:443 whose first packet had `vni`.
    static func connection(_ table: FlowTable, firstVNI vni: UInt32) -> FlowEntry? {
        table.lookup(FlowKey.canonical(source: Packet.address(1), sourcePort: 40000, destination: Packet.address(2),
                                       destinationPort: 443, ipProtocol: IPProtocolNumber.tcp, vni: vni).key)
    }

    static let syn = Packet.tcp(1, 40000, 2, 443, SYN)
    static let synAck = Packet.tcp(2, 443, 1, 40000, SYN | ACK)
    static let ack = Packet.tcp(1, 40000, 2, 443, ACK)

    @Test func aReplyCarryingItsSendersIdentityJoinsTheRequest() throws {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.syn, 4242), at: 0)
        Self.record(table, Self.vxlan(Self.synAck, 258), at: 0.001)
        Self.record(table, Self.vxlan(Self.ack, 4242), at: 0.002)
        Self.record(table, Self.vxlan(Packet.tcp(2, 443, 1, 40000, ACK | PSH), 258), at: 0.003)
        #expect(table.count == 1)
        let flow = try #require(Self.connection(table, firstVNI: 4242))
        #expect(flow.packetsToServer == 2 && flow.packetsToClient == 2)
        #expect(flow.tunnelVNI == 4242 && flow.hasResponseTunnel && flow.responseTunnelVNI == 258)
        #expect(flow.tcpState == .established)
    }

    @Test func oneFiveTupleInTwoSegmentsIsTwoConnectionsEvenWhenTheRepliesCrossOver() throws {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.syn, 10100), at: 0)
        Self.record(table, Self.vxlan(Self.syn, 10200), at: 0.001)
        Self.record(table, Self.vxlan(Self.synAck, 10200), at: 0.002)
        Self.record(table, Self.vxlan(Self.synAck, 10100), at: 0.003)
        Self.record(table, Self.vxlan(Self.ack, 10100), at: 0.004)
        Self.record(table, Self.vxlan(Self.ack, 10200), at: 0.005)
        #expect(table.count == 2)
        for vni: UInt32 in [10100, 10200] {
            let flow = try #require(Self.connection(table, firstVNI: vni))
            #expect(flow.packetsToServer == 2 && flow.packetsToClient == 1, "VNI \(vni)")
            #expect(flow.responseTunnelVNI == vni && flow.tcpState == .established, "VNI \(vni)")
        }
    }

    @Test func aReplyInAThirdVNIWhileTwoSegmentsAreOpenStartsItsOwnConnection() {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.syn, 10100), at: 0)
        Self.record(table, Self.vxlan(Self.syn, 10200), at: 0.001)
        Self.record(table, Self.vxlan(Self.synAck, 10300), at: 0.002)
        #expect(table.count == 3)
    }

    @Test func aSecondVNIInADirectionAlreadySeenIsAnotherConnection() {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.syn, 4242), at: 0)
        Self.record(table, Self.vxlan(Self.synAck, 258), at: 0.001)
        Self.record(table, Self.vxlan(Packet.tcp(2, 443, 1, 40000, ACK), 999), at: 0.002)
        Self.record(table, Self.vxlan(Self.ack, 777), at: 0.003)
        // 999 is a second VNI from 10.244.0.2: another connection; 777 from 10.244.0.1 is the first
        // packet its way there, so it joins that one (as a Cilium reply would).
        #expect(table.count == 2)
        let second = Self.connection(table, firstVNI: 999)
        #expect(second?.tunnelVNI == 999 && second?.responseTunnelVNI == 777)
        #expect(Self.connection(table, firstVNI: 4242)?.packetsToServer == 1)
    }

    @Test func anUntunneledCopyOfATunneledConnectionIsAFlowOfItsOwn() {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.syn, 4242), at: 0)
        Self.record(table, Self.syn, at: 0.0001)
        Self.record(table, Self.vxlan(Self.synAck, 258), at: 0.001)
        Self.record(table, Self.synAck, at: 0.0011)
        #expect(table.count == 2)
        #expect(Self.connection(table, firstVNI: 0)?.packetsToClient == 1)
        #expect(Self.connection(table, firstVNI: 4242)?.responseTunnelVNI == 258)
    }

    @Test func whenTheResponderIsSeenFirstTheInitiatorsVNIIsTheOtherWay() throws {
        let table = FlowTable(capacity: 16)
        Self.record(table, Self.vxlan(Self.synAck, 258), at: 0)
        Self.record(table, Self.vxlan(Self.ack, 4242), at: 0.001)
        Self.record(table, Self.vxlan(Self.ack, 4242), at: 0.002)
        #expect(table.count == 1)
        let flow = try #require(Self.connection(table, firstVNI: 258))
        #expect(!flow.firstFromInitiator && flow.sourceAddress == Packet.address(1))
        #expect(flow.tunnelVNI == 258 && flow.responseTunnelVNI == 4242)
        #expect(flow.packetsToServer == 2 && flow.packetsToClient == 1)
    }

    @Test func anICMPErrorIsMatchedAsAPacketTravellingBackWithItsVNI() throws {
        let table = FlowTable(capacity: 16)
        let query = Packet.udp(1, 53000, 2, 53)
        Self.record(table, Self.vxlan(query, 10100), at: 0)
        Self.record(table, Self.vxlan(query, 10200), at: 0.001)
        let error = Packet.icmpError(2, 1, type: 3, code: 3, quoting: query)
        #expect(table.recordRelated(Self.vxlan(error, 10200), time: Packet.at(0.002), length: 70))
        #expect(!table.recordRelated(Self.vxlan(error, 10300), time: Packet.at(0.003), length: 70))
        let key = FlowKey.canonical(source: Packet.address(1), sourcePort: 53000, destination: Packet.address(2),
                                    destinationPort: 53, ipProtocol: IPProtocolNumber.udp, vni: 10200).key
        #expect(table.lookup(key)?.hasResponseICMP == true)
        #expect(table.lookup(FlowKey(lowAddress: key.lowAddress, highAddress: key.highAddress, lowPort: key.lowPort,
                                     highPort: key.highPort, ipProtocol: key.ipProtocol, vni: 10100))?.hasResponseICMP == false)
    }

    @Test func aFiveTupleHoldsAtMostEightSegmentsAndANinthEndsTheStalest() {
        let table = FlowTable(capacity: 64)
        let ended = EndedFlows()
        for vni: UInt32 in 1...8 {
            table.record(Self.vxlan(Self.syn, vni), time: Packet.at(Double(vni)), length: 100, onEnd: ended.callAsFunction)
        }
        // VNI 1's connection is active again, so VNI 2's is the stalest when VNI 9 comes.
        table.record(Self.vxlan(Self.synAck, 1), time: Packet.at(8.5), length: 100, onEnd: ended.callAsFunction)
        table.record(Self.vxlan(Self.syn, 9), time: Packet.at(9), length: 100, onEnd: ended.callAsFunction)
        #expect(table.count == 8)
        #expect(ended.flows.map { $0.0.key.vni } == [2])
        #expect(ended.reasons == [.evicted])
        #expect(table.counters.evicted == 1)
    }

    @Test func vniKeepsEveryVNIApartAndNoneIgnoresThem() {
        let byVNI = FlowTable(capacity: 16, tunnelKey: .vni)
        let ignoring = FlowTable(capacity: 16, tunnelKey: .none)
        for table in [byVNI, ignoring] {
            Self.record(table, Self.vxlan(Self.syn, 4242), at: 0)
            Self.record(table, Self.vxlan(Self.synAck, 258), at: 0.001)
            Self.record(table, Self.vxlan(Self.syn, 10200), at: 0.002)
        }
        #expect(byVNI.count == 3)
        #expect(ignoring.count == 1)
    }
}
