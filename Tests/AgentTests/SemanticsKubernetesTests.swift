import Agent
import Datapath
import Testing

/// Kubernetes NetworkPolicy conformance, transcribed from the upstream e2e suite
/// `kubernetes/kubernetes: test/e2e/network/netpol/network_policy.go` (read at commit
/// 008b3652959ca58af8be3fb5b6ecfe9ae7638282; the model is `model.go`, the matrix helpers
/// `reachability.go`). Each row is named by its upstream `It(...)` title, holds the policies
/// the test creates (final state) and the expected reachability on the probed port(s).
///
/// Upstream's `SetSpecIngressRules`/`SetSpecEgressRules` helpers always list the direction in
/// `policyTypes`; the YAML here does too where it matters (an `egress` section without
/// `policyTypes` would also isolate ingress, networking/v1 types.go defaulting).
///
/// Differences from upstream, on purpose:
/// - Upstream now creates only the pods each test needs (e.g. "x/a", "x/b", "y/a"); the
///   tables here always use the full 9-pod model (x, y, z × a, b, c, as the suite did before)
///   and state the expectation for all 81 pairs, obtained by applying the upstream
///   `Expect*` calls to the full model.
/// - Self-traffic (x/a → x/a) is compared too. Upstream ignores loopback (`ignoreLoopback`,
///   kubernetes#95879) because a pod reaching its own IP never leaves the pod in Cilium; flowmon
///   evaluates such a flow as any other, so the matrix's diagonal follows the policy rules.
/// - ipBlock peers: Cilium's CIDR selectors only select addresses outside the cluster (a pod
///   IP resolves to the pod's identity, never to a CIDR identity; reference-semantics §1c), so
///   upstream's CIDR tests, which put a pod's IP in the ipBlock, cannot pass on Cilium. Those
///   rows state Cilium's outcome for the pods and add world servers (203.0.113.0/24) that
///   the ipBlock does cover.
@Suite struct SemanticsKubernetesTests {
    static let file = "kubernetes/kubernetes test/e2e/network/netpol/network_policy.go"

    struct Probe: Sendable {
        var port: UInt16
        var proto: SemanticsProtocol
        var expected: Reachability
        init(_ port: UInt16, _ proto: SemanticsProtocol, _ expected: Reachability) {
            self.port = port
            self.proto = proto
            self.expected = expected
        }
        init(_ port: UInt16, _ expected: Reachability) { self.init(port, .tcp, expected) }
    }

    /// A flow to or from an address outside the cluster, with the expected outcome.
    struct WorldProbe: Sendable {
        var from: String
        var to: String
        var port: UInt16
        var allowed: Bool
    }

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var policies: String
        var probes: [Probe]
        var world: [WorldProbe] = []
        var description: String { self.name }
    }

    /// A NetworkPolicy document; `spec` is the body, indented by two spaces.
    static func np(_ name: String, _ namespace: String, _ spec: String) -> String {
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: \(name)\n  namespace: \(namespace)\nspec:\n"
            + spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
    }

    static let all = Reachability()

    static let rows: [Row] = [
        Row(name: "should support a 'default-deny-ingress' policy",
            policies: np("deny-ingress", "x", """
                podSelector: {}
                policyTypes: [Ingress]
                """),
            probes: [Probe(80, all.expectPeer("*", "x/*", false))]),
        Row(name: "should support a 'default-deny-all' policy",
            policies: np("deny-all", "x", """
                podSelector: {}
                policyTypes: [Ingress, Egress]
                """),
            probes: [Probe(80, all.expectPeer("*", "x/*", false).expectPeer("x/*", "*", false))]),
        Row(name: "should enforce policy to allow traffic from pods within server namespace based on PodSelector",
            policies: np("x-a-allows-x-b", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - podSelector: {matchLabels: {pod: b}}
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("x/b", "x/a", true))]),
        Row(name: "should enforce policy to allow ingress traffic for a target",
            policies: np("deny-all", "x", """
                podSelector: {}
                policyTypes: [Ingress]
                """) + np("allow-all-to-a", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - podSelector: {}
                    namespaceSelector: {}
                """),
            probes: [Probe(80, all.expectPeer("*", "x/*", false).expectAllIngress("x/a", true))]),
        Row(name: "should enforce policy to allow ingress traffic from pods in all namespaces",
            policies: np("allow-from-another-ns", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {}}
                """),
            probes: [Probe(80, all)]),
        Row(name: "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector",
            policies: np("allow-client-a-via-ns-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                """),
            probes: [Probe(80, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false))]),
        Row(name: "should enforce policy based on PodSelector with MatchExpressions",
            policies: np("x-a-allows-x-b", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - podSelector:
                      matchExpressions: [{key: pod, operator: In, values: [b]}]
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("x/b", "x/a", true))]),
        Row(name: "should enforce policy based on NamespaceSelector with MatchExpressions",
            policies: np("allow-ns-y-match-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: In, values: [y]}]
                """),
            probes: [Probe(80, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false))]),
        Row(name: "should enforce policy based on PodSelector or NamespaceSelector",
            policies: np("allow-ns-y-match-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
                  - podSelector: {matchLabels: {pod: b}}
                """),
            probes: [Probe(80, all.expect("x/a", "x/a", false).expect("x/c", "x/a", false))]),
        Row(name: "should enforce policy based on PodSelector and NamespaceSelector",
            policies: np("allow-ns-y-podselector-and-nsselector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
                    podSelector: {matchLabels: {pod: b}}
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("y/b", "x/a", true).expect("z/b", "x/a", true))]),
        Row(name: "should enforce policy based on Multiple PodSelectors and NamespaceSelectors",
            policies: np("allow-ns-y-z-pod-b-c", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [x]}]
                    podSelector:
                      matchExpressions: [{key: pod, operator: In, values: [b, c]}]
                """),
            probes: [Probe(80, all.expectPeer("x/*", "x/a", false).expect("y/a", "x/a", false).expect("z/a", "x/a", false))]),
        Row(name: "should enforce policy based on any PodSelectors",
            policies: np("allow-ns-x-pod-b-c", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - podSelector: {matchLabels: {pod: b}}
                  - podSelector: {matchLabels: {pod: c}}
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("x/b", "x/a", true).expect("x/c", "x/a", true))]),
        Row(name: "should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
            policies: np("allow-ns-y-pod-a-via-namespace-pod-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                    podSelector: {matchLabels: {pod: a}}
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("y/a", "x/a", true))]),
        Row(name: "should enforce policy based on Ports",
            policies: np("allow-client-a-via-ns-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: 81, protocol: TCP}
                """),
            probes: [Probe(81, all.expectPeer("x/*", "x/a", false).expectPeer("y/*", "x/a", true).expectPeer("z/*", "x/a", false)),
                     Probe(80, all.expectAllIngress("x/a", false))]),
        Row(name: "should enforce multiple, stacked policies with overlapping podSelectors",
            policies: np("allow-client-a-via-ns-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: 81, protocol: TCP}
                """) + np("allow-client-a-via-ns-selector-80", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: 80, protocol: TCP}
                """),
            probes: [Probe(81, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false)),
                     Probe(80, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false))]),
        Row(name: "should support allow-all policy",
            policies: np("allow-all", "x", """
                podSelector: {}
                ingress:
                - {}
                """),
            probes: [Probe(80, all), Probe(81, all)]),
        Row(name: "should allow ingress access on one named port",
            policies: np("allow-all", "x", """
                podSelector: {}
                ingress:
                - ports:
                  - port: serve-81-tcp
                """),
            probes: [Probe(81, all), Probe(80, all.expectPeer("*", "x/*", false))]),
        Row(name: "should allow ingress access from namespace on one named port",
            policies: np("allow-client-a-via-ns-selector-80", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: serve-80-tcp, protocol: TCP}
                """),
            probes: [Probe(80, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false)),
                     Probe(81, all.expectAllIngress("x/a", false))]),
        Row(name: "should allow egress access on one named port",
            policies: np("allow-egress", "x", """
                podSelector: {}
                policyTypes: [Egress]
                egress:
                - ports:
                  - port: serve-80-tcp
                """),
            probes: [Probe(80, all), Probe(81, all.expectPeer("x/*", "*", false))]),
        Row(name: "should deny ingress from pods on other namespaces",
            policies: np("deny-empty-policy", "x", """
                podSelector: {}
                ingress:
                - from:
                  - podSelector: {matchLabels: {}}
                """),
            probes: [Probe(80, all.expectPeer("y/*", "x/*", false).expectPeer("z/*", "x/*", false))]),
        Row(name: "should deny egress from pods based on PodSelector",
            policies: np("deny-egress-pod-a", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                """),
            probes: [Probe(80, all.expectAllEgress("x/a", false))]),
        Row(name: "should deny egress from all pods in a namespace",
            policies: np("deny-egress-ns-x", "x", """
                podSelector: {}
                policyTypes: [Egress]
                """),
            probes: [Probe(80, all.expectPeer("x/*", "*", false))]),
        Row(name: "should work with Ingress, Egress specified together",
            policies: np("allow-client-a-via-pod-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress, Ingress]
                ingress:
                - from:
                  - podSelector: {matchLabels: {pod: b}}
                egress:
                - ports:
                  - port: 80
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false).expect("x/b", "x/a", true)),
                     Probe(81, all.expectAllIngress("x/a", false).expectAllEgress("x/a", false).expect("x/b", "x/a", true))]),
        Row(name: "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)",
            policies: np("allow-to-ns-y-pod-a", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                    podSelector: {matchLabels: {pod: a}}
                """) + np("allow-from-xa-on-ya-match-selector", "y", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
                    podSelector: {matchLabels: {pod: a}}
                """) + np("allow-from-xa-on-yb-match-selector", "y", """
                podSelector: {matchLabels: {pod: b}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: x}}
                    podSelector: {matchLabels: {pod: a}}
                """),
            probes: [Probe(80, all.expectPeer("x/a", "*", false).expectPeer("*", "y/a", false).expectPeer("x/a", "y/a", true)
                                  .expectPeer("*", "y/b", false))]),
        Row(name: "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector",
            policies: np("allow-to-ns-y-pod-a", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                    podSelector: {matchLabels: {pod: a}}
                """),
            probes: [Probe(80, all.expectAllEgress("x/a", false).expect("x/a", "y/a", true))]),
        Row(name: "should enforce ingress policy allowing any port traffic to a server on a specific protocol",
            policies: np("allow-ingress-by-proto", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - ports:
                  - protocol: TCP
                """),
            probes: [Probe(80, .tcp, all), Probe(80, .udp, all.expectPeer("*", "x/a", false))]),
        Row(name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence (first policy only)",
            policies: np("allow-ingress-port-80", "x", """
                podSelector: {}
                ingress:
                - ports:
                  - port: 80
                """),
            probes: [Probe(81, all.expectPeer("*", "x/*", false)), Probe(80, all)]),
        Row(name: "should enforce multiple ingress policies with ingress allow-all policy taking precedence",
            policies: np("allow-ingress-port-80", "x", """
                podSelector: {}
                ingress:
                - ports:
                  - port: 80
                """) + np("allow-ingress", "x", """
                podSelector: {}
                ingress:
                - {}
                """),
            probes: [Probe(81, all)]),
        Row(name: "should enforce multiple egress policies with egress allow-all policy taking precedence (first policy only)",
            policies: np("allow-egress-port-80", "x", """
                podSelector: {}
                policyTypes: [Egress]
                egress:
                - ports:
                  - port: 80
                """),
            probes: [Probe(81, all.expectPeer("x/*", "*", false)), Probe(80, all)]),
        Row(name: "should enforce multiple egress policies with egress allow-all policy taking precedence",
            policies: np("allow-egress-port-80", "x", """
                podSelector: {}
                policyTypes: [Egress]
                egress:
                - ports:
                  - port: 80
                """) + np("allow-egress", "x", """
                podSelector: {}
                policyTypes: [Egress]
                egress:
                - {}
                """),
            probes: [Probe(81, all)]),
        // Upstream: the ipBlock is y/b's pod IP/32 and x/a → y/b is expected to work. On Cilium
        // an ipBlock never selects a pod (the pod IP resolves to the pod identity), so x/a's
        // egress is isolated and reaches no pod; the same ipBlock shape on a world address works.
        Row(name: "should allow egress access to server in CIDR block (Cilium: pod IPs are not CIDR peers; world server instead)",
            policies: np("allow-client-a-via-cidr-egress-rule", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - ipBlock: {cidr: 10.0.2.2/32}
                  - ipBlock: {cidr: 203.0.113.10/32}
                """),
            probes: [Probe(80, all.expectAllEgress("x/a", false))],
            world: [WorldProbe(from: "x/a", to: "203.0.113.10", port: 80, allowed: true),
                    WorldProbe(from: "x/a", to: "203.0.113.11", port: 80, allowed: false),
                    WorldProbe(from: "x/b", to: "203.0.113.11", port: 80, allowed: true)]),
        // Upstream: ipBlock is a large CIDR around x/b's IP, except x/b/32; x/a → x/b fails and
        // x/a → x/c works. On Cilium the CIDR selects no pod, so every pod is unreachable from
        // x/a; the except clause is shown on world addresses (inside the except: denied).
        Row(name: "should enforce except clause while egress access to server in CIDR block (Cilium: world servers)",
            policies: np("allow-client-a-via-cidr-egress-rule", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - ipBlock:
                      cidr: 203.0.113.0/24
                      except: [203.0.113.10/32]
                """),
            probes: [Probe(80, all.expectAllEgress("x/a", false))],
            world: [WorldProbe(from: "x/a", to: "203.0.113.10", port: 80, allowed: false),
                    WorldProbe(from: "x/a", to: "203.0.113.20", port: 80, allowed: true),
                    WorldProbe(from: "x/a", to: "198.51.100.1", port: 80, allowed: false)]),
        Row(name: "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector",
            policies: np("allow-egress-for-target", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - {}
                """) + np("deny-ingress-via-label-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Ingress]
                """),
            probes: [Probe(80, all.expectAllIngress("x/a", false))]),
        Row(name: "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP",
            policies: np("deny-ingress", "x", """
                podSelector: {}
                policyTypes: [Ingress]
                """) + np("allow-only-sctp-ingress-on-port-81", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - ports:
                  - {port: 81, protocol: SCTP}
                """),
            probes: [Probe(81, .tcp, all.expectPeer("*", "x/*", false)),
                     Probe(81, .sctp, all.expectPeer("*", "x/*", false).expectAllIngress("x/a", true))]),
        Row(name: "should properly isolate pods that are selected by a policy allowing SCTP, even if the plugin doesn't support SCTP",
            policies: np("allow-only-sctp-ingress-on-port-80", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - ports:
                  - {port: 80, protocol: SCTP}
                """),
            probes: [Probe(81, .tcp, all.expectAllIngress("x/a", false))]),
        Row(name: "should not allow access by TCP when a policy specifies only UDP",
            policies: np("allow-only-udp-ingress-on-port-81", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - ports:
                  - {port: 81, protocol: UDP}
                """),
            probes: [Probe(81, .tcp, all.expectAllIngress("x/a", false)), Probe(81, .udp, all)]),
        Row(name: "should enforce policy to allow traffic based on NamespaceSelector with MatchLabels using default ns label",
            policies: np("allow-client-a-via-ns-selector-for-immutable-ns-label", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                """),
            probes: [Probe(80, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false))]),
        Row(name: "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label",
            policies: np("allow-ns-y-match-selector-for-immutable-ns-label", "x", """
                podSelector: {matchLabels: {pod: a}}
                policyTypes: [Egress]
                egress:
                - to:
                  - namespaceSelector:
                      matchExpressions: [{key: kubernetes.io/metadata.name, operator: NotIn, values: [y]}]
                """),
            probes: [Probe(80, all.expectPeer("x/a", "y/*", false))]),
        // Not in the upstream file read (which has no endPort test); built from the API's
        // NetworkPolicyPort.endPort (kubernetes/api networking/v1 types.go: inclusive range,
        // numeric port only) on the "based on Ports" shape.
        Row(name: "should enforce policy based on Ports range (endPort) [API types.go]",
            policies: np("allow-81-to-90", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: 81, endPort: 90, protocol: TCP}
                """),
            probes: [Probe(81, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false)),
                     Probe(80, all.expectAllIngress("x/a", false))]),
        // "NetworkPolicy between server and client using UDP" (same file, [LinuxOnly]).
        Row(name: "UDP: should support a 'default-deny-ingress' policy",
            policies: np("deny-all", "x", """
                podSelector: {}
                policyTypes: [Ingress]
                """),
            probes: [Probe(80, .udp, all.expectPeer("*", "x/*", false))]),
        Row(name: "UDP: should enforce policy based on Ports",
            policies: np("allow-ingress-on-port-81-ns-x", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                  ports:
                  - {port: 81, protocol: UDP}
                """),
            probes: [Probe(81, .udp, all.expectPeer("x/*", "x/a", false).expectPeer("z/*", "x/a", false)),
                     Probe(81, .tcp, all.expectAllIngress("x/a", false))]),
        Row(name: "SCTP: should enforce policy to allow traffic only from a pod in a different namespace based on PodSelector and NamespaceSelector",
            policies: np("allow-ns-y-pod-a-via-namespace-pod-selector", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: y}}
                    podSelector: {matchLabels: {pod: a}}
                """),
            probes: [Probe(80, .sctp, all.expectAllIngress("x/a", false).expect("y/a", "x/a", true))]),
    ]

    /// Tests that need policy updates, label changes or deletions between two matrices: flowmon
    /// loads policies and inventory once, so only a final state could be checked, and each
    /// final state is already covered by a row above.
    static let skipped: [(String, String)] = [
        ("should enforce updated policy", "policy update; final state = 'default-deny-ingress' row"),
        ("should allow ingress access from updated namespace", "namespace label update"),
        ("should allow ingress access from updated pod", "pod label update"),
        ("should deny ingress access to updated pod", "pod label update"),
        ("should stop enforcing policies after they are deleted", "policy deletion; initial state = 'default-deny-all' row"),
        ("should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed",
         "policy update, and ipBlock on pod IPs (never matches on Cilium)"),
    ]

    @Test(arguments: rows)
    func row(_ row: Row) throws {
        let agent = try SemanticsCluster.xyz.load(row.policies)
        for probe in row.probes {
            let actual = agent.matrix(port: probe.port, proto: probe.proto)
            let expected = probe.expected.rows
            #expect(actual == expected,
                    "\(row.name) [\(Self.file)] \(probe.proto) \(probe.port)\nexpected:\n\(expected.joined(separator: "\n"))\nactual:\n\(actual.joined(separator: "\n"))")
            // Every drop in these tables is a missing allow, never an explicit deny.
            for from in Reachability.pods {
                for to in Reachability.pods {
                    let verdict = agent.verdict(from: from, to: to, port: probe.port, proto: probe.proto)
                    if !verdict.allowed { #expect(verdict.dropReason == "POLICY_DENIED", "\(from)->\(to): \(verdict)") }
                }
            }
        }
        for probe in row.world {
            let verdict = agent.verdict(from: probe.from, to: probe.to, port: probe.port)
            #expect(verdict.allowed == probe.allowed, "\(row.name): \(probe.from)->\(probe.to):\(probe.port): \(verdict)")
        }
    }

    @Test func tableSize() {
        #expect(Self.rows.count >= 20)
        #expect(Self.skipped.count == 6)
    }
}
