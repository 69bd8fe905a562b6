import Foundation
import Testing

/// The `--hubble` lines against the real consumers, through the real CLI: every golden
/// `*.hubble.expected.jsonl` parses strictly as the Hubble API's `observer.GetFlowsResponse`
/// (schema/hubble-api, protobuf JSON, unknown fields refused), and the real `hubble observe
/// --input-file` (../shared/tools/hubble) selects exactly the lines its filters name: as many
/// as counted from the JSON itself for `--type`, `--verdict`, `--namespace`, `--cluster`, and
/// `--print-policy-names` prints `DENIED BY` for each enforced drop an explicit deny caused.
struct HubbleConformanceTests {
    struct Golden: CustomTestStringConvertible, Sendable {
        let path: String
        let arguments: [String]
        var testDescription: String { self.path }
    }

    static let demo = [
        "replay", "Captures/demo/demo-cluster.pcap", "--pods", "Captures/demo/demo-cluster.pods.json",
        "--services", "Captures/demo/demo-cluster.services.json", "--node-name", "kind-worker-0", "--policies", "Policies/demo",
    ]
    static let probes = [
        "replay", "Captures/policy-probes/policy-probes.pcap", "--pods", "Captures/policy-probes/policy-probes.pods.json",
        "--namespaces", "Captures/policy-probes/policy-probes.namespaces.json",
        "--nodes", "Captures/policy-probes/policy-probes.nodes.json", "--node-name", "node-1", "--policies", "Policies/conformance",
    ]

    static let l7 = [
        "replay", "Captures/l7/l7-egress.pcap", "--pods", "Captures/l7/l7.pods.json", "--node-name", "kind-worker-0",
        "--policies", "Captures/l7/l7.policies.yaml",
    ]

    /// The goldens this suite records (the audit-mode demo golden is PolicyReplayTests'):
    /// enforced drops (policy-verdict and drop events), UDP and ICMP lines in another cluster, and
    /// L7 flows (DNS, HTTP) with names, toFQDNs verdicts and an HTTP request the rules refuse.
    static let goldens = [
        Golden(path: "Captures/demo/demo-cluster.enforced.hubble.expected.jsonl", arguments: demo + ["--verdict-as-enforced"]),
        Golden(path: "Captures/policy-probes/policy-probes.hubble.expected.jsonl",
               arguments: probes + ["--verdict-as-enforced", "--cluster-name", "lab-east"]),
        Golden(path: "Captures/l7/l7-egress.hubble.expected.jsonl", arguments: l7),
    ]

    /// Every Hubble golden in Captures/.
    static var allGoldens: [URL] {
        let files = FileManager.default.enumerator(at: Fixture.captures, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL } ?? []
        return files.filter { $0.lastPathComponent.hasSuffix(".hubble.expected.jsonl") }
            .sorted { $0.path < $1.path }
    }

    /// One worker (a single pass, lines written at once) and three (keyed lines merged in
    /// single-pass order) write the same lines.
    @Test(arguments: goldens)
    func replayMatchesItsGolden(_ golden: Golden) throws {
        let text = try Self.hubbleText(golden.arguments + ["--workers", "1"])
        let file = Fixture.root.appendingPathComponent(golden.path)
        if ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" {
            try text.write(to: file, atomically: true, encoding: .utf8)
            return
        }
        #expect(text == (try String(contentsOf: file, encoding: .utf8)))
        #expect(try Self.hubbleText(golden.arguments + ["--workers", "3"]) == text)
        let validation = try validateAgainstSchemas(text.split(separator: "\n").map(String.init))
        #expect(validation.status == 0, "\(validation.report)")
    }

    /// Runs flowmon from the repository root with `arguments` and returns its Hubble lines.
    static func hubbleText(_ arguments: [String]) throws -> String {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"), ["sh", "-c", "cd '\(Fixture.root.path)' && '\(Fixture.flowmonBinary.path)' "
            + (arguments + ["--hubble", hubble.path]).map { "'\($0)'" }.joined(separator: " ") + " >/dev/null"])
        #expect(result.status == 0, "\(result.stderr)")
        return try String(contentsOf: hubble, encoding: .utf8)
    }

    /// The same, parsed.
    static func hubbleLines(_ arguments: [String]) throws -> [[String: Any]] {
        try Lines(text: try Self.hubbleText(arguments)).flows
    }

    /// A JSON value as text with sorted keys, to compare two parsed values.
    static func canonical(_ value: Any?) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: ["value": value ?? NSNull()], options: .sortedKeys), as: UTF8.self)
    }

    /// With `--verdict-as-enforced`, a drop is two events, as Cilium's datapath sends them: the
    /// policy verdict (type 5, DROPPED, drop reason, `*_denied_by` for a deny rule, no
    /// `is_reply`), then the drop (type 1, sub_type the reason, no policy fields). An AUDIT
    /// line is one policy-verdict event without a drop reason (the packet went through).
    @Test func anEnforcedDropIsAPolicyVerdictThenADrop() throws {
        let enforced = try Self.hubbleLines(Self.demo + ["--verdict-as-enforced"])
        let policyFields = ["policy_match_type", "is_reply", "egress_allowed_by", "ingress_allowed_by", "egress_denied_by",
                            "ingress_denied_by"]
        var drops = 0, deniedBy = 0
        for (index, flow) in enforced.enumerated() where flow["verdict"] as? String == "DROPPED" {
            let type = (flow["event_type"] as? [String: Any])?["type"] as? Int
            if type == 5 {
                #expect(flow["is_reply"] == nil)
                #expect(flow["drop_reason_desc"] != nil && flow["drop_reason"] != nil)
                if flow["drop_reason_desc"] as? String == "POLICY_DENY" {
                    let direction = (flow["traffic_direction"] as? String ?? "").lowercased()
                    #expect(flow[direction + "_denied_by"] != nil)
                    deniedBy += 1
                }
                try #require(index + 1 < enforced.count)
                let drop = enforced[index + 1]
                let dropType = drop["event_type"] as? [String: Any]
                #expect(dropType?["type"] as? Int == 1 && dropType?["sub_type"] as? Int == flow["drop_reason"] as? Int)
                for key in ["time", "IP", "l4", "source", "destination", "traffic_direction", "drop_reason_desc", "Summary"] {
                    #expect(try Self.canonical(drop[key]) == (try Self.canonical(flow[key])), "\(key)")
                }
                #expect(policyFields.allSatisfy { drop[$0] == nil }, "\(drop.keys.sorted())")
            } else {
                #expect(type == 1)
                drops += 1
            }
        }
        #expect(drops == 31 && deniedBy == 4, "drops \(drops), by a deny rule \(deniedBy)")
        let audit = try Self.hubbleLines(Self.demo)
        let audited = audit.filter { $0["verdict"] as? String == "AUDIT" }
        #expect(audit.count == enforced.count - drops && audited.count == drops)
        #expect(audited.allSatisfy { $0["drop_reason"] == nil && $0["drop_reason_desc"] == nil && $0["is_reply"] as? Bool == false })
        #expect(audited.filter { $0["egress_denied_by"] != nil }.count == deniedBy, "AUDIT names the deny rule that would drop")
    }

    /// `Summary` on every line (UDP and ICMP too), `cluster_name` from `--cluster-name` on pod
    /// endpoints only, policies with Cilium's labels and the revision.
    @Test func linesCarryWhatHubbleUsersFilterOn() throws {
        let lines = try Self.hubbleLines(Self.probes + ["--cluster-name", "lab-east"])
        func summaries(_ l4: String) -> Set<String> {
            Set(lines.filter { ($0["l4"] as? [String: Any])?[l4] != nil }.compactMap { $0["Summary"] as? String })
        }
        #expect(summaries("UDP") == ["UDP"])
        #expect(summaries("ICMPv4") == ["ICMPv4 EchoRequest"])
        #expect(summaries("TCP") == ["TCP Flags: SYN"])
        for flow in lines {
            for side in ["source", "destination"] {
                let endpoint = flow[side] as? [String: Any] ?? [:]
                let labels = endpoint["labels"] as? [String] ?? []
                let isPod = labels.contains("k8s:io.cilium.k8s.policy.cluster=lab-east")
                #expect(endpoint["cluster_name"] as? String == (isPod ? "lab-east" : nil), "\(endpoint)")
            }
        }
        let policies = lines.flatMap { flow in
            ["egress_allowed_by", "ingress_allowed_by", "egress_denied_by", "ingress_denied_by"]
                .flatMap { flow[$0] as? [[String: Any]] ?? [] }
        }
        #expect(!policies.isEmpty)
        for policy in policies {
            #expect(policy["revision"] as? String == "1")
            guard let name = policy["name"] as? String else {
                // Cilium's built-in rule for traffic from the local host: its label only.
                #expect(policy.keys.sorted() == ["labels", "revision"])
                #expect(policy["labels"] as? [String] == ["reserved:io.cilium.policy.derived-from=allow-localhost-ingress"])
                continue
            }
            let kind = policy["kind"] as? String ?? "?"
            var labels = ["k8s:io.cilium.k8s.policy.derived-from=\(kind)", "k8s:io.cilium.k8s.policy.name=\(name)"]
            if let namespace = policy["namespace"] as? String { labels.append("k8s:io.cilium.k8s.policy.namespace=\(namespace)") }
            #expect(policy["labels"] as? [String] == labels)
        }
    }

    @Test func everyGoldenLineParsesAsAGetFlowsResponse() throws {
        let files = Self.allGoldens
        #expect(files.count >= 3)
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["python3", Fixture.root.appendingPathComponent("scripts/hubble-strict-parse").path] + files.map(\.path))
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let lines = try files.reduce(0) { $0 + (try String(contentsOf: $1, encoding: .utf8)).split(separator: "\n").count }
        #expect(result.stdout.hasSuffix("\(lines) lines valid, 0 invalid\n"), "\(result.stdout)")
    }

    @Test func theStrictParseRefusesWhatHubbleDoesNotDefine() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.jsonl")
        try """
            {"flow":{"verdict":"FORWARDED","policy":{}},"node_name":"n","time":"2025-01-01T10:00:00Z"}
            {"flow":{"verdict":"ALLOWED"},"node_name":"n","time":"2025-01-01T10:00:00Z"}
            {"flow":{"source":{"identity":"x"}},"node_name":"n","time":"2025-01-01T10:00:00Z"}

            """.write(to: file, atomically: true, encoding: .utf8)
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["python3", Fixture.root.appendingPathComponent("scripts/hubble-strict-parse").path, file.path])
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("0 lines valid, 3 invalid\n"), "\(result.stdout)")
        #expect(result.stdout.contains("bad.jsonl:1: "))
    }

    /// What the lines of a golden say, counted from their JSON.
    struct Lines {
        let flows: [[String: Any]]

        init(_ file: URL) throws {
            try self.init(text: try String(contentsOf: file, encoding: .utf8))
        }

        init(text: String) throws {
            self.flows = try text.split(separator: "\n").map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return object?["flow"] as? [String: Any] ?? [:]
            }
        }

        func type(_ flow: [String: Any]) -> Int { (flow["event_type"] as? [String: Any])?["type"] as? Int ?? 0 }
        func endpoints(_ flow: [String: Any], _ key: String) -> [String] {
            ["source", "destination"].compactMap { (flow[$0] as? [String: Any])?[key] as? String }
        }
        func count(_ predicate: ([String: Any]) -> Bool) -> Int { self.flows.filter(predicate).count }
        var namespaces: Set<String> { Set(self.flows.flatMap { self.endpoints($0, "namespace") }) }
        var clusters: Set<String> { Set(self.flows.flatMap { self.endpoints($0, "cluster_name") }) }
        /// A line's `source_names` and `destination_names`.
        func names(of flow: [String: Any]) -> [String] {
            ((flow["source_names"] as? [String]) ?? []) + ((flow["destination_names"] as? [String]) ?? [])
        }
        var names: Set<String> { Set(self.flows.flatMap { self.names(of: $0) }) }
        /// Policy-verdict lines whose direction's `*_by` list names a policy (what
        /// `--print-policy-names` prints after ALLOWED or DENIED).
        func named(_ verdict: String, _ list: String) -> Int {
            self.count { flow in
                let direction = (flow["traffic_direction"] as? String ?? "").lowercased()
                // hubble prints a policy by name: the local host's built-in rule has none.
                return self.type(flow) == 5 && flow["verdict"] as? String == verdict
                    && ((flow[direction + "_" + list] as? [[String: Any]]) ?? []).contains { $0["name"] != nil }
            }
        }
    }

    @Test func hubbleObserveSelectsWhatTheLinesSay() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let hubble = try Fixture.hubbleCLI(in: directory, for: "the hubble CLI checks") else { return }

        func observe(_ file: URL, _ filters: [String], output: String = "json") throws -> [Substring] {
            let result = try run(hubble, ["observe", "--input-file", file.path, "-o", output] + filters)
            #expect(result.status == 0, "hubble observe \(filters): \(result.stderr)")
            return result.stdout.split(separator: "\n")
        }

        var deniedBy = 0, l7Lines = 0
        for file in Self.allGoldens {
            let lines = try Lines(file)
            let name = file.lastPathComponent
            #expect(try observe(file, []).count == lines.flows.count, "\(name): hubble reads every line")
            #expect(try observe(file, ["--type", "policy-verdict"]).count == lines.count { lines.type($0) == 5 }, "\(name)")
            #expect(try observe(file, ["--type", "drop"]).count == lines.count { lines.type($0) == 1 }, "\(name)")
            for verdict in ["FORWARDED", "DROPPED", "AUDIT"] {
                let expected = lines.count { $0["verdict"] as? String == verdict }
                #expect(try observe(file, ["--verdict", verdict]).count == expected, "\(name) --verdict \(verdict)")
                let verdicts = lines.count { $0["verdict"] as? String == verdict && lines.type($0) == 5 }
                #expect(try observe(file, ["--type", "policy-verdict", "--verdict", verdict]).count == verdicts,
                        "\(name) --type policy-verdict --verdict \(verdict)")
            }
            for namespace in lines.namespaces {
                let expected = lines.count { lines.endpoints($0, "namespace").contains(namespace) }
                #expect(try observe(file, ["--namespace", namespace]).count == expected, "\(name) --namespace \(namespace)")
            }
            #expect(!lines.clusters.isEmpty, "\(name): endpoints name their cluster")
            for cluster in lines.clusters {
                let expected = lines.count { lines.endpoints($0, "cluster_name").contains(cluster) }
                #expect(try observe(file, ["--cluster", cluster]).count == expected, "\(name) --cluster \(cluster)")
            }
            // L7 flows: `--type l7`, `--protocol dns|http` (Hubble matches the L7 record's kind), and
            // `--fqdn`, which matches the names the lines carry.
            let l7 = lines.count { $0["Type"] as? String == "L7" }
            #expect(try observe(file, ["--type", "l7"]).count == l7, "\(name) --type l7")
            for l7Protocol in ["dns", "http"] {
                let expected = lines.count { ($0["l7"] as? [String: Any])?[l7Protocol] != nil }
                #expect(try observe(file, ["--type", "l7", "--protocol", l7Protocol]).count == expected,
                        "\(name) --type l7 --protocol \(l7Protocol)")
            }
            for fqdn in lines.names {
                let expected = lines.count { lines.names(of: $0).contains(fqdn) }
                #expect(try observe(file, ["--fqdn", fqdn]).count == expected, "\(name) --fqdn \(fqdn)")
            }
            l7Lines += l7
            let compact = try observe(file, ["--type", "policy-verdict", "--print-policy-names"], output: "compact")
            #expect(compact.filter { $0.contains(" DENIED BY ") }.count == lines.named("DROPPED", "denied_by"), "\(name)")
            #expect(compact.filter { $0.contains(" ALLOWED BY ") }.count == lines.named("FORWARDED", "allowed_by"), "\(name)")
            deniedBy += lines.named("DROPPED", "denied_by")
        }
        #expect(deniedBy > 0, "some golden has an enforced drop by a deny rule")
        #expect(l7Lines > 40, "some golden has L7 flows")
    }
}
