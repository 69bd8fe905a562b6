import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `flowmon capture --metrics-address` scraped by a real Prometheus (Debian's `prometheus`),
/// both in a node built from network namespaces: after real pod traffic, the values Prometheus
/// stored (queried through its HTTP API, `/api/v1/query`) equal what flowmon wrote as JSON
/// (flow records, Hubble lines, stats); `promtool check metrics` accepts the page. Needs root
/// and Prometheus; when CI=true it must run, not skip.
@Suite(.serialized)
struct MetricsLabTests {
    static let prometheus = "/usr/bin/prometheus"
    static let promtool = "/usr/bin/promtool"
    static var mustRun: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Runs `python3` in `namespace` to GET `url`; its status and body.
    static func get(_ namespace: String, _ url: String) throws -> (status: Int, body: String) {
        let script = """
            import sys, urllib.request, urllib.error
            try:
                r = urllib.request.urlopen(sys.argv[1], timeout=5); print(r.status); sys.stdout.write(r.read().decode())
            except urllib.error.HTTPError as e:
                print(e.code); sys.stdout.write(e.read().decode())
            """
        let result = try run(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "exec", namespace, "python3", "-c", script, url])
        let lines = result.stdout.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
        guard let status = lines.first.flatMap({ Int($0) }) else { return (0, result.stderr) }
        return (status, lines.count > 1 ? String(lines[1]) : "")
    }

    /// A PromQL instant query through Prometheus's HTTP API: each series' labels (without
    /// `__name__`) and value.
    static func query(_ namespace: String, _ expression: String) throws -> [[String: String]: Double] {
        let encoded = expression.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        let (status, body) = try Self.get(namespace, "http://127.0.0.1:9090/api/v1/query?query=\(encoded)")
        guard status == 200, let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let data = json["data"] as? [String: Any], let result = data["result"] as? [[String: Any]] else {
            throw NetworkNamespaceLab.LabError(message: "query \(expression): \(status) \(body)")
        }
        var series: [[String: String]: Double] = [:]
        for entry in result {
            var labels = entry["metric"] as? [String: String] ?? [:]
            for name in ["__name__", "instance", "job"] { labels[name] = nil }
            let value = (entry["value"] as? [Any])?.last as? String
            series[labels] = value.flatMap(Double.init)
        }
        return series
    }

    @Test func prometheusScrapesWhatTheJSONSays() throws {
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: Self.prometheus) else {
            #expect(!Self.mustRun, "the Prometheus test must run in CI (as root, with Debian's prometheus)")
            if !Self.mustRun { print("MetricsLabTests: skipped (needs root and \(Self.prometheus))") }
            return
        }
        let lab = NetworkNamespaceLab(pods: LiveCaptureLabTests.pods)
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (podsFile, policyFile) = try lab.writeInventory(policy: LiveCaptureLabTests.policy, into: directory)
        let output = directory.appendingPathComponent("flows.jsonl")
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let configuration = directory.appendingPathComponent("prometheus.yml")
        try """
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: flowmon
                static_configs:
                  - targets: ['127.0.0.1:9100']
            """.write(to: configuration, atomically: true, encoding: .utf8)

        // flowmon on the node as deployed: the pods' interfaces (not the scrapes on the node's
        // loopback); the test's own traffic only (not ARP or the bridge's IGMP reports, which
        // come at their own times), so the counts settle; short timeouts so every connection
        // ends while it runs.
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--filter", "ip and not igmp",
            "--pods", podsFile.path, "--policies", policyFile.path,
            "--verdict-as-enforced", "--node-name", "lab-node", "--output", output.path, "--hubble", hubble.path,
            "--stats-interval", "1", "--timeout-new", "2", "--timeout-established", "2", "--timeout-closed", "1",
            "--metrics-address", "127.0.0.1:9100"], seconds: 240)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        #expect(flowmon.stderrSoFar.contains("flowmon: serving metrics on http://127.0.0.1:9100/metrics"))
        let prometheus = try startInNamespace(lab.node, [
            Self.prometheus, "--config.file=\(configuration.path)", "--storage.tsdb.path=\(directory.path)/tsdb",
            "--web.listen-address=127.0.0.1:9090"])
        defer { prometheus.stop() }
        #expect(flowmon.wait(seconds: 60) { (try? Self.get(lab.node, "http://127.0.0.1:9090/-/ready").status) == 200 },
                "Prometheus did not become ready")
        #expect(try Self.get(lab.node, "http://127.0.0.1:9100/healthz") == (200, "ok\n"))

        // Traffic: accepted, denied (reported dropped: --verdict-as-enforced), refused, UDP, ping.
        let (a, b, c) = (lab.namespace(of: LiveCaptureLabTests.pods[0]), lab.namespace(of: LiveCaptureLabTests.pods[1]),
                         lab.namespace(of: LiveCaptureLabTests.pods[2]))
        let server = try startAnsweringServer(in: b)
        defer { server.stop() }
        _ = try lab.sh("ip netns exec \(a) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        _ = try lab.sh("ip netns exec \(c) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        _ = try lab.sh("ip netns exec \(a) nc -z -w 2 10.244.0.12 9090")
        _ = try lab.sh("ip netns exec \(a) sh -c 'echo query | socat -t 3 - UDP:10.244.0.12:5353'")
        _ = try lab.sh("ip netns exec \(a) ping -c 3 -i 0.2 10.244.0.13")
        server.stop()

        // Settled: every connection ended (stats.flow.active 0) and two stats lines agree;
        // then Prometheus has scraped that state.
        func lastStats() -> [String: Any]? {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").last { $0.contains("\"event_type\":\"stats\"") }
                .flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }?["stats"] as? [String: Any]
        }
        func packets(_ stats: [String: Any]?) -> Int? { (stats?["capture"] as? [String: Any])?["packets"] as? Int }
        func active(_ stats: [String: Any]?) -> Int? { (stats?["flow"] as? [String: Any])?["active"] as? Int }
        var previous = -1
        let settled = flowmon.wait(seconds: 60) {
            let stats = lastStats()
            defer { previous = packets(stats) ?? -1 }
            return active(stats) == 0 && (packets(stats) ?? 0) > 0 && packets(stats) == previous
        }
        #expect(settled, "the connections did not all end")
        let stats = try #require(lastStats())
        let expectedPackets = Double(try #require(packets(stats)))
        let scraped = flowmon.wait(seconds: 30) {
            (try? Self.query(lab.node, "flowmon_packets_total"))?.values.reduce(0, +) == expectedPackets
                && (try? Self.query(lab.node, "flowmon_active_flows"))?[[:]] == 0
        }
        #expect(scraped, "Prometheus never saw \(expectedPackets) packets: \((try? Self.query(lab.node, "flowmon_packets_total")) ?? [:])")

        // What Prometheus stored, while flowmon still runs.
        var stored: [String: [[String: String]: Double]] = [:]
        for family in ["hubble_flows_processed_total", "hubble_policy_verdicts_total", "hubble_drop_total", "hubble_tcp_flags_total",
                       "hubble_icmp_total", "hubble_port_distribution_total", "hubble_lost_events_total", "flowmon_flows_total",
                       "flowmon_bytes_total", "flowmon_flows_created_total", "flowmon_build_info", "up",
                       "resets(flowmon_packets_total[5m])", "resets(hubble_port_distribution_total[5m])"] {
            stored[family] = try Self.query(lab.node, family)
        }
        let page = try Self.get(lab.node, "http://127.0.0.1:9100/metrics")
        #expect(page.status == 200)
        let pageFile = directory.appendingPathComponent("metrics.txt")
        try page.body.write(to: pageFile, atomically: true, encoding: .utf8)
        let promtool = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "\(Self.promtool) check metrics < '\(pageFile.path)'"])
        #expect(promtool.status == 0, "promtool check metrics: \(promtool.stdout) \(promtool.stderr)\n\(page.body)")

        kill(flowmon.pid, SIGINT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        // The listener is closed with the capture.
        #expect((try? Self.get(lab.node, "http://127.0.0.1:9100/healthz").status) != 200)

        // The same numbers from the JSON.
        func objects(_ url: URL) throws -> [[String: Any]] {
            try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
                .compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        let flows = try objects(output).filter { $0["event_type"] as? String == "flow" }
        #expect(!flows.contains { ($0["flow"] as? [String: Any])?["reason"] as? String == "shutdown" }, "a connection was still open")
        let hubbleLines = try objects(hubble).compactMap { $0["flow"] as? [String: Any] }
        func tally(_ keys: [[String: String]]) -> [[String: String]: Double] {
            keys.reduce(into: [:]) { $0[$1, default: 0] += 1 }
        }
        let protocolNames = ["TCP": "TCP", "UDP": "UDP", "ICMP": "ICMPv4", "IPv6-ICMP": "ICMPv6", "SCTP": "SCTP"]
        #expect(stored["flowmon_flows_total"] == tally(flows.map {
            ["protocol": protocolNames[$0["proto"] as? String ?? ""] ?? "Unknown L4",
             "reason": ($0["flow"] as? [String: Any])?["reason"] as? String ?? ""]
        }))
        #expect(stored["hubble_port_distribution_total"] == tally(flows.map {
            let proto = protocolNames[$0["proto"] as? String ?? ""] ?? ""
            return ["protocol": proto, "port": proto.hasPrefix("ICMP") ? "0" : "\($0["dest_port"] as? Int ?? -1)"]
        }))
        var flags: [[String: String]] = []
        for flow in flows where flow["proto"] as? String == "TCP" {
            let tcp = flow["tcp"] as? [String: Any] ?? [:]
            let toServer = Int(tcp["tcp_flags_ts"] as? String ?? "0", radix: 16) ?? 0
            let toClient = Int(tcp["tcp_flags_tc"] as? String ?? "0", radix: 16) ?? 0
            if toServer & 0x02 != 0 { flags.append(["flag": "SYN", "family": "IPv4"]) }
            if toClient & 0x02 != 0 { flags.append(["flag": "SYN-ACK", "family": "IPv4"]) }
            for direction in [toServer, toClient] {
                if direction & 0x01 != 0 { flags.append(["flag": "FIN", "family": "IPv4"]) }
                if direction & 0x04 != 0 { flags.append(["flag": "RST", "family": "IPv4"]) }
            }
        }
        #expect(stored["hubble_tcp_flags_total"] == tally(flags))
        // Not empty on both sides: the two connections to b:8080, a verdict for each direction enforced.
        #expect(stored["hubble_port_distribution_total"]?[["protocol": "TCP", "port": "8080"]] == 2)
        #expect(stored["hubble_policy_verdicts_total"]?.isEmpty == false && stored["hubble_tcp_flags_total"]?.isEmpty == false)
        let pings = flows.filter { $0["proto"] as? String == "ICMP" }
        #expect(pings.count >= 1)
        #expect(stored["hubble_icmp_total"] == tally(pings.map {
            $0["icmp_type"] as? Int == 8 && $0["icmp_code"] as? Int == 0 ? ["family": "IPv4", "type": "EchoRequest"] : ["other": "\($0)"]
        }))
        let l4Names = ["TCP", "UDP", "ICMPv4", "ICMPv6", "SCTP"]
        func l4(_ line: [String: Any]) -> String { l4Names.first { (line["l4"] as? [String: Any])?[$0] != nil } ?? "Unknown L4" }
        func type(_ line: [String: Any]) -> Int { (line["event_type"] as? [String: Any])?["type"] as? Int ?? 0 }
        #expect(stored["hubble_flows_processed_total"] == tally(hubbleLines.map {
            ["protocol": l4($0), "type": type($0) == 5 ? "PolicyVerdict" : "Drop", "verdict": $0["verdict"] as? String ?? ""]
        }))
        let matchNames = ["none", "l3-only", "l3-l4", "l4-only", "all", "l3-proto", "proto-only"]
        #expect(stored["hubble_policy_verdicts_total"] == tally(hubbleLines.filter {
            type($0) == 5 && ($0["source"] as? [String: Any])?["identity"] as? Int != 1
        }.map {
            ["direction": ($0["traffic_direction"] as? String ?? "").lowercased(),
             "match": matchNames[$0["policy_match_type"] as? Int ?? 0], "action": ($0["verdict"] as? String ?? "").lowercased()]
        }))
        let drops = hubbleLines.filter { type($0) == 1 }
        #expect(!drops.isEmpty, "the intruder's connection is reported dropped")
        #expect(stored["hubble_drop_total"] == tally(drops.map { ["reason": $0["drop_reason_desc"] as? String ?? "", "protocol": l4($0)] }))
        let capture = try #require(stats["capture"] as? [String: Any])
        // The kernel's loss is named after the datapath that read the packets, as lost records name it.
        let kernelLoss = capture["datapath"] as? String == "ebpf" ? "ebpf_ringbuf" : "kernel"
        #expect(stored["hubble_lost_events_total"] == [["source": kernelLoss]: 0, ["source": "interface"]: 0, ["source": "ring_buffer"]: 0])
        // Per interface, as stats.capture.interfaces counts them.
        let perInterface = try #require(capture["interfaces"] as? [String: [String: Int]])
        #expect(stored["flowmon_bytes_total"] == Dictionary(uniqueKeysWithValues: perInterface.map {
            (["interface": $0.key], Double($0.value["bytes"] ?? -1))
        }))
        #expect(perInterface.values.reduce(0) { $0 + ($1["bytes"] ?? 0) } == capture["bytes"] as? Int)
        #expect(stored["flowmon_flows_created_total"] == [[:]: Double((stats["flow"] as? [String: Any])?["created"] as? Int ?? -1)])
        #expect(Double(flows.count) == stored["flowmon_flows_created_total"]?[[:]])
        let version = try run(Fixture.flowmonBinary, ["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(stored["flowmon_build_info"] == [["version": version]: 1])
        #expect(stored["up"] == [[:]: 1])
        // Counters never went down between scrapes.
        #expect(stored["resets(flowmon_packets_total[5m])"]?.count == perInterface.count)
        #expect(stored["resets(flowmon_packets_total[5m])"]?.values.allSatisfy { $0 == 0 } == true)
        #expect(stored["resets(hubble_port_distribution_total[5m])"]?.values.allSatisfy { $0 == 0 } == true)
    }

    /// The address is bound before the capture opens (no root needed to see it): a busy one is a
    /// one-line error and exit 1, a malformed one a usage error (64).
    @Test func aBusyOrMalformedMetricsAddressFailsBeforeTheCaptureOpens() throws {
        let busy = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(busy) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(busy, $0, length) == 0 && getsockname(busy, $0, &length) == 0 }
        }
        try #require(bound && listen(busy, 1) == 0)
        let port = UInt16(bigEndian: address.sin_port)
        let run = try runBounded(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--metrics-address", "127.0.0.1:\(port)"])
        #expect(run.status == 1)
        #expect(run.stderr == "flowmon: error: cannot listen on '127.0.0.1:\(port)': Address already in use\n")
        let malformed = try runBounded(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--metrics-address", "9100"])
        #expect(malformed.status == 64)
        #expect(malformed.stderr.contains("'--metrics-address' must be HOST:PORT, [IPv6]:PORT or :PORT (got '9100')"), "\(malformed.stderr)")
    }
}
