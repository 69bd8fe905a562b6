import Foundation
import Testing

/// Cilium policies with L7 sections through the built `flowmon` (release too, in `scripts/test`).
/// The release build crashed with SIGSEGV on every one of these: the loader validated the L7
/// lists with a discarded `Array(collection)`, which Swift 6.3.1's optimizer frees before filling
/// (docs/compiler-defects). Debug builds were right, so only the release binary can fail here.
@Suite struct PolicyL7CheckTests {
    /// One `toPorts` item with each L7 section Cilium defines (v2 CRD `rules`), several items each.
    static let sections: [(name: String, rules: String)] = [
        ("dns", #"{dns: [{matchPattern: "*"}, {matchName: "api.example.com"}]}"#),
        ("http", #"{http: [{method: GET, path: "/v1/.*"}, {method: POST, path: "/login", headers: ["X-Token: 1"]}]}"#),
        ("kafka", #"{kafka: [{role: produce, topic: orders}, {apiKey: fetch, topic: events}]}"#),
        ("l7proto", #"{l7proto: envoy.filters.network.dubbo, l7: [{method: get}, {method: put}]}"#),
    ]

    static func policy(_ name: String, rules: String, ingress: Bool) -> String {
        let direction = ingress ? "ingress: [{fromEndpoints: [{}], " : "egress: [{toEndpoints: [{}], "
        return """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: l7-\(name), namespace: acme}
        spec:
          endpointSelector: {matchLabels: {app: web}}
          \(direction)toPorts: [{ports: [{port: "80", protocol: TCP}], rules: \(rules)}]}]
        ---

        """
    }

    @Test("policy check accepts every L7 section, as Cilium does", arguments: Self.sections.map(\.name))
    func checkAcceptsL7Section(_ name: String) throws {
        let rules = try #require(Self.sections.first { $0.name == name }).rules
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("l7-\(name).yaml")
        // DNS rules are egress only ("DNS rules are not allowed on ingress", Cilium's PortRule sanitize).
        try (Self.policy(name + "-in", rules: rules, ingress: name != "dns") + Self.policy(name + "-out", rules: rules, ingress: false))
            .write(to: file, atomically: true, encoding: .utf8)
        // The crash corrupted the heap and showed at a later release: run a few times.
        for _ in 0..<3 {
            let check = try run(Fixture.flowmonBinary, ["policy", "check", file.path])
            #expect(check.status == 0, "exit \(check.status): \(check.stderr.prefix(400))")
            #expect(check.stdout.hasSuffix("2 policies valid\n"), "\(check.stdout)")
        }
    }

    @Test("replay with every L7 section loaded judges connections and exits 0")
    func replayWithL7Policies() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("l7.yaml")
        try Self.sections.map { Self.policy($0.name, rules: $0.rules, ingress: $0.name != "dns") }.joined()
            .write(to: file, atomically: true, encoding: .utf8)
        let demo = Fixture.captures.appendingPathComponent("demo")
        let replay = try run(Fixture.flowmonBinary, [
            "replay", demo.appendingPathComponent("demo-cluster.pcap").path,
            "--pods", demo.appendingPathComponent("demo-cluster.pods.json").path,
            "--policies", file.path, "--format", "json", "--no-summary",
        ])
        #expect(replay.status == 0, "exit \(replay.status): \(replay.stderr.prefix(400))")
        #expect(replay.stdout.split(separator: "\n").count >= 120)
    }
}

extension PolicyL7CheckTests {
    /// `policy explain` names the L7 rules of the map entry that allowed a connection.
    @Test func explainShowsTheEntrysL7Rules() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("dns.yaml")
        try """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: dns-names, namespace: payments}
            spec:
              endpointSelector: {}
              egress:
              - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: kube-system, k8s-app: kube-dns}}]
                toPorts:
                - ports: [{port: "53", protocol: ANY}]
                  rules: {dns: [{matchPattern: "*.svc.cluster.local"}, {matchName: api.example.com}]}
            """.write(to: file, atomically: true, encoding: .utf8)
        let demo = Fixture.captures.appendingPathComponent("demo")
        let arguments = ["policy", "explain", "--from", "payments/users-5gprmhlzbs-p75jg", "--to", "10.244.0.2", "--port", "53/udp",
                         "--pods", demo.appendingPathComponent("demo-cluster.pods.json").path, "--node-name", "kind-worker-0",
                         "--policies", file.path]
        let text = try run(Fixture.flowmonBinary, arguments)
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains(", with L7 rules [dns matchPattern: *.svc.cluster.local; dns matchName: api.example.com] judging each request, from CiliumNetworkPolicy payments/dns-names"),
                "\(text.stdout)")
        let json = try run(Fixture.flowmonBinary, arguments + ["--json"])
        let object = try #require((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any])
        let egress = try #require(object["egress"] as? [String: Any])
        #expect(egress["l7_rules"] as? [String] == ["dns matchPattern: *.svc.cluster.local", "dns matchName: api.example.com"])
    }
}

/// `policy explain --to-fqdn NAME [--dns-log FILE]`: the destination is a DNS name, judged with the
/// `toFQDNs` selectors matching it, over the L7 capture's policy (shop/frontend-egress).
extension PolicyL7CheckTests {
    static func explainFQDN(_ extra: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let l7 = Fixture.captures.appendingPathComponent("l7")
        return try run(Fixture.flowmonBinary, ["policy", "explain", "--from", "shop/frontend-1"] + extra + [
            "--pods", l7.appendingPathComponent("l7.pods.json").path, "--node-name", "kind-worker-0",
            "--policies", l7.appendingPathComponent("l7.policies.yaml").path])
    }

    static let dnsLog = Fixture.captures.appendingPathComponent("l7/l7-egress.expected.jsonl").path

    /// name, port, the selectors matching the name, the map entry that allowed it (nil: dropped).
    static let fqdnCases: [(name: String, port: String, selectors: String, entry: String?)] = [
        ("api.example.test", "443", "matchPattern: *.example.test, matchName: api.example.test",
         "allow FQDN selector matchName: api.example.test, TCP, port 443"),
        ("API.Example.Test.", "80", "matchPattern: *.example.test, matchName: api.example.test",
         "allow FQDN selector matchPattern: *.example.test, TCP, port 80"),
        ("blocked.example.net", "80", "none", nil),
        ("www.example.test", "80", "matchPattern: *.example.test", "allow FQDN selector matchPattern: *.example.test, TCP, port 80"),
        ("www.example.test", "443", "matchPattern: *.example.test", nil),
    ]

    @Test("explain --to-fqdn judges the name with the toFQDNs selectors it matches", arguments: Self.fqdnCases.indices)
    func explainToFQDN(_ index: Int) throws {
        let item = Self.fqdnCases[index]
        let text = try Self.explainFQDN(["--to-fqdn", item.name, "--port", item.port])
        #expect(text.status == 0, "\(text.stderr)")
        let name = item.name.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "."))
        #expect(text.stdout.contains("to    \(name) (address unknown: judged at 0.0.0.0, identity 2 [reserved:world"), "\(text.stdout)")
        #expect(text.stdout.contains("      toFQDNs selectors matching \(name): \(item.selectors)\n"), "\(text.stdout)")
        if let entry = item.entry {
            #expect(text.stdout.contains("egress  at shop/frontend-1: allowed by map entry [\(entry)]"), "\(text.stdout)")
            #expect(text.stdout.contains("from CiliumNetworkPolicy shop/frontend-egress"), "\(text.stdout)")
            #expect(text.stdout.hasSuffix("verdict: FORWARDED\n"), "\(text.stdout)")
        } else {
            #expect(text.stdout.contains("egress  at shop/frontend-1: would be dropped: POLICY_DENIED"), "\(text.stdout)")
            #expect(text.stdout.hasSuffix("verdict: AUDIT\n"), "\(text.stdout)")
        }
        let json = try Self.explainFQDN(["--to-fqdn", item.name, "--port", item.port, "--json"])
        let object = try #require((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any], "\(json.stderr)")
        let fqdn = try #require(object["fqdn"] as? [String: Any])
        #expect(fqdn["name"] as? String == name)
        #expect(fqdn["selectors"] as? [String] == (item.selectors == "none" ? [] : item.selectors.components(separatedBy: ", ")))
        #expect(fqdn["address_known"] as? Bool == false)
        #expect((object["egress"] as? [String: Any])?["map_entry"] as? String == item.entry)
        #expect(object["verdict"] as? String == (item.entry == nil ? "AUDIT" : "FORWARDED"))
    }

    @Test("explain --to-fqdn with --to judges the name at that address")
    func explainToFQDNAtAddress() throws {
        let text = try Self.explainFQDN(["--to-fqdn", "www.example.test", "--to", "203.0.113.10", "--port", "80"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("to    www.example.test at 203.0.113.10, identity "), "\(text.stdout)")
        #expect(text.stdout.hasSuffix("verdict: FORWARDED\n"), "\(text.stdout)")
        // The same address without the name: no toFQDNs selector applies.
        let plain = try Self.explainFQDN(["--to", "203.0.113.10", "--port", "80"])
        #expect(plain.stdout.hasSuffix("verdict: AUDIT\n"), "\(plain.stdout)")
    }

    @Test("explain --to-fqdn --dns-log explains each address the DNS log learned for the name")
    func explainToFQDNLearned() throws {
        let text = try Self.explainFQDN(["--to-fqdn", "www.example.test", "--port", "80", "--dns-log", Self.dnsLog])
        #expect(text.status == 0, "\(text.stderr)")
        // www.example.test is a CNAME of api.example.test: its answers' addresses are the name's.
        #expect(text.stdout.hasPrefix("addresses learned for www.example.test in \(Self.dnsLog): 203.0.113.10, 2001:db8::10\n"),
                "\(text.stdout)")
        // frontend-1 has only an IPv4 address: the IPv4 one is explained.
        #expect(text.stdout.contains("to    www.example.test at 203.0.113.10, identity "), "\(text.stdout)")
        #expect(!text.stdout.contains("at 2001:db8::10"), "\(text.stdout)")
        #expect(text.stdout.contains("allowed by map entry [allow FQDN selector matchPattern: *.example.test, TCP, port 80]"), "\(text.stdout)")

        let json = try Self.explainFQDN(["--to-fqdn", "blocked.example.net", "--port", "80", "--dns-log", Self.dnsLog, "--json"])
        let array = try #require((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [[String: Any]], "\(json.stderr)")
        #expect(array.count == 1)
        let first = try #require(array.first)
        #expect((first["to"] as? [String: Any])?["ip"] as? String == "198.51.100.7")
        #expect((first["fqdn"] as? [String: Any])?["learned_addresses"] as? [String] == ["198.51.100.7"])
        #expect((first["fqdn"] as? [String: Any])?["address_known"] as? Bool == true)
        #expect(first["verdict"] as? String == "AUDIT")

        // A name the log never resolved: judged as unknown, and said so.
        let unknown = try Self.explainFQDN(["--to-fqdn", "other.example.net", "--port", "80", "--dns-log", Self.dnsLog])
        #expect(unknown.stdout.hasPrefix("no address learned for other.example.net in \(Self.dnsLog)\n"), "\(unknown.stdout)")
        #expect(unknown.stdout.contains("(address unknown: judged at 0.0.0.0"), "\(unknown.stdout)")
    }

    @Test("explain --dns-log reports a bad line by file and line")
    func explainDNSLogBadLine() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.jsonl")
        try "{\"event_type\":\"dns\",\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try Self.explainFQDN(["--to-fqdn", "a.example.test", "--port", "80", "--dns-log", file.path])
        #expect(result.status != 0)
        #expect(result.stderr.contains("\(file.path):1: "), "\(result.stderr)")
        let missing = try Self.explainFQDN(["--to", "10.0.0.1", "--port", "80", "--dns-log", file.path])
        #expect(missing.status != 0 && missing.stderr.contains("'--dns-log' needs '--to-fqdn'"), "\(missing.stderr)")
    }
}
