import Decoding
import FlowCore
#if canImport(Glibc)
import Glibc
#endif
import Testing

/// Prints what every real capture decodes to (flows, tunnels, anomalies), for review.
/// Enabled with FLOWMON_SURVEY=1.
@Test(.enabled(if: getenv("FLOWMON_SURVEY") != nil))
func surveyRealCaptures() {
    for name in RealCaptures.names {
        let packets = RealCaptures.packets(name)
        var histogram: [String: Int] = [:]
        for packet in packets {
            let s = decode(packet.data, link: packet.link)
            let key = (s.anomaly.map { "\($0.name)" } ?? "ok") + " v\(s.ipVersion) t\(s.tunnel.rawValue)/\(s.tunnelDepth)"
            histogram[key, default: 0] += 1
        }
        print("== \(name) (\(packets.count)): \(histogram.sorted { $0.key < $1.key })")
    }
}

func describe(_ s: PacketSummary) -> String {
    func ip(_ a: IPAddress) -> String {
        if a.isIPv4 { let v = a.ipv4Value; return "\(v >> 24).\(v >> 16 & 255).\(v >> 8 & 255).\(v & 255)" }
        return String(a.high, radix: 16) + ":" + String(a.low, radix: 16)
    }
    return "v\(s.ipVersion) \(ip(s.source)):\(s.sourcePort) > \(ip(s.destination)):\(s.destinationPort) p\(s.ipProtocol)"
        + " flags \(String(s.tcpFlags, radix: 16)) icmp \(s.icmpType)/\(s.icmpCode) id \(s.icmpIdentifier)"
        + " q\(s.hasQuotedPacket ? "\(ip(s.quotedSource)):\(s.quotedSourcePort)>\(ip(s.quotedDestination)):\(s.quotedDestinationPort)/\(s.quotedProtocol)" : "-")"
        + " vlan \(s.vlanIDList) mpls \(s.mplsLabelCount) tun \(s.tunnel.name) d\(s.tunnelDepth) \(ip(s.tunnelSource))>\(ip(s.tunnelDestination)) vni \(s.tunnelVNI)"
        + " frag \(s.isFragment) \(s.fragmentOffset) \(s.moreFragments) pl \(s.payloadLength) \(s.anomaly.map { "\($0.name)" } ?? "")"
}

@Test(.enabled(if: getenv("FLOWMON_DUMP") != nil))
func dumpCapture() {
    let name = String(cString: getenv("FLOWMON_DUMP")!)
    for packet in RealCaptures.packets(name) {
        print("\(packet.number): \(describe(decode(packet.data, link: packet.link)))")
    }
}
