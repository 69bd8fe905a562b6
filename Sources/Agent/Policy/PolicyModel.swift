import FlowCore
import L7

// The typed model of the policies flowmon reads, faithful to the Kubernetes and Cilium APIs
// (kubernetes/api networking/v1 types.go; cilium pkg/policy/api rule.go, ingress.go,
// egress.go, l4.go, icmp.go, entity.go, cidr.go). The loader fills it after strict
// validation; the compiler turns it into datapath maps. `nil` and `[]` are kept apart
// wherever the API gives them different meanings.

/// Where a policy came from, for messages and for `*_allowed_by` lists.
package struct PolicySource: Sendable, Equatable, Hashable {
    package var file: String
    /// 1-based index of the YAML document (or JSON list item) in the file.
    package var documentIndex: Int
    package init(file: String, documentIndex: Int) {
        self.file = file
        self.documentIndex = documentIndex
    }
}

package enum PolicyKind: String, Sendable, CaseIterable, Equatable {
    case ciliumNetworkPolicy = "CiliumNetworkPolicy"
    case ciliumClusterwideNetworkPolicy = "CiliumClusterwideNetworkPolicy"
    case networkPolicy = "NetworkPolicy"
}

/// One policy object from a file.
package struct PolicyDocument: Sendable, Equatable {
    package var kind: PolicyKind
    package var name: String
    /// The namespace; `nil` for a CiliumClusterwideNetworkPolicy. A namespaced policy with no
    /// `metadata.namespace` is in "default", as `kubectl apply` would put it.
    package var namespace: String?
    package var source: PolicySource
    package var body: Body

    package enum Body: Sendable, Equatable {
        /// CNP/CCNP: `spec` and every item of `specs`, in file order.
        case cilium([CiliumRule])
        case kubernetes(KubernetesNetworkPolicySpec)
    }

    package init(kind: PolicyKind, name: String, namespace: String?, source: PolicySource, body: Body) {
        self.kind = kind
        self.name = name
        self.namespace = namespace
        self.source = source
        self.body = body
    }
}

// MARK: - Label selectors (shared)

/// A Kubernetes `LabelSelector`. Keys keep any Cilium source prefix as written
/// (`k8s:app`, `any:app`, `reserved:world`, or bare `app`); the compiler interprets them.
/// An empty selector (`{}`) selects everything in its scope.
package struct LabelSelector: Sendable, Equatable, Hashable {
    package var matchLabels: [String: String]
    package var matchExpressions: [LabelSelectorRequirement]
    package init(matchLabels: [String: String] = [:], matchExpressions: [LabelSelectorRequirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

package struct LabelSelectorRequirement: Sendable, Equatable, Hashable {
    package enum Operator: String, Sendable, CaseIterable { case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist" }
    package var key: String
    package var `operator`: Operator
    /// Non-empty for In/NotIn, empty for Exists/DoesNotExist (validated by the loader).
    package var values: [String]
    package init(key: String, operator: Operator, values: [String]) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}

/// A validated CIDR: the network (host bits must be zero, as Kubernetes requires for
/// ipBlock; Cilium masks them).
package struct CIDR: Sendable, Equatable, Hashable, CustomStringConvertible {
    package var prefix: IPPrefix
    package var isIPv4: Bool { self.prefix.isIPv4 }
    package init(prefix: IPPrefix) { self.prefix = prefix }
    /// "10.0.0.0/8" or "2001:db8::/32" as written in policies (set by the loader).
    package var text: String = ""
    package var description: String { self.text }
}

// MARK: - CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy

package struct CiliumRule: Sendable, Equatable {
    /// Exactly one of endpointSelector / nodeSelector is set (nodeSelector only in a CCNP).
    package var endpointSelector: LabelSelector?
    package var nodeSelector: LabelSelector?
    /// `nil` = the key is absent; `[]` = present and empty. Both matter for default deny.
    package var ingress: [CiliumIngressRule]?
    package var ingressDeny: [CiliumIngressRule]?
    package var egress: [CiliumEgressRule]?
    package var egressDeny: [CiliumEgressRule]?
    /// `enableDefaultDeny.ingress` / `.egress`; `nil` when not given (defaults to true).
    package var enableDefaultDenyIngress: Bool?
    package var enableDefaultDenyEgress: Bool?
    package var description: String?
    /// Position in the document: 0 for `spec`, then 1... for `specs` items (for messages).
    package var index: Int
    package init(endpointSelector: LabelSelector? = nil, nodeSelector: LabelSelector? = nil,
                ingress: [CiliumIngressRule]? = nil, ingressDeny: [CiliumIngressRule]? = nil,
                egress: [CiliumEgressRule]? = nil, egressDeny: [CiliumEgressRule]? = nil,
                enableDefaultDenyIngress: Bool? = nil, enableDefaultDenyEgress: Bool? = nil,
                description: String? = nil, index: Int = 0) {
        self.endpointSelector = endpointSelector
        self.nodeSelector = nodeSelector
        self.ingress = ingress
        self.ingressDeny = ingressDeny
        self.egress = egress
        self.egressDeny = egressDeny
        self.enableDefaultDenyIngress = enableDefaultDenyIngress
        self.enableDefaultDenyEgress = enableDefaultDenyEgress
        self.description = description
        self.index = index
    }
}

/// One item of `ingress` / `ingressDeny`. Peer fields are `nil` when absent (an absent peer
/// with `toPorts` set is an L3 wildcard; `fromEndpoints: []` selects nothing).
package struct CiliumIngressRule: Sendable, Equatable {
    package var fromEndpoints: [LabelSelector]?
    package var fromCIDR: [CIDR]?
    package var fromCIDRSet: [CIDRRule]?
    package var fromEntities: [Entity]?
    package var fromNodes: [LabelSelector]?
    package var toPorts: [PortRule]?
    package var icmps: [ICMPRule]?
    package init(fromEndpoints: [LabelSelector]? = nil, fromCIDR: [CIDR]? = nil, fromCIDRSet: [CIDRRule]? = nil,
                fromEntities: [Entity]? = nil, fromNodes: [LabelSelector]? = nil, toPorts: [PortRule]? = nil,
                icmps: [ICMPRule]? = nil) {
        self.fromEndpoints = fromEndpoints
        self.fromCIDR = fromCIDR
        self.fromCIDRSet = fromCIDRSet
        self.fromEntities = fromEntities
        self.fromNodes = fromNodes
        self.toPorts = toPorts
        self.icmps = icmps
    }
}

/// One item of `egress` / `egressDeny`.
package struct CiliumEgressRule: Sendable, Equatable {
    package var toEndpoints: [LabelSelector]?
    package var toCIDR: [CIDR]?
    package var toCIDRSet: [CIDRRule]?
    package var toEntities: [Entity]?
    package var toNodes: [LabelSelector]?
    package var toPorts: [PortRule]?
    package var icmps: [ICMPRule]?
    /// `toFQDNs` selectors: the compiler gives each distinct one a pseudo-identity
    /// (`Identity.fqdnSelector`) that the judge consults for addresses learned from DNS.
    package var toFQDNs: [FQDNSelector]?
    package init(toEndpoints: [LabelSelector]? = nil, toCIDR: [CIDR]? = nil, toCIDRSet: [CIDRRule]? = nil,
                toEntities: [Entity]? = nil, toNodes: [LabelSelector]? = nil, toPorts: [PortRule]? = nil,
                icmps: [ICMPRule]? = nil, toFQDNs: [FQDNSelector]? = nil) {
        self.toEndpoints = toEndpoints
        self.toCIDR = toCIDR
        self.toCIDRSet = toCIDRSet
        self.toEntities = toEntities
        self.toNodes = toNodes
        self.toPorts = toPorts
        self.icmps = icmps
        self.toFQDNs = toFQDNs
    }
}

/// `fromCIDRSet` / `toCIDRSet` item: a CIDR minus the `except` CIDRs (each inside it).
package struct CIDRRule: Sendable, Equatable {
    package var cidr: CIDR
    package var except: [CIDR]
    package init(cidr: CIDR, except: [CIDR] = []) {
        self.cidr = cidr
        self.except = except
    }
}

/// Cilium entities (pkg/policy/api/entity.go).
package enum Entity: String, Sendable, CaseIterable, Equatable {
    case all, world, cluster, host, `init` = "init", ingress, unmanaged
    case remoteNode = "remote-node", health, none, kubeAPIServer = "kube-apiserver"
    case worldIPv4 = "world-ipv4", worldIPv6 = "world-ipv6"
}

/// `toPorts` item, with its L7 `rules` and TLS `serverNames` compiled (`L7RuleSet`); the
/// ports are allowed at L3/L4 either way, the rules judge each request on them.
package struct PortRule: Sendable, Equatable {
    /// May be empty (then the rule is about L7 only, which still means "these ports").
    package var ports: [PortProtocol]
    /// `rules` (http, dns; kafka and l7proto named only) and `serverNames`; nil when neither
    /// is given (or `rules: {}`).
    package var l7: L7RuleSet?
    package init(ports: [PortProtocol], l7: L7RuleSet? = nil) {
        self.ports = ports
        self.l7 = l7
    }

    /// Whether the item has `rules` of some kind (not only `serverNames`).
    package var hasL7Rules: Bool {
        guard let l7 else { return false }
        return l7.http != nil || l7.dns != nil || !l7.unevaluated.isEmpty
    }
}

/// Cilium's `L4Proto` values allowed in `toPorts` (CRD enum: TCP, UDP, SCTP, VRRP, IGMP, ANY;
/// VRRP and IGMP since Cilium 1.17, for host policies). VRRP and IGMP carry no ports.
package enum TransportProtocol: String, Sendable, CaseIterable, Equatable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP", vrrp = "VRRP", igmp = "IGMP", any = "ANY"

    /// Whether the protocol has ports (VRRP and IGMP do not).
    package var hasPorts: Bool { self != .vrrp && self != .igmp }
}

package struct PortProtocol: Sendable, Equatable {
    package enum Port: Sendable, Equatable, Hashable {
        /// 0 means every port (also what an omitted or empty `port` means in Cilium).
        case number(UInt16)
        /// A named container port (IANA_SVC_NAME), resolved per endpoint by the compiler.
        case name(String)
    }
    package var port: Port
    /// Inclusive end of a port range; only with a numeric `port`, and ≥ it.
    package var endPort: UInt16?
    /// Absent or empty in the file = ANY for Cilium (TCP, UDP and SCTP).
    package var `protocol`: TransportProtocol
    package init(port: Port, endPort: UInt16? = nil, protocol: TransportProtocol = .any) {
        self.port = port
        self.endPort = endPort
        self.protocol = `protocol`
    }
}

/// `icmps` item: a list of ICMP types per family.
package struct ICMPRule: Sendable, Equatable {
    package var fields: [ICMPField]
    package init(fields: [ICMPField]) { self.fields = fields }
}

package struct ICMPField: Sendable, Equatable {
    package enum Family: String, Sendable { case ipv4 = "IPv4", ipv6 = "IPv6" }
    package var family: Family
    /// The numeric type; names such as `EchoRequest` are resolved by the loader per family.
    package var type: UInt8
    package init(family: Family, type: UInt8) {
        self.family = family
        self.type = type
    }
}

// MARK: - Kubernetes NetworkPolicy (networking.k8s.io/v1)

package struct KubernetesNetworkPolicySpec: Sendable, Equatable {
    package enum PolicyType: String, Sendable { case ingress = "Ingress", egress = "Egress" }
    package var podSelector: LabelSelector
    /// As written; `nil` when absent (the compiler applies the defaulting rule).
    package var policyTypes: [PolicyType]?
    /// `nil` when absent, `[]` when empty (both deny all once the direction applies).
    package var ingress: [KubernetesIngressRule]?
    package var egress: [KubernetesEgressRule]?
    package init(podSelector: LabelSelector, policyTypes: [PolicyType]? = nil,
                ingress: [KubernetesIngressRule]? = nil, egress: [KubernetesEgressRule]? = nil) {
        self.podSelector = podSelector
        self.policyTypes = policyTypes
        self.ingress = ingress
        self.egress = egress
    }
}

package struct KubernetesIngressRule: Sendable, Equatable {
    /// `nil` or `[]`: from everywhere.
    package var from: [KubernetesPeer]?
    /// `nil` or `[]`: every port.
    package var ports: [KubernetesPort]?
    package init(from: [KubernetesPeer]? = nil, ports: [KubernetesPort]? = nil) {
        self.from = from
        self.ports = ports
    }
}

package struct KubernetesEgressRule: Sendable, Equatable {
    package var to: [KubernetesPeer]?
    package var ports: [KubernetesPort]?
    package init(to: [KubernetesPeer]? = nil, ports: [KubernetesPort]? = nil) {
        self.to = to
        self.ports = ports
    }
}

/// A peer: `podSelector` and/or `namespaceSelector` (both = AND), or `ipBlock` alone.
package struct KubernetesPeer: Sendable, Equatable {
    package var podSelector: LabelSelector?
    package var namespaceSelector: LabelSelector?
    package var ipBlock: CIDRRule?
    package init(podSelector: LabelSelector? = nil, namespaceSelector: LabelSelector? = nil, ipBlock: CIDRRule? = nil) {
        self.podSelector = podSelector
        self.namespaceSelector = namespaceSelector
        self.ipBlock = ipBlock
    }
}

package struct KubernetesPort: Sendable, Equatable {
    /// Default TCP.
    package var `protocol`: TransportProtocol
    /// `nil`: every port of the protocol.
    package var port: PortProtocol.Port?
    package var endPort: UInt16?
    package init(protocol: TransportProtocol = .tcp, port: PortProtocol.Port? = nil, endPort: UInt16? = nil) {
        self.protocol = `protocol`
        self.port = port
        self.endPort = endPort
    }
}
