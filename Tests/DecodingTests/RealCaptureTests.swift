import Decoding
import FlowCore
import Testing

/// Decodes the real-capture corpus (`Captures/corpus`, see its MANIFEST.md).
/// The expected values below were read with tshark 4.0.17, e.g.
/// `tshark -r geneve-tcp-ssh-icmp.pcap -T fields -e ip.src -e ip.dst -e geneve.vni`.
struct RealCaptureTests {
    /// Files whose name says they hold malformed packets; all others must decode without a
    /// `malformed` anomaly (unsupported ARP/LLDP/PPP-LCP and truncations are allowed).
    static let malformedByDesign: Set<String> = [
        "damaged-record-header-after-2pkts.pcap", "eth-tcp-session-one-malformed-ipv4.pcap",
        "malformed-ipv6-frag-negative-len.pcap", "malformed-raw229-ipv6-next-header-oobr.pcap",
        "malformed-tcp-bad-data-offset.pcap", "malformed-too-small-headers.pcap",
    ]

    @Test func everyPacketOfEveryCaptureDecodes() throws {
        try #require(RealCaptures.names.count == 60, "corpus not found at \(RealCaptures.directory)")
        var decoded = 0
        for name in RealCaptures.names {
            for packet in RealCaptures.packets(name) {
                let s = decode(packet.data, link: packet.link)
                decoded += 1
                if let anomaly = s.anomaly, anomaly.kind == .malformed, !Self.malformedByDesign.contains(name) {
                    Issue.record("\(name) #\(packet.number): unexpected \(anomaly.name)")
                }
                if s.ipVersion != 0 {
                    #expect(s.ipVersion == 4 ? s.source.isIPv4 : !s.source.isIPv4, "\(name) #\(packet.number)")
                }
                if s.tunnel == .none { #expect(s.tunnelDepth == 0) } else { #expect(s.tunnelDepth >= 1) }
            }
        }
        #expect(decoded > 8000)
    }

    struct Case: Sendable, CustomStringConvertible {
        var file: String
        var frame: Int
        var expect: Expect
        var description: String { "\(file) #\(frame)" }
    }

    static let cases: [Case] = [
        // Geneve VNI 0xa with an option, inner ICMP echo 30.0.0.1 > 30.0.0.2, id 10578.
        Case(file: "geneve-tcp-ssh-icmp.pcap", frame: 1, expect: Expect(
            ipVersion: 4, source: "30.0.0.1", destination: "30.0.0.2", ipProtocol: 1, icmp: (8, 0, 10578),
            tunnel: .geneve, tunnelDepth: 1, tunnelSource: "20.0.0.1", vni: 0xa)),
        Case(file: "geneve-tcp-ssh-icmp.pcap", frame: 3, expect: Expect(
            source: "30.0.0.2", destination: "30.0.0.1", ports: (51225, 22), tcpFlags: TCPFlag.syn, tunnel: .geneve, vni: 0xb)),
        Case(file: "geneve-many-options-http.pcap", frame: 1, expect: Expect(ipVersion: 4, ipProtocol: 6, tunnel: .geneve, vni: 0x0c012e)),
        // VXLAN on 8472 (tshark -d udp.port==8472,vxlan): inner 192.168.203.3 > .5, VNI 100.
        Case(file: "vxlan-8472-linux-default-port.pcap", frame: 1, expect: Expect(
            source: "192.168.203.3", destination: "192.168.203.5", icmp: (8, 0, 1292),
            tunnel: .vxlan, tunnelDepth: 1, tunnelSource: "192.168.203.1", vni: 100)),
        // ARP inside VXLAN: the outer UDP packet stays the flow.
        Case(file: "vxlan-8472-linux-default-port.pcap", frame: 2, expect: Expect(
            anomaly: .ethernetUnknownEtherType, source: "192.168.202.1", destination: "192.168.203.1",
            ports: (42710, 8472), tunnel: TunnelKind.none, tunnelDepth: 0, vni: 0)),
        Case(file: "vxlan-4789-icmp-arp.pcap", frame: 1, expect: Expect(ipProtocol: 1, tunnel: .vxlan, tunnelDepth: 1)),
        // VLAN stacks.
        Case(file: "vlan-qinqinq-triple-tag-http.pcap", frame: 1, expect: Expect(
            source: "141.142.228.5", destination: "192.150.187.43", ports: (59856, 80), vlanIDs: [30, 20, 10])),
        Case(file: "vlan-qinq-88a8-8100-ipv4.pcapng", frame: 1, expect: Expect(
            source: "192.85.1.22", ipProtocol: 253, hasPorts: false, vlanIDs: [30, 100])),
        // MPLS in VLAN: VLAN only; VLAN 0 + label 16106; VLAN 3399 + labels 254, 99.
        Case(file: "mpls-in-vlan-http.pcap", frame: 1, expect: Expect(ports: (19244, 80), vlanIDs: [3199], mplsLabels: 0)),
        Case(file: "mpls-in-vlan-http.pcap", frame: 2, expect: Expect(ports: (80, 32828), vlanIDs: [0], mplsLabels: 1)),
        Case(file: "mpls-in-vlan-http.pcap", frame: 3, expect: Expect(ports: (61193, 80), vlanIDs: [3399], mplsLabels: 2)),
        // GRE and ERSPAN II reach the inner ICMP.
        Case(file: "gre-erspan-ii-icmp.pcap", frame: 1, expect: Expect(
            source: "23.0.0.2", destination: "23.0.0.3", icmp: (8, 0, 22), tunnel: .gre, tunnelSource: "2.2.2.2")),
        Case(file: "gre-ipv4-tcp-udp-icmp.pcap", frame: 33, expect: Expect(
            source: "66.59.111.190", destination: "172.28.2.3", ports: (37675, 53), tunnel: .gre,
            tunnelSource: "172.27.1.66")),
        // ICMP port unreachable inside GRE, quoting the DNS query of frame 33.
        Case(file: "gre-ipv4-tcp-udp-icmp.pcap", frame: 34, expect: Expect(
            source: "172.28.2.3", destination: "66.59.111.190", icmp: (3, 3, 0),
            quoted: ("66.59.111.190", "172.28.2.3", 17, 37675, 53), tunnel: .gre)),
        Case(file: "ipip-4in4-udp.pcap", frame: 1, expect: Expect(
            source: "10.0.0.1", ports: (30000, 13000), tunnel: .ipip, tunnelSource: "1.2.3.4")),
        Case(file: "ipip-6in4-udp.pcap", frame: 1, expect: Expect(
            ipVersion: 6, source: "dead::beef", ports: (30000, 13000), tunnel: .ipip, tunnelSource: "1.2.3.4")),
        Case(file: "ipip-4in6-tcp.pcap", frame: 1, expect: Expect(
            ipVersion: 4, source: "70.55.213.211", destination: "192.88.99.1", ports: (31337, 80), tunnel: .ipip)),
        // 100 extension headers, then UDP 12345 > 54321.
        Case(file: "eth-ipv6-ext-hdr-long-chain.pcap", frame: 1, expect: Expect(
            ipVersion: 6, source: "2001:db8::1", ipProtocol: 17, ports: (12345, 54321), isFragment: false)),
        // Destination options (and atomic fragments) before TCP 36951 > 80.
        Case(file: "eth-ipv6-tcp-ext-hdrs-atomic-frag.pcap", frame: 4, expect: Expect(
            ipProtocol: 6, ports: (36951, 80), isFragment: false)),
        // BIG TCP: 80000 bytes of TCP payload in one frame.
        Case(file: "eth-bigtcp-ipv4-80k-frame.pcap", frame: 1, expect: Expect(
            source: "10.25.132.13", ports: (35871, 36425), payloadLength: 80000)),
        Case(file: "eth-bigtcp-ipv6-jumbo-hbh.pcap", frame: 1, expect: Expect(
            source: "2604:1380:4091:ce00::d", ports: (41851, 43913), payloadLength: 80000)),
        // IPv4 fragments of one NFS datagram (id 0x1ea0): the first has ports, later ones not.
        Case(file: "eth-ipv4-frag-udp-nfs.pcap", frame: 1, expect: Expect(hasPorts: true, fragment: (0x1ea0, 0, true))),
        Case(file: "eth-ipv4-frag-udp-nfs.pcap", frame: 2, expect: Expect(hasPorts: false, fragment: (0x1ea0, 185, true))),
        // ICMP identifiers and quotes.
        Case(file: "eth-icmp-echo-and-errors.pcapng", frame: 7, expect: Expect(icmp: (13, 0, 14640))),
        Case(file: "eth-icmp-echo-and-errors.pcapng", frame: 14, expect: Expect(icmp: (17, 0, 45068))),
        Case(file: "eth-icmp-echo-and-errors.pcapng", frame: 6, expect: Expect(
            source: "10.0.2.2", icmp: (3, 3, 0), quoted: ("10.0.1.2", "172.16.0.2", 17, 49182, 33446))),
        // Link layers.
        Case(file: "null-ipv4-ipv6-af-values.pcap", frame: 1, expect: Expect(ipVersion: 6, source: "::1", ports: (49888, 81))),
        Case(file: "null-ipv4-ipv6-af-values.pcap", frame: 3, expect: Expect(source: "10.0.0.138", ipProtocol: 17)),
        Case(file: "sctp-echo-association-bundled-chunks.pcap", frame: 1, expect: Expect(
            source: "192.168.170.8", ipProtocol: 132, ports: (7, 7))),
        // The malformed captures.
        Case(file: "eth-tcp-session-one-malformed-ipv4.pcap", frame: 8, expect: Expect(
            anomaly: .ipv4OptionInvalidLength, source: "192.0.2.10", destination: "198.51.100.5", ipProtocol: 6)),
        Case(file: "malformed-tcp-bad-data-offset.pcap", frame: 1, expect: Expect(anomaly: .tcpHeaderLengthTooLarge, ipVersion: 4)),
        Case(file: "malformed-ipv4-record-route-oobr.pcap", frame: 1, expect: Expect(anomaly: .ipv4Truncated, ipVersion: 0)),
        Case(file: "malformed-raw229-ipv6-next-header-oobr.pcap", frame: 1, expect: Expect(
            anomaly: .ipv6ExtensionHeaderInvalidOptionLength, ipVersion: 6)),
        Case(file: "malformed-ipv6-frag-negative-len.pcap", frame: 1, expect: Expect(
            anomaly: .ipv6PayloadLengthBelowHeaders, ipVersion: 6)),
        Case(file: "malformed-too-small-headers.pcap", frame: 1, expect: Expect(anomaly: .tcpPacketTooSmall, ipVersion: 4)),
        Case(file: "malformed-too-small-headers.pcap", frame: 3, expect: Expect(anomaly: .udpPacketTooSmall, ipVersion: 4)),
        Case(file: "malformed-too-small-headers.pcap", frame: 4, expect: Expect(anomaly: .grePacketTooSmall, ipVersion: 4)),
        Case(file: "malformed-too-small-headers.pcap", frame: 5, expect: Expect(anomaly: .tcpPacketTooSmall, ipVersion: 6)),
        Case(file: "malformed-too-small-headers.pcap", frame: 8, expect: Expect(anomaly: .grePacketTooSmall, ipVersion: 6)),
        Case(file: "eth-pptp-gre-bigendian.pcap", frame: 1, expect: Expect(ipProtocol: 6, ports: (3025, 1723))),
        // Enhanced GRE carrying PPP LCP (0xc021): no inner IP, the GRE packet is the flow.
        Case(file: "eth-pptp-gre-bigendian.pcap", frame: 16, expect: Expect(
            anomaly: .pppUnsupportedProtocol, source: "10.1.1.11", ipProtocol: 47, tunnel: TunnelKind.none, tunnelDepth: 0)),
    ]

    @Test(arguments: Self.cases)
    func captureDecodesAsTsharkSays(_ c: Case) throws {
        let packets = RealCaptures.packets(c.file, limit: c.frame)
        let packet = try #require(packets.first { $0.number == c.frame }, "cannot read \(c)")
        for problem in check(decode(packet.data, link: packet.link), c.expect, c.description) {
            Issue.record("\(problem)")
        }
    }

    /// GRE variants (tshark): PPTP PPP/CCP, ack-only enhanced GRE, GRE in GRE, TEB, and
    /// VLAN + IPv6 + IPv4-in-IPv6 + enhanced GRE + PPP + IPv4/UDP DNS (a pcapng with two
    /// interfaces, which libpcap 1.10 refuses and flowmon's reader reads).
    @Test
    func greVariantsDecode() {
        let p = RealCaptures.packets("gre-variants-ppp-teb-nested-ipv6.pcapng")
        let s = p.map { decode($0.data, link: $0.link) }
        guard s.count == 7 else { Issue.record("expected 7 packets, read \(s.count)"); return }
        #expect(s[0].anomaly == .pppUnsupportedProtocol && s[0].tunnel == .none && s[0].ipProtocol == 47)
        #expect(s[1].anomaly == nil && s[1].tunnel == .none && s[1].ipProtocol == 47)
        // Frame 3: GRE in GRE whose inner GRE carries nothing: the middle packet is the flow.
        #expect(s[2].tunnel == .gre && s[2].tunnelDepth == 1 && s[2].ipProtocol == 47)
        #expect(s[3].tunnel == .gre && s[3].icmpIdentifier == 42732)
        // Frame 5: GRE in GRE to RIP 3.3.3.2:520 > 224.0.0.9:520, outermost tunnel 86.106.164.150.
        for problem in check(s[4], Expect(
            source: "3.3.3.2", destination: "224.0.0.9", ports: (520, 520), tunnel: .gre, tunnelDepth: 2,
            tunnelSource: "86.106.164.150"), "frame 5") {
            Issue.record("\(problem)")
        }
        // Frame 6: VLAN 100, IPv6, IPv4-in-IPv6 (the outermost tunnel), PPTP GRE, PPP, DNS reply.
        for problem in check(s[5], Expect(
            source: "8.8.8.8", destination: "172.16.44.3", ports: (53, 40768), vlanIDs: [100], tunnel: .ipip,
            tunnelDepth: 2, tunnelSource: "2607:fcd0:100:2300::b108:2a6b"), "frame 6") {
            Issue.record("\(problem)")
        }
        // Frame 7: transparent Ethernet bridging to TCP 10.0.0.4:1232 > 10.0.0.5:80.
        for problem in check(s[6], Expect(
            source: "10.0.0.4", destination: "10.0.0.5", ports: (1232, 80), tunnel: .gre, tunnelSource: "1.2.3.4"),
            "frame 7") {
            Issue.record("\(problem)")
        }
    }
}
