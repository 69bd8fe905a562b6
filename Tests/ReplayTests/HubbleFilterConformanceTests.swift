import Foundation
import Testing

/// flowmon's filters against the real `hubble observe` (../shared/tools/hubble): on one replay
/// of the demo, `hubble observe --input-file <the --hubble lines> FLAGS` and `flowmon observe
/// <the JSON lines> FLAGS` select the same connections (source and destination address and
/// port, protocol) for every filter option both have. The L3/L4 lines are compared with the
/// flow records; `--protocol dns|http` and `--type l7` compare Hubble's L7 lines with the
/// DNS and HTTP records, a connection's two ends unordered (a response line is from the
/// server). The differences on purpose are documented in docs/usage.md ("Filters").
struct HubbleFilterConformanceTests {
    /// Each row: the options, and whether Hubble's L7 lines are what it is about.
    static let rows: [(arguments: [String], layer7: Bool)] = [
        (["--namespace", "payments"], false), (["--from-namespace", "platform"], false), (["--to-namespace", "kube-system"], false),
        (["--pod", "payments/users"], false), (["--from-pod", "search"], false), (["--to-pod", "kube-system/coredns"], false),
        (["--from-namespace", "platform", "--from-pod", "redis"], false), (["--to-namespace", "monitoring", "--to-pod", "prometheus"], false),
        (["--ip", "10.244.0.2"], false), (["--from-ip", "10.244.1.0/24"], false), (["--to-ip", "10.96.0.0/12"], false),
        (["--service", "monitoring/"], false), (["--to-service", "kube-system/kube-dns"], false), (["--from-service", "kube-system/"], false),
        (["--workload", "Deployment/users"], false), (["--from-workload", "redis"], false), (["--to-workload", "StatefulSet/"], false),
        (["--identity", "37107"], false), (["--from-identity", "host"], false), (["--to-identity", "world-ipv4"], false),
        (["--to-identity", "16777217"], false),
        (["--label", "app=redis"], false), (["--from-label", "k8s:app=redis"], false), (["--to-label", "reserved:world-ipv4"], false),
        (["--from-label", "app!=redis,io.kubernetes.pod.namespace=platform"], false),
        (["--fqdn", "*.monitoring.svc.cluster.local"], false), (["--to-fqdn", "ingress-nginx-controller.ingress-nginx.svc.cluster.local"], false),
        (["--from-fqdn", "*"], false),
        (["--port", "53"], false), (["--from-port", "53"], false), (["--to-port", "443"], false),
        (["--protocol", "tcp"], false), (["--protocol", "udp"], false), (["--protocol", "icmp"], false), (["--protocol", "icmpv6"], false),
        (["--verdict", "AUDIT"], false), (["--verdict", "FORWARDED", "--to-namespace", "kube-system"], false),
        (["--type", "policy-verdict"], false),
        (["--not", "--namespace", "kube-system"], false), (["--not", "--to-port", "53", "--from-namespace", "monitoring"], false),
        (["--not", "--verdict", "FORWARDED", "--not", "--protocol", "tcp"], false),
        (["--label", "app"], false), (["--label", "!app"], false), (["--to-label", "k8s:app==redis"], false),
        (["--label", "app in (redis, users),k8s:version"], false), (["--to-label", "app notin (redis,search)"], false),
        (["--verdict", "FORWARDED"], false), (["--namespace", "payments"], true),
        // Combinations: a namespace completes a pod without one; kept and excluded lists.
        (["--namespace", "payments", "--pod", "users"], false), (["--from-namespace", "platform", "--to-pod", "kube-system/coredns"], false),
        (["--ip", "10.244.0.0/16", "--port", "53"], false), (["--not", "--ip", "10.96.0.0/12"], false),
        (["--workload", "redis", "--not", "--workload", "users"], false), (["--to-fqdn", "*.svc.cluster.local", "--verdict", "AUDIT"], false),
        (["--pod", "kube-system/", "--port", "53"], false),
        (["--protocol", "dns"], true), (["--protocol", "http"], true), (["--type", "l7"], true),
    ]

    /// The same with `--verdict-as-enforced`, where Hubble sees drops: flowmon's options, and
    /// Hubble's. `--verdict AUDIT` selects the would-be drops in flowmon however they are
    /// written; Hubble's lines say DROPPED there.
    static let enforcedRows: [(flowmon: [String], hubble: [String])] = [
        (["--verdict", "DROPPED"], ["--verdict", "DROPPED"]), (["--type", "drop"], ["--type", "drop"]),
        (["--verdict", "FORWARDED"], ["--verdict", "FORWARDED"]), (["--verdict", "AUDIT"], ["--verdict", "DROPPED"]),
    ]

    typealias Record = [String: Any]

    static func hubbleKey(_ flow: Record, unordered: Bool) -> String {
        let ip = flow["IP"] as? Record ?? [:]
        let l4 = flow["l4"] as? Record ?? [:]
        let proto = l4.keys.first ?? ""
        let ports = l4[proto] as? Record ?? [:]
        let name = ["TCP": "TCP", "UDP": "UDP", "SCTP": "SCTP", "ICMPv4": "ICMP", "ICMPv6": "IPv6-ICMP"][proto] ?? proto
        return key(ip["source"] as? String ?? "", ports["source_port"] as? Int, ip["destination"] as? String ?? "",
                   ports["destination_port"] as? Int, name, unordered: unordered)
    }

    static func flowmonKey(_ record: Record, unordered: Bool) -> String {
        key(record["src_ip"] as? String ?? "", record["src_port"] as? Int, record["dest_ip"] as? String ?? "",
            record["dest_port"] as? Int, record["proto"] as? String ?? "", unordered: unordered)
    }

    static func key(_ sourceIP: String, _ sourcePort: Int?, _ destinationIP: String, _ destinationPort: Int?, _ proto: String,
                    unordered: Bool) -> String {
        var ends = ["\(sourceIP) \(sourcePort ?? 0)", "\(destinationIP) \(destinationPort ?? 0)"]
        if unordered { ends.sort() }
        return ends.joined(separator: " > ") + " " + proto
    }

    @Test func flowmonSelectsWhatHubbleSelects() throws {
        let demo = try FilterCLITests.demo.get()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let hubble = try Fixture.hubbleCLI(in: directory, for: "the comparison of flowmon's filters with hubble observe's") else { return }

        func hubbleKeys(_ file: URL, _ arguments: [String], layer7: Bool) throws -> Set<String> {
            let result = try run(hubble, ["observe", "--input-file", file.path, "-o", "json"] + arguments)
            #expect(result.status == 0, "hubble observe \(arguments): \(result.stderr)")
            let flows = result.stdout.split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? Record)?["flow"] as? Record
            }
            return Set(flows.filter { ($0["Type"] as? String == "L7") == layer7 }.map { Self.hubbleKey($0, unordered: layer7) })
        }
        func flowmonKeys(_ file: URL, _ arguments: [String], layer7: Bool) throws -> Set<String> {
            let records = try FilterCLITests.observe(file, arguments).map(FilterCLITests.object)
            let kinds = layer7 ? ["dns", "http"] : ["flow"]
            return Set(records.filter { kinds.contains(FilterCLITests.type($0)) }.map { Self.flowmonKey($0, unordered: layer7) })
        }

        // Hubble has lines only for the connections a policy decision was taken on (a local
        // endpoint's egress or ingress): the comparison is among those.
        let decided = try hubbleKeys(demo.hubble, [], layer7: false), spoken = try hubbleKeys(demo.hubble, [], layer7: true)
        let flows = try flowmonKeys(demo.eve, [], layer7: false), messages = try flowmonKeys(demo.eve, [], layer7: true)
        #expect(decided.count >= 50 && decided.isSubset(of: flows))
        #expect(spoken.count >= 40 && spoken == messages)
        var compared = 0
        // A connection one side allows and the other would drop has a FORWARDED line in Hubble;
        // flowmon's record carries the connection's verdict: what policy would drop.
        func forwardedOnly(_ file: URL, _ keys: Set<String>, _ arguments: [String]) throws -> Set<String> {
            guard arguments.starts(with: ["--verdict", "FORWARDED"]) else { return keys }
            return keys.subtracting(try hubbleKeys(file, ["--verdict", "AUDIT", "--verdict", "DROPPED"], layer7: false))
        }
        for (arguments, layer7) in Self.rows {
            let expected = try forwardedOnly(demo.hubble, try hubbleKeys(demo.hubble, arguments, layer7: layer7), arguments)
            let selected = try flowmonKeys(demo.eve, arguments, layer7: layer7).intersection(layer7 ? spoken : decided)
            #expect(selected == expected, "\(arguments.joined(separator: " ")): flowmon only \(selected.subtracting(expected).sorted()), hubble only \(expected.subtracting(selected).sorted())")
            if !expected.isEmpty { compared += 1 }
        }
        for (arguments, theirs) in Self.enforcedRows {
            let expected = try forwardedOnly(demo.enforcedHubble, try hubbleKeys(demo.enforcedHubble, theirs, layer7: false), theirs)
            let selected = try flowmonKeys(demo.enforcedEVE, arguments, layer7: false).intersection(decided)
            #expect(selected == expected, "enforced \(arguments.joined(separator: " ")): flowmon only \(selected.subtracting(expected).sorted()), hubble only \(expected.subtracting(selected).sorted())")
            #expect(!expected.isEmpty)
        }
        // --from-service, --from-fqdn, --from-port 53, ICMP and --to-identity world-ipv4 select
        // nothing in either (no ICMP connection had a decision); the others select something.
        #expect(compared >= Self.rows.count - 8, "rows that select something in Hubble: \(compared)")
    }

    /// Options Hubble refuses together, flowmon refuses too (Hubble's message).
    @Test func bothRefuseTheSameCombinations() throws {
        let demo = try FilterCLITests.demo.get()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        guard let hubble = try Fixture.hubbleCLI(in: directory, for: "the comparison of refused filter combinations") else { return }
        for arguments in [["--ip", "10.0.0.1", "--pod", "web"], ["--namespace", "a", "--to-pod", "web"], ["--label", "a", "--from-label", "b"],
                          ["--identity", "1", "--to-identity", "2"], ["--not", "--not", "--port", "1"],
                          ["--namespace", "kube-system", "--to-service", "kube-dns"]] {
            let theirs = try run(hubble, ["observe", "--input-file", demo.hubble.path] + arguments)
            let ours = try run(Fixture.flowmonBinary, ["observe", demo.eve.path] + arguments)
            #expect(theirs.status != 0 && ours.status == 64, "\(arguments)")
            let message = theirs.stderr.split(separator: "\n").first.map(String.init) ?? ""
            let core = message.components(separatedBy: ": ").last ?? message
            #expect(ours.stderr.contains(core), "\(arguments): hubble says \(message); flowmon \(ours.stderr)")
        }
    }
}
