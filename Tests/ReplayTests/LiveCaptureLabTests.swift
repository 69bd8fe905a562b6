import Foundation
import Testing

/// `flowmon capture` in a node built from network namespaces: real pods, real traffic
/// (TCP accepted and refused, UDP, ping), stopped with SIGINT; checks flows, identities,
/// verdicts, and that nothing was lost. Needs root; when CI=true it must run, not skip.
@Suite(.serialized)
struct LiveCaptureLabTests {
    static var isRoot: Bool { getuid() == 0 }
    static var mustRun: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    static let pods = [
        NetworkNamespaceLab.Pod(name: "a", namespace: "x", app: "client", address: "10.244.0.11"),
        NetworkNamespaceLab.Pod(name: "b", namespace: "x", app: "server", address: "10.244.0.12"),
        NetworkNamespaceLab.Pod(name: "c", namespace: "y", app: "intruder", address: "10.244.0.13"),
    ]

    static let policy = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata:
          name: server-from-client
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
                    - port: "8080"
                      protocol: TCP
                    - port: "5353"
                      protocol: UDP
        """

    @Test func podTrafficBecomesFlowsWithIdentitiesAndVerdicts() throws {
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: Self.pods)
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let podsFile = directory.appendingPathComponent("pods.json")
        try lab.podsJSON().write(to: podsFile, atomically: true, encoding: .utf8)
        let policyFile = directory.appendingPathComponent("policy.yaml")
        try Self.policy.write(to: policyFile, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("flows.jsonl")

        // flowmon on the node side of the bridge.
        // Frames bridged between two pods never pass through br0's own stack, so capture on
        // every interface of the node and keep each packet once, as it enters from its sender.
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--interface", "any",
            "--filter", "inbound and ip", "--pods", podsFile.path, "--policies", policyFile.path,
            "--node-name", "lab-node", "--output", output.path, "--stats-interval", "1"], seconds: 180)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")

        let b = lab.namespace(of: Self.pods[1])
        let a = lab.namespace(of: Self.pods[0])
        let c = lab.namespace(of: Self.pods[2])
        let server = try startAnsweringServer(in: b)
        defer { server.stop() }
        let accepted = try lab.sh("ip netns exec \(a) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        #expect(accepted.stdout.contains("served"), "the TCP connection a -> b:8080 was served: \(accepted)")
        _ = try lab.sh("ip netns exec \(c) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        let refused = try lab.sh("ip netns exec \(a) nc -z -w 2 10.244.0.12 9090")
        #expect(refused.status != 0, "port 9090 is closed: the SYN is answered by RST")
        let answer = try lab.sh("ip netns exec \(a) sh -c 'echo query | socat -t 10 - UDP:10.244.0.12:5353'")
        #expect(answer.stdout.contains("answer"), "the UDP query to b:5353 was answered: \(answer)")
        let ping = try lab.sh("ip netns exec \(a) ping -c 3 -i 0.2 10.244.0.13")
        #expect(ping.status == 0, "ping a -> c: \(ping.stderr)")
        // Stop once two stats lines a second apart count the same packets: everything sent has
        // been read (a fixed sleep was too short on a loaded machine or under a sanitizer).
        func packetsCounted() -> [Int] {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("\"event_type\":\"stats\"") }.compactMap { line in
                let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return ((record?["stats"] as? [String: Any])?["capture"] as? [String: Any])?["packets"] as? Int
            }
        }
        let settledFrom = packetsCounted().count
        _ = flowmon.wait(seconds: 60) {
            let counts = packetsCounted().dropFirst(settledFrom)
            return counts.count >= 2 && counts.last! > 0 && counts.suffix(2).first == counts.last
        }

        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        let stderr = run.stderr
        #expect(run.status == 0, "flowmon exits 0 on SIGINT: \(stderr)")

        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init)
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let flows = records.filter { $0["event_type"] as? String == "flow" }
        func flow(_ source: String, _ destination: String, port: Int?, proto: String) -> [String: Any]? {
            flows.first { record in
                record["src_ip"] as? String == source && record["dest_ip"] as? String == destination
                    && record["proto"] as? String == proto && (port == nil || record["dest_port"] as? Int == port)
            }
        }
        let allowed = try #require(flow("10.244.0.11", "10.244.0.12", port: 8080, proto: "TCP"), "\(lines)")
        #expect(allowed["conn_state"] as? String == "SF")
        #expect((allowed["source"] as? [String: Any])?["pod_name"] as? String == "a")
        #expect((allowed["destination"] as? [String: Any])?["pod_name"] as? String == "b")
        #expect((allowed["policy"] as? [String: Any])?["verdict"] as? String == "FORWARDED")
        let intruder = try #require(flow("10.244.0.13", "10.244.0.12", port: 8080, proto: "TCP"))
        #expect((intruder["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT")
        #expect((intruder["policy"] as? [String: Any])?["drop_reason_desc"] as? String == "POLICY_DENIED")
        let closed = try #require(flow("10.244.0.11", "10.244.0.12", port: 9090, proto: "TCP"))
        #expect(closed["conn_state"] as? String == "REJ")
        // The answered query (earlier tries, if any, are S0).
        let queries = flows.filter { $0["dest_ip"] as? String == "10.244.0.12" && $0["dest_port"] as? Int == 5353 }
        #expect(!queries.isEmpty)
        #expect(queries.contains { $0["conn_state"] as? String == "SF" }, "\(queries)")
        let icmp = try #require(flow("10.244.0.11", "10.244.0.13", port: nil, proto: "ICMP"))
        #expect((icmp["flow"] as? [String: Any])?["pkts_toserver"] as? Int == 3)
        #expect((icmp["flow"] as? [String: Any])?["pkts_toclient"] as? Int == 3)

        // Nothing lost: no drops anywhere, and every packet read went to a flow or to the decoder's counts.
        let stats = try #require(records.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any])
        let capture = try #require(stats["capture"] as? [String: Any])
        #expect(capture["kernel_dropped"] as? Int == 0)
        #expect(capture["ring_dropped"] as? Int == 0)
        let flowPackets = flows.reduce(0) { total, record in
            let f = record["flow"] as? [String: Any] ?? [:]
            return total + (f["pkts_toserver"] as? Int ?? 0) + (f["pkts_toclient"] as? Int ?? 0)
        }
        #expect(flowPackets == capture["packets"] as? Int, "every captured IP packet belongs to a flow")
        #expect(!records.contains { $0["event_type"] as? String == "lost" })
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
    }
}
