import Datapath
import Decoding
import Detection
import FlowCore
import Testing

/// ICMP errors belong to the connection whose packet they quote, as in Cilium's conntrack
/// (`CT_RELATED`): they start no connection, and the connection records the first one sent
/// back to its initiator.
struct RelatedICMPTests {
    /// Records `packets` in order; a packet that `FlowTable.recordRelated` takes is not recorded
    /// again, as in `FlowProcessor`.
    static func run(_ packets: [PacketSummary], capacity: Int = 8) -> (FlowTable, [FlowEntry]) {
        let table = FlowTable(capacity: capacity)
        let ended = EndedFlows()
        for (index, packet) in packets.enumerated() {
            let time = Packet.at(Double(index) * 0.1)
            if packet.quotesConnection, table.recordRelated(packet, time: time, length: 70) { continue }
            table.record(packet, time: time, length: 60, onEnd: ended.callAsFunction)
        }
        table.flushAll(onEnd: ended.callAsFunction)
        return (table, ended.flows.map(\.0))
    }

    @Test func aPortUnreachableIsCountedOnTheUDPFlowItAnswers() {
        let probe = Packet.udp(1, 40000, 2, 9999)
        let (table, flows) = Self.run([probe, Packet.icmpError(2, 1, type: 3, code: 3, quoting: probe)])
        #expect(flows.count == 1)
        let flow = flows[0]
        #expect(flow.ipProtocol == IPProtocolNumber.udp && flow.sourcePort == 40000)
        #expect(flow.packetsToServer == 1 && flow.packetsToClient == 1)
        #expect(flow.bytesToServer == 60 && flow.bytesToClient == 70)
        #expect(flow.hasResponseICMP && flow.responseICMPType == 3 && flow.responseICMPCode == 3)
        // No UDP reply: still Zeek's S0, and a failed attempt for the scan detectors.
        #expect(String(describing: flow.connState) == "S0")
        #expect(flow.phase == .new)
        #expect(flow.isFailedAttempt)
        #expect(table.counters.relatedICMP == 1 && table.counters.created == 1)
    }

    @Test func aUDPFlowWithAReplyIsNoFailedAttemptWhateverErrorsFollow() {
        let query = Packet.udp(1, 40000, 2, 53)
        let (_, flows) = Self.run([query, Packet.udp(2, 53, 1, 40000), Packet.icmpError(2, 1, type: 3, code: 3, quoting: query)])
        #expect(flows.count == 1 && flows[0].packetsToClient == 2)
        #expect(!flows[0].isFailedAttempt)
    }

    @Test func aRouterTimeExceededAndAHostUnreachableForAPingJoinTheirConnections() {
        let probe = Packet.udp(1, 40000, 2, 33434)
        let ping = Packet.icmp(1, 3, type: 8, identifier: 77)
        let (table, flows) = Self.run([
            probe, Packet.icmpError(9, 1, type: 11, code: 0, quoting: probe),  // from a router on the path
            ping, Packet.icmpError(9, 1, type: 3, code: 1, quoting: ping),
        ])
        #expect(flows.count == 2)
        #expect(flows.allSatisfy { $0.packetsToClient == 1 && $0.hasResponseICMP })
        #expect(flows.first { $0.ipProtocol == IPProtocolNumber.udp }?.responseICMPType == 11)
        #expect(flows.first { $0.ipProtocol == IPProtocolNumber.icmp }?.responseICMPType == 3)
        #expect(table.counters.relatedICMP == 2)
    }

    @Test func anErrorAboutAResponderPacketCountsTowardTheServer() {
        // The initiator's host rejects the responder's late datagram.
        let query = Packet.udp(1, 40000, 2, 53)
        let reply = Packet.udp(2, 53, 1, 40000)
        let (_, flows) = Self.run([query, reply, Packet.icmpError(1, 2, type: 3, code: 3, quoting: reply)])
        #expect(flows.count == 1)
        #expect(flows[0].packetsToServer == 2 && flows[0].packetsToClient == 1)
        #expect(!flows[0].hasResponseICMP)
    }

    @Test func anErrorAboutAnUntrackedConnectionIsAFlowOfItsOwnPerQuotedAddressPair() {
        // Neither probe is in the capture: each error is its own flow, one per quoted connection's
        // address pair, so the pipeline can keep each in one shard.
        let first = Packet.icmpError(9, 1, type: 11, code: 0, quoting: Packet.udp(1, 40000, 2, 33434))
        let sameQuotedPair = Packet.icmpError(9, 1, type: 11, code: 0, quoting: Packet.udp(1, 40001, 2, 33435))
        let otherQuotedPair = Packet.icmpError(9, 1, type: 11, code: 0, quoting: Packet.udp(1, 40002, 3, 33436))
        let (table, flows) = Self.run([first, sameQuotedPair, otherQuotedPair])
        #expect(flows.count == 2)
        #expect(flows.allSatisfy { $0.ipProtocol == IPProtocolNumber.icmp && $0.icmpType == 11 && $0.icmpCode == 0 })
        #expect(flows.map(\.packetsToServer).sorted() == [1, 2])
        #expect(table.counters.relatedICMP == 0)
    }

    @Test(arguments: [(UInt8(4), UInt8(0)), (5, 1)])
    func sourceQuenchAndRedirectAreNotRelated(type: UInt8, code: UInt8) {
        let probe = Packet.udp(1, 40000, 2, 9999)
        let error = Packet.icmpError(2, 1, type: type, code: code, quoting: probe)
        #expect(!error.quotesConnection)
        let (_, flows) = Self.run([probe, error])
        #expect(flows.count == 2)
    }

    @Test func aFragmentOfAnErrorIsNotRelated() {
        var error = Packet.icmpError(2, 1, type: 3, code: 3, quoting: Packet.udp(1, 40000, 2, 9999))
        error.isFragment = true
        #expect(!error.quotesConnection)
    }
}

extension RelatedICMPTests {
    /// A UDP port scan answered by port unreachable (what `nmap -sU` sees from closed ports) is
    /// a vertical scan: each probe's flow ends as a failed attempt, as an unanswered SYN does.
    @Test func aUDPScanAnsweredByPortUnreachableIsAVerticalScan() {
        var packets: [PacketSummary] = []
        for port in UInt16(1000)..<1020 {
            let probe = Packet.udp(1, 50000, 2, port)
            packets += [probe, Packet.icmpError(2, 1, type: 3, code: 3, quoting: probe)]
        }
        let (_, flows) = Self.run(packets, capacity: 64)
        #expect(flows.count == 20 && flows.allSatisfy(\.isFailedAttempt))

        var settings = DetectorSettings()
        settings.scanPorts = 15
        let engine = DetectorEngine(settings: settings)
        var fired: [AlertKind] = []
        for flow in flows where flow.isFailedAttempt {
            engine.observe(.failedAttempt, flow: flow, time: flow.start, scope: .empty, emit: { fire, _ in fired.append(fire.kind) })
        }
        #expect(fired == [.verticalPortScan])
    }
}
