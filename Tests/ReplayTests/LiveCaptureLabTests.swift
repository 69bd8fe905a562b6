import Foundation
import Testing

/// `flowmon capture` in a node built from network namespaces: real pods, real traffic
/// (TCP accepted and refused, UDP, ping), stopped with SIGINT; checks flows, identities,
/// verdicts, that each packet is counted once (at the pods' veths, by default and with
/// `--interface any`), where each connection was observed, and that nothing was lost. Needs
/// root; when CI=true it must run, not skip.
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

    /// The default observes the pods' veths; `any` every interface but the bridge. Either way a
    /// packet bridged from one pod to another is seen twice (leaving one veth, entering the
    /// other) and counted once.
    @Test(arguments: [[String](), ["--interface", "any"]])
    func podTrafficBecomesFlowsWithIdentitiesAndVerdicts(interfaces: [String]) throws {
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: Self.pods)
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (podsFile, policyFile) = try lab.writeInventory(policy: Self.policy, into: directory)
        let output = directory.appendingPathComponent("flows.jsonl")
        let hubbleOutput = directory.appendingPathComponent("hubble.jsonl")

        // flowmon in the node namespace, with no filter: the rule, not a BPF expression, keeps
        // each packet once.
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture"] + interfaces + [
            "--pods", podsFile.path, "--policies", policyFile.path, "--node-name", "lab-node", "--output", output.path,
            "--hubble", hubbleOutput.path, "--stats-interval", "1"], seconds: 180)
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
        let finished = flowmon.finish()
        let stderr = finished.stderr
        #expect(finished.status == 0, "flowmon exits 0 on SIGINT: \(stderr)")

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
        // Observed first where a's SYN entered the node: a's veth.
        #expect(allowed["in_iface"] as? String == "veth0", "\(allowed)")
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

        // Nothing lost: no drops anywhere, and every packet read went to a flow, was counted
        // where it was seen first, or is not IP (ARP).
        let stats = try #require(records.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any])
        let capture = try #require(stats["capture"] as? [String: Any])
        #expect(capture["kernel_dropped"] as? Int == 0)
        #expect(capture["ring_dropped"] as? Int == 0)
        let flowPackets = flows.reduce(0) { total, record in
            let f = record["flow"] as? [String: Any] ?? [:]
            return total + (f["pkts_toserver"] as? Int ?? 0) + (f["pkts_toclient"] as? Int ?? 0)
        }
        let seenElsewhere = capture["seen_elsewhere"] as? Int ?? 0
        let nonIP = (stats["decoder"] as? [String: Any])?["non_ip"] as? Int ?? 0
        #expect(seenElsewhere > 0, "pod-to-pod packets are seen at two veths")
        #expect(flowPackets + seenElsewhere + nonIP == capture["packets"] as? Int,
                "every packet read is in a flow, counted elsewhere, or not IP: \(capture)")
        let perInterface = try #require(capture["interfaces"] as? [String: [String: Int]])
        #expect(perInterface.values.reduce(0) { $0 + ($1["packets"] ?? 0) } == capture["packets"] as? Int)
        #expect(perInterface.values.reduce(0) { $0 + ($1["seen_elsewhere"] ?? 0) } == seenElsewhere)

        // Hubble lines say where they were observed, parse strictly, and `hubble observe
        // --interface` selects them.
        let hubbleLines = try String(contentsOf: hubbleOutput, encoding: .utf8).split(separator: "\n")
        #expect(!hubbleLines.isEmpty)
        let strict = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["python3", Fixture.root.appendingPathComponent("scripts/hubble-strict-parse").path, hubbleOutput.path])
        #expect(strict.status == 0, "\(strict.stdout)\(strict.stderr)")
        let atVeth0 = hubbleLines.filter { $0.contains("\"interface\":{\"index\":") && $0.contains("\"name\":\"veth0\"}") }
        #expect(!atVeth0.isEmpty && hubbleLines.allSatisfy { $0.contains("\"trace_observation_point\":\"FROM_ENDPOINT\"") })
        if let hubble = try Fixture.hubbleCLI(in: directory, for: "hubble observe --interface") {
            let selected = try run(hubble, ["observe", "--input-file", hubbleOutput.path, "-o", "json", "--interface", "veth0"])
            #expect(selected.status == 0, "\(selected.stderr)")
            #expect(selected.stdout.split(separator: "\n").count == atVeth0.count)
        }
        #expect(!records.contains { $0["event_type"] as? String == "lost" })
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    /// A pod started during the capture (a new veth) is observed within a second of its veth
    /// appearing (rtnetlink, not polling), and its traffic is counted once.
    @Test func aPodStartedDuringTheCaptureIsObservedWithinASecond() throws {
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: Array(Self.pods.prefix(2)))
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--output", output.path], seconds: 120)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("capturing on 2 pod interfaces (veth0, veth1)") },
                "\(flowmon.stderrSoFar)")

        let late = NetworkNamespaceLab.Pod(name: "d", namespace: "x", app: "late", address: "10.244.0.14")
        try lab.addPod(late)
        let added = Date()
        #expect(flowmon.wait(seconds: 10) { flowmon.stderrSoFar.contains("now observing 3 pod interfaces (veth0, veth1, veth2)") },
                "\(flowmon.stderrSoFar)")
        let noticed = Date().timeIntervalSince(added)
        #expect(noticed < 1, "observed \(noticed) s after its veth appeared")
        let ping = try lab.sh("ip netns exec \(lab.namespace(of: late)) ping -c 3 -i 0.2 10.244.0.11")
        #expect(ping.status == 0, "\(ping.stderr)")
        Thread.sleep(forTimeInterval: 0.5)
        kill(flowmon.pid, SIGINT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        let records = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let icmp = try #require(records.first {
            $0["src_ip"] as? String == "10.244.0.14" && $0["dest_ip"] as? String == "10.244.0.11" && $0["proto"] as? String == "ICMP"
        }, "\(records)")
        #expect((icmp["flow"] as? [String: Any])?["pkts_toserver"] as? Int == 3)
        #expect((icmp["flow"] as? [String: Any])?["pkts_toclient"] as? Int == 3)
        #expect(icmp["in_iface"] as? String == "veth2")
    }
}
