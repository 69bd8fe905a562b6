import Datapath
import Decoding
import FlowCore
import Testing

/// Each packet that crosses the node is counted once, at the first of its observation points
/// the rule names (`ObservationPoints`).
struct ObservationPointsTests {
    static let vethA: UInt32 = 7, vethB: UInt32 = 8, uplink: UInt32 = 2, loopback: UInt32 = 1, unknown: UInt32 = 99
    static let host: UInt32 = 1, remote: UInt32 = 0x80

    static func points() -> ObservationPoints {
        let points = ObservationPoints(capacity: 64)
        points.setInterfaces([(vethA, .podFacing), (vethB, .podFacing), (uplink, .other), (loopback, .loopback)])
        return points
    }

    /// A UDP packet from `from` to `to` (10.244.0.x) seen at `interface` going `direction`.
    static func seen(_ from: UInt32, _ to: UInt32, at interface: UInt32, _ direction: LinkDirection) -> PacketSummary {
        var packet = Packet.udp(from, 40000, to, 53)
        packet.interfaceIndex = interface
        packet.direction = direction
        return packet
    }

    static func admits(_ points: ObservationPoints, _ packet: PacketSummary) -> (Bool, ObservationPoint) {
        var packet = packet
        let admitted = points.admits(&packet, time: Packet.at(0))
        return (admitted, packet.observationPoint)
    }

    @Test func podToPodOnTheNodeIsCountedWhereTheSenderSentIt() {
        let points = Self.points()
        #expect(Self.admits(points, Self.seen(11, 12, at: Self.vethA, .inbound)) == (true, .fromEndpoint))
        #expect(Self.admits(points, Self.seen(11, 12, at: Self.vethB, .outbound)) == (false, .toEndpoint))
        #expect(Self.admits(points, Self.seen(12, 11, at: Self.vethB, .inbound)) == (true, .fromEndpoint))
        #expect(Self.admits(points, Self.seen(12, 11, at: Self.vethA, .outbound)) == (false, .toEndpoint))
        #expect(points.skipped == 2)
    }

    @Test func theHostAndRemotePeersReachingAPodAreCountedAtItsVeth() {
        let points = Self.points()
        #expect(Self.admits(points, Self.seen(Self.host, 11, at: Self.vethA, .outbound)).0, "host → pod")
        #expect(Self.admits(points, Self.seen(Self.remote, 11, at: Self.vethA, .outbound)).0, "remote → pod (no pod learned yet)")
        #expect(Self.admits(points, Self.seen(11, Self.remote, at: Self.vethA, .inbound)).0, "pod → remote")
        // Once the pod is learned, the uplink does not count its traffic a second time.
        #expect(Self.admits(points, Self.seen(11, Self.remote, at: Self.uplink, .outbound)) == (false, .toNetwork))
        #expect(Self.admits(points, Self.seen(Self.remote, 11, at: Self.uplink, .inbound)) == (false, .fromNetwork))
        // The node's own traffic is counted at the uplink.
        #expect(Self.admits(points, Self.seen(Self.host, Self.remote, at: Self.uplink, .outbound)) == (true, .toNetwork))
    }

    @Test func loopbackIsCountedArrivingAndUnknownCapturePointsAlwaysCount() {
        let points = Self.points()
        #expect(Self.admits(points, Self.seen(Self.host, Self.host, at: Self.loopback, .outbound)) == (false, .fromStack))
        #expect(Self.admits(points, Self.seen(Self.host, Self.host, at: Self.loopback, .inbound)) == (true, .fromStack))
        #expect(Self.admits(points, Self.seen(11, 12, at: Self.unknown, .outbound)) == (true, .unknown))
        #expect(Self.admits(points, Self.seen(11, 12, at: Self.vethB, .unknown)) == (true, .unknown), "a capture that does not say")
    }

    @Test func aPodWhoseVethIsGoneIsForgotten() {
        let points = Self.points()
        _ = Self.admits(points, Self.seen(11, 12, at: Self.vethA, .inbound))
        #expect(!Self.admits(points, Self.seen(11, 12, at: Self.vethB, .outbound)).0)
        points.setInterfaces([(Self.vethB, .podFacing)])  // pod a deleted; its address may come back elsewhere
        #expect(Self.admits(points, Self.seen(11, 12, at: Self.vethB, .outbound)).0)
    }
}
