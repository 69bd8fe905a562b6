import Foundation
import Testing

/// End to end: the real `flowmon replay` on a capture with one probe connection per row of the
/// expectation table below (Captures/policy-probes/, written by generate.py there), with the
/// inventory beside it and the policies in Policies/conformance/. Each row is a case of the
/// semantics tables (Tests/AgentTests/SemanticsKubernetesTests.swift, SemanticsCiliumTests.swift)
/// given its own pod (label `case`) so that the cases' policies do not meet.
@Suite struct PolicyProbeTests {
    struct Expectation: Sendable {
        /// FORWARDED or AUDIT (flowmon observes; a connection policy would drop is AUDIT).
        var verdict: String
        /// POLICY_DENIED (no allow under default deny) or POLICY_DENY (a deny rule), for AUDIT.
        var dropReason: String?
        /// INGRESS or EGRESS: the side that would drop.
        var direction: String?
        /// `egress_allowed_by`, `ingress_denied_by`, ... → policy names; absent keys must be absent.
        var by: [String: [String]]
        /// Hubble `policy_match_type` of the record.
        var matchType: Int?
        /// The upstream row or Cilium rule the probe stands for.
        var source: String
    }

    static func ok(_ by: [String: [String]], match: Int? = nil, _ source: String) -> Expectation {
        Expectation(verdict: "FORWARDED", dropReason: nil, direction: nil, by: by, matchType: match, source: source)
    }

    /// Forwarded with no policy named on either side (nothing enforced, or allowed from the host).
    static func ok(_ source: String) -> Expectation { ok([:], match: 0, source) }

    static func denied(_ direction: String, _ source: String) -> Expectation {
        Expectation(verdict: "AUDIT", dropReason: "POLICY_DENIED", direction: direction, by: [:], matchType: 0, source: source)
    }

    static func deny(_ direction: String, _ by: [String: [String]], match: Int? = nil, _ source: String) -> Expectation {
        Expectation(verdict: "AUDIT", dropReason: "POLICY_DENY", direction: direction, by: by, matchType: match, source: source)
    }

    static let k8s = "k8s netpol e2e: "

    /// Keyed by "source → destination proto/port" (the ICMP type for ICMP); the source port of
    /// each probe is 40000 + its index in generate.py's PROBES.
    static let table: [String: Expectation] = [
        "10.0.1.1 → 10.0.4.1 TCP/80": denied("INGRESS", k8s + "should support a 'default-deny-ingress' policy"),
        "10.0.4.1 → 10.0.1.1 TCP/80": ok(k8s + "should support a 'default-deny-ingress' policy (egress stays open)"),
        "10.0.1.2 → 10.0.1.102 TCP/80": ok(["ingress_allowed_by": ["s2-allows-pod-b"]], match: 1,
                                            k8s + "should enforce policy to allow traffic from pods within server namespace based on PodSelector"),
        "10.0.2.2 → 10.0.1.102 TCP/80": denied("INGRESS", k8s + "... based on PodSelector (other namespace)"),
        "10.0.2.1 → 10.0.1.103 TCP/80": ok(["ingress_allowed_by": ["s3-allows-ns-y"]],
                                            k8s + "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector"),
        "10.0.3.1 → 10.0.1.103 TCP/80": denied("INGRESS", k8s + "... based on NamespaceSelector (namespace z)"),
        "10.0.2.1 → 10.0.1.104 TCP/81": ok(["ingress_allowed_by": ["s4-allows-ns-y-81"]], match: 2, k8s + "should enforce policy based on Ports"),
        "10.0.2.2 → 10.0.1.104 TCP/80": denied("INGRESS", k8s + "should enforce policy based on Ports (port 80)"),
        "10.0.3.1 → 10.0.1.105 TCP/81": ok(["ingress_allowed_by": ["s5-named-port"]], match: 3,
                                            k8s + "should allow ingress access on one named port"),
        "10.0.3.1 → 10.0.1.105 TCP/80": denied("INGRESS", k8s + "should allow ingress access on one named port (port 80)"),
        "10.0.1.106 → 10.0.2.1 TCP/80": denied("EGRESS", k8s + "should deny egress from pods based on PodSelector"),
        "10.0.2.1 → 10.0.1.107 UDP/81": ok(["ingress_allowed_by": ["s7-udp-only"]], match: 3,
                                            k8s + "should not allow access by TCP when a policy specifies only UDP (UDP)"),
        "10.0.2.2 → 10.0.1.107 TCP/81": denied("INGRESS", k8s + "should not allow access by TCP when a policy specifies only UDP"),
        "10.0.1.108 → 203.0.113.20 TCP/443": ok(["egress_allowed_by": ["e8-cidr-except"]], match: 1,
                                                 k8s + "should enforce except clause while egress access to server in CIDR block (world)"),
        "10.0.1.108 → 203.0.113.10 TCP/443": denied("EGRESS", k8s + "... except clause (address in the except)"),
        "10.0.1.108 → 10.0.2.1 TCP/80": denied("EGRESS", "Cilium: ipBlock/CIDR peers never select pod IPs (language.rst)"),
        "203.0.113.50 → 10.0.1.109 TCP/80": ok(["ingress_allowed_by": ["s9-l4-only"]], match: 3,
                                                "Cilium language.rst Layer 4: an L4-only rule admits world"),
        "203.0.113.50 → 10.0.1.109 TCP/81": denied("INGRESS", "Cilium L4-only rule, other port"),
        "10.0.1.1 → 10.0.1.110 TCP/80": ok(["ingress_allowed_by": ["s10-same-namespace"]], match: 1,
                                            "Cilium utils.go: CNP fromEndpoints [{}] = the policy's namespace"),
        "10.0.2.1 → 10.0.1.110 TCP/80": denied("INGRESS", "Cilium utils.go: CNP fromEndpoints [{}], other namespace"),
        "10.0.2.2 → 10.0.1.111 TCP/80": deny("INGRESS", ["ingress_denied_by": ["s11-deny-y-b"]], match: 1,
                                              "Cilium deny.rst: a CNP deny beats a K8s NP allow"),
        "10.0.2.1 → 10.0.1.111 TCP/80": ok(["ingress_allowed_by": ["s11-allow-all"]], match: 4, "K8s NP ingress [{}] allow-all"),
        "10.0.1.112 → 203.0.113.10 TCP/443": deny("EGRESS", ["egress_denied_by": ["e12-egress-all"]],
                                                   "Cilium deny.rst: egressDeny world beats toEntities all"),
        // policy_match_type is not checked here: the record takes the (unenforced) ingress side's "none".
        "10.0.1.112 → 10.0.2.1 TCP/80": ok(["egress_allowed_by": ["e12-egress-all"]], "Cilium entity.go: toEntities all"),
        "10.0.2.1 → 10.0.1.113 ICMP/8": ok(["ingress_allowed_by": ["s13-ping"]], match: 3, "Cilium icmp.go: EchoRequest IPv4 = type 8"),
        "10.0.2.2 → 10.0.1.113 TCP/80": denied("INGRESS", "Cilium icmps rule does not allow TCP"),
        "10.0.2.1 → 10.0.1.114 TCP/8080": ok(["ingress_allowed_by": ["s14-range"]], match: 3, "Cilium l4.go: endPort inclusive"),
        "10.0.2.2 → 10.0.1.114 TCP/8081": denied("INGRESS", "Cilium l4.go: endPort, one past the range"),
        "10.0.1.115 → 203.0.113.10 TCP/443": ok(["egress_allowed_by": ["e15-to-all"]], "Cilium entity.go: toEntities [all] alone"),
        "203.0.113.60 → 10.0.1.116 TCP/80": deny("INGRESS", ["ingress_denied_by": ["s16-additive-deny"]],
                                                  "Cilium rule.go: enableDefaultDeny false + ingressDeny still denies"),
        "10.0.2.1 → 10.0.1.116 TCP/80": ok("Cilium rule.go: enableDefaultDeny false does not isolate"),
        "192.168.1.10 → 10.0.1.117 TCP/80": ok(["ingress_allowed_by": ["allow-localhost-ingress"]], match: 1,
                                                "Cilium: the local host reaches its pods under ingress default deny (its built-in L3-only rule)"),
        "10.0.2.1 → 10.0.1.117 TCP/80": denied("INGRESS", "Cilium language.rst: ingress [{}] denies all"),
        "10.0.2.2 → 10.0.1.118 TCP/80": ok(["ingress_allowed_by": ["s18-port-80"]], match: 3,
                                            "Cilium bpf/lib/policy.h: exact port (L4-only) beats a range for the identity"),
        "10.0.2.2 → 10.0.1.118 TCP/81": ok(["ingress_allowed_by": ["s18-range-for-y-b"]], match: 2, "Cilium: the range decides off port 80"),
        "10.0.1.119 → 10.0.2.3 TCP/80": ok(["egress_allowed_by": ["e19-to-y-c"], "ingress_allowed_by": ["c-from-e19"]], match: 1,
                                            "Cilium: egress at the source and ingress at the destination"),
    ]

    static let directory = Fixture.captures.appendingPathComponent("policy-probes")

    @Test func probes() throws {
        let result = try run(Fixture.flowmonBinary, [
            "replay", Self.directory.appendingPathComponent("policy-probes.pcap").path,
            "--pods", Self.directory.appendingPathComponent("policy-probes.pods.json").path,
            "--namespaces", Self.directory.appendingPathComponent("policy-probes.namespaces.json").path,
            "--nodes", Self.directory.appendingPathComponent("policy-probes.nodes.json").path,
            "--node-name", "node-1",
            "--policies", Fixture.root.appendingPathComponent("Policies/conformance").path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        var seen = Set<String>()
        for line in result.stdout.split(separator: "\n") {
            guard let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  record["event_type"] as? String == "flow" else { continue }
            let source = record["src_ip"] as? String ?? "?"
            let destination = record["dest_ip"] as? String ?? "?"
            let proto = record["proto"] as? String ?? "?"
            let port = (record["dest_port"] ?? record["icmp_type"]).map { "\($0)" } ?? "?"
            let key = "\(source) → \(destination) \(proto)/\(port)"
            guard let expected = Self.table[key] else {
                Issue.record("unexpected flow \(key)")
                continue
            }
            seen.insert(key)
            let policy = record["policy"] as? [String: Any] ?? [:]
            let context = "\(key) [\(expected.source)]: \(policy)"
            #expect(policy["verdict"] as? String == expected.verdict, "\(context)")
            #expect(policy["drop_reason_desc"] as? String == expected.dropReason, "\(context)")
            #expect(policy["traffic_direction"] as? String == expected.direction, "\(context)")
            if let match = expected.matchType { #expect(policy["policy_match_type"] as? Int == match, "\(context)") }
            for field in ["egress_allowed_by", "egress_denied_by", "ingress_allowed_by", "ingress_denied_by"] {
                let names = (policy[field] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == expected.by[field], "\(field): \(context)")
            }
        }
        #expect(seen == Set(Self.table.keys), "missing: \(Set(Self.table.keys).subtracting(seen).sorted())")
        #expect(Self.table.count >= 15)
    }
}
