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

    @Test func linkTypeNamesComeFromLibpcap() {
        #expect(linkTypeName(274) == "ETHERNET_MPACKET")
        #expect(linkTypeName(1) == "EN10MB")
        #expect(linkTypeName(101) == "RAW")
        #expect(linkTypeName(276) == "LINUX_SLL2")
        #expect(linkTypeName(60000) == "LINKTYPE_60000")
    }
}
