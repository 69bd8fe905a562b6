import Foundation
import Testing

/// The demo capture replayed with its inventory (pods and Services) and Policies/demo, through
/// the real CLI, as `scripts/demo` does: golden flow records (identities and verdicts) and
/// Hubble lines, schema-valid, reproducible.
struct PolicyReplayTests {
    static let capture = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")
    static let agentArguments = [
        "--pods", Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path,
        "--services", Fixture.captures.appendingPathComponent("demo/demo-cluster.services.json").path,
        "--node-name", "kind-worker-0",
        "--policies", Fixture.root.appendingPathComponent("Policies/demo").path,
    ]

    @Test func demoWithPoliciesMatchesItsGoldenFiles() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--hubble", hubble.path] + Self.agentArguments)
        #expect(result.status == 0, "\(result.stderr)")
        let hubbleText = try String(contentsOf: hubble, encoding: .utf8)
        let goldenFlows = Fixture.captures.appendingPathComponent("demo/demo-cluster.policies.expected.jsonl")
        let goldenHubble = Fixture.captures.appendingPathComponent("demo/demo-cluster.hubble.expected.jsonl")
        if ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" {
            try result.stdout.write(to: goldenFlows, atomically: true, encoding: .utf8)
            try hubbleText.write(to: goldenHubble, atomically: true, encoding: .utf8)
            return
        }
        #expect(result.stdout == (try String(contentsOf: goldenFlows, encoding: .utf8)))
        #expect(hubbleText == (try String(contentsOf: goldenHubble, encoding: .utf8)))
        let lines = (result.stdout + hubbleText).split(separator: "\n").map(String.init)
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    @Test func theDemoShowsEveryKindOfVerdict() throws {
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path] + Self.agentArguments)
        #expect(result.status == 0)
        let policies = result.stdout.split(separator: "\n").compactMap { line -> [String: Any]? in
            let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            return record?["policy"] as? [String: Any]
        }
        #expect(policies.contains { $0["verdict"] as? String == "FORWARDED" && $0["ingress_allowed_by"] != nil })
        #expect(policies.contains { $0["verdict"] as? String == "AUDIT" && $0["drop_reason_desc"] as? String == "POLICY_DENIED" })
        #expect(policies.contains { $0["verdict"] as? String == "AUDIT" && $0["drop_reason_desc"] as? String == "POLICY_DENY"
            && $0["egress_denied_by"] != nil })
        let enforced = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--verdict-as-enforced"] + Self.agentArguments)
        #expect(enforced.stdout.contains("\"verdict\":\"DROPPED\""))
        #expect(!enforced.stdout.contains("\"verdict\":\"AUDIT\""))
    }

    @Test(arguments: [
        (["--pods", "/nonexistent/pods.json"], "flowmon: error: /nonexistent/pods.json: file not found"),
        (["--pods", "Captures/demo/README.md"], "flowmon: error: Captures/demo/README.md: not JSON"),
        (["--pods", "Captures/demo/demo-cluster.pods.json", "--node-name", "nope"], "flowmon: error: --node-name: no node or pod has the node name \"nope\""),
        (["--pods", "Captures/demo/demo-cluster.pods.json", "--policies", "Policies/invalid/unknown-field.yaml"], "flowmon: error: Policies/invalid/unknown-field.yaml: document 1:"),
    ])
    func badAgentInputStopsBeforeAnyPacketIsRead(arguments: [String], message: String) throws {
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["sh", "-c", "cd '\(Fixture.root.path)' && '\(Fixture.flowmonBinary.path)' replay Captures/demo/demo-cluster.pcap "
                                + arguments.map { "'\($0)'" }.joined(separator: " ")])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty, "no flow is written when the agent inputs are bad")
        #expect(result.stderr.hasPrefix(message), "\(result.stderr)")
    }
}
