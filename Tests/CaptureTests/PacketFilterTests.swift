import FlowCore
import Testing

@testable import Capture

@Suite struct PacketFilterTests {
    func count(_ expression: String, in name: String) throws -> (matches: Int, filter: PacketFilter) {
        let filter = try PacketFilter(expression: expression)
        let reader = try CaptureFileReader(path: corpusPath(name))
        var matches = 0
        while let packet = try reader.next() {
            if filter.matches(packet) { matches += 1 }
        }
        return (matches, filter)
    }

    /// Counts checked by hand with tcpdump 4.99 / libpcap 1.10.3:
    /// `tcpdump -r FILE --count 'EXPRESSION'`.
    @Test(arguments: [
        ("eth-mixed-realworld-4709pkts.pcap", "tcp port 80", 3252),
        ("eth-mixed-realworld-4709pkts.pcap", "udp", 269),
        ("raw101-ipv4-ipv6-mixed.pcap", "tcp port 80", 91),
        ("raw101-ipv4-ipv6-mixed.pcap", "udp", 8),
        ("sll-mixed-tcp-udp-arp-518pkts.pcap", "tcp port 80", 483),
        ("sll-mixed-tcp-udp-arp-518pkts.pcap", "udp", 28),
        ("pcapng-2-interfaces-dns.pcapng", "udp", 6),
    ])
    func matchesAsManyPacketsAsTcpdump(file: String, expression: String, expected: Int) throws {
        let (matches, filter) = try count(expression, in: file)
        #expect(matches == expected)
        #expect(filter.notices.isEmpty)
    }

    @Test func eachLinkTypeOfAMixedFileGetsItsOwnProgram() throws {
        // 62 Ethernet packets and 2 NULL (loopback) packets; all are IPv4 or IPv6.
        let (all, _) = try count("ip or ip6", in: "pcapng-11-interfaces-ether-null-raw.pcapng")
        #expect(all == 64)
    }

    @Test func aBadExpressionFailsAtInit() {
        do {
            _ = try PacketFilter(expression: "tcp prt 80")
            Issue.record("expected an error")
        } catch {
            #expect(error.kind == .badFilter)
            #expect(error.description == "invalid filter expression 'tcp prt 80': can't parse filter expression: syntax error")
        }
    }

    @Test func anExpressionThatDoesNotApplyToALinkTypeMatchesNothingThereWithOneNotice() throws {
        let (matches, filter) = try count("ether host 01:02:03:04:05:06 or tcp", in: "raw101-ipv4-ipv6-mixed.pcap")
        #expect(matches == 0)
        #expect(filter.notices.count == 1)
        #expect(
            filter.notices.first?.hasPrefix(
                "filter 'ether host 01:02:03:04:05:06 or tcp' cannot apply to link type RAW (101): ") == true,
            "\(filter.notices)")
    }

    /// `inbound` is recorded by Linux cooked headers (a capture on `any`), not by Ethernet:
    /// there libpcap compiles it into a load only the kernel's socket filter can run, so it is
    /// refused (a notice, no packet), as tcpdump refuses it reading a file; on a cooked capture
    /// it splits the packets as tcpdump does (`tcpdump -r FILE --count inbound`: 351 of 518).
    @Test func aDirectionFilterAppliesWhereTheDirectionIsRecorded() throws {
        let (ethernet, onEthernet) = try count("inbound", in: "eth-mixed-realworld-4709pkts.pcap")
        #expect(ethernet == 0)
        #expect(onEthernet.notices == [
            "filter 'inbound' cannot apply to link type EN10MB (1): inbound, outbound and ifindex need a link type that records them (Linux cooked, as captured on 'any'); its packets do not match",
        ])
        let (cooked, onCooked) = try count("inbound", in: "sll-mixed-tcp-udp-arp-518pkts.pcap")
        #expect(cooked == 351)
        #expect(onCooked.notices.isEmpty)
        let (outbound, _) = try count("outbound", in: "sll-mixed-tcp-udp-arp-518pkts.pcap")
        #expect(cooked + outbound == 518)
    }

    /// The eBPF datapath's packets (Ethernet, with their interface and direction beside them)
    /// are judged framed as on `any`: direction, interface index and the headers behind.
    @Test func aPacketWithItsDirectionBesideItIsJudgedAsOnAny() throws {
        // An Ethernet frame carrying IPv4/UDP 10.0.0.1:1234 > 10.0.0.2:53.
        var frame: [UInt8] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00]
        frame += [0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2]
        frame += [0x04, 0xd2, 0, 53, 0, 8, 0, 0]
        func judged(_ expression: String, interface: UInt32, outbound: Bool) throws -> Bool {
            let filter = try PacketFilter(expression: expression)
            return frame.withUnsafeBytes { bytes in
                filter.matchesCooked(CapturedPacket(linkType: 1, interfaceIndex: 0, time: .zero, originalLength: UInt32(frame.count),
                                                    bytes: PacketBytes(bytes)), interfaceIndex: interface, outbound: outbound)
            }
        }
        #expect(try judged("inbound and udp dst port 53", interface: 7, outbound: false))
        #expect(try !judged("inbound", interface: 7, outbound: true))
        #expect(try judged("outbound and host 10.0.0.2", interface: 7, outbound: true))
        #expect(try judged("ifindex 7 and src host 10.0.0.1", interface: 7, outbound: false))
        #expect(try !judged("ifindex 8", interface: 7, outbound: false))
        #expect(try !judged("tcp", interface: 7, outbound: false))
    }

    @Test func linkTypeNamesComeFromLibpcap() {
        #expect(linkTypeName(274) == "ETHERNET_MPACKET")
        #expect(linkTypeName(1) == "EN10MB")
        #expect(linkTypeName(101) == "RAW")
        #expect(linkTypeName(276) == "LINUX_SLL2")
        #expect(linkTypeName(60000) == "LINKTYPE_60000")
    }
}
