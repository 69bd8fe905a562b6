@testable import Datapath
import Decoding
import FlowCore
@testable import Output
import Testing

/// What a worker counts for the metrics page (`Output/FlowMetrics`, fed by `EventRenderer`):
/// one increment per ended connection in the end-reason, TCP-flag, ICMP and port rows, and
/// the hand-over (`add`, `reset`) whether a block counted a few indexes or more than it tracks.
@Suite struct FlowMetricsTests {
    static func ended(_ ipProtocol: UInt8, port: UInt16, flags: (UInt16, UInt16) = (0, 0), icmp: (UInt8, UInt8)? = nil,
                      v6: Bool = false) -> FlowEntry {
        let (key, fromLow) = FlowKey.canonical(source: IPAddress(ipv4: 0x0A00_0001), sourcePort: 40_000,
                                               destination: IPAddress(ipv4: 0x0A00_0002), destinationPort: port,
                                               ipProtocol: ipProtocol, vni: 0)
        var flow = FlowEntry(key: key, initiatorIsLow: fromLow, ipVersion: v6 ? 6 : 4, time: .zero)
        (flow.flagsToServer, flow.flagsToClient) = flags
        if let (type, code) = icmp {
            (flow.icmpType, flow.icmpCode, flow.hasICMP) = (type, code, true)
        }
        return flow
    }

    static func renderer() -> (EventRenderer, FlowMetrics) {
        let renderer = EventRenderer(hubble: false, findingCapacity: nil, metrics: true)
        return (renderer, renderer.metrics!)
    }

    @Test func endedConnectionsAreCountedOnceInEachRow() {
        let (renderer, metrics) = Self.renderer()
        let key = EmissionKey(event: 1, primary: 0, secondary: 0)
        let handshake = (TCPFlag.syn | TCPFlag.ack | TCPFlag.fin, TCPFlag.syn | TCPFlag.ack | TCPFlag.fin)
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.tcp, port: 8080, flags: handshake), reason: .timeout, key: key))
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.tcp, port: 9090, flags: (TCPFlag.syn, TCPFlag.rst | TCPFlag.ack)),
                                          reason: .tcpReuse, key: key))
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.udp, port: 53), reason: .timeout, key: key))
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.icmp, port: 0, icmp: (8, 0)), reason: .shutdown, key: key))
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.icmp, port: 0, icmp: (3, 3)), reason: .timeout, key: key))
        #expect(metrics.flowsEnded(protocol: 0, reason: .timeout) == 1)
        #expect(metrics.flowsEnded(protocol: 0, reason: .tcpReuse) == 1)
        #expect(metrics.flowsEnded(protocol: 1, reason: .timeout) == 1)
        #expect(metrics.flowsEnded(protocol: 2, reason: .shutdown) == 1)
        #expect(metrics.flowsEnded(protocol: 2, reason: .timeout) == 1)
        // SYN from the initiator (2), SYN-ACK from the responder (1), FIN per direction (2), RST (1).
        #expect((0..<4).map { metrics.tcpFlags(flag: $0, family: 0) } == [2, 1, 2, 1])
        #expect(metrics.ports(protocol: 0, port: 8080) == 1 && metrics.ports(protocol: 0, port: 9090) == 1)
        #expect(metrics.ports(protocol: 1, port: 53) == 1 && metrics.ports(protocol: 0, port: 53) == 0)
        #expect(metrics.icmpConnections(family: 0) == 2)
        #expect(metrics.icmp(family: 0, type: 8, code: 0) == 1 && metrics.icmp(family: 0, type: 3, code: 3) == 1)
        #expect(FlowMetrics.icmpTypeName(type: 3, code: 3, v6: false) == "DestinationUnreachable(Port)")
        #expect(FlowMetrics.icmpTypeName(type: 128, code: 0, v6: true) == "EchoRequest")
        #expect(FlowMetrics.icmpTypeName(type: 42, code: 0, v6: false) == "42(0)")
    }

    /// A block hands over what it counted; past the indexes it tracks it hands over everything,
    /// and a reset leaves it all zero either way.
    @Test(arguments: [10, 5000])
    func handingOverAddsEverythingAndResetsToZero(ports: Int) {
        let (renderer, metrics) = Self.renderer()
        let key = EmissionKey(event: 1, primary: 0, secondary: 0)
        for port in 0..<ports {
            renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.udp, port: UInt16(port)), reason: .timeout, key: key))
        }
        let totals = FlowMetrics()
        totals.add(metrics)
        totals.add(metrics)
        #expect((0..<ports).allSatisfy { totals.ports(protocol: 1, port: $0) == 2 })
        #expect(totals.flowsEnded(protocol: 1, reason: .timeout) == UInt64(2 * ports))
        metrics.reset()
        #expect((0..<FlowMetrics.count).allSatisfy { metrics.counts[$0] == 0 })
        // Counting again after the reset is tracked again.
        renderer.receive(.connectionEnded(Self.ended(IPProtocolNumber.udp, port: 7), reason: .timeout, key: key))
        totals.add(metrics)
        #expect(totals.ports(protocol: 1, port: 7) == 3)
    }
}
