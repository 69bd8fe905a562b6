import Decoding
import FlowCore

/// One row per anomaly: the smallest frame that produces it.
enum AnomalyRows {
    static func ipv4(total: String, proto: String) -> String {
        """
        4500 \(total)  0001 0000  40\(proto) 0000   # IPv4: total 0x\(total), protocol 0x\(proto)
        0a00 0001  0a00 0002                        #   10.0.0.1 > 10.0.0.2

        """
    }
    static func ipv6(payload: String, next: String) -> String {
        """
        6000 0000  \(payload) \(next)40   # IPv6: payload length 0x\(payload), next header 0x\(next)
        \(Hex.ipv6Addresses)

        """
    }
    /// Network fields that must survive an anomaly further up.
    static let v4 = Expect(ipVersion: 4, source: "10.0.0.1", destination: "10.0.0.2")
    static func v4(_ anomaly: DecodeAnomaly, proto: UInt8) -> Expect {
        Expect(anomaly: anomaly, ipVersion: 4, source: "10.0.0.1", destination: "10.0.0.2", ipProtocol: proto)
    }
    static func v6(_ anomaly: DecodeAnomaly) -> Expect {
        Expect(anomaly: anomaly, ipVersion: 6, source: "2001:db8::1", destination: "2001:db8::2")
    }
    static func none(_ anomaly: DecodeAnomaly) -> Expect { Expect(anomaly: anomaly, ipVersion: 0, hasPorts: false) }
    static func outer(_ anomaly: DecodeAnomaly, proto: UInt8) -> Expect {
        Expect(
            anomaly: anomaly, ipVersion: 4, source: "192.168.0.1", ipProtocol: proto, tunnel: TunnelKind.none,
            tunnelDepth: 0)
    }

    static let rows: [Row] = [
        Row(name: "ethernet.truncated", hex: "0200 0000 0002  0200 0000 0001  08   # 13 bytes", expect: none(.ethernetTruncated)),
        Row(
            name: "ethernet.ieee8023",
            hex: "0180 c200 0000  0200 0000 0001  0026   # 802.3 length 38\n4242 03 0000 0000   # LLC: STP",
            expect: none(.ethernetIEEE8023)),
        Row(
            name: "ethernet.unknown_ethertype (ARP)",
            hex: """
                ffff ffff ffff  0200 0000 0001  0806   # Ethernet: type ARP
                0001 0800 0604 0001  0200 0000 0001  0a00 0001  0000 0000 0000  0a00 0002

                """,
            expect: none(.ethernetUnknownEtherType)),
        Row(name: "vlan.truncated", hex: "0200 0000 0002  0200 0000 0001  8100   # 802.1Q\n00", expect: none(.vlanTruncated)),
        Row(
            name: "vlan.too_many_layers",
            hex: "0200 0000 0002  0200 0000 0001  8100\n0001 8100  0002 8100  0003 8100  0004 0800   # 4 tags\n"
                + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(anomaly: .vlanTooManyLayers, ipVersion: 0, vlanIDs: [1, 2, 3])),
        Row(name: "mpls.truncated", hex: "0200 0000 0002  0200 0000 0001  8847\n0001", expect: none(.mplsTruncated)),
        Row(
            name: "mpls.too_many_labels",
            hex: "0200 0000 0002  0200 0000 0001  8847\n"
                + String(repeating: "0001 00ff   # label 16, S 0\n", count: 17) + Hex.ipv4TCP,
            expect: Expect(anomaly: .mplsTooManyLabels, mplsLabels: 16)),
        Row(
            name: "mpls.unknown_payload_type",
            hex: "0200 0000 0002  0200 0000 0001  8847\n0001 01ff   # S 1\n1234 5678   # first nibble 1",
            expect: none(.mplsUnknownPayloadType)),
        Row(name: "sll.truncated", link: .linuxSLL, hex: "0000 0001 0006 0200 0000 0001 0000 08", expect: none(.sllTruncated)),
        Row(name: "sll2.truncated", link: .linuxSLL2, hex: "0800 0000 0000 0002 0001 0406 0200 0000 0001 00", expect: none(.sll2Truncated)),
        Row(name: "null.truncated", link: .bsdNull, hex: "0200", expect: none(.nullTruncated)),
        Row(
            name: "null.unsupported_type", link: .bsdNull,
            hex: "0f00 0801   # neither an address family nor an IP EtherType\n" + Hex.ipv4TCP,
            expect: none(.nullUnsupportedType)),
        Row(
            name: "null.unsupported_type (LOOP is network order only)", link: .bsdLoop,
            hex: "0200 0000   # AF_INET little-endian: not valid for LOOP\n" + Hex.ipv4TCP,
            expect: none(.nullUnsupportedType)),
        Row(name: "ipraw.truncated", link: .rawIP, hex: "", expect: none(.rawIPTruncated)),
        Row(
            name: "ipraw.invalid_ip_version", link: .rawIP, hex: "5500 0014 0001 0000 4006 0000 0a00 0001 0a00 0002",
            expect: none(.rawIPInvalidVersion)),
        Row(
            name: "ipv4.truncated (fixed header)", hex: Hex.ethIPv4 + "4500 0028 0001 0000 4006 0000 0a00 0001",
            expect: none(.ipv4Truncated)),
        Row(
            name: "ipv4.truncated (options)",
            hex: Hex.ethIPv4 + "4600 0018 0001 0000 4006 0000 0a00 0001 0a00 0002   # IHL 6, options missing",
            expect: none(.ipv4Truncated)),
        Row(
            name: "ipv4.wrong_ip_version", hex: Hex.ethIPv4 + "5500 0014 0001 0000 4006 0000 0a00 0001 0a00 0002",
            expect: none(.ipv4WrongVersion)),
        Row(
            name: "ipv4.hlen_too_small", hex: Hex.ethIPv4 + "4400 0014 0001 0000 4006 0000 0a00 0001 0a00 0002",
            expect: none(.ipv4HeaderLengthTooSmall)),
        Row(
            name: "ipv4.iplen_smaller_than_hlen",
            hex: Hex.ethIPv4 + "4500 0010 0001 0000 4006 0000 0a00 0001 0a00 0002   # total 16",
            expect: none(.ipv4TotalLengthBelowHeaderLength)),
        Row(
            name: "ipv4.opt_invalid_len",
            hex: Hex.ethIPv4 + """
                4600 002c  0001 0000  4006 0000  0a00 0001  0a00 0002   # IHL 6
                8202 0000     # option 130 (security) with length 2: below its minimum of 3

                """ + Hex.tcpSYN,
            expect: v4(.ipv4OptionInvalidLength, proto: 6)),
        Row(name: "ipv6.truncated", hex: Hex.ethIPv6 + "6000 0000 0010 1140 2001 0db8", expect: none(.ipv6Truncated)),
        Row(
            name: "ipv6.wrong_ip_version", hex: Hex.ethIPv6 + "4000 0000  0000 3b40\n" + Hex.ipv6Addresses,
            expect: none(.ipv6WrongVersion)),
        Row(
            name: "ipv6.exthdr_truncated",
            hex: Hex.ethIPv6 + ipv6(payload: "0010", next: "00") + "1100 0104   # half a hop-by-hop header",
            expect: v6(.ipv6ExtensionHeaderTruncated)),
        Row(
            name: "ipv6.plen_smaller_than_exthdrs",
            hex: Hex.ethIPv6 + ipv6(payload: "0004", next: "2b") + "1100 0000 0000 0000   # 8-byte routing header",
            expect: v6(.ipv6PayloadLengthBelowHeaders)),
        Row(
            name: "ipv6.plen_smaller_than_exthdrs (payload length 0, hop-by-hop without jumbo)",
            hex: Hex.ethIPv6 + ipv6(payload: "0000", next: "00") + "1100 0104 0000 0000\nd431 0035 0008 0000",
            expect: v6(.ipv6PayloadLengthBelowHeaders)),
        Row(
            name: "ipv6.hopopts_not_first",
            hex: Hex.ethIPv6 + ipv6(payload: "0018", next: "3c") + """
                0000 0104 0000 0000   # destination options, next hop-by-hop
                1100 0104 0000 0000   # hop-by-hop (not first)
                d431 0035 0008 0000

                """,
            expect: v6(.ipv6HopByHopNotFirst)),
        Row(
            name: "ipv6.exthdr_invalid_optlen",
            hex: Hex.ethIPv6 + ipv6(payload: "0010", next: "00") + """
                1100 0108 0000 0000   # hop-by-hop: PadN claiming 8 bytes in a 6-byte area
                d431 0035 0008 0000

                """,
            expect: v6(.ipv6ExtensionHeaderInvalidOptionLength)),
        Row(
            name: "ipv6.exthdr_loop",
            hex: Hex.ethIPv6 + ipv6(payload: "0410", next: "3c")
                + String(repeating: "3c00 0104 0000 0000   # destination options\n", count: 128)
                + "1100 0104 0000 0000   # the 129th\nd431 0035 0008 0000",
            expect: v6(.ipv6ExtensionHeaderLoop)),
        Row(
            name: "tcp.truncated (fixed header)", hex: Hex.ethIPv4 + ipv4(total: "0028", proto: "06") + "9c40 0050 0000 0001 0000",
            expect: v4(.tcpTruncated, proto: 6)),
        Row(
            name: "tcp.truncated (options)",
            hex: Hex.ethIPv4 + ipv4(total: "002c", proto: "06") + "9c40 0050 0000 0001 0000 0000 6002 ffff 0000 0000   # offset 6",
            expect: Expect(anomaly: .tcpTruncated, ports: (40000, 80), tcpFlags: 0x02)),
        Row(name: "tcp.pkt_too_small", hex: Hex.ethIPv4 + ipv4(total: "0014", proto: "06"), expect: v4(.tcpPacketTooSmall, proto: 6)),
        Row(
            name: "tcp.hlen_too_small",
            hex: Hex.ethIPv4 + ipv4(total: "0028", proto: "06") + "9c40 0050 0000 0001 0000 0000 4002 ffff 0000 0000   # offset 4",
            expect: Expect(anomaly: .tcpHeaderLengthTooSmall, ports: (40000, 80))),
        Row(
            name: "tcp.hlen_too_large",
            hex: Hex.ethIPv4 + ipv4(total: "0028", proto: "06") + "9c40 0050 0000 0001 0000 0000 7010 ffff 0000 0000   # offset 7\n0000 0000 0000   # Ethernet padding",
            expect: Expect(anomaly: .tcpHeaderLengthTooLarge, ports: (40000, 80))),
        Row(name: "udp.truncated", hex: Hex.ethIPv4 + ipv4(total: "001c", proto: "11") + "d431 0035", expect: v4(.udpTruncated, proto: 17)),
        Row(name: "udp.pkt_too_small", hex: Hex.ethIPv4 + ipv4(total: "0018", proto: "11") + "d431 0035", expect: v4(.udpPacketTooSmall, proto: 17)),
        Row(
            name: "udp.hlen_too_small", hex: Hex.ethIPv4 + ipv4(total: "001c", proto: "11") + "d431 0035 0004 0000",
            expect: Expect(anomaly: .udpHeaderLengthTooSmall, ports: (54321, 53))),
        Row(
            name: "udp.hlen_invalid", hex: Hex.ethIPv4 + ipv4(total: "001c", proto: "11") + "d431 0035 0040 0000   # length 64 > 8",
            expect: Expect(anomaly: .udpHeaderLengthInvalid, ports: (54321, 53))),
        Row(name: "sctp.truncated", hex: Hex.ethIPv4 + ipv4(total: "0020", proto: "84") + "0007 0007 0000 0000", expect: v4(.sctpTruncated, proto: 132)),
        Row(name: "sctp.pkt_too_small", hex: Hex.ethIPv4 + ipv4(total: "001c", proto: "84") + "0007 0007 0000 0000", expect: v4(.sctpPacketTooSmall, proto: 132)),
        Row(name: "icmpv4.truncated", hex: Hex.ethIPv4 + ipv4(total: "001c", proto: "01") + "0800 0000", expect: v4(.icmpv4Truncated, proto: 1)),
        Row(name: "icmpv4.pkt_too_small", hex: Hex.ethIPv4 + ipv4(total: "0018", proto: "01") + "0800 0000", expect: v4(.icmpv4PacketTooSmall, proto: 1)),
        Row(name: "icmpv6.truncated", hex: Hex.ethIPv6 + ipv6(payload: "0008", next: "3a") + "8000 0000", expect: v6(.icmpv6Truncated)),
        Row(name: "icmpv6.pkt_too_small", hex: Hex.ethIPv6 + ipv6(payload: "0004", next: "3a") + "8000 0000", expect: v6(.icmpv6PacketTooSmall)),
        Row(
            name: "gre.truncated", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "2f") + "3000 0800 0000   # K S: 12-byte header, 6 captured",
            expect: outer(.greTruncated, proto: 47)),
        Row(name: "gre.pkt_too_small", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0016", proto: "2f") + "0000", expect: outer(.grePacketTooSmall, proto: 47)),
        Row(name: "gre.wrong_version", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0018", proto: "2f") + "0002 0800   # version 2", expect: outer(.greWrongVersion, proto: 47)),
        Row(name: "gre.version0_flags", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0020", proto: "2f") + "4000 0800 0000 0000   # R (routing)", expect: outer(.greVersion0Flags, proto: 47)),
        Row(name: "gre.version1_flags", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "2f") + "a001 880b 0000 0000 0000 0001   # C K, version 1", expect: outer(.greVersion1Flags, proto: 47)),
        Row(name: "gre.version1_no_key", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0020", proto: "2f") + "1001 880b 0000 0001   # S only", expect: outer(.greVersion1NoKey, proto: 47)),
        Row(name: "gre.version1_wrong_protocol", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0020", proto: "2f") + "2001 0800 0000 0001   # K, IPv4", expect: outer(.greVersion1WrongProtocol, proto: 47)),
        Row(name: "gre.unknown_payload_type", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "001c", proto: "2f") + "0000 1234 6869 6869", expect: outer(.greUnknownPayloadType, proto: 47)),
        Row(
            name: "ppp.truncated", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0022", proto: "2f") + "3001 880b 0002 0001 0000 0001   # payload length 2\nff03",
            expect: outer(.pppTruncated, proto: 47)),
        Row(
            name: "ppp.unsup_proto", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "2f") + "2001 880b 0004 0001\nff03 80fd   # CCP",
            expect: outer(.pppUnsupportedProtocol, proto: 47)),
        Row(
            name: "erspan.truncated", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "2f") + "1000 88be 0000 0001\n1064 0001   # half an ERSPAN II header",
            expect: outer(.erspanTruncated, proto: 47)),
        Row(
            name: "erspan.unsupported_version", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0028", proto: "2f") + "1000 88be 0000 0001\n2064 0001 0000 0000   # version 2 under 0x88be",
            expect: outer(.erspanUnsupportedVersion, proto: 47)),
        Row(
            name: "vxlan.truncated", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0020", proto: "11") + "c000 12b5 000c 0000\n0800 0000",
            expect: Expect(anomaly: .vxlanTruncated, ports: (49152, 4789), tunnel: TunnelKind.none)),
        Row(
            name: "geneve.truncated", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "11") + "c000 17c1 0010 0000\n0200 6558 0000 0a00   # 2 option words missing",
            expect: Expect(anomaly: .geneveTruncated, ports: (49152, 6081), tunnel: TunnelKind.none)),
        Row(
            name: "geneve.unsupported_version", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "11") + "c000 17c1 0010 0000\n4000 6558 0000 0a00",
            expect: Expect(anomaly: .geneveUnsupportedVersion, ports: (49152, 6081))),
        Row(
            name: "geneve.unknown_payload_type", hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "11") + "c000 17c1 0010 0000\n0000 1234 0000 0a00",
            expect: Expect(anomaly: .geneveUnknownPayloadType, ports: (49152, 6081))),
        Row(
            name: "vxlan/truncated inner frame keeps the outer flow",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0042", proto: "11") + """
                c000 12b5  002e 0000   # UDP: 49152 > 4789, length 46
                0800 0000  0000 7b00   # VXLAN: VNI 123

                """ + Hex.ethIPv4 + "4500 0028 0001 0000 4006 0000   # inner IPv4 cut at 12 bytes",
            expect: Expect(anomaly: .ipv4Truncated, source: "192.168.0.1", ports: (49152, 4789), tunnel: TunnelKind.none, tunnelDepth: 0, vni: 0)),
        Row(
            name: "too_many_layers (IPv4 in IPv4 five deep)",
            hex: Hex.ethIPv4
                + "4500 0078 0000 0000 4004 0000 0a00 0001 0a00 0002   # total 120, IPv4-in-IPv4\n"
                + "4500 0064 0000 0000 4004 0000 0a00 0001 0a00 0002   # total 100\n"
                + "4500 0050 0000 0000 4004 0000 0a00 0001 0a00 0002   # total 80\n"
                + "4500 003c 0000 0000 4004 0000 0a00 0001 0a00 0002   # total 60\n"
                + "4500 0028 0000 0000 4004 0000 0a00 0001 0a00 0002   # total 40: the 5th tunnel\n"
                + "4500 0014 0000 0000 40fd 0000 0a00 0001 0a00 0002   # innermost, not reached",
            expect: Expect(anomaly: .tooManyLayers, ipVersion: 4, ipProtocol: 4, tunnel: .ipip, tunnelDepth: 4)),
    ]
}
