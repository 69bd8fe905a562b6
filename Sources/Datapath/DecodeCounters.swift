import Decoding
import FlowCore

/// Per-packet decoder counters, and one counter per `DecodeAnomaly`, in fixed storage.
/// Reported in the `stats` record; nothing here allocates.
public struct DecodeCounters: Sendable {
    /// Packets handed to the decoder, and their bytes on the wire.
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    public var ipv4: UInt64 = 0
    public var ipv6: UInt64 = 0
    public var tcp: UInt64 = 0
    public var udp: UInt64 = 0
    public var sctp: UInt64 = 0
    public var icmpv4: UInt64 = 0
    public var icmpv6: UInt64 = 0
    /// IP packets of any other transport protocol (GRE without a decodable payload, ESP, OSPF, ...).
    public var otherIP: UInt64 = 0
    /// Packets with no IP layer (ARP, LLDP, undecodable frames).
    public var nonIP: UInt64 = 0
    public var vlanTagged: UInt64 = 0
    public var mpls: UInt64 = 0
    public var tunneled: UInt64 = 0
    public var fragments: UInt64 = 0
    /// Indexed by `DecodeAnomaly.rawValue`.
    public var anomalies = InlineArray<256, UInt64>(repeating: 0)

    public init() {}

    @inlinable
    public mutating func count(_ summary: borrowing PacketSummary, length: UInt32) {
        self.packets &+= 1
        self.bytes &+= UInt64(length)
        if let anomaly = summary.anomaly { self.anomalies[Int(anomaly.rawValue)] &+= 1 }
        if summary.vlanCount > 0 { self.vlanTagged &+= 1 }
        if summary.mplsLabelCount > 0 { self.mpls &+= 1 }
        if summary.tunnel != .none { self.tunneled &+= 1 }
        switch summary.ipVersion {
        case 4: self.ipv4 &+= 1
        case 6: self.ipv6 &+= 1
        default:
            self.nonIP &+= 1
            return
        }
        if summary.isFragment { self.fragments &+= 1 }
        switch summary.ipProtocol {
        case IPProtocolNumber.tcp: self.tcp &+= 1
        case IPProtocolNumber.udp: self.udp &+= 1
        case IPProtocolNumber.sctp: self.sctp &+= 1
        case IPProtocolNumber.icmp: self.icmpv4 &+= 1
        case IPProtocolNumber.icmpv6: self.icmpv6 &+= 1
        default: self.otherIP &+= 1
        }
    }

    /// Adds another worker's counters.
    public mutating func add(_ other: DecodeCounters) {
        self.packets &+= other.packets
        self.bytes &+= other.bytes
        self.ipv4 &+= other.ipv4
        self.ipv6 &+= other.ipv6
        self.tcp &+= other.tcp
        self.udp &+= other.udp
        self.sctp &+= other.sctp
        self.icmpv4 &+= other.icmpv4
        self.icmpv6 &+= other.icmpv6
        self.otherIP &+= other.otherIP
        self.nonIP &+= other.nonIP
        self.vlanTagged &+= other.vlanTagged
        self.mpls &+= other.mpls
        self.tunneled &+= other.tunneled
        self.fragments &+= other.fragments
        for index in 0..<256 { self.anomalies[index] &+= other.anomalies[index] }
    }

    /// The count for one anomaly.
    public func count(of anomaly: DecodeAnomaly) -> UInt64 { self.anomalies[Int(anomaly.rawValue)] }
}
