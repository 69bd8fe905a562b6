import FlowCore

/// The protocol layers the parser can hand bytes to. One case per decoder; the parser
/// dispatches with a `switch` over this enum (no existentials, no tables of closures).
public enum Layer: UInt8, Sendable {
    case ethernet
    case linuxSLL
    case linuxSLL2
    case bsdNull
    case bsdLoop
    case rawIP
    case vlan
    case mpls
    case ipv4
    case ipv6
    case tcp
    case udp
    case sctp
    case icmpv4
    case icmpv6
    case gre
    case ppp
    case erspanII
    case erspanIII
    case vxlan
    case geneve

    /// The first layer for a capture's link type.
    @inlinable
    public init(_ link: LinkLayer) {
        switch link {
        case .ethernet: self = .ethernet
        case .linuxSLL: self = .linuxSLL
        case .linuxSLL2: self = .linuxSLL2
        case .rawIP: self = .rawIP
        case .ipv4: self = .ipv4
        case .ipv6: self = .ipv6
        case .bsdNull: self = .bsdNull
        case .bsdLoop: self = .bsdLoop
        }
    }
}

/// What one protocol decoder tells the parser to do next.
public enum DecodeStep {
    /// Hand `bytes` to the decoder for the layer.
    case next(Layer, PacketBytes)
    /// Enter an encapsulation: the bytes are an inner packet that becomes the flow.
    /// `vni` is the VXLAN/Geneve network identifier, 0 for tunnels without one.
    case tunnel(TunnelKind, vni: UInt32, Layer, PacketBytes)
    /// Nothing further that the flow table needs.
    case done
    /// Record the anomaly and stop.
    case stop(DecodeAnomaly)
}

/// Per-packet state the decoders share that is not part of the summary. Lives on the
/// stack of `LayerParser.parse`; copying it allocates nothing.
@usableFromInline
struct DecodeContext {
    /// Tags passed since the last Ethernet header (the VLAN limit is per frame).
    @usableFromInline var vlanTagsInFrame: Int
    /// The transport length that the enclosing IP header declares (Total Length minus
    /// header, or Payload Length minus extension headers). The bytes handed on are
    /// clipped to this and to the capture; decoders compare their own length fields
    /// against this value, never against the captured count, so that a shorter capture
    /// of the same packet can only turn a result into a truncation.
    @usableFromInline var declaredTransportLength: Int
    /// True once an IP header has been decoded since the last tunnel was entered.
    @usableFromInline var networkSinceTunnel: Bool
    @inlinable
    init() {
        self.vlanTagsInFrame = 0
        self.declaredTransportLength = 0
        self.networkSinceTunnel = false
    }
}

/// Runs the per-protocol decoders over one frame.
///
/// Dispatch is a `switch` over `Layer`, so the loop is statically dispatched and
/// allocation-free (gopacket's `DecodingLayerParser` goal, reached with an enum). Every
/// loop is bounded: the number of steps, tunnel depth, VLAN tags, MPLS labels and IPv6
/// extension headers each have a limit, and exceeding one is an `unsupported` anomaly
/// (Suricata's `PacketIncreaseCheckLayers`).
///
/// Tunnels: the innermost packet is the flow. The outermost tunnel's kind, outer
/// addresses and VNI are recorded once; `tunnelDepth` counts encapsulations. When the
/// inner packet yields no IP header (ARP inside VXLAN, a truncated inner frame, PPP
/// control traffic in PPTP GRE) the summary is put back as it was before that tunnel was
/// entered, and the anomaly, if any, is kept.
public struct LayerParser: Sendable {
    /// Upper bound on decode steps for one frame (each header is one step).
    public static let maxLayers = 32
    /// Nested encapsulations followed. Real captures need 2 (GRE in GRE, IPv4-in-IPv6 then
    /// PPTP GRE); an overlay (VXLAN/Geneve) inside a provider tunnel (GRE/IP-in-IP) inside
    /// IPsec/IPIP is 3. Beyond 4 it is a recursion attack, not traffic.
    public static let maxTunnelDepth: UInt8 = 4
    /// Stacked 802.1Q/802.1ad tags per Ethernet frame. Suricata's limit: QinQ needs 2 and
    /// the real triple-tagged capture (`vlan-qinqinq-triple-tag-http`) needs 3.
    public static let maxVLANTags = 3
    /// MPLS label stack entries. Real stacks are 1–4 (transport, service, entropy-label
    /// pair); segment-routing stacks reach about 10. 16 leaves room and bounds the loop.
    public static let maxMPLSLabels = 16
    /// IPv6 extension headers walked before giving up. Legitimate chains have fewer than 6,
    /// but libpcap's filter test (`eth-ipv6-ext-hdr-long-chain`) has exactly 100 in front of
    /// a UDP header, and we want it to decode. 128 covers it with margin and bounds the walk
    /// (each header is at least 8 bytes, so a jumbogram could otherwise hold ~500 million).
    public static let maxIPv6ExtensionHeaders = 128

    public init() {}

    /// Decodes one frame into `summary`, which is reset first.
    @inlinable
    public func parse(_ frame: PacketBytes, link: LinkLayer, into summary: inout PacketSummary) {
        summary.reset()
        var context = DecodeContext()
        // The summary as it stood just before the innermost tunnel was entered: restored when
        // the inner packet does not yield an IP header. A local, not part of the context, so a
        // packet without a tunnel only stores the Optional's tag.
        var beforeTunnel: PacketSummary? = nil
        var layer = Layer(link)
        var bytes = frame
        var steps = 0
        decoding: while true {
            if steps >= Self.maxLayers {
                summary.anomaly = .tooManyLayers
                break decoding
            }
            steps &+= 1
            let step: DecodeStep
            switch layer {
            case .ethernet: step = EthernetHeader.decode(bytes, into: &summary, context: &context)
            case .linuxSLL: step = LinuxSLLHeader.decode(bytes, into: &summary, context: &context)
            case .linuxSLL2: step = LinuxSLL2Header.decode(bytes, into: &summary, context: &context)
            case .bsdNull: step = LoopbackHeader.decode(bytes, networkOrderOnly: false)
            case .bsdLoop: step = LoopbackHeader.decode(bytes, networkOrderOnly: true)
            case .rawIP: step = RawIP.decode(bytes)
            case .vlan: step = VLANTag.decode(bytes, into: &summary, context: &context)
            case .mpls: step = MPLSLabelStack.decode(bytes, into: &summary)
            case .ipv4: step = IPv4Header.decode(bytes, into: &summary, context: &context)
            case .ipv6: step = IPv6Header.decode(bytes, into: &summary, context: &context)
            case .tcp: step = TCPHeader.decode(bytes, into: &summary, context: &context)
            case .udp: step = UDPHeader.decode(bytes, into: &summary, context: &context)
            case .sctp: step = SCTPHeader.decode(bytes, into: &summary, context: &context)
            case .icmpv4: step = ICMPHeader.decode(bytes, version: 4, into: &summary, context: &context)
            case .icmpv6: step = ICMPHeader.decode(bytes, version: 6, into: &summary, context: &context)
            case .gre: step = GREHeader.decode(bytes, into: &summary, context: &context)
            case .ppp: step = PPPHeader.decode(bytes)
            case .erspanII: step = ERSPANHeader.decodeTypeII(bytes)
            case .erspanIII: step = ERSPANHeader.decodeTypeIII(bytes)
            case .vxlan: step = VXLANHeader.decode(bytes)
            case .geneve: step = GeneveHeader.decode(bytes)
            }
            switch step {
            case .next(let nextLayer, let payload):
                layer = nextLayer
                bytes = payload
            case .tunnel(let kind, let vni, let nextLayer, let payload):
                if summary.tunnelDepth >= Self.maxTunnelDepth {
                    summary.anomaly = .tooManyLayers
                    break decoding
                }
                beforeTunnel = summary
                summary.enterTunnel(kind, vni: vni)
                context.networkSinceTunnel = false
                context.vlanTagsInFrame = 0
                layer = nextLayer
                bytes = payload
            case .done:
                if summary.payloadLength > 0, layer == .tcp || layer == .udp,
                    let start = frame.rawBuffer.baseAddress, let here = bytes.rawBuffer.baseAddress {
                    // The payload is the rest of the TCP segment, or the UDP datagram after its header.
                    let header = layer == .tcp ? Int(summary.tcpHeaderLength) : 8
                    summary.payloadOffset = here - start + header
                }
                break decoding
            case .stop(let anomaly):
                summary.anomaly = anomaly
                break decoding
            }
        }
        if summary.tunnelDepth > 0, !context.networkSinceTunnel, let outer = beforeTunnel {
            let anomaly = summary.anomaly
            summary = outer
            summary.anomaly = anomaly
        }
    }
}
