import Foundation
import Testing

/// `flowmon policy advise` end to end through the CLI: policies advised from a capture, replayed
/// over the same capture, drop nothing; replayed over the capture plus one unexpected connection,
/// they flag exactly that connection.
struct PolicyAdviseTests {
    struct Case: CustomStringConvertible, Sendable {
        var name: String
        var capture: URL
        var inventory: [String]
        var description: String { self.name }
    }

    /// The demo (8 namespaces) and the services fixture (13 namespaces, ClusterIP traffic).
    static let demo = Case(
        name: "demo", capture: Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap"),
        inventory: ["--pods", Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path,
                    "--services", Fixture.captures.appendingPathComponent("demo/demo-cluster.services.json").path,
                    "--node-name", "kind-worker-0"])
    static let services = Case(
        name: "services", capture: Fixture.captures.appendingPathComponent("services/services-cluster.pcap"),
        inventory: ["--pods", Fixture.captures.appendingPathComponent("services/services-cluster.pods.json").path,
                    "--services", Fixture.captures.appendingPathComponent("services/services-cluster.services.json").path,
                    "--node-name", "kind-worker-0"])
    /// Real DNS, HTTP and TLS through a resolver (Captures/l7): one pod, kube-dns, world by name.
    static let l7 = Case(
        name: "l7", capture: Fixture.captures.appendingPathComponent("l7/l7-egress.pcap"),
        inventory: ["--pods", Fixture.captures.appendingPathComponent("l7/l7.pods.json").path, "--node-name", "kind-worker-0"])
    static let formats = ["cilium", "kubernetes"]

    /// Runs `flowmon policy advise` into a fresh directory. The fixtures are seconds long: unless
    /// `extra` says otherwise, `--min-observation 0` (no minimum).
    static func advise(_ input: URL, _ inventory: [String], format: String, extra: [String] = []) throws
        -> (directory: URL, stdout: String, stderr: String)
    {
        let directory = try Fixture.temporaryDirectory().appendingPathComponent("advised")
        let minimum = extra.contains("--min-observation") ? [] : ["--min-observation", "0"]
        let result = try run(Fixture.flowmonBinary, ["policy", "advise", input.path, "--format", format, "--out", directory.path]
            + inventory + minimum + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return (directory, result.stdout, result.stderr)
    }

    /// The flow records of a replay with the advised policies.
    static func replayFlows(_ capture: URL, _ inventory: [String], policies: URL, extra: [String] = []) throws -> [[String: Any]] {
        let result = try run(Fixture.flowmonBinary, ["replay", capture.path, "--policies", policies.path] + inventory + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }.filter { $0["event_type"] as? String == "flow" }
    }

    static func verdict(_ flow: [String: Any]) -> String? { (flow["policy"] as? [String: Any])?["verdict"] as? String }

    static func files(_ directory: URL) throws -> [String: String] {
        var files: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        }
        return files
    }

    // MARK: Round trips

    @Test(arguments: [demo, services], formats)
    func replayingTheSameCaptureWithTheAdvisedPoliciesDropsNothing(testCase: Case, format: String) throws {
        // System components too: every workload of the node.
        let advised = try Self.advise(testCase.capture, testCase.inventory, format: format, extra: ["--include-system"])
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        let files = try Self.files(advised.directory)
        #expect(files.count >= 8, "one policy per local workload")
        #expect(files.keys.allSatisfy { $0.hasSuffix("-advised.yaml") })
        #expect(files.values.allSatisfy { $0.hasPrefix("# Advised by 'flowmon policy advise' from \(testCase.capture.lastPathComponent):") })

        // flowmon's own loader takes them.
        let check = try run(Fixture.flowmonBinary, ["policy", "check", advised.directory.path, "--pods", testCase.inventory[1]])
        #expect(check.status == 0, "\(check.stderr)")
        #expect(check.stdout.hasSuffix("\(files.count) policies valid\n"))
        #expect(!check.stdout.contains("selects 0 pods"))

        let flows = try Self.replayFlows(testCase.capture, testCase.inventory, policies: advised.directory,
                                         extra: ["--verdict-as-enforced"])
        #expect(flows.count >= 120)
        let dropped = flows.filter { Self.verdict($0) != "FORWARDED" }
        #expect(dropped.isEmpty, "\(dropped.count) of \(flows.count) dropped, e.g. \(dropped.first ?? [:])")
        // The policies are enforced: most connections were decided by an advised policy.
        let decided = flows.filter { flow in
            let policy = flow["policy"] as? [String: Any] ?? [:]
            return policy["egress_allowed_by"] != nil || policy["ingress_allowed_by"] != nil
        }
        #expect(decided.count * 2 > flows.count, "\(decided.count) of \(flows.count) allowed by an advised policy")
    }

    /// Flow logs are read with the FlowLog module (`flowmon map`'s reader), when the build has it.
    static let readsFlowLogs = FileManager.default.fileExists(atPath: Fixture.root.appendingPathComponent("Sources/FlowLog").path)

    /// Advice is deterministic, and the same from the capture as from the flow log a replay of
    /// that capture wrote.
    @Test(.enabled(if: readsFlowLogs, "flow logs are read with the FlowLog module"), arguments: [demo, l7], formats)
    func adviceFromAFlowLogEqualsAdviceFromTheCapture(testCase: Case, format: String) throws {
        let fromCapture = try Self.advise(testCase.capture, testCase.inventory, format: format)
        let again = try Self.advise(testCase.capture, testCase.inventory, format: format)
        let log = fromCapture.directory.deletingLastPathComponent().appendingPathComponent("flows.jsonl")
        // The flow log of a plain replay (another inventory would not change addresses and ports).
        let replay = try run(Fixture.flowmonBinary, ["replay", testCase.capture.path, "-o", log.path])
        #expect(replay.status == 0)
        let fromLog = try Self.advise(log, testCase.inventory, format: format)
        defer {
            for directory in [fromCapture.directory, again.directory, fromLog.directory] {
                try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
            }
        }
        let expected = try Self.files(fromCapture.directory)
        #expect(try Self.files(again.directory) == expected)
        let logged = try Self.files(fromLog.directory).mapValues {
            $0.replacingOccurrences(of: "from flows.jsonl:", with: "from \(testCase.capture.lastPathComponent):")
        }
        #expect(logged == expected)
        #expect(fromLog.stdout.replacingOccurrences(of: fromLog.directory.path, with: "DIR")
            == fromCapture.stdout.replacingOccurrences(of: fromCapture.directory.path, with: "DIR"))
    }

    /// The demo plus one connection nothing in the capture did (shop/recommendations to
    /// payments/users on 5432): with the policies advised from the demo, exactly that connection
    /// is flagged, at egress and at ingress (both ends are advised workloads on this node).
    @Test(arguments: formats)
    func anUnexpectedConnectionIsFlaggedAndNothingElse(format: String) throws {
        let testCase = Self.demo
        let advised = try Self.advise(testCase.capture, testCase.inventory, format: format)
        let variant = advised.directory.deletingLastPathComponent().appendingPathComponent("demo-plus-one.pcap")
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        try PcapAppender.appendTCPConnection(to: testCase.capture, writing: variant,
                                             from: ([10, 244, 0, 7], 40123), to: ([10, 244, 0, 9], 5432))

        let flows = try Self.replayFlows(variant, testCase.inventory, policies: advised.directory)
        let flagged = flows.filter { Self.verdict($0) != "FORWARDED" }
        #expect(flagged.count == 1, "\(flagged.map { "\($0["src_ip"]!) -> \($0["dest_ip"]!):\($0["dest_port"] ?? "")" })")
        let flow = try #require(flagged.first)
        #expect(flow["src_ip"] as? String == "10.244.0.7" && flow["dest_ip"] as? String == "10.244.0.9")
        #expect(flow["src_port"] as? Int == 40123 && flow["dest_port"] as? Int == 5432)
        let policy = try #require(flow["policy"] as? [String: Any])
        #expect(policy["verdict"] as? String == "AUDIT")
        #expect(policy["drop_reason_desc"] as? String == "POLICY_DENIED")
        // As a NetworkPolicy, shop/recommendations' egress stays open (it reaches a node), so it is
        // payments/users' ingress that flags it.
        #expect(policy["traffic_direction"] as? String == (format == "cilium" ? "EGRESS" : "INGRESS"))
        #expect((policy["ingress"] as? [String: Any])?["decision"] as? String == "denied")
        // Everything else is as in the original replay: forwarded.
        let original = try Self.replayFlows(testCase.capture, testCase.inventory, policies: advised.directory)
        #expect(flows.count == original.count + 1)
        #expect(original.allSatisfy { Self.verdict($0) == "FORWARDED" })
    }

    // MARK: Names

    /// The pod of Captures/l7 looked up api.example.test (and www, a CNAME to it) and
    /// blocked.example.net before connecting, and connected to 203.0.113.20 without a lookup:
    /// Cilium advice allows the names by `toFQDNs`, with `rules.dns` on its DNS rule to kube-dns
    /// so that Cilium's DNS proxy learns them; the address never looked up stays a CIDR. Replayed
    /// with the advice, nothing is dropped, and it is the names that allow the connections:
    /// without the application layer (`--no-l7`, no name learned) exactly those are dropped.
    @Test(arguments: formats)
    func theL7AdviceAllowsTheHostsItLookedUpByName(format: String) throws {
        let testCase = Self.l7
        let advised = try Self.advise(testCase.capture, testCase.inventory, format: format, extra: ["--include-system"])
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        let files = try Self.files(advised.directory)
        #expect(files.keys.sorted() == ["kube-system.coredns-7c9b-advised.yaml", "shop.frontend-5d8f-advised.yaml"])
        let frontend = try #require(files["shop.frontend-5d8f-advised.yaml"])
        let check = try run(Fixture.flowmonBinary, ["policy", "check", advised.directory.path, "--pods", testCase.inventory[1]])
        #expect(check.status == 0 && check.stdout.hasSuffix("2 policies valid\n"), "\(check.stdout)\(check.stderr)")

        if format == "cilium" {
            #expect(frontend.contains("""
                  egress:
                  - toEndpoints:
                    - matchLabels:
                        k8s-app: "kube-dns"
                        k8s:io.kubernetes.pod.namespace: "kube-system"
                    toPorts:
                    - ports:
                      - port: "53"
                        protocol: TCP
                      - port: "53"
                        protocol: UDP
                      rules:
                        dns:
                        - matchPattern: "*"
                  - toCIDR:
                    - 203.0.113.20/32
                    toPorts:
                    - ports:
                      - port: "80"
                        protocol: TCP
                  - toFQDNs:
                    - matchName: "api.example.test"
                    - matchName: "www.example.test"
                    toPorts:
                    - ports:
                      - port: "80"
                        protocol: TCP
                      - port: "443"
                        protocol: TCP
                  - toFQDNs:
                    - matchName: "blocked.example.net"
                    toPorts:
                    - ports:
                      - port: "80"
                        protocol: TCP

                """), "\(frontend)")
            #expect(frontend.contains("#   api.example.test, www.example.test (203.0.113.10): TCP 80 (3), TCP 443 (1)\n"), "\(frontend)")
        } else {
            #expect(!frontend.contains("- toFQDNs:"))
            #expect(frontend.contains("""
                # World addresses looked up by name (a NetworkPolicy cannot name hosts; --format cilium writes toFQDNs):
                #   198.51.100.7 resolved as blocked.example.net
                #   203.0.113.10 resolved as api.example.test, www.example.test

                """), "\(frontend)")
            #expect(frontend.contains("    - ipBlock:\n        cidr: 203.0.113.10/32\n"))
        }

        // flowmon's own toFQDNs judge, over the same capture: nothing dropped.
        let flows = try Self.replayFlows(testCase.capture, testCase.inventory, policies: advised.directory,
                                         extra: ["--verdict-as-enforced"])
        #expect(flows.count == 14)
        let dropped = flows.filter { Self.verdict($0) != "FORWARDED" }
        #expect(dropped.isEmpty, "\(dropped.count) of \(flows.count) dropped, e.g. \(dropped.first ?? [:])")
        let egressAllowed = flows.filter { ($0["policy"] as? [String: Any])?["egress_allowed_by"] != nil }
        #expect(egressAllowed.count == flows.count, "every connection starts at the advised pod")
        // Without names learned, toFQDNs selects nothing: the connections to looked-up hosts are dropped (Cilium).
        let blind = try Self.replayFlows(testCase.capture, testCase.inventory, policies: advised.directory,
                                         extra: ["--verdict-as-enforced", "--no-l7"])
        let named = Set(["203.0.113.10", "198.51.100.7"])
        let blindDropped = blind.filter { Self.verdict($0) != "FORWARDED" }
        if format == "cilium" {
            #expect(blindDropped.count == 6 && blindDropped.allSatisfy { named.contains($0["dest_ip"] as? String ?? "") },
                    "\(blindDropped.map { "\($0["dest_ip"]!):\($0["dest_port"]!)" })")
        } else {
            #expect(blindDropped.isEmpty)
        }

        // Advised without the application layer, no name is known: addresses only.
        let noNames = try Self.advise(testCase.capture, testCase.inventory, format: format, extra: ["--no-l7"])
        defer { try? FileManager.default.removeItem(at: noNames.directory.deletingLastPathComponent()) }
        let plain = try #require(try Self.files(noNames.directory)["shop.frontend-5d8f-advised.yaml"])
        #expect(!plain.contains("- toFQDNs:") && !plain.contains("resolved as") && plain.contains("203.0.113.10/32"))
    }

    // MARK: What the policies say

    @Test func theDemoAdvice() throws {
        let advised = try Self.advise(Self.demo.capture, Self.demo.inventory, format: "cilium", extra: ["--include-system"])
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        let files = try Self.files(advised.directory)
        #expect(files.keys.sorted() == [
            "default.search-advised.yaml", "ingress-nginx.ingress-nginx-controller-advised.yaml",
            "kube-system.coredns-advised.yaml", "monitoring.fluent-bit-advised.yaml", "monitoring.prometheus-k8s-advised.yaml",
            "payments.users-advised.yaml", "platform.redis-advised.yaml", "shop.recommendations-advised.yaml",
        ])
        #expect(advised.stdout.hasSuffix("8 policies in \(advised.directory.path), from 120 of 120 connections (the others had no workload of this node on either end)\n"))
        let recommendations = try #require(files["shop.recommendations-advised.yaml"])
        // Selected by its stable label, not pod-template-hash or the pod names.
        #expect(recommendations.contains("""
              endpointSelector:
                matchLabels:
                  app.kubernetes.io/name: "recommendations"
            """))
        #expect(!recommendations.contains("pod-template-hash") && !recommendations.contains("rs4dtjk2rt"))
        // DNS to kube-dns on UDP and TCP 53; another namespace's pods by labels and namespace;
        // a node by entity; world by CIDR.
        #expect(recommendations.contains("""
              - toEndpoints:
                - matchLabels:
                    k8s-app: "kube-dns"
                    k8s:io.kubernetes.pod.namespace: "kube-system"
                toPorts:
                - ports:
                  - port: "53"
                    protocol: TCP
                  - port: "53"
                    protocol: UDP
            """))
        #expect(recommendations.contains("""
              - toEntities:
                - remote-node
                toPorts:
                - ports:
                  - port: "6443"
                    protocol: TCP
            """))
        #expect(recommendations.contains("  - toCIDR:\n    - 198.18.250.8/32\n"))
        // The header says what produced it.
        #expect(recommendations.contains("# Workload: Deployment recommendations in shop (3 pods, 2 on node kind-worker-0)\n"))
        #expect(recommendations.contains("#   payments/users via service payments/users: TCP 3000 (1)\n"))
        #expect(recommendations.contains("#   this node (always allowed in, no rule needed): TCP 443 (2)\n"))
        // Host-network pods (kube-proxy, kindnet, node-exporter) get no policy.
        #expect(!files.keys.contains { $0.contains("kube-proxy") || $0.contains("kindnet") || $0.contains("node-exporter") })
    }

    /// NetworkPolicy can name nodes only by ipBlock, which Cilium matches against nodes only with
    /// policy-cidr-match-mode: nodes: a workload that reaches a node keeps that direction open,
    /// with the rules in a comment.
    @Test func aNetworkPolicyLeavesOpenADirectionThatReachesNodes() throws {
        let advised = try Self.advise(Self.demo.capture, Self.demo.inventory, format: "kubernetes")
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        let recommendations = try #require(try Self.files(advised.directory)["shop.recommendations-advised.yaml"])
        #expect(recommendations.contains("  policyTypes:\n  - Ingress\n  ingress:\n"))
        #expect(recommendations.contains("# Egress is not isolated: it reaches nodes"))
        #expect(recommendations.contains("#    - ipBlock:\n#        cidr: 172.18.0.4/32\n"))
        let users = try #require(try Self.files(advised.directory)["payments.users-advised.yaml"])
        #expect(users.contains("  policyTypes:\n  - Ingress\n  - Egress\n"))
    }

    @Test func badInput() throws {
        let noPods = try run(Fixture.flowmonBinary, ["policy", "advise", Self.demo.capture.path, "--out", "/tmp/x"])
        #expect(noPods.status == 64 && noPods.stderr.contains("'--pods' is required"))
        let missing = try run(Fixture.flowmonBinary, ["policy", "advise", "/nonexistent.pcap", "--out", "/tmp/x"]
            + Self.demo.inventory)
        // After the inventory's notices (the demo pods file has a finished pod).
        let errors = missing.stderr.split(separator: "\n").filter { !$0.hasPrefix("flowmon: notice: ") }
        #expect(missing.status == 1 && errors.first?.hasPrefix("flowmon: error: /nonexistent.pcap") == true, "\(missing.stderr)")
        guard Self.readsFlowLogs else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let log = directory.appendingPathComponent("bad.jsonl")
        try "{\"event_type\":\"flow\",\"timestamp\":\"x\",\"src_ip\":\"nope\",\"dest_ip\":\"10.0.0.1\",\"proto\":\"TCP\",\"flow\":{\"pkts_toserver\":1,\"pkts_toclient\":0,\"bytes_toserver\":1,\"bytes_toclient\":0}}\n"
            .write(to: log, atomically: true, encoding: .utf8)
        let bad = try run(Fixture.flowmonBinary, ["policy", "advise", log.path, "--out", directory.appendingPathComponent("o").path]
            + Self.demo.inventory)
        #expect(bad.status == 1, "\(bad.stderr)")
        #expect(bad.stderr.contains("flowmon: error: \(log.path)"), "\(bad.stderr)")
    }

    /// Without --services, DNS to the kube-dns ClusterIP can only be advised as a CIDR (and a notice says so).
    @Test func withoutServicesClusterIPsAreAddresses() throws {
        let inventory = ["--pods", Self.demo.inventory[1], "--node-name", "kind-worker-0"]
        let advised = try Self.advise(Self.demo.capture, inventory, format: "cilium")
        defer { try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent()) }
        #expect(advised.stderr.contains("flowmon: notice: without --services"))
        let users = try #require(try Self.files(advised.directory)["payments.users-advised.yaml"])
        #expect(users.contains("10.96.0.10/32"))
        let flows = try Self.replayFlows(Self.demo.capture, inventory, policies: advised.directory)
        #expect(flows.allSatisfy { Self.verdict($0) == "FORWARDED" })
    }
}

/// Writes a copy of a classic pcap (Ethernet) with one more TCP connection at its end: SYN,
/// SYN-ACK and ACK, a millisecond apart after the last packet.
enum PcapAppender {
    static func appendTCPConnection(to source: URL, writing destination: URL, from client: ([UInt8], UInt16),
                                    to server: ([UInt8], UInt16)) throws {
        var data = try Data(contentsOf: source)
        let bytes = [UInt8](data)
        let littleEndian = bytes[0] == 0xd4 && bytes[1] == 0xc3
        func read32(_ offset: Int) -> UInt32 {
            let b = bytes[offset..<offset + 4].map(UInt32.init)
            return littleEndian ? b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24 : b[3] | b[2] << 8 | b[1] << 16 | b[0] << 24
        }
        func bytes32(_ value: UInt32) -> [UInt8] {
            let b = [UInt8(value & 0xff), UInt8(value >> 8 & 0xff), UInt8(value >> 16 & 0xff), UInt8(value >> 24)]
            return littleEndian ? b : b.reversed()
        }
        precondition(read32(20) == 1, "an Ethernet capture")
        var offset = 24
        var last: (seconds: UInt32, micros: UInt32) = (0, 0)
        while offset + 16 <= bytes.count {
            last = (read32(offset), read32(offset + 4))
            offset += 16 + Int(read32(offset + 8))
        }
        var time = UInt64(last.seconds) * 1_000_000 + UInt64(last.micros)
        let packets: [(Bool, UInt8, UInt32, UInt32)] = [(true, 0x02, 1000, 0), (false, 0x12, 5000, 1001), (true, 0x10, 1001, 5001)]
        for (fromClient, flags, seq, ack) in packets {
            time += 1000
            let frame = Self.frame(from: fromClient ? client : server, to: fromClient ? server : client, flags: flags, seq: seq, ack: ack)
            data.append(contentsOf: bytes32(UInt32(time / 1_000_000)) + bytes32(UInt32(time % 1_000_000))
                + bytes32(UInt32(frame.count)) + bytes32(UInt32(frame.count)))
            data.append(contentsOf: frame)
        }
        try data.write(to: destination)
    }

    static func frame(from: ([UInt8], UInt16), to: ([UInt8], UInt16), flags: UInt8, seq: UInt32, ack: UInt32) -> [UInt8] {
        func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }
        func be32(_ v: UInt32) -> [UInt8] { [UInt8(v >> 24), UInt8(v >> 16 & 0xff), UInt8(v >> 8 & 0xff), UInt8(v & 0xff)] }
        func checksum(_ words: [UInt8]) -> UInt16 {
            var sum: UInt32 = 0
            var index = 0
            while index < words.count {
                sum += UInt32(words[index]) << 8 | (index + 1 < words.count ? UInt32(words[index + 1]) : 0)
                index += 2
            }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            return ~UInt16(sum)
        }
        var tcp = be16(from.1) + be16(to.1) + be32(seq) + be32(ack) + [0x50, flags] + be16(64240) + [0, 0, 0, 0]
        let pseudo = from.0 + to.0 + [0, 6] + be16(UInt16(tcp.count))
        let tcpSum = checksum(pseudo + tcp)
        tcp[16] = UInt8(tcpSum >> 8)
        tcp[17] = UInt8(tcpSum & 0xff)
        var ip: [UInt8] = [0x45, 0] + be16(UInt16(20 + tcp.count)) + [0x12, 0x34, 0x40, 0, 64, 6, 0, 0] + from.0 + to.0
        let ipSum = checksum(ip)
        ip[10] = UInt8(ipSum >> 8)
        ip[11] = UInt8(ipSum & 0xff)
        let ethernet: [UInt8] = [0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]
        return ethernet + ip + tcp
    }
}
