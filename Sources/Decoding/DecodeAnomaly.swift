/// Why the decoder could not go further. Each case has a stable dotted name, used
/// verbatim in `stats` records and tests.
///
/// Naming: every truncation is `decoder.<layer>.truncated` (the capture ended before the
/// header did; Suricata splits this into `pkt_too_small` and `trunc_pkt`, which also mix in
/// on-the-wire lengths). Every other case uses Suricata's `decoder.*` event name where one
/// with the same meaning exists (`rules/decoder-events.rules`), and otherwise a new name in
/// the same `layer.snake_case` style. `pkt_too_small` here always means "the length field
/// of the enclosing IP header leaves too few bytes", never "the capture was cut".
///
/// *Truncated*: the capture ended before the header did (snaplen, or a cut frame).
/// *Malformed*: the bytes contradict the protocol. *Unsupported*: valid (or at least not
/// provably wrong), but not something flowmon decodes, or past one of the parser's limits.
///
/// Raw values are stable: add new cases at the end.
public enum DecodeAnomaly: UInt8, CaseIterable, Sendable {
    /// Fewer than 14 bytes of Ethernet header.
    case ethernetTruncated = 1
    /// EtherType below 0x0600: an IEEE 802.3 length field (LLC/SNAP, CDP, STP), not decoded.
    case ethernetIEEE8023
    /// An EtherType (in Ethernet, VLAN, SLL or SLL2) that carries no IP: ARP, LLDP, ...
    case ethernetUnknownEtherType
    /// An 802.1Q/802.1ad tag cut short.
    case vlanTruncated
    /// More stacked VLAN tags in one frame than `LayerParser.maxVLANTags`.
    case vlanTooManyLayers
    /// An MPLS label stack entry, or the payload after it, cut short.
    case mplsTruncated
    /// A label stack deeper than `LayerParser.maxMPLSLabels`.
    case mplsTooManyLabels
    /// After bottom-of-stack, neither IPv4, IPv6 nor an Ethernet pseudowire.
    case mplsUnknownPayloadType
    /// Fewer than 16 bytes of Linux cooked (SLL) header.
    case sllTruncated
    /// Fewer than 20 bytes of Linux cooked v2 (SLL2) header.
    case sll2Truncated
    /// Fewer than 4 bytes of BSD loopback (NULL/LOOP) header.
    case nullTruncated
    /// A BSD loopback address family that is neither AF_INET nor AF_INET6.
    case nullUnsupportedType
    /// An empty raw-IP frame.
    case rawIPTruncated
    /// A raw-IP frame whose version nibble is neither 4 nor 6.
    case rawIPInvalidVersion
    /// Fewer than 20 bytes, or fewer than IHL × 4 bytes, were captured.
    case ipv4Truncated
    /// The version nibble of a header dispatched as IPv4 is not 4.
    case ipv4WrongVersion
    /// IHL below 5.
    case ipv4HeaderLengthTooSmall
    /// Total Length (non-zero) below IHL × 4.
    case ipv4TotalLengthBelowHeaderLength
    /// An IPv4 option whose length is below its minimum or runs past the header.
    case ipv4OptionInvalidLength
    /// Fewer than 40 bytes of IPv6 header.
    case ipv6Truncated
    /// The version nibble of a header dispatched as IPv6 is not 6.
    case ipv6WrongVersion
    /// An extension header that the capture cuts short.
    case ipv6ExtensionHeaderTruncated
    /// Payload Length (or Jumbo Payload Length) ends inside an extension header.
    case ipv6PayloadLengthBelowHeaders
    /// A Hop-by-Hop Options header that does not follow the IPv6 header (RFC 8200 §4.1).
    case ipv6HopByHopNotFirst
    /// A Hop-by-Hop or Destination option running past its header.
    case ipv6ExtensionHeaderInvalidOptionLength
    /// More extension headers than `LayerParser.maxIPv6ExtensionHeaders`.
    case ipv6ExtensionHeaderLoop
    /// The capture ends inside the TCP header (fixed part or options).
    case tcpTruncated
    /// The IP length leaves fewer than 20 bytes for TCP.
    case tcpPacketTooSmall
    /// Data offset below 5.
    case tcpHeaderLengthTooSmall
    /// Data offset × 4 exceeds the segment length that the IP header gives.
    case tcpHeaderLengthTooLarge
    /// Fewer than 8 bytes of UDP header were captured.
    case udpTruncated
    /// The IP length leaves fewer than 8 bytes for UDP.
    case udpPacketTooSmall
    /// UDP Length below 8 (0 is allowed over IPv6 for jumbograms, RFC 2675 §4).
    case udpHeaderLengthTooSmall
    /// UDP Length larger than the IP payload.
    case udpHeaderLengthInvalid
    /// Fewer than 12 bytes of SCTP common header were captured.
    case sctpTruncated
    /// The IP length leaves fewer than 12 bytes for SCTP.
    case sctpPacketTooSmall
    /// Fewer than 8 bytes of ICMP header were captured.
    case icmpv4Truncated
    /// The IP length leaves fewer than 8 bytes for ICMP.
    case icmpv4PacketTooSmall
    /// Fewer than 8 bytes of ICMPv6 header were captured.
    case icmpv6Truncated
    /// The IP length leaves fewer than 8 bytes for ICMPv6.
    case icmpv6PacketTooSmall
    /// The capture ends inside the GRE header (including its optional fields).
    case greTruncated
    /// The IP length leaves fewer bytes than the GRE header needs.
    case grePacketTooSmall
    /// GRE version other than 0 (RFC 2784) or 1 (RFC 2637).
    case greWrongVersion
    /// GRE version 0 with reserved bits, routing or recursion control set (RFC 2784 §2.3).
    case greVersion0Flags
    /// Enhanced GRE (version 1) with checksum, routing or reserved bits set (RFC 2637 §4.1).
    case greVersion1Flags
    /// Enhanced GRE without the Key (payload length + call ID) field.
    case greVersion1NoKey
    /// Enhanced GRE whose protocol type is not PPP (0x880B).
    case greVersion1WrongProtocol
    /// A GRE protocol type that flowmon does not follow.
    case greUnknownPayloadType
    /// The capture ends inside the PPP header.
    case pppTruncated
    /// A PPP protocol other than IPv4 (0x0021) or IPv6 (0x0057), e.g. LCP or CCP.
    case pppUnsupportedProtocol
    /// The capture ends inside the ERSPAN header.
    case erspanTruncated
    /// An ERSPAN version field that does not match the GRE protocol type.
    case erspanUnsupportedVersion
    /// Fewer than 8 bytes of VXLAN header after UDP 4789/8472.
    case vxlanTruncated
    /// The capture ends inside the Geneve header or its options.
    case geneveTruncated
    /// Geneve version other than 0.
    case geneveUnsupportedVersion
    /// A Geneve protocol type other than 0x6558, 0x0800 or 0x86DD.
    case geneveUnknownPayloadType
    /// More tunnels than `LayerParser.maxTunnelDepth`, or more decode steps than `LayerParser.maxLayers`.
    case tooManyLayers

    public enum Kind: Sendable {
        case truncated, malformed, unsupported
    }

    /// One row of the registry: the stable dotted counter name and the kind.
    public struct Row: Sendable {
        public let name: StaticString
        public let kind: Kind

        @inlinable
        init(_ name: StaticString, _ kind: Kind) {
            self.name = name
            self.kind = kind
        }
    }

    /// The registry: one row per anomaly (adding one is a case above and a row here).
    @inlinable
    public var row: Row {
        switch self {
        case .ethernetTruncated: Row("decoder.ethernet.truncated", .truncated)
        case .ethernetIEEE8023: Row("decoder.ethernet.ieee8023", .unsupported)
        case .ethernetUnknownEtherType: Row("decoder.ethernet.unknown_ethertype", .unsupported)
        case .vlanTruncated: Row("decoder.vlan.truncated", .truncated)
        case .vlanTooManyLayers: Row("decoder.vlan.too_many_layers", .unsupported)
        case .mplsTruncated: Row("decoder.mpls.truncated", .truncated)
        case .mplsTooManyLabels: Row("decoder.mpls.too_many_labels", .unsupported)
        case .mplsUnknownPayloadType: Row("decoder.mpls.unknown_payload_type", .unsupported)
        case .sllTruncated: Row("decoder.sll.truncated", .truncated)
        case .sll2Truncated: Row("decoder.sll2.truncated", .truncated)
        case .nullTruncated: Row("decoder.null.truncated", .truncated)
        case .nullUnsupportedType: Row("decoder.null.unsupported_type", .unsupported)
        case .rawIPTruncated: Row("decoder.ipraw.truncated", .truncated)
        case .rawIPInvalidVersion: Row("decoder.ipraw.invalid_ip_version", .malformed)
        case .ipv4Truncated: Row("decoder.ipv4.truncated", .truncated)
        case .ipv4WrongVersion: Row("decoder.ipv4.wrong_ip_version", .malformed)
        case .ipv4HeaderLengthTooSmall: Row("decoder.ipv4.hlen_too_small", .malformed)
        case .ipv4TotalLengthBelowHeaderLength: Row("decoder.ipv4.iplen_smaller_than_hlen", .malformed)
        case .ipv4OptionInvalidLength: Row("decoder.ipv4.opt_invalid_len", .malformed)
        case .ipv6Truncated: Row("decoder.ipv6.truncated", .truncated)
        case .ipv6WrongVersion: Row("decoder.ipv6.wrong_ip_version", .malformed)
        case .ipv6ExtensionHeaderTruncated: Row("decoder.ipv6.exthdr_truncated", .truncated)
        case .ipv6PayloadLengthBelowHeaders: Row("decoder.ipv6.plen_smaller_than_exthdrs", .malformed)
        case .ipv6HopByHopNotFirst: Row("decoder.ipv6.hopopts_not_first", .malformed)
        case .ipv6ExtensionHeaderInvalidOptionLength: Row("decoder.ipv6.exthdr_invalid_optlen", .malformed)
        case .ipv6ExtensionHeaderLoop: Row("decoder.ipv6.exthdr_loop", .unsupported)
        case .tcpTruncated: Row("decoder.tcp.truncated", .truncated)
        case .tcpPacketTooSmall: Row("decoder.tcp.pkt_too_small", .malformed)
        case .tcpHeaderLengthTooSmall: Row("decoder.tcp.hlen_too_small", .malformed)
        case .tcpHeaderLengthTooLarge: Row("decoder.tcp.hlen_too_large", .malformed)
        case .udpTruncated: Row("decoder.udp.truncated", .truncated)
        case .udpPacketTooSmall: Row("decoder.udp.pkt_too_small", .malformed)
        case .udpHeaderLengthTooSmall: Row("decoder.udp.hlen_too_small", .malformed)
        case .udpHeaderLengthInvalid: Row("decoder.udp.hlen_invalid", .malformed)
        case .sctpTruncated: Row("decoder.sctp.truncated", .truncated)
        case .sctpPacketTooSmall: Row("decoder.sctp.pkt_too_small", .malformed)
        case .icmpv4Truncated: Row("decoder.icmpv4.truncated", .truncated)
        case .icmpv4PacketTooSmall: Row("decoder.icmpv4.pkt_too_small", .malformed)
        case .icmpv6Truncated: Row("decoder.icmpv6.truncated", .truncated)
        case .icmpv6PacketTooSmall: Row("decoder.icmpv6.pkt_too_small", .malformed)
        case .greTruncated: Row("decoder.gre.truncated", .truncated)
        case .grePacketTooSmall: Row("decoder.gre.pkt_too_small", .malformed)
        case .greWrongVersion: Row("decoder.gre.wrong_version", .unsupported)
        case .greVersion0Flags: Row("decoder.gre.version0_flags", .malformed)
        case .greVersion1Flags: Row("decoder.gre.version1_flags", .malformed)
        case .greVersion1NoKey: Row("decoder.gre.version1_no_key", .malformed)
        case .greVersion1WrongProtocol: Row("decoder.gre.version1_wrong_protocol", .malformed)
        case .greUnknownPayloadType: Row("decoder.gre.unknown_payload_type", .unsupported)
        case .pppTruncated: Row("decoder.ppp.truncated", .truncated)
        case .pppUnsupportedProtocol: Row("decoder.ppp.unsup_proto", .unsupported)
        case .erspanTruncated: Row("decoder.erspan.truncated", .truncated)
        case .erspanUnsupportedVersion: Row("decoder.erspan.unsupported_version", .unsupported)
        case .vxlanTruncated: Row("decoder.vxlan.truncated", .truncated)
        case .geneveTruncated: Row("decoder.geneve.truncated", .truncated)
        case .geneveUnsupportedVersion: Row("decoder.geneve.unsupported_version", .unsupported)
        case .geneveUnknownPayloadType: Row("decoder.geneve.unknown_payload_type", .unsupported)
        case .tooManyLayers: Row("decoder.too_many_layers", .unsupported)
        }
    }

    @inlinable
    public var kind: Kind { self.row.kind }

    /// The stable dotted counter name.
    public var name: StaticString { self.row.name }
}
