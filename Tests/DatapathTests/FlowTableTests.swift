import Datapath
import Decoding
import FlowCore
import Testing

struct FlowTableTests {
    @Test func idleNewFlowExpiresAfterThirtySecondsOfPacketTime() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.udp(1, 40000, 2, 53), time: Packet.at(0), length: 80, onEnd: ended.callAsFunction)
        table.expire(now: Packet.at(29.999), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty)
        table.expire(now: Packet.at(30), onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.timeout])
        #expect(table.count == 0)
        #expect(ended.flows[0].0.phase == .new)
    }

    @Test func establishedFlowLivesThreeHundredSecondsIdle() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.udp(1, 40000, 2, 53), time: Packet.at(0), length: 80, onEnd: ended.callAsFunction)
        table.record(Packet.udp(2, 53, 1, 40000), time: Packet.at(1), length: 120, onEnd: ended.callAsFunction)
        table.expire(now: Packet.at(300.9), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty)
        table.expire(now: Packet.at(301), onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.timeout])
        let flow = ended.flows[0].0
        #expect(flow.phase == .established)
        #expect(flow.packetsToServer == 1 && flow.packetsToClient == 1)
        #expect(flow.bytesToServer == 80 && flow.bytesToClient == 120)
        #expect(flow.sourcePort == 40000 && flow.destinationPort == 53)
        #expect(flow.connState.description == "SF")
    }

    @Test func closedConnectionExpiresAfterTenSeconds() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        let steps: [(PacketSummary, Double)] = [
            (Packet.tcp(1, 40000, 2, 80, SYN), 0), (Packet.tcp(2, 80, 1, 40000, SYN | ACK), 0.1),
            (Packet.tcp(1, 40000, 2, 80, ACK), 0.2), (Packet.tcp(1, 40000, 2, 80, FIN | ACK), 1),
            (Packet.tcp(2, 80, 1, 40000, FIN | ACK), 1.1), (Packet.tcp(1, 40000, 2, 80, ACK), 1.2),
        ]
        for (packet, time) in steps {
            table.record(packet, time: Packet.at(time), length: 60, onEnd: ended.callAsFunction)
        }
        table.expire(now: Packet.at(11.1), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty)
        table.expire(now: Packet.at(11.2), onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.timeout])
        #expect(ended.flows[0].0.tcpState == .closed)
        #expect(ended.flows[0].0.connState.description == "SF")
    }

    @Test func timeoutsAreConfigurable() {
        let table = FlowTable(capacity: 4, timeouts: FlowTimeouts(new: .seconds(5), established: .seconds(7), closed: .seconds(1)))
        let ended = EndedFlows()
        table.record(Packet.udp(1, 1, 2, 2), time: Packet.at(0), length: 60, onEnd: ended.callAsFunction)
        table.expire(now: Packet.at(4.9), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty)
        table.expire(now: Packet.at(5), onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.timeout])
    }

    @Test func synAckSeenFirstMakesTheReceiverTheInitiator() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.tcp(2, 443, 1, 51000, SYN | ACK), time: Packet.at(0), length: 60, onEnd: ended.callAsFunction)
        table.record(Packet.tcp(1, 51000, 2, 443, ACK), time: Packet.at(0.1), length: 60, onEnd: ended.callAsFunction)
        table.flushAll(onEnd: ended.callAsFunction)
        let flow = ended.flows[0].0
        #expect(flow.sourceAddress == Packet.address(1) && flow.sourcePort == 51000)
        #expect(flow.destinationPort == 443)
        #expect(flow.packetsToClient == 1 && flow.packetsToServer == 1)
        #expect(ended.reasons == [.shutdown])
    }

    @Test func icmpEchoReplySeenFirstMakesTheReceiverTheInitiator() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.icmp(2, 1, type: 0, identifier: 7), time: Packet.at(0), length: 98, onEnd: ended.callAsFunction)
        table.record(Packet.icmp(1, 2, type: 8, identifier: 7), time: Packet.at(1), length: 98, onEnd: ended.callAsFunction)
        table.flushAll(onEnd: ended.callAsFunction)
        #expect(ended.flows.count == 1)
        let flow = ended.flows[0].0
        #expect(flow.sourceAddress == Packet.address(1))
        #expect(flow.hasICMP && flow.icmpType == 8 && flow.hasResponseICMP && flow.responseICMPType == 0)
    }

    @Test func fullTableEvictsTheLeastRecentlyActiveFlow() {
        let table = FlowTable(capacity: 3)
        let ended = EndedFlows()
        for i in 0..<3 {
            table.record(Packet.udp(1, UInt16(1000 + i), 2, 53), time: Packet.at(Double(i)), length: 60, onEnd: ended.callAsFunction)
        }
        // Touch the oldest so the second becomes least recently active.
        table.record(Packet.udp(1, 1000, 2, 53), time: Packet.at(3), length: 60, onEnd: ended.callAsFunction)
        table.record(Packet.udp(1, 2000, 2, 53), time: Packet.at(4), length: 60, onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.evicted])
        #expect(ended.flows[0].0.sourcePort == 1001)
        #expect(table.count == 3)
        #expect(table.counters.evicted == 1)
    }

    @Test func synOnAClosedConnectionStartsANewFlow() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.tcp(1, 40000, 2, 80, SYN), time: Packet.at(0), length: 60, onEnd: ended.callAsFunction)
        table.record(Packet.tcp(2, 80, 1, 40000, RST | ACK), time: Packet.at(0.1), length: 60, onEnd: ended.callAsFunction)
        table.record(Packet.tcp(1, 40000, 2, 80, SYN), time: Packet.at(1), length: 60, onEnd: ended.callAsFunction)
        #expect(ended.reasons == [.tcpReuse])
        #expect(ended.flows[0].0.connState.description == "REJ")
        #expect(table.count == 1)
        #expect(table.counters.tcpReuse == 1)
    }

    @Test func shutdownOrderIsByStartTime() {
        let table = FlowTable(capacity: 8)
        let ended = EndedFlows()
        for (i, time) in [5.0, 1.0, 3.0].enumerated() {
            table.record(Packet.udp(1, UInt16(1000 + i), 2, 53), time: Packet.at(time), length: 60, onEnd: ended.callAsFunction)
        }
        table.flushAll(onEnd: ended.callAsFunction)
        #expect(ended.flows.map(\.0.sourcePort) == [1001, 1002, 1000])
    }

    @Test func timeSteppingBackwardsNeverEndsAFlowEarly() {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        table.record(Packet.udp(1, 1, 2, 2), time: Packet.at(100), length: 60, onEnd: ended.callAsFunction)
        table.record(Packet.udp(1, 3, 2, 4), time: Packet.at(50), length: 60, onEnd: ended.callAsFunction)
        table.expire(now: Packet.at(120), onEnd: ended.callAsFunction)
        #expect(ended.flows.isEmpty, "the table clock is the latest time seen; the second flow is 20 s idle")
        table.expire(now: Packet.at(130), onEnd: ended.callAsFunction)
        #expect(ended.flows.count == 2)
        #expect(ended.flows.contains { $0.0.start == Packet.at(50) })
    }

    /// Insert, look up and remove many keys against a dictionary model; exercises the
    /// open-addressing index's backward-shift deletion with a tiny, crowded table.
    @Test func indexAgreesWithADictionaryModel() {
        let capacity = 64
        let table = FlowTable(capacity: capacity, timeouts: FlowTimeouts(new: .seconds(1), established: .seconds(1), closed: .seconds(1)))
        var model: [UInt16: Bool] = [:]
        var generator = SplitMix(seed: 42)
        var time = 0.0
        for _ in 0..<20_000 {
            time += 0.01
            let port = UInt16(generator.next() % 200)
            table.record(Packet.udp(1, port, 2, 9), time: Packet.at(time), length: 60) { flow, _ in
                model[flow.sourcePort] = nil
            }
            model[port] = true
            table.expire(now: Packet.at(time)) { flow, _ in model[flow.sourcePort] = nil }
            #expect(table.count == model.count)
            if generator.next() % 64 == 0 {
                for candidate in UInt16(0)..<200 {
                    let key = FlowKey.canonical(source: Packet.address(1), sourcePort: candidate, destination: Packet.address(2),
                                                destinationPort: 9, ipProtocol: IPProtocolNumber.udp, vni: 0).key
                    #expect((table.lookup(key) != nil) == (model[candidate] != nil), "port \(candidate)")
                }
            }
        }
    }
}

/// A tiny deterministic generator for tests (SplitMix64).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9e37_79b9_7f4a_7c15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

extension FlowTableTests {
    /// Memory per tracked connection stays within 256 bytes (entry + list link + index share),
    /// so 500,000 connections take under 128 MiB.
    @Test func aConnectionCostsAtMost256Bytes() {
        #expect(FlowTable.bytesPerFlow <= 256, "\(FlowTable.bytesPerFlow) bytes per flow")
    }
}
