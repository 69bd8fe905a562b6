import FlowCore
import Testing

/// FlowCore's address vocabulary: the one RFC 5952 writer, prefix masking, containment and
/// the CIDR parser whose messages policy files and alert settings report.
@Suite struct IPPrefixTests {
    private func prefix(_ text: String) -> IPPrefix? { try? IPPrefix.parse(text, allowBareAddress: true).get() }

    @Test func writerMatchesText() {
        for text in ["10.0.0.1", "0.0.0.0", "255.255.255.255", "fd00:10:244::1:5", "::", "::1", "2001:db8::", "1:2:3:4:5:6:7:8",
                     "1:0:0:2::3", "fe80::1:0:0:1", "2001:db8:0:1:1:1:1:1", "0:1::", "a:0:b:0:c:0:d:0"] {
            let address = try! #require(IPAddress(text: text))
            var bytes: [UInt8] = []
            address.writeText { bytes.append($0) }
            #expect(String(decoding: bytes, as: UTF8.self) == text)
            #expect(address.text == text)
        }
        var mapped: [UInt8] = []
        IPAddress(ipv4: 0x0a01_0203).writeText(mappedAsIPv6: true) { mapped.append($0) }
        #expect(String(decoding: mapped, as: UTF8.self) == "::ffff:10.1.2.3")
    }

    @Test func maskingAndContainment() {
        #expect(prefix("10.1.2.3/8")?.masked.description == "10.0.0.0/8")
        #expect(prefix("fd00::1:2/112")?.masked.description == "fd00::1:0/112")
        #expect(prefix("10.1.2.3")?.description == "10.1.2.3/32")
        #expect(prefix("10.255.1.1/9")?.masked.address.text == "10.128.0.0")
        let tenSlash8 = prefix("10.0.0.0/8")!
        #expect(tenSlash8.contains(IPAddress(ipv4: 0x0aff_0001)))
        #expect(!tenSlash8.contains(IPAddress(ipv4: 0x0b00_0001)))
        #expect(!tenSlash8.contains(IPAddress(text: "a00::1")!))
        #expect(prefix("0.0.0.0/0")!.contains(IPAddress(ipv4: 1)) && !prefix("0.0.0.0/0")!.contains(IPAddress(text: "fd00::1")!))
        // Over the 128-bit form, as the detectors always compared: ::/0 covers IPv4 addresses too.
        #expect(prefix("::/0")!.contains(IPAddress(ipv4: 1)))
        #expect(tenSlash8.contains(prefix("10.2.0.0/16")!) && !prefix("10.2.0.0/16")!.contains(tenSlash8))
        #expect(IPPrefix(host: IPAddress(ipv4: 0x0a00_0001)) == prefix("10.0.0.1/32") && IPPrefix(host: IPAddress(text: "fd00::1")!).length == 128)
        #expect(prefix("10.0.0.1/32")!.isHost && prefix("fd00::1/128")!.isHost && !prefix("fd00::/127")!.isHost && !tenSlash8.isHost)
        #expect(!prefix("::/0")!.contains(tenSlash8))
    }

    @Test func parseMessages() {
        func message(_ text: String, bare: Bool = false) -> String? {
            if case .failure(let error) = IPPrefix.parse(text, allowBareAddress: bare) { return error.message }
            return nil
        }
        #expect(message("10.0.0.1") == "invalid CIDR '10.0.0.1': missing '/prefix-length'")
        #expect(message("10.0.0.1", bare: true) == nil)
        #expect(message("10.0.0/8") == "invalid CIDR '10.0.0/8': '10.0.0' is not an IPv4 or IPv6 address")
        #expect(message("fe80::1%eth0/64") == "invalid CIDR 'fe80::1%eth0/64': 'fe80::1%eth0' is not an IPv4 or IPv6 address")
        #expect(message("10.0.0.0/08") == "invalid CIDR '10.0.0.0/08': prefix length '08' is not a number")
        #expect(message("10.0.0.0/") == "invalid CIDR '10.0.0.0/': prefix length '' is not a number")
        #expect(message("10.0.0.0/33") == "invalid CIDR '10.0.0.0/33': prefix length 33 is out of range 0-32")
        #expect(message("fd00::/129") == "invalid CIDR 'fd00::/129': prefix length 129 is out of range 0-128")
        #expect(message("::ffff:10.0.0.0/104")
                == "invalid CIDR '::ffff:10.0.0.0/104': IPv4-mapped IPv6 addresses are not supported; write the IPv4 form")
        #expect(message("10.0.0.0/0") == nil && message("::/0") == nil)
    }
}
