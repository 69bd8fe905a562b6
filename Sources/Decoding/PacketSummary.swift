import FlowCore

/// What the flow table and detectors need from one packet, filled in place by
/// `LayerParser` and reused for the next packet (no allocation per packet).
///
/// Addresses and ports are those of the *innermost* packet: for VXLAN/Geneve/GRE/IP-in-IP
/// the inner packet is the flow, and the outermost tunnel is kept as metadata.
public struct PacketSummary: Sendable {
    // MARK: Capture point
    /// The interface the packet was captured on and whether it was leaving or arriving there,
    /// when the capture says so (Linux cooked headers, as on `any`); 0 and `.unknown` otherwise.
    public var interfaceIndex: UInt32 = 0
    public var direction: LinkDirection = .unknown
    /// Where on the node that is, when the capture observes the node's interfaces
    /// (`ObservationPoints`): a pod's veth, an uplink.
    public var observationPoint: ObservationPoint = .unknown

    // MARK: Link layer
    /// Number of 802.1Q/802.1ad tags seen (may exceed the three recorded).
    public var vlanCount: UInt8 = 0
    /// VLAN IDs, outermost first; the first `min(vlanCount, 3)` are meaningful.
    public var vlanIDs: (UInt16, UInt16, UInt16) = (0, 0, 0)
    /// Number of MPLS label stack entries passed.
    public var mplsLabelCount: UInt8 = 0

    // MARK: Tunnel (outermost encapsulation)
    public var tunnel: TunnelKind = .none
    /// How many encapsulations were passed to reach the inner packet.
    public var tunnelDepth: UInt8 = 0
    public var tunnelSource: IPAddress = .zero
    public var tunnelDestination: IPAddress = .zero
    /// VXLAN / Geneve VNI (24 bits); 0 when the tunnel has none.
    public var tunnelVNI: UInt32 = 0

    // MARK: Network layer
    /// 4 or 6 when a network header was decoded; 0 otherwise (no flow can be formed).
    public var ipVersion: UInt8 = 0
    public var source: IPAddress = .zero
    public var destination: IPAddress = .zero
    /// The upper-layer protocol after the IPv6 extension-header chain (IANA number).
    public var ipProtocol: UInt8 = 0
    public var ttl: UInt8 = 0

    // MARK: Fragments (RFC 791 §3.2, RFC 8200 §4.5)
    /// True when this packet is a fragment (atomic IPv6 fragments are not).
    public var isFragment: Bool = false
    /// Identification (16 bits for IPv4, 32 for IPv6).
    public var fragmentID: UInt32 = 0
    /// Fragment offset in 8-byte units; 0 for the first fragment.
    public var fragmentOffset: UInt16 = 0
    public var moreFragments: Bool = false

    // MARK: Transport layer
    /// True when `sourcePort`/`destinationPort` were read (TCP, UDP, SCTP).
    public var hasPorts: Bool = false
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    /// TCP flags: FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10, URG 0x20, ECE 0x40, CWR 0x80, NS 0x100.
    public var tcpFlags: UInt16 = 0
    public var tcpSequence: UInt32 = 0
    public var tcpAcknowledgement: UInt32 = 0
    /// TCP header length in bytes (data offset × 4).
    public var tcpHeaderLength: UInt8 = 0

    /// True when an ICMPv4/ICMPv6 header was read.
    public var hasICMP: Bool = false
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    /// Echo / timestamp / information / address-mask identifier.
    public var icmpIdentifier: UInt16 = 0

    /// For ICMP errors: the quoted (original) packet's 5-tuple, as the original sender sent it.
    public var hasQuotedPacket: Bool = false
    public var quotedSource: IPAddress = .zero
    public var quotedDestination: IPAddress = .zero
    public var quotedProtocol: UInt8 = 0
    public var quotedSourcePort: UInt16 = 0
    public var quotedDestinationPort: UInt16 = 0

    /// Bytes of transport payload that were captured.
    public var payloadLength: Int = 0
    /// Where a TCP or UDP payload starts in the frame (0: no payload located), so the
    /// application layer reads it in place; set by `LayerParser`.
    public var payloadOffset: Int = 0

    // MARK: Names (set by the capture thread's DNS name cache, `L7.DNSNameCache`)
    /// The `toFQDNs` selectors (bit i: selector i of the loaded policies) whose names resolved
    /// to the source address when this packet was seen; Cilium's ipcache labels an address
    /// with the `fqdn:` selectors its DNS answers matched.
    public var sourceSelectors: UInt64 = 0
    /// As `sourceSelectors`, for the destination address.
    public var destinationSelectors: UInt64 = 0
    /// The names the destination looked up that resolved to the source address (an index into
    /// the cache's name sets; 0: none): Hubble's `source_names`.
    public var sourceNameSet: UInt16 = 0
    /// The names the source looked up that resolved to the destination: `destination_names`.
    public var destinationNameSet: UInt16 = 0
    /// The application protocol the capture thread recognised in this packet's payload
    /// (`L7.AppProtocol` raw value; 0: none).
    public var applicationProtocol: UInt8 = 0

    // MARK: Result
    /// Why decoding stopped early, if it did; the packet may still carry a usable network layer.
    public var anomaly: DecodeAnomaly? = nil

    @inlinable public init() {}

    /// Clears every field for reuse.
    @inlinable
    public mutating func reset() { self = PacketSummary() }

    /// Records entry into an encapsulation: the outermost tunnel's kind, outer addresses
    /// and VNI are kept (set once, at depth 0), the depth is counted, and the network and
    /// transport fields are cleared for the inner packet. The capture point stays; link-layer
    /// counts (VLAN, MPLS) keep accumulating.
    @inlinable
    public mutating func enterTunnel(_ kind: TunnelKind, vni: UInt32) {
        var inner = PacketSummary()
        inner.interfaceIndex = self.interfaceIndex
        inner.direction = self.direction
        inner.observationPoint = self.observationPoint
        inner.vlanCount = self.vlanCount
        inner.vlanIDs = self.vlanIDs
        inner.mplsLabelCount = self.mplsLabelCount
        if self.tunnelDepth == 0 {
            inner.tunnel = kind
            inner.tunnelSource = self.source
            inner.tunnelDestination = self.destination
            inner.tunnelVNI = vni
        } else {
            inner.tunnel = self.tunnel
            inner.tunnelSource = self.tunnelSource
            inner.tunnelDestination = self.tunnelDestination
            inner.tunnelVNI = self.tunnelVNI
        }
        inner.tunnelDepth = self.tunnelDepth &+ 1  // bounded by LayerParser.maxTunnelDepth
        self = inner
    }

    /// Counts one VLAN tag, recording its ID if it is among the first three.
    @inlinable
    mutating func recordVLAN(_ id: UInt16) {
        switch self.vlanCount {
        case 0: self.vlanIDs.0 = id
        case 1: self.vlanIDs.1 = id
        case 2: self.vlanIDs.2 = id
        default: break
        }
        if self.vlanCount < UInt8.max { self.vlanCount &+= 1 }
    }
}

/// The kind of encapsulation a packet arrived in.
public enum TunnelKind: UInt8, Sendable {
    case none = 0
    case vxlan
    case geneve
    case gre
    case ipip

    /// VXLAN and Geneve carry a VNI (RFC 7348 §5, RFC 8926 §3.4); GRE and IP-in-IP do not.
    @inlinable public var hasVNI: Bool { self == .vxlan || self == .geneve }

    /// The name used in EVE `tunnel.type`.
    public var name: StaticString {
        switch self {
        case .none: "none"
        case .vxlan: "VXLAN"
        case .geneve: "GENEVE"
        case .gre: "GRE"
        case .ipip: "IPIP"
        }
    }
}

/// TCP flag bits as they appear in `PacketSummary.tcpFlags` (RFC 9293 §3.1, RFC 3168, RFC 3540).
public enum TCPFlag {
    public static let fin: UInt16 = 0x01
    public static let syn: UInt16 = 0x02
    public static let rst: UInt16 = 0x04
    public static let psh: UInt16 = 0x08
    public static let ack: UInt16 = 0x10
    public static let urg: UInt16 = 0x20
    public static let ece: UInt16 = 0x40
    public static let cwr: UInt16 = 0x80
    public static let ns: UInt16 = 0x100
}

/// Which way a packet crossed the interface it was captured on (the Linux cooked header's
/// packet type: `PACKET_OUTGOING` is outbound; `PACKET_HOST`, `PACKET_BROADCAST`,
/// `PACKET_MULTICAST` and `PACKET_OTHERHOST` are inbound; linux/if_packet.h).
public enum LinkDirection: UInt8, Sendable {
    case unknown = 0, inbound, outbound

    @inlinable
    public init(packetType: UInt16) {
        switch packetType {
        case 0...3: self = .inbound
        case 4: self = .outbound
        default: self = .unknown
        }
    }
}

/// Where a packet was observed, as Hubble's `TraceObservationPoint` numbers it (flow.proto):
/// arriving from a pod at its veth is `FROM_ENDPOINT`, leaving towards it `TO_ENDPOINT`;
/// arriving at another interface of the node `FROM_NETWORK`, leaving it `TO_NETWORK`; at
/// loopback `FROM_STACK`.
public enum ObservationPoint: UInt8, Sendable {
    case unknown = 0
    case fromEndpoint = 5
    case fromStack = 8
    case fromNetwork = 10
    case toNetwork = 11
    case toEndpoint = 101

    /// Hubble's name for it.
    public var name: StaticString {
        switch self {
        case .unknown: "UNKNOWN_POINT"
        case .fromEndpoint: "FROM_ENDPOINT"
        case .fromStack: "FROM_STACK"
        case .fromNetwork: "FROM_NETWORK"
        case .toNetwork: "TO_NETWORK"
        case .toEndpoint: "TO_ENDPOINT"
        }
    }
}
