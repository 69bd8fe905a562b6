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
