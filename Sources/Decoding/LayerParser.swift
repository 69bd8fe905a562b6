import FlowCore

// TEMPORARY SKELETON: Ethernet -> IPv4 -> TCP/UDP only, replaced by the full decoder.
public struct LayerParser: Sendable {
    public init() {}

    @inlinable
    public func parse(_ frame: PacketBytes, link: LinkLayer, into summary: inout PacketSummary) {
        summary.reset()
        guard link == .ethernet else { summary.anomaly = .unsupportedEtherType; return }
        guard let etherType = frame.bigEndian(at: 12, as: UInt16.self) else {
            summary.anomaly = .ethernetTruncated; return
        }
        guard etherType == 0x0800, let ip = frame.dropFirst(14) else {
            summary.anomaly = .unsupportedEtherType; return
        }
        guard ip.count >= 20 else { summary.anomaly = .ipv4Truncated; return }
        let ihl = Int(ip.uncheckedByte(at: 0) & 0x0f) * 4
        summary.ipVersion = 4
        summary.source = IPAddress(ipv4: ip.uncheckedBigEndian(at: 12))
        summary.destination = IPAddress(ipv4: ip.uncheckedBigEndian(at: 16))
        summary.ipProtocol = ip.uncheckedByte(at: 9)
        guard let l4 = ip.dropFirst(ihl) else { summary.anomaly = .ipv4Truncated; return }
        if summary.ipProtocol == 6 || summary.ipProtocol == 17 {
            guard let sp = l4.bigEndian(at: 0, as: UInt16.self), let dp = l4.bigEndian(at: 2, as: UInt16.self)
            else { summary.anomaly = .tcpTruncated; return }
            summary.hasPorts = true
            summary.sourcePort = sp
            summary.destinationPort = dp
            if summary.ipProtocol == 6, let f = l4.byte(at: 13) { summary.tcpFlags = UInt16(f) }
        }
    }
}
