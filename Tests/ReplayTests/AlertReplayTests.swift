import Foundation
import Testing

/// Alerts end to end, through the real CLI: every alert fixture in `Captures/alerts/` raises
/// the alerts its note promises (golden `<name>.alerts.expected.jsonl`, reviewed by a person),
/// benign cluster traffic raises none, thresholds fire exactly at their value, the allow-list
/// and `--no-alerts` silence them, and the output is the same with any number of workers.
///
/// To accept new alert output after a deliberate change:
/// `FLOWMON_RECORD=1 swift test --filter AlertReplayTests`, then review `git diff Captures/alerts`.
struct AlertReplayTests {
    static let directory = Fixture.captures.appendingPathComponent("alerts")
    static func path(_ name: String) -> String { Self.directory.appendingPathComponent(name).path }

    /// The fixtures' cluster: pods, the payments policy, the local node, and the test settings
    /// (payments is sensitive, tunnel identities are checked, prometheus may scan).
    static var clusterArguments: [String] {
        ["--pods", path("alerts.pods.json"), "--policies", path("alerts.policies.yaml"), "--node-name", "kind-worker-0"]
    }

    struct Run {
        var status: Int32
        var stderr: String
        var lines: [String]
        var alertFileLines: [String]

        var records: [[String: Any]] {
            self.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        }
        var alerts: [[String: Any]] { self.records.filter { $0["event_type"] as? String == "alert" } }
        var alertLines: [String] { self.lines.filter { $0.contains("\"event_type\":\"alert\"") } }
        func alerts(_ kind: String) -> [[String: Any]] {
            self.alerts.filter { ($0["alert"] as? [String: Any])?["kind"] as? String == kind }
        }
        var alertStats: [String: Any]? {
            (self.records.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any])?["alerts"] as? [String: Any]
        }
    }

    static func replay(_ capture: String, _ arguments: [String], config: String? = nil, workers: Int = 2) throws -> Run {
        let temporary = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let alertsFile = temporary.appendingPathComponent("alerts.jsonl")
        var configArguments: [String] = []
        if let config {
            let configFile = temporary.appendingPathComponent("alerts-config.yaml")
            try config.write(to: configFile, atomically: true, encoding: .utf8)
            configArguments = ["--alerts-config", configFile.path]
        }
        let result = try run(Fixture.flowmonBinary, ["replay", path(capture), "--workers", String(workers),
                                                     "--alerts", alertsFile.path] + arguments + configArguments)
        let alertText = (try? String(contentsOf: alertsFile, encoding: .utf8)) ?? ""
        return Run(status: result.status, stderr: result.stderr,
                   lines: result.stdout.split(separator: "\n").map(String.init),
                   alertFileLines: alertText.split(separator: "\n").map(String.init))
    }

    // MARK: Golden alerts, one fixture per alert kind

    @Test(arguments: ["policy-violation", "port-scan-vertical", "port-scan-horizontal", "syn-flood", "stealth-scans",
                      "spoofed-source", "world-egress", "icmp-sweep", "allowlisted-scan", "dns-external-resolver",
                      "dns-tunneling", "dns-nxdomain-burst", "scan-with-violations"])
    func fixtureRaisesItsGoldenAlerts(name: String) throws {
        let result = try Self.replay("\(name).pcap", Self.clusterArguments + ["--alerts-config", Self.path("alerts.config.yaml")])
        #expect(result.status == 0, "\(result.stderr)")
        // The --alerts file holds exactly the alert lines of the main output, in the same order.
        #expect(result.alertFileLines == result.alertLines)
        let validation = try validateAgainstSchemas(result.lines)
        #expect(validation.status == 0, "\(validation.report)")

        let golden = Self.directory.appendingPathComponent("\(name).alerts.expected.jsonl")
        let actual = result.alertLines.map { $0 + "\n" }.joined()
        if ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" {
            try actual.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: golden, encoding: .utf8), "missing \(golden.lastPathComponent)")
        #expect(actual == expected, "\(name): alerts differ from \(golden.lastPathComponent)")
    }

    /// What each fixture's note promises, checked field by field (so the goldens cannot drift
    /// into accepting a wrong alert).
    @Test func eachFixtureRaisesTheKindItIsFor() throws {
        let config = ["--alerts-config", Self.path("alerts.config.yaml")]
        let violation = try Self.replay("policy-violation.pcap", Self.clusterArguments + config)
        let violations = violation.alerts("policy_violation")
        #expect(violations.count == 2)  // the first connection, then one summary for the 3 repeats
        #expect(violations.first?["src_ip"] as? String == "10.244.0.11")
        #expect((violations.first?["policy"] as? [String: Any])?["drop_reason_desc"] as? String == "POLICY_DENIED")
        #expect((violations.first?["policy"] as? [String: Any])?["traffic_direction"] as? String == "INGRESS")
        #expect((violations.last?["alert"] as? [String: Any])?["count"] as? Int == 4)
        #expect((violations.last?["alert"] as? [String: Any])?["aggregated"] as? Bool == true)

        let vertical = try Self.replay("port-scan-vertical.pcap", Self.clusterArguments + config).alerts
        #expect(vertical.count == 1)
        #expect((vertical.first?["scan"] as? [String: Any])?["distinct_ports"] as? Int == 15)
        #expect(vertical.first?["dest_ip"] as? String == "10.244.1.20")

        let horizontal = try Self.replay("port-scan-horizontal.pcap", Self.clusterArguments + config).alerts
        #expect(horizontal.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["port_scan_horizontal"])
        #expect(horizontal.first?["dest_port"] as? Int == 22)

        let flood = try Self.replay("syn-flood.pcap", Self.clusterArguments + config).alerts
        #expect(flood.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["syn_flood"])
        #expect(flood.first?["dest_ip"] as? String == "10.244.0.10")
        #expect(flood.first?["dest_port"] as? Int == 443)

        let stealth = try Self.replay("stealth-scans.pcap", Self.clusterArguments + config)
        for kind in ["tcp_fin_scan", "tcp_xmas_scan", "tcp_syn_fin", "tcp_syn_rst"] {
            #expect(stealth.alerts(kind).count == 1, "\(kind)")
        }
        // Four NULL probes: the first alert, then a summary counting all four.
        #expect(stealth.alerts("tcp_null_scan").map { ($0["alert"] as? [String: Any])?["count"] as? Int } == [1, 4])

        let spoofed = try Self.replay("spoofed-source.pcap", Self.clusterArguments + config)
        #expect(spoofed.alerts("spoofed_source").map { $0["src_ip"] as? String } == ["10.244.0.99"])
        let mismatch = spoofed.alerts("tunnel_identity_mismatch")
        #expect(mismatch.count == 1)
        #expect((mismatch.first?["spoof"] as? [String: Any])?["tunnel_identity"] as? Int == 2)

        let egress = try Self.replay("world-egress.pcap", Self.clusterArguments + config).alerts
        #expect(Set(egress.compactMap { $0["dest_ip"] as? String }) == ["198.18.7.7", "203.0.113.9"])
        #expect(egress.allSatisfy { $0["src_ip"] as? String == "10.244.0.20" })

        let sweep = try Self.replay("icmp-sweep.pcap", Self.clusterArguments + config).alerts
        #expect(sweep.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["icmp_sweep"])
    }

    // MARK: DNS alerts

    static func query(_ alert: [String: Any]) -> String? {
        (((alert["dns"] as? [String: Any])?["queries"] as? [[String: Any]])?.first)?["rrname"] as? String
    }

    /// What the DNS fixtures' notes promise, field by field.
    @Test func theDNSFixturesRaiseWhatTheirNotesSay() throws {
        let external = try Self.replay("dns-external-resolver.pcap", Self.clusterArguments).alerts("dns_external_resolver")
        #expect(external.map { "\($0["src_ip"] ?? "") \($0["dest_ip"] ?? "")" }
            == ["10.244.0.10 8.8.8.8", "10.244.0.11 9.9.9.9", "10.244.0.10 8.8.8.8"])
        #expect(external.map { ($0["alert"] as? [String: Any])?["count"] as? Int } == [1, 1, 3])
        #expect(external.map { ($0["alert"] as? [String: Any])?["signature_id"] as? Int } == [9_100_050, 9_100_050, 9_100_050])
        #expect(external.prefix(2).map(Self.query) == ["example.org", "example.net"])
        #expect(Self.query(external[2]) == nil, "a summary shows no name")

        let tunnel = try Self.replay("dns-tunneling.pcap", Self.clusterArguments).alerts
        #expect(tunnel.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["dns_tunneling"])
        let measures = try #require(tunnel.first?["dns_tunnel"] as? [String: Any])
        #expect(measures["distinct_names"] as? Int == 10)
        #expect(measures["longest_label"] as? Int == 50)
        #expect(tunnel.first?["src_ip"] as? String == "10.244.0.11")
        #expect(Self.query(tunnel[0])?.hasSuffix(".tunnel.example.net") == true)
        #expect(((tunnel.first?["dns"] as? [String: Any])?["queries"] as? [[String: Any]])?.first?["rrtype"] as? String == "TXT")

        let burst = try Self.replay("dns-nxdomain-burst.pcap", Self.clusterArguments).alerts
        #expect(burst.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["dns_nxdomain_burst"])
        #expect((burst.first?["nxdomain"] as? [String: Any])?["distinct_names"] as? Int == 20)
        #expect((burst.first?["dns"] as? [String: Any])?["rcode"] as? String == "NXDOMAIN")
        #expect(burst.first?["src_ip"] as? String == "10.244.1.100")
        // The flow record of the connection an alert was raised about says so.
        let flows = try Self.replay("dns-nxdomain-burst.pcap", Self.clusterArguments).records.filter {
            $0["event_type"] as? String == "flow" && ($0["flow"] as? [String: Any])?["alerted"] as? Bool == true
        }
        #expect(flows.map { $0["flow_id"] as? Int } == [burst.first?["flow_id"] as? Int])
    }

    /// The same DNS alerts, and the same output, with 1 and 2 workers (the findings are judged
    /// in single-pass order, whichever worker parsed the message).
    @Test(arguments: ["dns-external-resolver.pcap", "dns-tunneling.pcap", "dns-nxdomain-burst.pcap"])
    func dnsAlertsDoNotDependOnTheWorkers(capture: String) throws {
        let one = try Self.replay(capture, Self.clusterArguments, workers: 1)
        let two = try Self.replay(capture, Self.clusterArguments, workers: 2)
        #expect(!one.alertLines.isEmpty)
        #expect(one.alertLines == two.alertLines)
        #expect(one.lines.filter { !$0.contains("\"event_type\":\"stats\"") }
            == two.lines.filter { !$0.contains("\"event_type\":\"stats\"") })
    }

    /// Resolvers named in the configuration are the cluster's; without `--pods` no source is
    /// known to be a pod, so no query is judged (the node's own resolver asks upstream).
    @Test func configuredResolversAndUnknownSourcesRaiseNoExternalResolverAlert() throws {
        let configured = try Self.replay("dns-external-resolver.pcap", Self.clusterArguments,
                                         config: "dns_external_resolver: {resolvers: [{cidr: 8.8.8.8}, {cidr: 9.9.9.0/24}]}\n")
        #expect(configured.alerts.isEmpty, "\(configured.alertLines)")
        let replaced = try Self.replay("dns-external-resolver.pcap", Self.clusterArguments,
                                       config: "dns_external_resolver: {cluster_defaults: false, resolvers: [{cidr: 8.8.8.8}]}\n")
        // The kube-dns pod and NodeLocal DNS are no longer the cluster's: web-1's two queries alert.
        #expect(Set(replaced.alerts.compactMap { $0["dest_ip"] as? String }) == ["10.244.0.2", "169.254.20.10", "9.9.9.9"])
        let noInventory = try Self.replay("dns-external-resolver.pcap", [])
        #expect(noInventory.alerts.isEmpty)
    }

    // MARK: Benign traffic and attacks inside realistic traffic

    /// Normal node traffic from the shared generator (1,000 connections, DNS, HTTP, TLS, gRPC,
    /// refused and unanswered connections, ICMP, IPv6, VLANs) raises no detector alert.
    @Test(arguments: [1, 2])
    func benignClusterTrafficRaisesNoAlert(workers: Int) throws {
        let result = try Self.replay("benign.pcap", ["--pods", Self.path("benign.pods.json")],
                                     config: "spoofed_source: {tunnel_identity: true}\n", workers: workers)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.alertLines.isEmpty, "\(result.alertLines.prefix(3))")
        #expect(result.records.filter { $0["event_type"] as? String == "flow" }.count > 900)
        let raised = result.alertStats?["raised"] as? [String: Int]
        #expect(raised != nil && raised!.values.allSatisfy { $0 == 0 })
    }

    @Test func aScanInsideClusterTrafficIsTheOnlyAlert() throws {
        let result = try Self.replay("scan-in-cluster.pcap", ["--pods", Self.path("scan-in-cluster.pods.json")])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.alerts.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["port_scan_vertical"])
        #expect(result.alerts.first?["src_ip"] as? String == "10.244.0.23")
        #expect(result.alerts.first?["dest_ip"] as? String == "10.244.2.7")
    }

    /// 5,000 spoofed SYNs: one alert, not thousands; the same lines with 1, 2 and 3 workers.
    @Test func aFloodGivesOneAlertWithAnyNumberOfWorkers() throws {
        let arguments = ["--pods", Self.path("synflood-in-cluster.pods.json")]
        let one = try Self.replay("synflood-in-cluster.pcap", arguments, workers: 1)
        #expect(one.status == 0, "\(one.stderr)")
        #expect(one.alerts.map { ($0["alert"] as? [String: Any])?["kind"] as? String } == ["syn_flood"])
        #expect(one.alerts.first?["dest_ip"] as? String == "10.244.0.4")
        for workers in [2, 3] {
            let other = try Self.replay("synflood-in-cluster.pcap", arguments, workers: workers)
            #expect(other.lines == one.lines, "\(workers) workers")
        }
    }

    // MARK: Thresholds: one below gives nothing, at the threshold exactly one alert

    @Test(arguments: [
        ("port-scan-vertical.pcap", "port_scan: {ports: 15}", "port_scan_vertical", 1),
        ("port-scan-vertical.pcap", "port_scan: {ports: 16}", "port_scan_vertical", 0),
        ("port-scan-horizontal.pcap", "port_scan: {hosts: 25}", "port_scan_horizontal", 1),
        ("port-scan-horizontal.pcap", "port_scan: {hosts: 26}", "port_scan_horizontal", 0),
        ("icmp-sweep.pcap", "icmp_sweep: {hosts: 25}", "icmp_sweep", 1),
        ("icmp-sweep.pcap", "icmp_sweep: {hosts: 26}", "icmp_sweep", 0),
        ("syn-flood.pcap", "syn_flood: {half_open: 300, sources: 1}", "syn_flood", 1),
        ("syn-flood.pcap", "syn_flood: {half_open: 301, sources: 1}", "syn_flood", 0),
        ("syn-flood.pcap", "syn_flood: {half_open: 1, sources: 300}", "syn_flood", 1),
        ("syn-flood.pcap", "syn_flood: {half_open: 1, sources: 301}", "syn_flood", 0),
        // The 300 SYNs span 2.99 s: a 2 s window never holds 300 of them.
        ("syn-flood.pcap", "syn_flood: {half_open: 300, sources: 1, window: 2}", "syn_flood", 0),
        ("port-scan-vertical.pcap", "port_scan: {enabled: false}", "port_scan_vertical", 0),
        ("stealth-scans.pcap", "invalid_tcp_flags: {enabled: false}", "tcp_null_scan", 0),
        // Ten tunnel labels and the load-balancer label: 11 distinct suspicious labels.
        ("dns-tunneling.pcap", "dns_tunneling: {names: 11}", "dns_tunneling", 1),
        ("dns-tunneling.pcap", "dns_tunneling: {names: 12}", "dns_tunneling", 0),
        // The ten 50-character labels have 4.399 to 4.599 bits of entropy per character (the
        // load-balancer label 4.509), names of 69 characters (it 75): each test at its edge.
        ("dns-tunneling.pcap", "dns_tunneling: {entropy: 4.6}", "dns_tunneling", 0),
        ("dns-tunneling.pcap", "dns_tunneling: {entropy: 4.6, label_length: 50}", "dns_tunneling", 1),
        ("dns-tunneling.pcap", "dns_tunneling: {entropy: 4.39}", "dns_tunneling", 1),
        ("dns-tunneling.pcap", "dns_tunneling: {entropy_length: 51}", "dns_tunneling", 0),
        ("dns-tunneling.pcap", "dns_tunneling: {entropy: 6, label_length: 63, name_length: 69}", "dns_tunneling", 1),
        ("dns-tunneling.pcap", "dns_tunneling: {entropy: 6, label_length: 63, name_length: 76}", "dns_tunneling", 0),
        // 4.5 s from the first tunnel name to the tenth: a 4 s window never holds ten (the
        // load-balancer name, at +0.5 s, is outside it too).
        ("dns-tunneling.pcap", "dns_tunneling: {window: 4}", "dns_tunneling", 0),
        ("dns-tunneling.pcap", "dns_tunneling: {enabled: false}", "dns_tunneling", 0),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 20}", "dns_nxdomain_burst", 1),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 21}", "dns_nxdomain_burst", 0),
        // 20 distinct names and 20 distinct search-path expansions (under cluster.local, the
        // cluster domain: ignored, also when ignore_suffixes lists node search domains; counted
        // when the cluster domain is another).
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 40}", "dns_nxdomain_burst", 0),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 20, ignore_suffixes: [ec2.internal]}", "dns_nxdomain_burst", 1),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 21, ignore_suffixes: [ec2.internal]}", "dns_nxdomain_burst", 0),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 40, cluster_domain: k8s.example.corp}", "dns_nxdomain_burst", 1),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {names: 41, cluster_domain: k8s.example.corp}", "dns_nxdomain_burst", 0),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {window: 3}", "dns_nxdomain_burst", 0),
        ("dns-nxdomain-burst.pcap", "dns_nxdomain_burst: {enabled: false}", "dns_nxdomain_burst", 0),
        ("dns-external-resolver.pcap", "dns_external_resolver: {enabled: false}", "dns_external_resolver", 0),
        ("dns-external-resolver.pcap", "allowlist: [{namespace: shop}]", "dns_external_resolver", 0),
        ("dns-external-resolver.pcap", "allowlist: [{cidr: 10.244.0.10/32}]", "dns_external_resolver", 1),
    ] as [(String, String, String, Int)])
    func thresholdEdge(capture: String, config: String, kind: String, expected: Int) throws {
        let result = try Self.replay(capture, Self.clusterArguments, config: config + "\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.alerts(kind).count == expected, "\(result.alerts(kind))")
    }

    @Test func severityOverridesAndAggregationWindowApply() throws {
        let result = try Self.replay("policy-violation.pcap", Self.clusterArguments,
                                     config: "policy_violation: {severity: 1}\naggregation_window: 5s\n")
        let alerts = result.alerts("policy_violation")
        #expect(alerts.allSatisfy { ($0["alert"] as? [String: Any])?["severity"] as? Int == 1 })
        // The four denied connections span 15 s: with a 5 s window they are more than two lines.
        #expect(alerts.count > 2)
        let total = alerts.filter { ($0["alert"] as? [String: Any])?["aggregated"] as? Bool == false }.count
        #expect(total >= 2)
    }

    // MARK: Silencing

    @Test func theAllowListSilencesAScanner() throws {
        let without = try Self.replay("allowlisted-scan.pcap", Self.clusterArguments)
        #expect(without.alerts("port_scan_vertical").count == 1)
        let with = try Self.replay("allowlisted-scan.pcap", Self.clusterArguments,
                                   config: "allowlist:\n  - namespace: monitoring\n    selector: {matchLabels: {app: prometheus}}\n")
        #expect(with.alerts.isEmpty)
        #expect((with.alertStats?["allowlisted"] as? Int ?? 0) > 0)
        let byAddress = try Self.replay("allowlisted-scan.pcap", [], config: "allowlist: [{cidr: 10.244.0.30/32}]\n")
        #expect(byAddress.alerts.isEmpty)
    }

    @Test func noAlertsRunsNoDetector() throws {
        let result = try run(Fixture.flowmonBinary, ["replay", Self.path("stealth-scans.pcap"), "--no-alerts"])
        #expect(result.status == 0)
        #expect(!result.stdout.contains("\"event_type\":\"alert\""))
        #expect(!result.stdout.contains("\"alerts\":"))
    }

    // MARK: Bad configuration: a precise error, before any packet is read

    @Test(arguments: [
        ("port_scan: {ports: fifteen}", "alerts-config.yaml: document 1: port_scan.ports: expected an integer, found a string (line 1)"),
        ("port_scan: {port: 15}", "alerts-config.yaml: document 1: port_scan.port: unknown field 'port' (allowed: enabled, severity, ports, hosts, window) (line 1)"),
        ("port_scan: {ports: 0}", "alerts-config.yaml: document 1: port_scan.ports: 0 is out of range (1…4096) (line 1)"),
        ("syn_flood: {window: 5 minutes}", "alerts-config.yaml: document 1: syn_flood.window: expected seconds or a duration such as 30s, 5m or 1h, found '5 minutes' (line 1)"),
        ("allowlist: [{cidr: 10.0.0.0/33}]", "alerts-config.yaml: document 1: allowlist[0].cidr: '10.0.0.0/33' is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/64) (line 1)"),
        ("allowlist: [{}]", "alerts-config.yaml: document 1: allowlist[0]: give 'namespace', 'selector' or both ('cidr' in an allowlist) (line 1)"),
        ("world_egress: {sensitive: [{selector: {matchLabels: {app: [x]}}}]}", "alerts-config.yaml: document 1: world_egress.sensitive[0].selector.matchLabels.app: expected a string, found a list (line 1)"),
        ("scan: {}", "alerts-config.yaml: document 1: scan: unknown field 'scan'"),
        ("port_scan: [", "alerts-config.yaml: YAML syntax error:"),
        ("invalid_tcp_flags: {enabled: maybe}", "alerts-config.yaml: document 1: invalid_tcp_flags.enabled: expected a boolean, found a string (line 1)"),
        ("dns_tunneling: {entropy: 9}", "alerts-config.yaml: document 1: dns_tunneling.entropy: 9 is out of range (1.0…6.0 bits per character) (line 1)"),
        ("dns_nxdomain_burst: {suffixes: []}", "alerts-config.yaml: document 1: dns_nxdomain_burst.suffixes: unknown field 'suffixes' (allowed: enabled, severity, names, window, cluster_domain, ignore_suffixes) (line 1)"),
        ("rate_limit: {count: -1}", "alerts-config.yaml: document 1: rate_limit.count: -1 is out of range (0…1000000) (line 1)"),
        ("rate_limit: {seconds: 60}", "alerts-config.yaml: document 1: rate_limit.seconds: unknown field 'seconds' (allowed: count, window) (line 1)"),
        ("fold_policy_violations: {hold: 0}", "alerts-config.yaml: document 1: fold_policy_violations.hold: 0 s is out of range (1 s to 7 days) (line 1)"),
        ("dns_external_resolver: {resolvers: [{}]}", "alerts-config.yaml: document 1: dns_external_resolver.resolvers[0]: give 'namespace', 'selector' or both ('cidr' in an allowlist) (line 1)"),
    ])
    func badConfigurationIsNamedPrecisely(config: String, message: String) throws {
        let temporary = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: temporary) }
        let file = temporary.appendingPathComponent("alerts-config.yaml")
        try (config + "\n").write(to: file, atomically: true, encoding: .utf8)
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["sh", "-c", "cd '\(temporary.path)' && '\(Fixture.flowmonBinary.path)' replay '\(Self.path("stealth-scans.pcap"))' --alerts-config alerts-config.yaml"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty, "no output before the configuration is good")
        #expect(result.stderr.contains("flowmon: error: " + message), "\(result.stderr)")
    }
}
