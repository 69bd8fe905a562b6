import L7
import Testing

/// The measures DNS tunnelling detection takes of a query name: the registered domain, the
/// longest label left of it, its Shannon entropy (checked against values computed by hand and
/// with Python's `math.log2`), and the hash that counts it.
struct DNSNameShapeTests {
    @Test(arguments: [
        // (name, length, longest label left of the registered domain, entropy in millibits)
        ("example.com", 11, 0, 0),  // no label left of the registered domain
        ("com", 3, 0, 0),
        ("", 0, 0, 0),
        ("www.example.com.", 15, 3, 0),  // trailing dot ignored; "www": one symbol, no entropy
        ("ab.example.com", 14, 2, 1000),  // two symbols, equally often: 1 bit
        ("a.b.example.co.uk", 17, 1, 0),  // co.uk: the registered domain is example.co.uk
        ("x.example.com.au", 16, 1, 0),
        ("abcdefghijklmnopqrstuvwxyz012345.t.example.net", 46, 32, 5000),  // 32 distinct symbols: 5 bits
        // From Captures/alerts/dns-tunneling.pcap (generate.py: SHA-256 of "chunk-0", base32).
        ("gq6xp63nynaynfpwck3ld6u6xrxqale5dbattkzhxtqm4rz5br.tunnel.example.net", 69, 50, 4488),
        ("internal-k8s-shop-ingress-8a9f8e7d6c-1234567890.eu-west-1.elb.amazonaws.com", 75, 47, 4509),
    ] as [(String, Int, Int, Int)])
    func measures(name: String, length: Int, longest: Int, entropy: Int) {
        let shape = DNSNameShape(name)
        #expect(shape.length == length)
        #expect(shape.longestLabel == longest)
        #expect(shape.entropyMillibits == entropy)
    }

    /// The search-path expansions of one name share its longest label, so they count once;
    /// another chunk of a tunnel is another label.
    @Test func searchPathExpansionsShareTheLabelHash() {
        let label = "gq6xp63nynaynfpwck3ld6u6xrxqale5dbattkzhxtqm4rz5br"
        let plain = DNSNameShape("\(label).tunnel.example.net")
        let expanded = DNSNameShape("\(label).tunnel.example.net.shop.svc.cluster.local")
        #expect(plain.labelHash == expanded.labelHash)
        #expect(DNSNameShape("\(label.uppercased()).tunnel.example.net").labelHash == plain.labelHash)
        #expect(DNSNameShape("a\(label.dropFirst()).tunnel.example.net").labelHash != plain.labelHash)
    }

    /// Any bytes measure without trapping (lengths, dots only, a lone dot, 1,000 characters).
    @Test func oddNamesMeasure() {
        for name in [".", "..", "...", "a..b.c", String(repeating: "a", count: 1000), String(repeating: ".", count: 300),
                     "\\000.\\255.example.com"] {
            let shape = DNSNameShape(name)
            #expect(shape.length <= name.utf8.count)
            #expect(shape.entropyMillibits <= 8000)
        }
    }
}
