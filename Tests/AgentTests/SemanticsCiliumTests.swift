import Agent
import Datapath
import Testing

/// Cilium policy semantics, one row per rule, each citing where the rule comes from (a
/// Cilium documentation page under Documentation/, a source file under pkg/ or bpf/, or a
/// cilium-cli connectivity test). Probes run through the real loaders, compiler, ipcache and
/// `EndpointPolicy.lookup`, the way `DatapathProgram.classify` does (see SemanticsSupport.swift).
///
/// The cluster is the netpol x/y/z × a/b/c model on node-1 (192.168.1.10), plus node-2
/// (192.168.1.11, remote-node); y/c also serves a container port named `http` on 9090 and
/// z/c one on 8080. World addresses come from 203.0.113.0/24, 198.51.100.0/24 and 10.9.9.9
/// (inside 10/8 but no pod's).
@Suite struct SemanticsCiliumTests {
    static let cluster: SemanticsCluster = {
        var cluster = SemanticsCluster.xyz
        for index in cluster.pods.indices {
            let pod = cluster.pods[index]
            if pod.namespace == "y" && pod.name == "c" { cluster.pods[index].ports.append(("http", 9090, "TCP")) }
            if pod.namespace == "z" && pod.name == "c" { cluster.pods[index].ports.append(("http", 8080, "TCP")) }
        }
        return cluster
    }()

    struct Probe: Sendable, CustomStringConvertible {
        var from: String
        var to: String
        var port: UInt16
        var proto: SemanticsProtocol
        /// FORWARDED, POLICY_DENIED or POLICY_DENY.
        var expect: String
        /// The deciding side's `*_allowed_by`/`*_denied_by` (both sides' allow lists when forwarded).
        var by: [String]?
        var match: PolicyMatchType?

        var description: String { "\(self.from) -> \(self.to) \(self.proto):\(self.port)" }
    }

    static func p(_ from: String, _ to: String, _ port: UInt16, _ proto: SemanticsProtocol, _ expect: String,
                  by: [String]? = nil, match: PolicyMatchType? = nil) -> Probe {
        Probe(from: from, to: to, port: port, proto: proto, expect: expect, by: by, match: match)
    }

    static func p(_ from: String, _ to: String, _ port: UInt16, _ expect: String, by: [String]? = nil,
                  match: PolicyMatchType? = nil) -> Probe {
        p(from, to, port, .tcp, expect, by: by, match: match)
    }

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var source: String
        var policies: String
        var probes: [Probe]
        var description: String { self.name }
    }

    static func indent(_ spec: String) -> String {
        spec.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n") + "\n"
    }

    static func cnp(_ name: String, _ namespace: String, _ spec: String) -> String {
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: \(name)\n  namespace: \(namespace)\nspec:\n"
            + indent(spec)
    }

    static func ccnp(_ name: String, _ spec: String) -> String {
        "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: \(name)\nspec:\n" + indent(spec)
    }

    static func knp(_ name: String, _ namespace: String, _ spec: String) -> String {
        "---\napiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: \(name)\n  namespace: \(namespace)\nspec:\n"
            + indent(spec)
    }

    static let F = "FORWARDED", D = "POLICY_DENIED", X = "POLICY_DENY"
    static let world = "203.0.113.10"

    static let rows: [Row] = [
        Row(name: "CNP endpointSelector and fromEndpoints are scoped to the policy's namespace",
            source: "cilium pkg/k8s/apis/cilium.io/utils/utils.go (ParseToCiliumRule); Documentation/security/policy/kubernetes.rst (Namespaces)",
            policies: cnp("a-from-b", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {pod: b}}]
                """),
            probes: [p("x/b", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/a-from-b"], match: .l3Only),
                     p("y/b", "x/a", 80, D), p("y/b", "y/a", 80, F, by: [])]),
        Row(name: "fromEndpoints naming another namespace is not re-scoped",
            source: "cilium Documentation/security/policy/kubernetes.rst (allow across namespaces); utils.go",
            policies: cnp("a-from-y-b", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """),
            probes: [p("y/b", "x/a", 80, F), p("x/b", "x/a", 80, D), p("z/b", "x/a", 80, D)]),
        Row(name: "fromEndpoints on namespace labels (io.cilium.k8s.namespace.labels.*) is not re-scoped",
            source: "cilium pkg/k8s/apis/cilium.io/utils/utils.go (namespace labels prefix)",
            policies: cnp("a-from-ns-y", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {io.cilium.k8s.namespace.labels.ns: y}}]
                """),
            probes: [p("y/c", "x/a", 80, F), p("x/b", "x/a", 80, D)]),
        Row(name: "toPorts without fromEndpoints is an L4-only rule: every peer, world included",
            source: "cilium Documentation/security/policy/language.rst (Layer 4 Examples); pkg/policy/api/ingress.go",
            policies: cnp("a-port-80", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p(world, "x/a", 80, F, by: ["CiliumNetworkPolicy/x/a-port-80"], match: .l4Only),
                     p("z/c", "x/a", 80, F, match: .l4Only), p("z/c", "x/a", 81, D), p(world, "x/a", 81, D)]),
        Row(name: "fromEndpoints: [] selects nothing (the direction is still enforced)",
            source: "cilium pkg/policy/api/ingress.go (FromEndpoints doc); reference-semantics.md §1c nil vs empty",
            policies: cnp("a-empty", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: []
                  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p("x/b", "x/a", 80, D), p(world, "x/a", 80, D)]),
        Row(name: "fromEndpoints: [{}] in a CNP selects the pods of the policy's namespace only",
            source: "cilium Documentation/security/policy/language.rst (allow all within namespace); utils.go",
            policies: cnp("a-from-ns", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{}]
                """),
            probes: [p("x/b", "x/a", 80, F), p("y/b", "x/a", 80, D), p(world, "x/a", 80, D)]),
        Row(name: "fromEndpoints: [{}] in a CCNP selects every pod, not world nor remote-node",
            source: "cilium pkg/k8s/apis/cilium.io/utils/utils.go (CCNP: Exists io.kubernetes.pod.namespace)",
            policies: ccnp("a-from-pods", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{}]
                """),
            probes: [p("y/b", "x/a", 80, F, by: ["CiliumClusterwideNetworkPolicy/a-from-pods"]), p("z/c", "y/a", 80, F),
                     p(world, "x/a", 80, D), p("node-2", "x/a", 80, D)]),
        Row(name: "ingress: [{}] is the deny-all idiom; egress stays open",
            source: "cilium Documentation/security/policy/language.rst (Ingress Default Deny)",
            policies: cnp("a-deny-ingress", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - {}
                """),
            probes: [p("y/b", "x/a", 80, D), p(world, "x/a", 443, D), p("x/a", "y/b", 80, F), p("x/a", world, 443, F)]),
        Row(name: "fromEntities: world",
            source: "cilium Documentation/security/policy/language.rst (Entities Based); pkg/policy/api/entity.go",
            policies: cnp("a-from-world", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEntities: [world]
                """),
            probes: [p(world, "x/a", 80, F, match: .l3Only), p("198.51.100.1", "x/a", 22, F), p("y/b", "x/a", 80, D),
                     p("node-2", "x/a", 80, D)]),
        Row(name: "fromEntities: cluster (pods, remote nodes; not world)",
            source: "cilium pkg/policy/api/entity.go (EntityCluster); language.rst (Entities Based)",
            policies: cnp("a-from-cluster", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEntities: [cluster]
                """),
            probes: [p("y/b", "x/a", 80, F), p("node-2", "x/a", 80, F), p(world, "x/a", 80, D)]),
        Row(name: "toEntities: host (the local node)",
            source: "cilium Documentation/security/policy/language.rst (Access to/from local host)",
            policies: cnp("a-to-host", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toEntities: [host]
                """),
            probes: [p("x/a", "host", 10250, F, match: .l3Only), p("x/a", "node-2", 10250, D), p("x/a", "y/b", 80, D),
                     p("x/a", world, 80, D)]),
        Row(name: "fromEntities: remote-node",
            source: "cilium pkg/policy/api/entity.go (EntityRemoteNode); language.rst (Entities Based)",
            policies: cnp("a-from-remote-node", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEntities: [remote-node]
                """),
            probes: [p("node-2", "x/a", 80, F), p(world, "x/a", 80, D), p("y/b", "x/a", 80, D)]),
        Row(name: "fromEntities/toEntities: all selects every peer",
            source: "cilium pkg/policy/api/entity.go (EntityAll = wildcard); language.rst (Entities Based: all)",
            policies: cnp("a-all", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEntities: [all]
                egress:
                - toEntities: [all]
                """),
            probes: [p(world, "x/a", 80, F, by: ["CiliumNetworkPolicy/x/a-all"], match: .all), p("y/b", "x/a", 81, F),
                     p("node-2", "x/a", 80, F), p("x/a", world, 443, F, by: ["CiliumNetworkPolicy/x/a-all"]),
                     p("x/a", "z/c", 53, .udp, F)]),
        Row(name: "fromEntities: none selects nothing",
            source: "cilium pkg/policy/api/entity.go (EntityNone)",
            policies: cnp("a-none", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEntities: [none]
                """),
            probes: [p(world, "x/a", 80, D), p("y/b", "x/a", 80, D), p("host", "x/a", 80, F)]),
        Row(name: "toEntities: world-ipv4",
            source: "cilium pkg/policy/api/entity.go (EntityWorldIPv4)",
            policies: cnp("a-to-world4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toEntities: [world-ipv4]
                """),
            probes: [p("x/a", world, 443, F), p("x/a", "y/b", 80, D), p("x/a", "host", 80, D)]),
        Row(name: "fromCIDR selects addresses in the prefix",
            source: "cilium Documentation/security/policy/language.rst (IP/CIDR based)",
            policies: cnp("a-from-cidr", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromCIDR: [203.0.113.0/24]
                """),
            probes: [p(world, "x/a", 80, F, match: .l3Only), p("198.51.100.1", "x/a", 80, D)]),
        Row(name: "toCIDRSet except: addresses inside the except are not allowed",
            source: "cilium Documentation/security/policy/language.rst (IP/CIDR based: toCIDRSet except); pkg/policy/api/cidr.go",
            policies: cnp("a-to-cidrset", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toCIDRSet:
                  - cidr: 203.0.113.0/24
                    except: [203.0.113.128/25]
                """),
            probes: [p("x/a", world, 443, F), p("x/a", "203.0.113.200", 443, D), p("x/a", "198.51.100.1", 443, D)]),
        Row(name: "CIDR rules do not select pod IPs (only addresses outside the cluster)",
            source: "cilium Documentation/security/policy/language.rst (IP/CIDR based: not for cluster endpoints)",
            policies: cnp("a-to-10-8", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toCIDR: [10.0.0.0/8]
                """),
            probes: [p("x/a", "y/b", 80, D), p("x/a", "10.9.9.9", 80, F)]),
        Row(name: "toPorts endPort: an inclusive port range",
            source: "cilium Documentation/security/policy/language.rst (Layer 4: port ranges); pkg/policy/api/l4.go",
            policies: cnp("a-range", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toPorts: [{ports: [{port: "8000", endPort: 8080, protocol: TCP}]}]
                """),
            probes: [p("x/a", world, 8000, F), p("x/a", world, 8080, F), p("x/a", world, 8081, D), p("x/a", world, 7999, D),
                     p("x/a", world, 8040, .udp, D)]),
        Row(name: "protocol ANY (or empty) means TCP, UDP and SCTP",
            source: "cilium pkg/policy/api/l4.go (ProtoAny)",
            policies: cnp("a-dns", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toPorts: [{ports: [{port: "53", protocol: ANY}]}]
                """),
            probes: [p("x/a", world, 53, .udp, F), p("x/a", world, 53, .tcp, F), p("x/a", world, 53, .sctp, F),
                     p("x/a", world, 8, .icmp, D), p("x/a", world, 54, .udp, D)]),
        Row(name: "port 0 means every port of the protocol",
            source: "cilium pkg/policy/api/l4.go (PortProtocol.Port: 0 = all ports)",
            policies: cnp("a-any-tcp", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - toPorts: [{ports: [{port: "0", protocol: TCP}]}]
                """),
            probes: [p("y/b", "x/a", 12345, F, match: .protoOnly), p("y/b", "x/a", 53, .udp, D)]),
        Row(name: "named port on ingress resolves to the selected endpoint's own container port",
            source: "cilium pkg/policy/api/l4.go (named ports); Documentation/security/policy/language.rst (Named ports)",
            policies: cnp("c-http", "z", """
                endpointSelector: {matchLabels: {pod: c}}
                ingress:
                - toPorts: [{ports: [{port: http, protocol: TCP}]}]
                """),
            probes: [p("y/a", "z/c", 8080, F, match: .l4Only), p("y/a", "z/c", 9090, D)]),
        Row(name: "named port on egress resolves to the peer's container port",
            source: "cilium pkg/policy/api/l4.go (named ports); pkg/policy/l4.go (named ports resolved per selected identity)",
            policies: cnp("a-to-yc-http", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: c}}]
                  toPorts: [{ports: [{port: http, protocol: TCP}]}]
                """),
            probes: [p("x/a", "y/c", 9090, F, match: .l3l4), p("x/a", "y/c", 8080, D)]),
        Row(name: "a ports entry without port is every port of its protocol; VRRP and IGMP are whole IP protocols",
            source: "cilium pkg/policy/api/l4.go (PortProtocol: port optional, L4Proto TCP, UDP, SCTP, VRRP, IGMP, ANY); examples/policies/host/allow-extended-protocols.yaml",
            policies: cnp("a-udp-vrrp", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y}}]
                  toPorts: [{ports: [{protocol: UDP}, {protocol: VRRP}]}]
                """),
            probes: [p("y/b", "x/a", 53, .udp, F, match: .l3Proto), p("y/b", "x/a", 9999, .udp, F), p("y/b", "x/a", 0, .vrrp, F, match: .l3Proto),
                     p("y/b", "x/a", 0, .igmp, D), p("y/b", "x/a", 80, .tcp, D), p("z/b", "x/a", 0, .vrrp, D)]),
        Row(name: "icmps by type name: EchoRequest in family IPv4 is type 8",
            source: "cilium Documentation/security/policy/language.rst (ICMP/ICMPv6); pkg/policy/api/icmp.go",
            policies: cnp("a-ping", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - icmps: [{fields: [{type: EchoRequest, family: IPv4}]}]
                """),
            probes: [p("y/b", "x/a", 8, .icmp, F, match: .l4Only), p("y/b", "x/a", 13, .icmp, D), p("y/b", "x/a", 8, .tcp, D)]),
        Row(name: "icmps by type name: EchoRequest in family IPv6 is ICMPv6 type 128, not ICMPv4",
            source: "cilium pkg/policy/api/icmp.go (ICMPField family, type names)",
            policies: cnp("a-ping6", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - icmps: [{fields: [{type: EchoRequest, family: IPv6}]}]
                """),
            probes: [p("y/b", "x/a", 8, .icmp, D), p("y/b", "x/a", 128, .icmp, D), p("y/b", "x/a", 128, .icmpv6, F)]),
        Row(name: "ingressDeny beats an ingress allow from another policy",
            source: "cilium Documentation/security/policy/deny.rst; pkg/policy/repository_deny_test.go",
            policies: cnp("allow-y", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y}}]
                """) + cnp("deny-y-b", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingressDeny:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """),
            probes: [p("y/b", "x/a", 80, X, by: ["CiliumNetworkPolicy/x/deny-y-b"], match: .l3Only),
                     p("y/a", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/allow-y"])]),
        Row(name: "a CNP deny beats a Kubernetes NetworkPolicy allow",
            source: "cilium Documentation/security/policy/deny.rst (precedence over CNP, CCNP and K8s NP)",
            policies: knp("allow-all", "x", """
                podSelector: {}
                ingress:
                - {}
                """) + cnp("deny-world", "x", """
                endpointSelector: {}
                ingressDeny:
                - fromEntities: [world]
                """),
            probes: [p(world, "x/a", 80, X, by: ["CiliumNetworkPolicy/x/deny-world"]),
                     p("y/b", "x/a", 80, F, by: ["NetworkPolicy/x/allow-all"])]),
        Row(name: "deny table, column 2: L4 deny on 80/TCP under L3 and L4 allows",
            source: "cilium Documentation/security/policy/deny.rst (enforcement table)",
            policies: cnp("allow-l3", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """) + cnp("allow-l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}, {port: "81", protocol: TCP}]}]
                """) + cnp("deny-l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingressDeny:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p("y/b", "x/a", 81, F, by: ["CiliumNetworkPolicy/x/allow-l4"], match: .l3l4),
                     p("y/b", "x/a", 80, X, by: ["CiliumNetworkPolicy/x/deny-l4"], match: .l3l4),
                     p("y/b", "x/a", 8, .icmp, F, by: ["CiliumNetworkPolicy/x/allow-l3"], match: .l3Only)]),
        Row(name: "deny table, column 3: L3 deny of the client beats every allow",
            source: "cilium Documentation/security/policy/deny.rst (enforcement table)",
            policies: cnp("allow-l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}, {port: "81", protocol: TCP}]}]
                """) + cnp("deny-l3", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingressDeny:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """),
            probes: [p("y/b", "x/a", 81, X, by: ["CiliumNetworkPolicy/x/deny-l3"]), p("y/b", "x/a", 8, .icmp, X)]),
        Row(name: "egressDeny toEntities world beats an egress allow-all",
            source: "cilium Documentation/security/policy/deny.rst (egressDeny example); cilium-cli connectivity/builder (deny tests)",
            policies: cnp("egress-all", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toEntities: [all]
                """) + cnp("no-world", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egressDeny:
                - toEntities: [world]
                """),
            probes: [p("x/a", world, 443, X, by: ["CiliumNetworkPolicy/x/no-world"]),
                     p("x/a", "y/b", 80, F, by: ["CiliumNetworkPolicy/x/egress-all"])]),
        Row(name: "a deny-only policy still puts the endpoint in default deny for that direction",
            source: "cilium pkg/policy/api/rule.go (EnableDefaultDeny: default true for each direction that has rules, deny rules included); deny.rst",
            policies: cnp("no-world", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egressDeny:
                - toEntities: [world]
                """),
            probes: [p("x/a", world, 443, X), p("x/a", "y/b", 80, D)]),
        Row(name: "enableDefaultDeny.ingress false: an additive allow does not isolate",
            source: "cilium pkg/policy/api/rule.go (EnableDefaultDeny); Documentation/security/policy/language.rst",
            policies: cnp("additive", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                enableDefaultDeny: {ingress: false}
                ingress:
                - fromEndpoints: [{matchLabels: {pod: b}}]
                """),
            probes: [p("y/c", "x/a", 80, F), p(world, "x/a", 80, F), p("x/b", "x/a", 80, F)]),
        Row(name: "enableDefaultDeny.ingress false: an additive deny still denies, without isolating",
            source: "cilium pkg/policy/api/rule.go (EnableDefaultDeny: broad policies that do not cause default deny); deny.rst",
            policies: ccnp("deny-world-everywhere", """
                endpointSelector: {}
                enableDefaultDeny: {ingress: false}
                ingressDeny:
                - fromEntities: [world]
                """),
            probes: [p(world, "x/a", 80, X, by: ["CiliumClusterwideNetworkPolicy/deny-world-everywhere"]),
                     p("y/b", "x/a", 80, F)]),
        Row(name: "a CCNP with endpointSelector {} selects every pod",
            source: "cilium Documentation/security/policy/language.rst (CiliumClusterwideNetworkPolicy)",
            policies: ccnp("cluster-only", """
                endpointSelector: {}
                ingress:
                - fromEntities: [cluster]
                """),
            probes: [p(world, "y/b", 80, D), p(world, "z/c", 80, D), p("z/c", "x/a", 80, F, by: ["CiliumClusterwideNetworkPolicy/cluster-only"])]),
        Row(name: "default deny is per direction: ingress rules leave egress open",
            source: "cilium Documentation/security/policy/intro.rst (default mode: ingress section → ingress default deny)",
            policies: cnp("a-ingress", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {pod: b}}]
                """),
            probes: [p("x/a", world, 443, F, by: []), p(world, "x/a", 443, D), p("x/a", "z/c", 80, F)]),
        Row(name: "traffic from the local node (host) to a pod is allowed even under ingress default deny",
            source: "cilium Documentation/security/policy/language.rst (host entity: local host always allowed, allow-localhost); K8s NP (node may reach its pods)",
            policies: cnp("a-deny-ingress", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - {}
                """),
            probes: [p("host", "x/a", 8080, F), p("node-2", "x/a", 8080, D)]),
        Row(name: "precedence: an L4-only allow (port prefix) beats an L3-only allow",
            source: "cilium bpf/lib/policy.h (__policy_can_access: longer proto/port prefix wins)",
            policies: cnp("l3", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """) + cnp("l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p("y/b", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/l4"], match: .l4Only),
                     p("y/b", "x/a", 81, F, by: ["CiliumNetworkPolicy/x/l3"], match: .l3Only)]),
        Row(name: "precedence: on an equal port prefix the exact identity (L3-L4) beats L4-only",
            source: "cilium bpf/lib/policy.h (__policy_can_access: L3 entry preferred on equal prefix)",
            policies: cnp("l3l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """) + cnp("l4", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p("y/b", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/l3l4"], match: .l3l4),
                     p("y/c", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/l4"], match: .l4Only)]),
        Row(name: "precedence: an exact port (L4-only) beats a port range for the exact identity (L3-L4)",
            source: "cilium bpf/lib/policy.h (LPM on dport: a range is stored as prefixes; longer prefix wins before the L3 tie-break)",
            policies: cnp("l3l4-range", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "64", endPort: 127, protocol: TCP}]}]
                """) + cnp("l4-exact", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """),
            probes: [p("y/b", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/l4-exact"], match: .l4Only),
                     p("y/b", "x/a", 81, F, by: ["CiliumNetworkPolicy/x/l3l4-range"], match: .l3l4)]),
        Row(name: "*_allowed_by names every policy contributing to the deciding entry (CNP and KNP alike)",
            source: "cilium pkg/policy/mapstate.go (entries merge their rule origins); Hubble flow.proto ingress_allowed_by",
            policies: cnp("one", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """) + cnp("two", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                  toPorts: [{ports: [{port: "80", protocol: TCP}]}]
                """) + knp("from-y", "x", """
                podSelector: {matchLabels: {pod: a}}
                ingress:
                - from:
                  - namespaceSelector: {matchLabels: {ns: y}}
                  ports:
                  - port: 80
                """),
            probes: [p("y/b", "x/a", 80, F, by: ["CiliumNetworkPolicy/x/one", "CiliumNetworkPolicy/x/two", "NetworkPolicy/x/from-y"],
                       match: .l3l4),
                     p("y/a", "x/a", 80, F, by: ["NetworkPolicy/x/from-y"], match: .l3l4)]),
        Row(name: "egress at the source and ingress at the destination are both evaluated; egress drops first",
            source: "cilium bpf (egress policy at the source endpoint, ingress at the destination); reference-semantics.md §1c",
            policies: cnp("a-egress", "x", """
                endpointSelector: {matchLabels: {pod: a}}
                egress:
                - toEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: y, pod: b}}]
                """) + cnp("b-ingress", "y", """
                endpointSelector: {matchLabels: {pod: b}}
                ingress:
                - fromEndpoints: [{matchLabels: {k8s:io.kubernetes.pod.namespace: x, pod: a}}]
                """),
            probes: [p("x/a", "y/b", 80, F, by: ["CiliumNetworkPolicy/x/a-egress", "CiliumNetworkPolicy/y/b-ingress"]),
                     p("x/a", "y/c", 80, D, by: []), p("x/b", "y/b", 80, D)]),
    ]

    @Test(arguments: rows)
    func row(_ row: Row) throws {
        let agent = try Self.cluster.load(row.policies)
        for probe in row.probes {
            let verdict = agent.verdict(from: probe.from, to: probe.to, port: probe.port, proto: probe.proto)
            let context = "\(row.name) [\(row.source)] \(probe): \(verdict)"
            #expect((verdict.dropReason ?? "FORWARDED") == probe.expect, "\(context)")
            if let by = probe.by { #expect(verdict.policies == by, "\(context)") }
            if let match = probe.match { #expect(verdict.matchType == match, "\(context)") }
        }
    }

    @Test func tableSize() { #expect(Self.rows.count >= 25) }
}
