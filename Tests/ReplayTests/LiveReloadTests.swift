import Foundation
import Testing

/// SIGHUP during a live capture: new policies judge connections that start afterwards,
/// a broken policy file is reported and the previous policies kept, and the output file is
/// reopened so logrotate can move it.
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
        let pods = directory.appendingPathComponent("pods.json")
        try lab.podsJSON().write(to: pods, atomically: true, encoding: .utf8)
        let policy = directory.appendingPathComponent("policy.yaml")
        try Self.policy(allowing: 7001).write(to: policy, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("flows.jsonl")
        let rotated = directory.appendingPathComponent("flows.jsonl.1")

        let flowmon = Process()
        flowmon.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        flowmon.arguments = ["netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--interface", "any",
                             "--filter", "inbound and udp", "--pods", pods.path, "--policies", policy.path,
                             "--node-name", "lab-node", "--output", output.path, "--workers", "2",
                             // One-way UDP flows end half a second after their packet, so each phase's
                             // records are written before the next phase starts.
                             "--timeout-new", "0.5"]
        let errors = Pipe()
        flowmon.standardError = errors
        try flowmon.run()
        defer { flowmon.stop() }
        Thread.sleep(forTimeInterval: 1.0)
        let a = lab.namespace(of: lab.pods[0])
        func send(_ port: Int, from sourcePort: Int) throws {
            try lab.sh("ip netns exec \(a) sh -c 'echo x | socat -u - UDP:10.244.0.12:\(port),sourceport=\(sourcePort)'")
        }

        try send(7001, from: 40001)  // allowed by the first policy
        try send(7002, from: 40002)  // not allowed by it
        Thread.sleep(forTimeInterval: 2.5)  // the first flows time out and are written to the old file
        try FileManager.default.moveItem(at: output, to: rotated)  // what logrotate does
        try Self.policy(allowing: 7002).write(to: policy, atomically: true, encoding: .utf8)
        kill(flowmon.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 0.5)
        try send(7001, from: 40003)  // now not allowed
        try send(7002, from: 40004)  // now allowed
        try "kind: CiliumNetworkPolicy\napiVersion: cilium.io/v2\nmetadata: {name: broken, namespace: x}\nspec: {endpointSelector: {}, ingres: []}\n"
            .write(to: policy, atomically: true, encoding: .utf8)
        kill(flowmon.processIdentifier, SIGHUP)
        Thread.sleep(forTimeInterval: 0.5)
        try send(7002, from: 40005)  // the broken file was refused: still allowed
        Thread.sleep(forTimeInterval: 0.5)
        kill(flowmon.processIdentifier, SIGINT)
        flowmon.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(flowmon.terminationStatus == 0, "\(stderr)")
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
    }
}
