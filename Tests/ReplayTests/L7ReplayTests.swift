import Foundation
import Testing

/// The application layer through the real CLI on real traffic (Captures/l7: curl, dig and
/// Python against dnsmasq, http.server and openssl in network namespaces): names learned from
/// DNS answers decide `toFQDNs` verdicts at each connection's first packet, L7 rules judge each
/// request, and the records join their connections.
struct L7ReplayTests {
    static let directory = Fixture.captures.appendingPathComponent("l7")
    static let arguments = ["replay", directory.appendingPathComponent("l7-egress.pcap").path,
                            "--pods", directory.appendingPathComponent("l7.pods.json").path, "--node-name", "kind-worker-0",
                            "--policies", directory.appendingPathComponent("l7.policies.yaml").path]

    static func records(_ extra: [String] = []) throws -> [[String: Any]] {
        let result = try run(Fixture.flowmonBinary, Self.arguments + extra)
        #expect(result.status == 0, "\(result.stderr)")
        let (records, bad) = parseJSONLines(result.stdout.split(separator: "\n").map(String.init))
        #expect(bad.isEmpty, "\(bad.prefix(1))")
        return records
    }

    static func flows(_ records: [[String: Any]], to address: String, port: Int) -> [[String: Any]] {
        records.filter { $0["event_type"] as? String == "flow" && $0["dest_ip"] as? String == address && $0["dest_port"] as? Int == port }
    }

    static func verdict(_ record: [String: Any]) -> String? { (record["policy"] as? [String: Any])?["verdict"] as? String }
    static func l7Verdict(_ record: [String: Any]) -> String? { (record["l7"] as? [String: Any])?["verdict"] as? String }

    /// `toFQDNs` selects the addresses learned for matching names before each connection: the
    /// HTTP and TLS connections to api.example.test are allowed, with their names; the one to a
    /// name no selector matches, and the one to an address resolved only after it (a hard-coded
    /// IP), would be dropped. Without the application layer no address is selected.
    @Test func namesLearnedFromDNSDecideToFQDNsVerdicts() throws {
        let records = try Self.records()
        let api = Self.flows(records, to: "203.0.113.10", port: 80) + Self.flows(records, to: "203.0.113.10", port: 443)
        #expect(api.count == 5)
        #expect(api.allSatisfy { Self.verdict($0) == "FORWARDED" }, "\(api.map(Self.verdict))")
        #expect(api.allSatisfy { ($0["dest_names"] as? [String])?.contains("api.example.test") == true })
        #expect(api.contains { $0["app_proto"] as? String == "tls" } && api.contains { $0["app_proto"] as? String == "http" })
        let blocked = Self.flows(records, to: "198.51.100.7", port: 80)
        #expect(blocked.count == 1 && blocked.allSatisfy { Self.verdict($0) == "AUDIT" })
        #expect(blocked.first?["dest_names"] as? [String] == ["blocked.example.net"])
        let unresolved = Self.flows(records, to: "203.0.113.20", port: 80)
        #expect(unresolved.count == 1 && Self.verdict(unresolved[0]) == "AUDIT" && unresolved[0]["dest_names"] == nil)

        let off = try Self.records(["--no-l7"])
        let apiOff = Self.flows(off, to: "203.0.113.10", port: 80)
        #expect(!apiOff.isEmpty && apiOff.allSatisfy { Self.verdict($0) == "AUDIT" && $0["app_proto"] == nil })
        #expect(!off.contains { ["dns", "http", "tls"].contains($0["event_type"] as? String) })
    }

    /// DNS over TCP cut anywhere (Captures/l7/dns-tcp-split.pcap: `dig +tcp`'s query in two
    /// segments, its answer in three, the length prefixes split) gives the records one segment
    /// each gave, and the name it answered selects the next connection to its address.
    @Test func dnsOverTCPSplitAcrossSegmentsIsAssembled() throws {
        func dns(_ records: [[String: Any]]) -> [String] {
            records.filter { $0["event_type"] as? String == "dns" && $0["proto"] as? String == "TCP" }.map { record in
                let dns = (try? JSONSerialization.data(withJSONObject: record["dns"] ?? [:], options: .sortedKeys)) ?? Data()
                return "\(record["timestamp"] ?? "") \(String(decoding: dns, as: UTF8.self))"
            }
        }
        let whole = try Self.records()
        let arguments = Self.arguments.map { $0.hasSuffix("l7-egress.pcap") ? Self.directory.appendingPathComponent("dns-tcp-split.pcap").path : $0 }
        let result = try run(Fixture.flowmonBinary, arguments)
        #expect(result.status == 0, "\(result.stderr)")
        let (split, bad) = parseJSONLines(result.stdout.split(separator: "\n").map(String.init))
        #expect(bad.isEmpty)
        #expect(dns(whole).count == 2 && dns(split) == dns(whole), "\(dns(split))")
        let l7 = (split.last?["stats"] as? [String: Any])?["l7"] as? [String: Any]
        #expect(l7?["dns.tcp_assembled"] as? Int == 2 && l7?["dns.tcp_gap"] as? Int == 0, "\(l7 ?? [:])")
        // The attempt before the lookup is not selected; the same attempt after it is.
        let other = Self.flows(split, to: "203.0.113.20", port: 80)
        #expect(other.map { Self.verdict($0) ?? "" } == ["AUDIT", "FORWARDED"], "\(other)")
        #expect(other.last?["dest_names"] as? [String] == ["other.example.test"])
    }

    /// `rules.dns` refuses the query outside `*.example.test`; `rules.http` (GET only) the POST;
    /// with `--verdict-as-enforced` a refusal is DROPPED. Each record carries its connection's `flow_id`.
    @Test func l7RulesJudgeEachRequest() throws {
        let records = try Self.records()
        let dns = records.filter { $0["event_type"] as? String == "dns" }
        func queried(_ record: [String: Any]) -> String? {
            (((record["dns"] as? [String: Any])?["queries"] as? [[String: Any]])?.first)?["rrname"] as? String
        }
        #expect(dns.count == 24)
        #expect(dns.filter { queried($0) == "blocked.example.net" }.allSatisfy { Self.l7Verdict($0) == "AUDIT" })
        #expect(dns.filter { queried($0) != "blocked.example.net" }.allSatisfy { Self.l7Verdict($0) == "FORWARDED" })
        let http = records.filter { $0["event_type"] as? String == "http" }
        func method(_ record: [String: Any]) -> String? { (record["http"] as? [String: Any])?["http_method"] as? String }
        #expect(http.filter { method($0) == "POST" }.map(Self.l7Verdict) == ["AUDIT"])
        #expect(http.filter { method($0) == "GET" && $0["dest_ip"] as? String == "203.0.113.10" }.allSatisfy { Self.l7Verdict($0) == "FORWARDED" })
        // The connection to blocked.example.net was not allowed at L3/L4: no L7 rule judged its request.
        #expect(http.filter { $0["dest_ip"] as? String == "198.51.100.7" }.allSatisfy { $0["l7"] == nil })
        let flowIDs = Set(records.filter { $0["event_type"] as? String == "flow" }.compactMap { $0["flow_id"] as? Int })
        #expect((dns + http).allSatisfy { flowIDs.contains($0["flow_id"] as? Int ?? 0) }, "every record joins its flow")

        let enforced = try Self.records(["--verdict-as-enforced"]).filter { $0["event_type"] as? String == "http" }
        #expect(enforced.filter { method($0) == "POST" }.map(Self.l7Verdict) == ["DROPPED"])
    }

    /// Names are learned on the capture thread in capture order: any number of workers writes the
    /// same lines, and every line validates against flowmon's schemas and Suricata's.
    @Test func workersWriteTheSameLinesAndTheyValidate() throws {
        let one = try run(Fixture.flowmonBinary, Self.arguments + ["--workers", "1"])
        let three = try run(Fixture.flowmonBinary, Self.arguments + ["--workers", "3"])
        #expect(one.status == 0 && three.status == 0)
        #expect(one.stdout == three.stdout)
        let lines = one.stdout.split(separator: "\n").map(String.init)
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("l7.jsonl")
        try one.stdout.write(to: file, atomically: true, encoding: .utf8)
        let suricata = try SuricataEVETests.validateWithSuricatasSchema([file.path])
        #expect(suricata.status == 0, "\(suricata.report)")
    }

    /// Names go with the end they name, as the other end looked them up (Hubble's
    /// `resolveNames`): in Captures/l7/source-names.pcap the pod resolves callback.example.test,
    /// then that address connects to the pod (`src_names` on the flow, `source_names` on its
    /// Hubble policy verdict and request, `destination_names` on the pod's response), and the
    /// pod connects to it (`dest_names`). `--from-fqdn` selects the callback.
    @Test func sourceNamesAreTheRespondersLookupsOfTheInitiator() throws {
        let work = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: work) }
        let policies = work.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.directory.appendingPathComponent("l7.policies.yaml"),
                                         to: policies.appendingPathComponent("l7.policies.yaml"))
        try """
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: frontend-hooks, namespace: shop}
            spec:
              endpointSelector: {matchLabels: {app: frontend}}
              ingress:
                - fromEntities: [world]
                  toPorts: [{ports: [{port: "8080", protocol: TCP}]}]
            """.write(to: policies.appendingPathComponent("ingress.yaml"), atomically: true, encoding: .utf8)
        let hubble = work.appendingPathComponent("hubble.jsonl")
        let arguments = ["replay", Self.directory.appendingPathComponent("source-names.pcap").path,
                         "--pods", Self.directory.appendingPathComponent("l7.pods.json").path, "--node-name", "kind-worker-0",
                         "--policies", policies.path]
        let result = try run(Fixture.flowmonBinary, arguments + ["--hubble", hubble.path])
        #expect(result.status == 0, "\(result.stderr)")
        let records = parseJSONLines(result.stdout.split(separator: "\n").map(String.init)).0
        let callback = Self.flows(records, to: "10.244.1.10", port: 8080)
        #expect(callback.count == 1 && callback[0]["src_names"] as? [String] == ["callback.example.test"], "\(callback)")
        #expect(callback.first?["dest_names"] == nil)
        let outbound = Self.flows(records, to: "203.0.113.30", port: 443)
        #expect(outbound.count == 1 && outbound[0]["dest_names"] as? [String] == ["callback.example.test"])
        #expect(outbound.first?["src_names"] == nil)

        let text = try String(contentsOf: hubble, encoding: .utf8)
        let lines = parseJSONLines(text.split(separator: "\n").map(String.init)).0
        let flows = lines.compactMap { $0["flow"] as? [String: Any] }
        func names(_ flow: [String: Any]) -> String {
            let ip = flow["IP"] as? [String: Any] ?? [:]
            return "\(flow["Type"] ?? "") \(ip["source"] ?? "")>\(ip["destination"] ?? "") reply:\(flow["is_reply"] as? Bool ?? false)"
                + " src:\(flow["source_names"] as? [String] ?? []) dst:\(flow["destination_names"] as? [String] ?? [])"
        }
        let world = flows.filter { names($0).contains("203.0.113.30") }.map(names)
        #expect(world == [
            "L3_L4 203.0.113.30>10.244.1.10 reply:false src:[\"callback.example.test\"] dst:[]",
            "L7 203.0.113.30>10.244.1.10 reply:false src:[\"callback.example.test\"] dst:[]",
            "L7 10.244.1.10>203.0.113.30 reply:true src:[] dst:[\"callback.example.test\"]",
            "L3_L4 10.244.1.10>203.0.113.30 reply:false src:[] dst:[\"callback.example.test\"]",
        ], "\(world)")

        let selected = try run(Fixture.flowmonBinary, arguments + ["--from-fqdn", "callback.example.test", "--type", "flow"])
        let kept = parseJSONLines(selected.stdout.split(separator: "\n").map(String.init)).0
        #expect(kept.map { $0["dest_port"] as? Int } == [8080], "\(kept)")

        // The real hubble CLI names the source by its source_names and selects it by --from-fqdn.
        guard let hubbleBinary = try Fixture.hubbleCLI(in: work, for: "the hubble --from-fqdn check") else { return }
        let compact = try run(hubbleBinary, ["observe", "--input-file", hubble.path, "-o", "compact",
                                             "--from-fqdn", "callback.example.test"])
        #expect(compact.status == 0, "\(compact.stderr)")
        let shown = compact.stdout.split(separator: "\n")
        #expect(shown.count == 2 && shown.allSatisfy { $0.contains("callback.example.test:40000 (world) -> shop/frontend-1:8080") },
                "\(compact.stdout)")
    }

    /// After `101 Switching Protocols` a connection carries another protocol (Captures/l7/
    /// http-upgrade.pcap: a WebSocket, in 6,000-byte segments, more than the 4 KiB a pipeline
    /// worker gets of a packet): the parser reads neither direction, so cutting those segments
    /// loses nothing and is not counted (`payload_cut` counted 8 before), and the capture thread
    /// stops sending them. The same with one worker or several.
    @Test func segmentsOfAConnectionNoLongerReadAreNotCountedCut() throws {
        for workers in ["1", "2", "3"] {
            let result = try run(Fixture.flowmonBinary, ["replay", Self.directory.appendingPathComponent("http-upgrade.pcap").path,
                                                         "--workers", workers])
            #expect(result.status == 0, "\(result.stderr)")
            let records = parseJSONLines(result.stdout.split(separator: "\n").map(String.init)).0
            let http = records.filter { $0["event_type"] as? String == "http" }
            let statuses = http.compactMap { ($0["http"] as? [String: Any])?["status"] as? Int }
            #expect(statuses == [101, 200], "--workers \(workers): \(http)")
            let l7 = (records.last?["stats"] as? [String: Any])?["l7"] as? [String: Any]
            #expect(l7?["payload_cut"] as? Int == 0 && l7?["http.responses"] as? Int == 2, "--workers \(workers): \(l7 ?? [:])")
        }
    }
}
