import Foundation
import Testing

/// SIGHUP during a live capture: new policies judge connections that start afterwards,
/// a broken policy file is reported and the previous policies kept, and the output file is
/// reopened so logrotate can move it. The Hubble lines' policy `revision` counts the reloads.
@Suite(.serialized)
struct LiveReloadTests {
    static func policy(allowing port: Int) -> String {
        """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata:
          name: server-ingress
          namespace: x
        spec:
          endpointSelector:
            matchLabels:
              app: server
          ingress:
            - fromEndpoints:
                - matchLabels:
                    app: client
              toPorts:
                - ports:
                    - port: "\(port)"
                      protocol: UDP
        """
    }

    @Test func sighupReloadsPoliciesAndReopensTheOutput() throws {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: [
            .init(name: "a", namespace: "x", app: "client", address: "10.244.0.11"),
            .init(name: "b", namespace: "x", app: "server", address: "10.244.0.12"),
        ])
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (pods, policy) = try lab.writeInventory(policy: Self.policy(allowing: 7001), into: directory)
        let output = directory.appendingPathComponent("flows.jsonl")
        let rotated = directory.appendingPathComponent("flows.jsonl.1")
        let hubble = directory.appendingPathComponent("hubble.jsonl")

        // Waits are on events (stderr lines, records in the files), not fixed sleeps, so the test
        // holds on a loaded machine and under the sanitizers; each epoch is flushed as it is written.
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--interface", "any",
            "--filter", "inbound and udp", "--pods", pods.path, "--policies", policy.path,
            "--node-name", "lab-node", "--output", output.path, "--hubble", hubble.path, "--workers", "2", "--stats-interval", "1",
            // One-way UDP flows end half a second after their packet, so each phase's
            // records are written before the next phase starts.
            "--timeout-new", "0.5"], seconds: 120)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        let a = lab.namespace(of: lab.pods[0])
        func send(_ port: Int, from sourcePort: Int) throws {
            try lab.sh("ip netns exec \(a) sh -c 'echo x | socat -u - UDP:10.244.0.12:\(port),sourceport=\(sourcePort)'")
        }
        // Flow records (a policy-violation alert names the port too, and is written before its flow ends).
        func written(_ file: URL, _ ports: [Int]) -> Bool {
            let flows = ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n")
                .filter { $0.contains("\"event_type\":\"flow\"") }
            return ports.allSatisfy { port in flows.contains { $0.contains("\"src_port\":\(port),") } }
        }

        try send(7001, from: 40001)  // allowed by the first policy
        try send(7002, from: 40002)  // not allowed by it
        // The first flows time out and are written to the old file.
        #expect(flowmon.wait(seconds: 30) { written(output, [40001, 40002]) }, "first flows written")
        try FileManager.default.moveItem(at: output, to: rotated)  // what logrotate does
        try Self.policy(allowing: 7002).write(to: policy, atomically: true, encoding: .utf8)
        kill(flowmon.pid, SIGHUP)
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("reloaded inventory and policies") })
        try send(7001, from: 40003)  // now not allowed
        try send(7002, from: 40004)  // now allowed
        try "kind: CiliumNetworkPolicy\napiVersion: cilium.io/v2\nmetadata: {name: broken, namespace: x}\nspec: {endpointSelector: {}, ingres: []}\n"
            .write(to: policy, atomically: true, encoding: .utf8)
        kill(flowmon.pid, SIGHUP)
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("reload failed") })
        try send(7002, from: 40005)  // the broken file was refused: still allowed
        #expect(flowmon.wait(seconds: 30) { written(output, [40003, 40004, 40005]) }, "later flows written")
        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        let stderr = run.stderr
        #expect(run.status == 0, "\(stderr)")
        #expect(stderr.contains("reloaded inventory and policies"))
        #expect(stderr.contains("reload failed, keeping the previous inventory and policies"))
        #expect(stderr.contains("unknown field 'ingres'"))

        func verdicts(_ file: URL) throws -> [Int: String] {
            var result: [Int: String] = [:]
            for line in try String(contentsOf: file, encoding: .utf8).split(separator: "\n") {
                guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      record["event_type"] as? String == "flow", let port = record["src_port"] as? Int else { continue }
                result[port] = (record["policy"] as? [String: Any])?["verdict"] as? String
            }
            return result
        }
        let before = try verdicts(rotated)
        let after = try verdicts(output)
        #expect(before[40001] == "FORWARDED" && before[40002] == "AUDIT", "old file: \(before)")
        #expect(after[40003] == "AUDIT" && after[40004] == "FORWARDED" && after[40005] == "FORWARDED", "new file: \(after)")

        // The policies that allowed a connection, with their revision: 1 as loaded, 2 after the
        // reload (the refused file made none).
        var revisions: [Int: [String]] = [:]
        for line in try String(contentsOf: hubble, encoding: .utf8).split(separator: "\n") {
            let flow = (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["flow"] as? [String: Any]
            guard let port = ((flow?["l4"] as? [String: Any])?["UDP"] as? [String: Any])?["source_port"] as? Int else { continue }
            revisions[port, default: []] += (flow?["ingress_allowed_by"] as? [[String: Any]] ?? []).compactMap { $0["revision"] as? String }
        }
        #expect(revisions[40001] == ["1"] && revisions[40002] == [] && revisions[40003] == [], "\(revisions)")
        #expect(revisions[40004] == ["2"] && revisions[40005] == ["2"], "\(revisions)")
    }
}
