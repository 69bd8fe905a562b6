import Foundation
import Testing

/// `flowmon policy check` as a CI step, through the built binary (release too, in `scripts/test`):
/// every error of every document of every file, each warning kind on a minimal fixture and never
/// on a clean one, the exit codes of `--strict`, and each `--format` parsed and checked.
@Suite struct PolicyCheckCLITests {
    /// Two pods in `shop`: web (container port `http` 8080) and client.
    static let pods = """
        {"apiVersion": "v1", "kind": "List", "items": [
         {"metadata": {"name": "web-7d4b9c-x2x", "namespace": "shop", "labels": {"app": "web"}},
          "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
          "status": {"phase": "Running", "podIP": "10.0.0.2", "podIPs": [{"ip": "10.0.0.2"}], "hostIP": "192.168.0.1"}},
         {"metadata": {"name": "client-1", "namespace": "shop", "labels": {"app": "client"}},
          "spec": {"nodeName": "n1", "containers": [{"name": "c"}]},
          "status": {"phase": "Running", "podIP": "10.0.0.3", "podIPs": [{"ip": "10.0.0.3"}], "hostIP": "192.168.0.1"}}
        ]}
        """

    /// Web accepts the client on its named port and on 8080, the client may reach web: no warning.
    static let clean = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: web, namespace: shop}
        spec:
          endpointSelector: {matchLabels: {app: web}}
          ingress:
          - fromEndpoints: [{matchLabels: {app: client}}]
            toPorts: [{ports: [{port: "http", protocol: TCP}, {port: "8080", protocol: TCP}]}]
          ingressDeny:
          - fromEndpoints: [{matchLabels: {app: web}}]
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: client, namespace: shop}
        spec:
          podSelector: {matchLabels: {app: client}}
          policyTypes: [Egress]
          egress:
          - to: [{podSelector: {matchLabels: {app: web}}}]
            ports: [{port: http}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec: {ports: [{port: 80}]}

        """

    struct WarningCase: Sendable, CustomTestStringConvertible {
        var code: String
        var yaml: String
        /// Whether the warning needs the pod inventory (`--pods`).
        var pods: Bool
        /// The field the warning names, and its line.
        var field: String
        var line: Int
        var testDescription: String { self.code }
    }

    static let warningCases: [WarningCase] = [
        WarningCase(code: "policy.kind.typo", yaml: """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolcy
            metadata: {name: web, namespace: shop}
            spec: {endpointSelector: {}, ingress: [{}]}
            """, pods: false, field: "kind", line: 2),
        WarningCase(code: "policy.kind.unknown", yaml: """
            apiVersion: example.com/v1
            kind: FirewallRule
            metadata: {name: web}
            """, pods: false, field: "kind", line: 2),
        WarningCase(code: "policy.kind.unsupported", yaml: """
            apiVersion: policy.networking.k8s.io/v1alpha1
            kind: AdminNetworkPolicy
            metadata: {name: cluster-wide}
            spec: {priority: 10, subject: {namespaces: {}}, ingress: []}
            """, pods: false, field: "kind", line: 2),
        WarningCase(code: "policy.apiVersion.unknown", yaml: """
            apiVersion: cilium.io/v1
            kind: CiliumNetworkPolicy
            metadata: {name: web, namespace: shop}
            spec: {endpointSelector: {}}
            """, pods: false, field: "apiVersion", line: 1),
        WarningCase(code: "policy.port.integer", yaml: """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - toPorts:
                - ports:
                  - port: 8080
            """, pods: false, field: "spec.ingress[0].toPorts[0].ports[0].port", line: 9),
        WarningCase(code: "policy.rule.shadowed", yaml: """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: allow, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
            ---
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: deny, namespace: shop}
            spec:
              endpointSelector: {}
              ingressDeny:
              - fromEndpoints: [{}]
            """, pods: false, field: "spec.ingress[0]", line: 7),
        WarningCase(code: "policy.default-deny.no-allow", yaml: """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: lockdown, namespace: shop}
            spec:
              podSelector: {matchLabels: {app: web}}
              policyTypes: [Egress]
            """, pods: false, field: "spec.policyTypes", line: 6),
        WarningCase(code: "policy.selector.empty", yaml: """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: typo, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: wbe}}
              ingress: [{fromEndpoints: [{}]}]
            """, pods: true, field: "spec.endpointSelector", line: 5),
        WarningCase(code: "policy.namespace.unknown", yaml: """
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata:
              name: web
              namespace: shopp
            spec:
              podSelector: {}
              ingress: [{}]
            """, pods: true, field: "metadata.namespace", line: 5),
        WarningCase(code: "policy.port.name.unknown", yaml: """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: web, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: web}}
              ingress:
              - fromEndpoints: [{matchLabels: {app: client}}]
                toPorts: [{ports: [{port: "grpc", protocol: TCP}]}]
            """, pods: true, field: "spec.ingress[0]", line: 7),
    ]

    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(self.stdout.utf8))) as? [String: Any] ?? [:] }
        var findings: [[String: Any]] { self.json["findings"] as? [[String: Any]] ?? [] }
        func codes(_ severity: String) -> [String] {
            self.findings.filter { $0["severity"] as? String == severity }.compactMap { $0["code"] as? String }
        }
    }

    /// A scratch directory with `files` (relative path → text) and `pods.json`.
    static func directory(_ files: [String: String]) throws -> URL {
        let directory = try Fixture.temporaryDirectory()
        try Self.pods.write(to: directory.appendingPathComponent("pods.json"), atomically: true, encoding: .utf8)
        for (path, text) in files {
            let url = directory.appendingPathComponent("policies/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return directory
    }

    static func check(_ directory: URL, _ arguments: [String], pods: Bool = false) throws -> Run {
        let inventory = pods ? ["--pods", directory.appendingPathComponent("pods.json").path] : []
        let result = try run(Fixture.flowmonBinary, ["policy", "check", directory.appendingPathComponent("policies").path]
                             + inventory + arguments)
        return Run(status: result.status, stdout: result.stdout, stderr: result.stderr)
    }

    @Test func everyErrorOfEveryDocumentOfEveryFileIsReported() throws {
        let directory = try Self.directory([
            // Five documents, each broken (the last two in several rules).
            "a.yaml": """
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: one, namespace: shop}
                spec:
                  endpointSelector: {}
                  ingress: [{toPorts: [{ports: [{port: "70000"}]}]}]
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: Two, namespace: shop}
                spec: {endpointSelector: {}, ingress: [{}]}
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: three, namespace: shop}
                spec:
                  endpointSelector: {}
                  ingres: []
                ---
                apiVersion: cilium.io/v2
                kind: CiliumNetworkPolicy
                metadata: {name: four, namespace: shop}
                spec:
                  endpointSelector: {}
                  ingress:
                  - fromEntities: [everywhere]
                  - {}
                  - toPorts: [{ports: [{port: "99999"}]}]
                  egress:
                  - toCIDR: [10.0.0.0/33]
                ---
                apiVersion: networking.k8s.io/v1
                kind: NetworkPolicy
                metadata: {name: five, namespace: shop}
                spec:
                  podSelector: {}
                  ingress:
                  - ports: [{port: 0}]
                  egress:
                  - {}
                  - to: [{ipBlock: {cidr: nonsense}}]
                """,
            "b.yaml": "apiVersion: v1\nkind: [\n",
            "sub/c.json": #"{"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "c"}, "spec": {"podSelector": {}, "policyType": ["Ingress"]}}"#,
            "sub/d.yaml": Self.clean,
        ])
        defer { try? FileManager.default.removeItem(at: directory) }
        let policies = directory.appendingPathComponent("policies").path
        let json = try Self.check(directory, ["--format", "json"])
        #expect(json.status == 1, "\(json.stderr)")
        let errors = json.findings.filter { $0["severity"] as? String == "error" }
        let places = errors.map { "\(($0["file"] as? String ?? "").dropFirst(policies.count + 1)) \($0["document"] as? Int ?? 0) \($0["field"] as? String ?? "") \($0["line"] as? Int ?? 0) \($0["code"] as? String ?? "")" }
        #expect(places == [
            "a.yaml 1 spec.ingress[0].toPorts[0].ports[0].port 6 policy.field.invalid",
            "a.yaml 2 metadata.name 10 policy.field.invalid",
            "a.yaml 3 spec.ingres 18 policy.field.unknown",
            // Every broken rule of a document, not only the first.
            "a.yaml 4 spec.ingress[0].fromEntities[0] 26 policy.field.invalid",
            "a.yaml 4 spec.ingress[2].toPorts[0].ports[0].port 28 policy.field.invalid",
            "a.yaml 4 spec.egress[0].toCIDR[0] 30 policy.field.invalid",
            "a.yaml 5 spec.ingress[0].ports[0].port 38 policy.field.invalid",
            "a.yaml 5 spec.egress[1].to[0].ipBlock.cidr 41 policy.field.invalid",
            "b.yaml 0  3 policy.yaml.syntax",
            "sub/c.json 1 spec.policyType 1 policy.field.unknown",
        ], "\(json.stdout)")
        #expect(json.json["policies"] as? Int == 2, "only sub/d.yaml's two policies load")
        // Every error has a column where the parser knows the node.
        #expect(errors.filter { $0["field"] as? String != "" }.allSatisfy { $0["column"] as? Int != nil })
        // The text format: each error on its own line, and the summary counts the files.
        let text = try Self.check(directory, [])
        #expect(text.status == 1)
        #expect(text.stderr.split(separator: "\n").filter { $0.hasPrefix("flowmon: error: ") }.count == 10, "\(text.stderr)")
        #expect(text.stdout.hasSuffix("2 policies valid; 3 files with errors\n"), "\(text.stdout)")
    }

    @Test(arguments: PolicyCheckCLITests.warningCases)
    func eachWarningFiresOnItsFixture(_ item: WarningCase) throws {
        let directory = try Self.directory(["p.yaml": item.yaml])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--format", "json"], pods: item.pods)
        #expect(result.status == 0, "a warning alone passes: \(result.stderr)")
        let finding = result.findings.first { $0["code"] as? String == item.code }
        #expect(finding?["severity"] as? String == "warning", "\(result.stdout)")
        #expect(finding?["field"] as? String == item.field, "\(result.stdout)")
        #expect(finding?["line"] as? Int == item.line, "\(result.stdout)")
        #expect(finding?["document"] as? Int != nil)
        #expect(result.codes("error").isEmpty, "\(result.stdout)")
    }

    @Test func aCleanPolicySetHasNoFinding() throws {
        let directory = try Self.directory(["clean.yaml": Self.clean])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--format", "json", "--strict"], pods: true)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.findings.isEmpty, "\(result.stdout)")
        #expect(result.json["policies"] as? Int == 2)
    }

    /// Without `--pods` the check reads the policies and judges nothing: the warning that no
    /// policy selects an endpoint is for the commands that judge connections (replay says it).
    @Test func withoutPodsTheCheckDoesNotWarnThatNothingIsSelected() throws {
        let directory = try Self.directory(["clean.yaml": Self.clean])
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--strict"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stderr.contains("without --pods"), "\(result.stderr)")
        let replay = try run(Fixture.flowmonBinary, ["replay", Fixture.captures.appendingPathComponent("synthetic/idle-timeouts.pcap").path, "--policies",
                                                     directory.appendingPathComponent("policies").path])
        #expect(replay.status == 0 && replay.stderr.contains("--policies without --pods"), "\(replay.stderr)")
    }

    @Test func strictMakesWarningsFailWithTheirOwnExitCode() throws {
        let warning = Self.warning("policy.kind.typo")
        let directory = try Self.directory(["w.yaml": warning.yaml])
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(try Self.check(directory, []).status == 0)
        let strict = try Self.check(directory, ["--strict"])
        #expect(strict.status == 2)
        #expect(strict.stderr.contains("flowmon: warning: ") && strict.stderr.contains("[policy.kind.typo]"), "\(strict.stderr)")
        #expect(strict.stderr.contains("did you mean CiliumNetworkPolicy?"))
        // An error wins over warnings: 1.
        try "kind: NetworkPolicy\napiVersion: networking.k8s.io/v1\nmetadata: {name: x}\nspec: {podSelector: 1}\n"
            .write(to: directory.appendingPathComponent("policies/e.yaml"), atomically: true, encoding: .utf8)
        #expect(try Self.check(directory, ["--strict"]).status == 1)
    }

    static func warning(_ code: String) -> WarningCase { Self.warningCases.first { $0.code == code }! }

    /// A fixture with errors and warnings in several files, for the formats.
    static func mixed() throws -> URL {
        try Self.directory([
            "a.yaml": Self.warning("policy.kind.typo").yaml + "\n---\n" + Self.warning("policy.port.integer").yaml,
            "b,c.yaml": "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: b}\nspec: {endpointSelector: {}, egres: []}\n",
        ])
    }

    @Test func jsonOutputValidatesAgainstTheSchema() throws {
        let directory = try Self.mixed()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--format", "json"])
        #expect(result.status == 1)
        #expect(result.codes("error") == ["policy.field.unknown"])
        #expect(Set(result.codes("warning")) == ["policy.kind.typo", "policy.port.integer"])
        #expect(result.json["errors"] as? Int == 1 && result.json["warnings"] as? Int == 2)
        let output = directory.appendingPathComponent("check.json")
        try result.stdout.write(to: output, atomically: true, encoding: .utf8)
        let schema = Fixture.root.appendingPathComponent("schema/policy-check.schema.json").path
        let validate = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", """
            import json, sys, jsonschema
            schema = json.load(open(sys.argv[1]))
            jsonschema.Draft202012Validator.check_schema(schema)
            jsonschema.Draft202012Validator(schema).validate(json.load(open(sys.argv[2])))
            """, schema, output.path])
        #expect(validate.status == 0, "\(validate.stderr)")
        // The schema enumerates the codes; each is documented in docs/policy.md.
        let schemaObject = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: schema))) as? [String: Any]
        let finding = ((schemaObject?["$defs"] as? [String: Any])?["finding"] as? [String: Any])?["properties"] as? [String: Any]
        let codes = try #require((finding?["code"] as? [String: Any])?["enum"] as? [String])
        let docs = try String(contentsOf: Fixture.root.appendingPathComponent("docs/policy.md"), encoding: .utf8)
        #expect(codes.filter { !docs.contains("`\($0)`") } == [], "codes not documented in docs/policy.md")
        #expect(Set(Self.warningCases.map(\.code)).isSubset(of: codes))
    }

    @Test func githubOutputIsOneWorkflowCommandPerFinding() throws {
        let directory = try Self.mixed()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--format", "github"])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(result.stdout)")
        let pattern = /^::(error|warning) file=([^,]+),line=([0-9]+),col=([0-9]+),title=([a-z.\-A-Z]+)::(.+)$/
        var seen: [(String, String, Int, String)] = []
        for line in lines {
            let match = try #require(line.wholeMatch(of: pattern), "\(line)")
            seen.append((String(match.1), String(match.2), Int(match.3)!, String(match.5)))
            #expect(!match.6.isEmpty)
        }
        // The `,` of "b,c.yaml" is escaped in the property, as GitHub requires.
        let policies = directory.appendingPathComponent("policies").path
        #expect(seen.contains { $0.0 == "error" && $0.1 == policies + "/b%2Cc.yaml" && $0.2 == 4 && $0.3 == "policy.field.unknown" },
                "\(result.stdout)")
        #expect(seen.contains { $0.0 == "warning" && $0.1 == policies + "/a.yaml" && $0.2 == 2 && $0.3 == "policy.kind.typo" })
        #expect(seen.contains { $0.0 == "warning" && $0.2 == 14 && $0.3 == "policy.port.integer" })
    }

    @Test func gitlabOutputIsACodeQualityReport() throws {
        let directory = try Self.mixed()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try Self.check(directory, ["--format", "gitlab"])
        #expect(result.status == 1)
        let issues = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])
        #expect(issues.count == 3)
        for issue in issues {
            #expect((issue["description"] as? String)?.isEmpty == false)
            #expect((issue["check_name"] as? String)?.hasPrefix("policy.") == true)
            #expect(["info", "minor", "major", "critical", "blocker"].contains(issue["severity"] as? String ?? ""))
            let location = try #require(issue["location"] as? [String: Any])
            #expect((location["path"] as? String)?.hasSuffix(".yaml") == true)
            #expect(((location["lines"] as? [String: Any])?["begin"] as? Int ?? 0) >= 1)
        }
        let fingerprints = issues.compactMap { $0["fingerprint"] as? String }
        #expect(fingerprints.count == 3 && Set(fingerprints).count == 3)
        #expect(issues.first { $0["check_name"] as? String == "policy.field.unknown" }?["severity"] as? String == "major")
        // Stable across runs (GitLab compares reports of two pipelines by fingerprint).
        let again = try Self.check(directory, ["--format", "gitlab"])
        #expect(again.stdout == result.stdout)
    }

    /// The real policies (the copy in Policies/real, and ../shared/policies/real when it is beside
    /// the repository): every error is one `Policies/real/EXPECTED.tsv` lists for its file, or a
    /// name two example files both use with different specs (alternatives, not meant to be
    /// applied together). Prints the count of findings per code.
    @Test func realPoliciesGiveOnlyRealErrors() throws {
        var directories = [RealPolicyCompatibilityTests.directory]
        let shared = Fixture.root.deletingLastPathComponent().appendingPathComponent("shared/policies/real")
        if FileManager.default.fileExists(atPath: shared.path) {
            directories.append(shared)
        } else {
            print("PolicyCheckCLITests: ../shared/policies/real is absent; only the copy in Policies/real is checked")
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "../shared/policies/real must be present in CI")
        }
        for directory in directories {
            let result = try run(Fixture.flowmonBinary, ["policy", "check", "--format", "json", directory.path])
            let findings = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])["findings"]
                as? [[String: Any]] ?? []
            var counts: [String: Int] = [:]
            for finding in findings { counts["\(finding["severity"]!) \(finding["code"]!)", default: 0] += 1 }
            print("policy check \(directory.path): " + counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            let rejected = Dictionary(uniqueKeysWithValues: RealPolicyCompatibilityTests.expectations.filter { !$0.accept }
                .map { ($0.path, $0.message) })
            for finding in findings where finding["severity"] as? String == "error" {
                let file = String((finding["file"] as? String ?? "").dropFirst(directory.path.count + 1))
                if finding["code"] as? String == "policy.name.duplicate" { continue }
                let expected = try #require(rejected[file], "an error in a file EXPECTED.tsv accepts: \(finding)")
                #expect(expected.hasPrefix(finding["document"].map { "document \($0): " } ?? "")
                        && expected.contains(finding["message"] as? String ?? "-"), "\(finding)")
            }
            #expect(findings.filter { $0["severity"] as? String == "error" }.count >= rejected.count)
            // Nothing in the corpus is a near-miss kind, an unknown kind or an integer Cilium port.
            #expect(findings.filter { ["policy.kind.typo", "policy.kind.unknown", "policy.port.integer"].contains($0["code"] as? String ?? "") }
                .isEmpty)
        }
    }
}

/// `policy explain` names the policies behind a default-deny verdict and takes Hubble's
/// `NAMESPACE/PREFIX` pod names.
@Suite struct PolicyExplainDefaultDenyTests {
    static let demo = Fixture.captures.appendingPathComponent("demo")

    static func explain(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(Fixture.flowmonBinary, ["policy", "explain", "--pods", Self.demo.appendingPathComponent("demo-cluster.pods.json").path,
                                        "--node-name", "kind-worker-0",
                                        "--policies", Fixture.root.appendingPathComponent("Policies/demo").path] + arguments)
    }

    @Test func aDefaultDenyVerdictNamesThePoliciesThatPutTheEndpointInDefaultDeny() throws {
        let result = try Self.explain(["--from", "shop/recommendations-rs4dtjk2rt-t85ff", "--to", "198.18.250.8", "--port", "443",
                                       "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let egress = try #require(object["egress"] as? [String: Any])
        #expect(egress["decision"] as? String == "denied")
        let policies = egress["policies"] as? [[String: String]] ?? []
        #expect(policies.map { "\($0["kind"] ?? "") \($0["namespace"] ?? "")/\($0["name"] ?? "")" }
            == ["CiliumNetworkPolicy shop/recommendations-egress"], "\(result.stdout)")
        let text = try Self.explain(["--from", "shop/recommendations-rs4dtjk2rt-t85ff", "--to", "198.18.250.8", "--port", "443"])
        #expect(text.stdout.contains("POLICY_DENIED, default deny from CiliumNetworkPolicy shop/recommendations-egress"), "\(text.stdout)")
    }

    @Test func aPodNamePrefixNamesThePodAsHubblesFiltersDo() throws {
        let prefix = try Self.explain(["--from", "shop/recommendations", "--to", "198.18.250.8", "--port", "443"])
        #expect(prefix.status == 0, "\(prefix.stderr)")
        // The pod on --node-name comes first among those the prefix names.
        #expect(prefix.stdout.hasPrefix("from  shop/recommendations-rs4dtjk2rt-t85ff (10.244.0.7)"), "\(prefix.stdout)")
        // A prefix naming pods of several identities is an error listing them.
        let ambiguous = try Self.explain(["--from", "shop/", "--to", "198.18.250.8", "--port", "443"])
        #expect(ambiguous.status == 1)
        let several = try Self.explain(["--from", "kube-system/k", "--to", "198.18.250.8", "--port", "443"])
        #expect(several.status == 1)
        #expect(several.stderr.contains("have different identities"), "\(several.stderr)")
        let none = try Self.explain(["--from", "shop/nothing-like-this", "--to", "198.18.250.8", "--port", "443"])
        #expect(none.status == 1)
    }
}
