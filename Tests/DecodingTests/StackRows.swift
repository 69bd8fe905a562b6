import Decoding
import FlowCore

/// One row per protocol stack the decoder follows.
enum StackRows {
    static let tcpFlow = Expect(
        ipVersion: 4, source: "10.0.0.1", destination: "10.0.0.2", ipProtocol: 6, ports: (40000, 80),
        tcpFlags: TCPFlag.syn, payloadLength: 0)
    static let udpFlow = Expect(
        ipVersion: 4, source: "10.0.0.1", destination: "10.0.0.2", ipProtocol: 17, ports: (54321, 53),
        payloadLength: 8)

    static let rows: [Row] = [
        Row(name: "ethernet/ipv4/tcp", hex: Hex.ethIPv4 + Hex.ipv4TCP + Hex.tcpSYN, expect: tcpFlow),
        Row(
            name: "ethernet/ipv4/udp + ethernet padding",
            hex: Hex.ethIPv4 + Hex.ipv4UDP + "0000 0000 0000 0000 0000   # Ethernet padding to 60 bytes",
            expect: udpFlow),
        Row(
            name: "ethernet/ipv6/tcp SYN-ACK with NS",
            hex: Hex.ethIPv6 + """
                6000 0000  0014 0640   # IPv6: payload length 20, next header TCP, hop limit 64
                \(Hex.ipv6Addresses)
                01bb c350              # TCP: 443 > 50000
                0000 0064  0000 00c8   #   seq 100, ack 200
                5112 ffff  0000 0000   #   data offset 5, NS (bit 0 of octet 12), flags SYN|ACK

                """,
            expect: Expect(
                ipVersion: 6, source: "2001:db8::1", destination: "2001:db8::2", ipProtocol: 6,
                ports: (443, 50000), tcpFlags: 0x112)),
        Row(
            name: "ethernet/802.1ad/802.1Q/ipv4/udp",
            hex: """
                0200 0000 0002  0200 0000 0001  88a8   # Ethernet: type 802.1ad S-tag
                001e 8100                              # S-tag: VID 30, inner type 802.1Q
                a064 0800                              # C-tag: PCP 5, VID 100, inner type IPv4

                """ + Hex.ipv4UDP,
            expect: Expect(ipVersion: 4, ports: (54321, 53), vlanIDs: [30, 100])),
        Row(
            name: "ethernet/802.1Q x3/ipv4/tcp",
            hex: """
                0200 0000 0002  0200 0000 0001  8100   # Ethernet: type 802.1Q
                001e 8100  0014 8100  000a 0800        # VIDs 30, 20, 10, then IPv4

                """ + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(ipVersion: 4, ports: (40000, 80), vlanIDs: [30, 20, 10])),
        Row(
            name: "ethernet/mpls x2/ipv4/tcp",
            hex: """
                0200 0000 0002  0200 0000 0001  8847   # Ethernet: type MPLS unicast
                000f e0ff                              # MPLS: label 254, TC 0, S 0, TTL 255
                0006 31ff                              # MPLS: label 99, S 1 (bottom), TTL 255

                """ + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(ipVersion: 4, ports: (40000, 80), mplsLabels: 2)),
        Row(
            name: "ethernet/mpls/control word/ethernet/ipv4/tcp",
            hex: """
                0200 0000 0002  0200 0000 0001  8847   # Ethernet: type MPLS
                0001 01ff                              # MPLS: label 16, S 1
                0000 0000                              # pseudowire control word (RFC 4385)

                """ + Hex.ethIPv4 + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(ipVersion: 4, ports: (40000, 80), mplsLabels: 1)),
        Row(
            name: "sll/ipv4/udp", link: .linuxSLL,
            hex: """
                0000 0001 0006            # SLL: packet type 0 (to us), ARPHRD_ETHER, address length 6
                0200 0000 0001 0000       #   address, padded to 8
                0800                      #   protocol IPv4

                """ + Hex.ipv4UDP,
            expect: udpFlow),
        Row(
            name: "sll2/ipv6/udp", link: .linuxSLL2,
            hex: """
                86dd 0000                 # SLL2: protocol IPv6, reserved
                0000 0002                 #   interface index 2
                0001 04 06                #   ARPHRD_ETHER, packet type 4 (outgoing), address length 6
                0200 0000 0001 0000       #   address

                """ + Hex.ipv6UDP,
            expect: Expect(ipVersion: 6, source: "2001:db8::1", ipProtocol: 17, ports: (54321, 53))),
        Row(
            name: "null (little-endian AF_INET)/ipv4/udp", link: .bsdNull,
            hex: "0200 0000   # NULL: AF_INET 2, little-endian\n" + Hex.ipv4UDP, expect: udpFlow),
        Row(
            name: "null (big-endian AF_INET6 30, Darwin)/ipv6/udp", link: .bsdNull,
            hex: "0000 001e   # NULL: AF_INET6 30, big-endian\n" + Hex.ipv6UDP,
            expect: Expect(ipVersion: 6, ports: (54321, 53))),
        Row(
            name: "null (little-endian AF_INET6 10, Linux)/ipv6/udp", link: .bsdNull,
            hex: "0a00 0000   # NULL: AF_INET6 10, little-endian\n" + Hex.ipv6UDP,
            expect: Expect(ipVersion: 6, ports: (54321, 53))),
        Row(
            name: "null (EtherType 0x0800 in the low half)/ipv4/tcp", link: .bsdNull,
            hex: "0f00 0800   # NULL: no address family; EtherType IPv4 in octets 2-3\n" + Hex.ipv4TCP + Hex.tcpSYN,
            expect: tcpFlow),
        Row(
            name: "loop (AF_INET network order)/ipv4/tcp", link: .bsdLoop,
            hex: "0000 0002   # LOOP: AF_INET\n" + Hex.ipv4TCP + Hex.tcpSYN, expect: tcpFlow),
        Row(name: "raw/ipv6/udp", link: .rawIP, hex: Hex.ipv6UDP, expect: Expect(ipVersion: 6, ports: (54321, 53))),
        Row(name: "raw/ipv4/tcp", link: .rawIP, hex: Hex.ipv4TCP + Hex.tcpSYN, expect: tcpFlow),
        Row(name: "linktype ipv4/tcp", link: .ipv4, hex: Hex.ipv4TCP + Hex.tcpSYN, expect: tcpFlow),
        Row(name: "linktype ipv6/udp", link: .ipv6, hex: Hex.ipv6UDP, expect: Expect(ipVersion: 6, ports: (54321, 53))),
        Row(
            name: "ipv4 with options (NOP, router alert)/tcp",
            hex: Hex.ethIPv4 + """
                4700 0030  0001 0000  4006 0000   # IPv4: IHL 7 (28 bytes), total 48, TCP
                0a00 0001  0a00 0002
                0101 0100                         #   options: NOP NOP NOP EOL
                9404 0000                         #   (after EOL, ignored) router alert, length 4

                """ + Hex.tcpSYN,
            expect: tcpFlow),
        Row(
            name: "ipv4 first fragment/udp",
            hex: Hex.ethIPv4 + """
                4500 0024  1234 2000  4011 0000   # IPv4: total 36, id 0x1234, MF, offset 0, UDP
                0a00 0001  0a00 0002
                d431 0035  0100 0000              # UDP: length 256 (the whole datagram)
                6869 6869  6869 6869

                """,
            expect: Expect(
                ipVersion: 4, ipProtocol: 17, ports: (54321, 53), payloadLength: 8,
                fragment: (0x1234, 0, true))),
        Row(
            name: "ipv4 later fragment",
            hex: Hex.ethIPv4 + """
                4500 0024  1234 00b9  4011 0000   # IPv4: total 36, id 0x1234, offset 185 (1480 bytes), last
                0a00 0001  0a00 0002
                6869 6869 6869 6869 6869 6869 6869 6869   # 16 bytes of the datagram

                """,
            expect: Expect(
                ipVersion: 4, ipProtocol: 17, hasPorts: false, payloadLength: 16, fragment: (0x1234, 185, false))),
        Row(
            name: "ipv6 hop-by-hop/atomic fragment/destination options/udp",
            hex: Hex.ethIPv6 + """
                6000 0000  0028 0040   # IPv6: payload length 40, next header 0 (hop-by-hop)
                \(Hex.ipv6Addresses)
                2c00 0104 0000 0000    # hop-by-hop: next 44, length 0 (8 bytes), PadN(4)
                3c00 0000 0000 0001    # fragment: next 60, offset 0, M 0 (atomic, RFC 6946), id 1
                1100 0104 0000 0000    # destination options: next 17, PadN(4)
                d431 0035  0010 0000   # UDP: 54321 > 53, length 16
                6869 6869  6869 6869

                """,
            expect: Expect(ipVersion: 6, ipProtocol: 17, ports: (54321, 53), payloadLength: 8, isFragment: false)),
        Row(
            name: "ipv6 routing/ah/tcp",
            hex: Hex.ethIPv6 + """
                6000 0000  0044 2b40   # IPv6: payload length 68, next header 43 (routing)
                \(Hex.ipv6Addresses)
                3302 0001 0000 0000    # routing: next 51 (AH), length 2 (24 bytes), type 0, segments left 1
                2001 0db8 0000 0000 0000 0000 0000 0003   #   address
                0604 0000 0000 0100    # AH: next 6, payload len 4 ((4+2)*4 = 24 bytes), SPI 0x100
                0000 0001 0000 0000 0000 0000 0000 0000   #   sequence 1, ICV (12 bytes)
                \(Hex.tcpSYN)

                """,
            expect: Expect(ipVersion: 6, ipProtocol: 6, ports: (40000, 80))),
        Row(
            name: "ipv6 later fragment",
            hex: Hex.ethIPv6 + """
                6000 0000  0018 2c40   # IPv6: payload length 24, next header 44 (fragment)
                \(Hex.ipv6Addresses)
                1100 00b9 0000 abcd    # fragment: next UDP, offset 23 (184 bytes), M 1, id 0xabcd
                6869 6869 6869 6869 6869 6869 6869 6869

                """,
            expect: Expect(
                ipVersion: 6, ipProtocol: 17, hasPorts: false, payloadLength: 16, fragment: (0xabcd, 23, true))),
        Row(
            name: "ipv6 esp",
            hex: Hex.ethIPv6 + """
                6000 0000  0010 3240   # IPv6: payload length 16, next header 50 (ESP)
                \(Hex.ipv6Addresses)
                0000 0100 0000 0001 6869 6869 6869 6869   # ESP: SPI, sequence, encrypted

                """,
            expect: Expect(ipVersion: 6, ipProtocol: 50, hasPorts: false)),
        Row(
            name: "ipv4/unknown protocol 253 (no anomaly)",
            hex: Hex.ethIPv4 + """
                4500 0018  0001 0000  40fd 0000   # IPv4: total 24, protocol 253 (experimental)
                0a00 0001  0a00 0002
                6869 6869

                """,
            expect: Expect(ipVersion: 4, ipProtocol: 253, hasPorts: false, payloadLength: 4)),
        Row(name: "ipv4/icmp echo", hex: Hex.ethIPv4 + Hex.ipv4ICMPEcho, expect: Expect(icmp: (8, 0, 0x1234))),
        Row(
            name: "ipv4/icmp port unreachable quoting udp",
            hex: Hex.ethIPv4 + """
                4500 0038  0004 0000  4001 0000   # IPv4: total 56, ICMP
                0a00 0002  0a00 0001              #   10.0.0.2 > 10.0.0.1
                0303 0000  0000 0000              # ICMP: destination unreachable, port (3/3)
                4500 0024  0002 0000  4011 0000   #   quoted IPv4: UDP
                0a00 0001  0a00 0002              #     10.0.0.1 > 10.0.0.2
                d431 0035  0010 0000              #   quoted UDP: 54321 > 53

                """,
            expect: Expect(
                source: "10.0.0.2", ipProtocol: 1, hasPorts: false, icmp: (3, 3, 0),
                quoted: ("10.0.0.1", "10.0.0.2", 17, 54321, 53))),
        Row(
            name: "ipv4/icmp host unreachable quoting an echo request (identifier as both ports)",
            hex: Hex.ethIPv4 + """
                4500 0038  0005 0000  4001 0000   # IPv4: total 56, ICMP
                0a00 0002  0a00 0001              #   10.0.0.2 > 10.0.0.1
                0301 0000  0000 0000              # ICMP: destination unreachable, host (3/1)
                4500 0054  0003 0000  4001 0000   #   quoted IPv4: ICMP
                0a00 0001  0a00 0009              #     10.0.0.1 > 10.0.0.9
                0800 0000  1234 0001              #   quoted ICMP: echo request, id 0x1234, seq 1

                """,
            expect: Expect(
                source: "10.0.0.2", ipProtocol: 1, hasPorts: false, icmp: (3, 1, 0),
                quoted: ("10.0.0.1", "10.0.0.9", 1, 0x1234, 0x1234))),
        Row(
            name: "ipv6/icmpv6 echo",
            hex: Hex.ethIPv6 + """
                6000 0000  0008 3a40   # IPv6: payload length 8, next header 58 (ICMPv6)
                \(Hex.ipv6Addresses)
                8000 0000  abcd 0001   # ICMPv6: echo request (128/0), id 0xabcd, seq 1

                """,
            expect: Expect(ipVersion: 6, ipProtocol: 58, icmp: (128, 0, 0xabcd))),
        Row(
            name: "ipv6/icmpv6 port unreachable quoting ipv6/udp",
            hex: Hex.ethIPv6 + """
                6000 0000  0038 3a40   # IPv6: payload length 56, ICMPv6
                \(Hex.ipv6Addresses)
                0104 0000  0000 0000   # ICMPv6: destination unreachable, port (1/4)
                6000 0000  0010 1140   #   quoted IPv6: payload length 16, UDP
                2001 0db8 0000 0000 0000 0000 0000 0002
                2001 0db8 0000 0000 0000 0000 0000 0001
                d431 0035  0010 0000   #   quoted UDP: 54321 > 53

                """,
            expect: Expect(
                ipVersion: 6, icmp: (1, 4, 0), quoted: ("2001:db8::2", "2001:db8::1", 17, 54321, 53))),
        Row(
            name: "ipv4/sctp",
            hex: Hex.ethIPv4 + """
                4500 0028  0001 0000  4084 0000   # IPv4: total 40, protocol 132 (SCTP)
                0a00 0001  0a00 0002
                0007 0007  0000 0000  0000 0000   # SCTP: 7 > 7, verification tag 0, checksum
                0100 0008  0000 0000              #   a chunk

                """,
            expect: Expect(ipProtocol: 132, ports: (7, 7), payloadLength: 8)),
        Row(
            name: "ipv4 BIG TCP (total length 0)/tcp",
            hex: Hex.ethIPv4 + """
                4500 0000  0001 0000  4006 0000   # IPv4: total length 0 (length comes from the frame)
                0a00 0001  0a00 0002
                \(Hex.tcpSYN)
                6869 6869                         #   TCP payload

                """,
            expect: Expect(ipVersion: 4, ports: (40000, 80), payloadLength: 4)),
        Row(
            name: "ipv6 jumbogram (hop-by-hop jumbo payload)/tcp",
            hex: Hex.ethIPv6 + """
                6000 0000  0000 0040   # IPv6: payload length 0, next header hop-by-hop
                \(Hex.ipv6Addresses)
                0600 c204 0000 0034    # hop-by-hop: next TCP, Jumbo Payload option, length 52
                \(Hex.tcpSYN)
                6869 6869 6869 6869 6869 6869 6869 6869 6869 6869 6869 6869   # 24 bytes of payload
                6969 6969 6969 6969 6969 6969 6969 6969                       # 16 bytes past it (not counted)

                """,
            expect: Expect(ipVersion: 6, ports: (40000, 80), payloadLength: 24)),
        Row(
            name: "vxlan 4789/ethernet/ipv4/tcp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "005a", proto: "11") + """
                c000 12b5  0046 0000   # UDP: 49152 > 4789, length 70
                0800 0000  0000 7b00   # VXLAN: I flag, VNI 123

                """ + Hex.ethIPv4 + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(
                ipVersion: 4, source: "10.0.0.1", destination: "10.0.0.2", ipProtocol: 6, ports: (40000, 80),
                tunnel: .vxlan, tunnelDepth: 1, tunnelSource: "192.168.0.1", vni: 123)),
        Row(
            name: "vxlan 8472/ethernet/ipv4/tcp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "005a", proto: "11") + """
                c000 2118  0046 0000   # UDP: 49152 > 8472 (Linux/Cilium VXLAN), length 70
                0800 0000  0000 4200   # VXLAN: I flag, VNI 66

                """ + Hex.ethIPv4 + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(ports: (40000, 80), tunnel: .vxlan, tunnelDepth: 1, vni: 66)),
        Row(
            name: "vxlan/ethernet/arp keeps the outer flow",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "004e", proto: "11") + """
                c000 12b5  003a 0000   # UDP: 49152 > 4789, length 58
                0800 0000  0000 7b00   # VXLAN: VNI 123
                ffff ffff ffff  0200 0000 0001  0806   # inner Ethernet: broadcast, type ARP
                0001 0800 0604 0001  0200 0000 0001  0a00 0001  0000 0000 0000  0a00 0002   # ARP request

                """,
            expect: Expect(
                anomaly: .ethernetUnknownEtherType, ipVersion: 4, source: "192.168.0.1", ipProtocol: 17,
                ports: (49152, 4789), tunnel: TunnelKind.none, tunnelDepth: 0, vni: 0)),
        Row(
            name: "vxlan without the I flag stays udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0024", proto: "11") + """
                c000 12b5  0010 0000   # UDP: 49152 > 4789, length 16
                0000 0000  0000 7b00   # not VXLAN: I flag clear

                """,
            expect: Expect(anomaly: nil, ports: (49152, 4789), tunnel: TunnelKind.none)),
        Row(
            name: "geneve with an option/ipv4/tcp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0054", proto: "11") + """
                c000 17c1  0040 0000   # UDP: 49152 > 6081 (Geneve), length 64
                0200 0800  0000 0a00   # Geneve: version 0, options 2 words, protocol IPv4, VNI 10
                0101 0101  0000 0000   #   option: class 0x0101, type 1, length 1 word

                """ + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(ports: (40000, 80), tunnel: .geneve, tunnelDepth: 1, tunnelSource: "192.168.0.1", vni: 10)),
        Row(
            name: "geneve/ethernet/ipv6/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "006a", proto: "11") + """
                c000 17c1  0056 0000   # UDP: 49152 > 6081, length 86
                0000 6558  0000 0b00   # Geneve: no options, protocol 0x6558 (Ethernet), VNI 11

                """ + Hex.ethIPv6 + Hex.ipv6UDP,
            expect: Expect(ipVersion: 6, ports: (54321, 53), tunnel: .geneve, vni: 11)),
        Row(
            name: "gre/ipv4/icmp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0034", proto: "2f") + """
                0000 0800              # GRE: version 0, no options, protocol IPv4

                """ + Hex.ipv4ICMPEcho,
            expect: Expect(
                source: "10.0.0.1", ipProtocol: 1, icmp: (8, 0, 0x1234), tunnel: .gre, tunnelDepth: 1,
                tunnelSource: "192.168.0.1")),
        Row(
            name: "gre checksum+key+sequence/ipv4/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0048", proto: "2f") + """
                b000 0800              # GRE: C K S, version 0, protocol IPv4
                0000 0000              #   checksum, reserved
                0000 0001  0000 0002   #   key 1, sequence 2

                """ + Hex.ipv4UDP,
            expect: Expect(ports: (54321, 53), tunnel: .gre)),
        Row(
            name: "gre transparent ethernet bridging/ipv4/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "004a", proto: "2f") + """
                0000 6558              # GRE: protocol 0x6558 (transparent Ethernet bridging)

                """ + Hex.ethIPv4 + Hex.ipv4UDP,
            expect: Expect(ports: (54321, 53), tunnel: .gre)),
        Row(
            name: "pptp enhanced gre/ppp/ipv4/icmp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0040", proto: "2f") + """
                3001 880b              # GRE: K S, version 1, protocol PPP
                0020 0001  0000 0005   #   payload length 32, call ID 1, sequence 5
                ff03 0021              # PPP: address, control, protocol IPv4

                """ + Hex.ipv4ICMPEcho,
            expect: Expect(ipProtocol: 1, icmp: (8, 0, 0x1234), tunnel: .gre, tunnelDepth: 1)),
        Row(
            name: "pptp enhanced gre acknowledgement only",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0020", proto: "2f") + """
                2081 880b              # GRE: K A, version 1, protocol PPP
                0000 0001  0000 0007   #   payload length 0, call ID 1, acknowledgement 7

                """,
            expect: Expect(ipProtocol: 47, hasPorts: false, tunnel: TunnelKind.none, tunnelDepth: 0)),
        Row(
            name: "pptp enhanced gre/ppp lcp keeps the outer flow",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0028", proto: "2f") + """
                3001 880b  0008 0001  0000 0001   # GRE: K S, version 1, PPP, payload length 8
                ff03 c021  0101 0004              # PPP: LCP configure-request

                """,
            expect: Expect(
                anomaly: .pppUnsupportedProtocol, source: "192.168.0.1", ipProtocol: 47,
                tunnel: TunnelKind.none, tunnelDepth: 0)),
        Row(
            name: "gre/erspan II/ethernet/ipv4/icmp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "004e", proto: "2f") + """
                1000 88be  0000 0001   # GRE: S, protocol ERSPAN (0x88be), sequence 1
                1064 0001  0000 0000   # ERSPAN II: version 1, VLAN 100, session 1, index 0

                """ + Hex.ethIPv4 + Hex.ipv4ICMPEcho,
            expect: Expect(icmp: (8, 0, 0x1234), tunnel: .gre, tunnelDepth: 1)),
        Row(
            name: "gre/erspan I (no sequence, no header)/ethernet/ipv4/icmp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0042", proto: "2f") + """
                0000 88be              # GRE: protocol ERSPAN, no sequence: type I

                """ + Hex.ethIPv4 + Hex.ipv4ICMPEcho,
            expect: Expect(icmp: (8, 0, 0x1234), tunnel: .gre)),
        Row(
            name: "gre/erspan III with subheader/ethernet/ipv4/icmp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0056", proto: "2f") + """
                0000 22eb              # GRE: protocol ERSPAN III (0x22eb)
                2064 0001              # ERSPAN III: version 2, VLAN 100, session 1
                0000 0000              #   timestamp
                0000 0001              #   SGT 0, ..., O 1 (platform subheader follows)
                0000 0000 0000 0000    #   platform-specific subheader

                """ + Hex.ethIPv4 + Hex.ipv4ICMPEcho,
            expect: Expect(icmp: (8, 0, 0x1234), tunnel: .gre)),
        Row(
            name: "gre in gre/ipv4/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0054", proto: "2f") + """
                0000 0800              # GRE: IPv4
                4500 003c  0001 0000  402f 0000  ac10 0001  ac10 0002   # middle IPv4 172.16.0.1 > .2: GRE
                0000 0800              # GRE: IPv4

                """ + Hex.ipv4UDP,
            expect: Expect(
                source: "10.0.0.1", ports: (54321, 53), tunnel: .gre, tunnelDepth: 2, tunnelSource: "192.168.0.1")),
        Row(
            name: "ipv4 in ipv4/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "0038", proto: "04") + Hex.ipv4UDP,
            expect: Expect(ipVersion: 4, ports: (54321, 53), tunnel: .ipip, tunnelDepth: 1, tunnelSource: "192.168.0.1")),
        Row(
            name: "ipv6 in ipv4/udp",
            hex: Hex.ethIPv4 + Hex.outerIPv4(total: "004c", proto: "29") + Hex.ipv6UDP,
            expect: Expect(ipVersion: 6, source: "2001:db8::1", ports: (54321, 53), tunnel: .ipip, tunnelDepth: 1)),
        Row(
            name: "ipv4 in ipv6/tcp",
            hex: Hex.ethIPv6 + """
                6000 0000  0028 0440   # IPv6: payload length 40, next header 4 (IPv4)
                \(Hex.ipv6Addresses)

                """ + Hex.ipv4TCP + Hex.tcpSYN,
            expect: Expect(
                ipVersion: 4, source: "10.0.0.1", ports: (40000, 80), tunnel: .ipip, tunnelSource: "2001:db8::1")),
    ]
}
