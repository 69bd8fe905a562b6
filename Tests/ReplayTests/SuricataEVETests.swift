import Foundation
import Testing

/// flowmon's EVE lines as Suricata defines them: every golden EVE line validates against
/// Suricata's own schema (schema/suricata/schema.json, a copy of its `etc/schema.json`) with
/// flowmon's extra keys allowed, uses Suricata's names (`ip_v`, its `tcp.state` vocabulary, its
/// `stats.capture` keys and `stats.uptime`), and `flow.alerted` is true exactly for the
/// connections an alert was raised about, with any number of workers.
struct SuricataEVETests {
    /// Every golden file of EVE lines under Captures/ (the Hubble goldens are not EVE).
    static var eveGoldens: [URL] {
        guard let walker = FileManager.default.enumerator(at: Fixture.captures, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { $0.lastPathComponent.hasSuffix(".expected.jsonl") && !$0.lastPathComponent.hasSuffix(".hubble.expected.jsonl") }
            .sorted { $0.path < $1.path }
    }

    static func validateWithSuricatasSchema(_ files: [String]) throws -> (status: Int32, report: String) {
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["python3", Fixture.root.appendingPathComponent("scripts/validate-jsonl").path, "--suricata"] + files)
        return (result.status, result.stdout + result.stderr)
    }

    @Test func everyGoldenEVELineValidatesAgainstSuricatasOwnSchema() throws {
        let goldens = Self.eveGoldens
        #expect(goldens.count >= 40, "\(goldens.count) golden EVE files")
        let validation = try Self.validateWithSuricatasSchema(goldens.map(\.path))
        #expect(validation.status == 0, "\(validation.report.suffix(2000))")
        #expect(validation.report.contains(" passed, 0 failed"))
    }

    /// The check is not vacuous: a key Suricata defines with another type fails; a key of flowmon's own passes.
    @Test func suricatasTypesAreEnforcedAndExtraKeysAllowed() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let good = #"{"timestamp":"2025-01-01T10:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP","ip_v":4,"flow":{"alerted":true,"pkts_toserver":1},"conn_state":"S0"}"#
        let bad = good.replacingOccurrences(of: #""alerted":true"#, with: #""alerted":"yes""#)
        let wrongVersion = good.replacingOccurrences(of: #""ip_v":4"#, with: #""ip_v":"4""#)
        for (name, line, expected) in [("good", good, Int32(0)), ("bad", bad, 1), ("version", wrongVersion, 1)] {
            let file = directory.appendingPathComponent("\(name).jsonl")
            try (line + "\n").write(to: file, atomically: true, encoding: .utf8)
            #expect(try Self.validateWithSuricatasSchema([file.path]).status == expected, "\(name)")
        }
    }

    /// Suricata 8's names: `ip_v` (not `ip_version`), `tcp.state` from its stream engine's states,
    /// `stats.capture.kernel_packets/kernel_drops/kernel_ifdrops/errors` and `stats.uptime`.
    @Test func goldenLinesUseSuricatasNames() throws {
        let states: Set<String> = ["none", "syn_sent", "syn_recv", "established", "fin_wait1", "fin_wait2", "time_wait",
                                   "last_ack", "close_wait", "closing", "closed"]
        var flows = 0, stats = 0, tcp = 0
        for golden in Self.eveGoldens {
            for line in try String(contentsOf: golden, encoding: .utf8).split(separator: "\n") {
                let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                switch record["event_type"] as? String {
                case "flow", "alert":
                    flows += 1
                    #expect(record["ip_v"] as? Int == 4 || record["ip_v"] as? Int == 6, "\(golden.lastPathComponent): \(line.prefix(200))")
                    #expect(record["ip_version"] == nil)
                    if let state = (record["tcp"] as? [String: Any])?["state"] as? String {
                        tcp += 1
                        #expect(states.contains(state), "\(golden.lastPathComponent): tcp.state \(state)")
                    }
                case "stats":
                    stats += 1
                    let body = try #require(record["stats"] as? [String: Any])
                    #expect(body["uptime"] is Int)
                    let capture = try #require(body["capture"] as? [String: Any])
                    for key in ["kernel_packets", "kernel_drops", "kernel_ifdrops", "errors"] {
                        #expect(capture[key] is Int, "\(golden.lastPathComponent): stats.capture.\(key)")
                    }
                default: break
                }
            }
        }
        #expect(flows > 500 && stats > 40 && tcp > 100, "\(flows) flows, \(stats) stats, \(tcp) TCP")
    }

    /// Through the CLI: `stats.uptime` is the capture time from the first packet to the last
    /// (the demo spans 8 s of packets), `kernel_packets` what the file held, `errors` 0.
    @Test func statsCarrySuricatasCaptureCountersAndUptime() throws {
        let demo = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")
        let result = try run(Fixture.flowmonBinary, ["replay", demo.path, "--workers", "2"])
        #expect(result.status == 0, "\(result.stderr)")
        let last = try #require(result.stdout.split(separator: "\n").last)
        let record = try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
        let stats = try #require(record["stats"] as? [String: Any])
        let capture = try #require(stats["capture"] as? [String: Any])
        #expect(capture["packets"] as? Int == 1500)
        #expect(capture["kernel_packets"] as? Int == 1500)
        #expect(capture["kernel_drops"] as? Int == 0 && capture["kernel_ifdrops"] as? Int == 0 && capture["errors"] as? Int == 0)
        #expect(stats["uptime"] as? Int == 9)  // the demo's packets span 10:00:00.0 to 10:00:09.3
    }

    /// `flow.alerted` (Suricata's "this flow raised an alert") is true on the record of every
    /// connection an alert names, and of every connection a policy-violation alert was raised
    /// about, counted into a summary or not; false on all others. The same with 1 and 3 workers.
    @Test(arguments: ["policy-violation", "stealth-scans", "port-scan-vertical", "spoofed-source", "world-egress", "icmp-sweep"])
    func flowAlertedMarksTheConnectionsAlertsWereRaisedAbout(name: String) throws {
        let one = try AlertReplayTests.replay("\(name).pcap", AlertReplayTests.clusterArguments
            + ["--alerts-config", AlertReplayTests.path("alerts.config.yaml")], workers: 1)
        let three = try AlertReplayTests.replay("\(name).pcap", AlertReplayTests.clusterArguments
            + ["--alerts-config", AlertReplayTests.path("alerts.config.yaml")], workers: 3)
        #expect(one.status == 0 && three.status == 0, "\(one.stderr)")
        #expect(one.lines == three.lines)
        let flows = one.records.filter { $0["event_type"] as? String == "flow" }
        let alerted = Set(flows.filter { ($0["flow"] as? [String: Any])?["alerted"] as? Bool == true }.compactMap { $0["flow_id"] as? Int })
        let named = Set(one.alerts.compactMap { $0["flow_id"] as? Int })
        #expect(!named.isEmpty)
        #expect(named.isSubset(of: alerted), "alerts name connections whose record says alerted false")
        // Each folded occurrence is a connection of its own here: the first lines name theirs (a
        // connection may raise two kinds: world-egress's DNS query is also a dns_external_resolver
        // alert), and a summary stands for `count - 1` more.
        let summaries = one.alerts.compactMap { $0["alert"] as? [String: Any] }.filter { $0["aggregated"] as? Bool == true }
        let folded = summaries.reduce(0) { $0 + (($1["count"] as? Int) ?? 1) - 1 }
        let firstLines = Set(one.alerts.filter { ($0["alert"] as? [String: Any])?["aggregated"] as? Bool == false }
            .compactMap { $0["flow_id"] as? Int })
        #expect(alerted.count == firstLines.count + folded)
        if name == "policy-violation" {
            let violations = Set(flows.filter { ($0["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT" }
                .compactMap { $0["flow_id"] as? Int })
            #expect(alerted == violations, "every would-be drop raised a policy violation, aggregated or not")
            #expect(folded > 0, "some occurrences were folded into a summary")
        }
    }
}
