import FlowCore

// The typed model of the policies flowmon reads, faithful to the Kubernetes and Cilium APIs
// (kubernetes/api networking/v1 types.go; cilium pkg/policy/api rule.go, ingress.go,
// egress.go, l4.go, icmp.go, entity.go, cidr.go). The loader fills it after strict
// validation; the compiler turns it into datapath maps. `nil` and `[]` are kept apart
// wherever the API gives them different meanings.

/// Where a policy came from, for messages and for `*_allowed_by` lists.
public struct PolicySource: Sendable, Equatable, Hashable {
    public var file: String
    /// 1-based index of the YAML document (or JSON list item) in the file.
    public var documentIndex: Int
    public init(file: String, documentIndex: Int) {
        self.file = file
        self.documentIndex = documentIndex
    }
}

public enum PolicyKind: String, Sendable, CaseIterable, Equatable {
    case ciliumNetworkPolicy = "CiliumNetworkPolicy"
    case ciliumClusterwideNetworkPolicy = "CiliumClusterwideNetworkPolicy"
    case networkPolicy = "NetworkPolicy"
}

/// One policy object from a file.
public struct PolicyDocument: Sendable, Equatable {
    public var kind: PolicyKind
    public var name: String
    /// The namespace; `nil` for a CiliumClusterwideNetworkPolicy. A namespaced policy with no
    /// `metadata.namespace` is in "default", as `kubectl apply` would put it.
    public var namespace: String?
    public var source: PolicySource
    public var body: Body

    public enum Body: Sendable, Equatable {
        /// CNP/CCNP: `spec` and every item of `specs`, in file order.
        case cilium([CiliumRule])
        case kubernetes(KubernetesNetworkPolicySpec)
    }

    public init(kind: PolicyKind, name: String, namespace: String?, source: PolicySource, body: Body) {
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
public struct LabelSelector: Sendable, Equatable, Hashable {
    public var matchLabels: [String: String]
    public var matchExpressions: [LabelSelectorRequirement]
    public init(matchLabels: [String: String] = [:], matchExpressions: [LabelSelectorRequirement] = []) {
        self.matchLabels = matchLabels
        self.matchExpressions = matchExpressions
    }
}

public struct LabelSelectorRequirement: Sendable, Equatable, Hashable {
    public enum Operator: String, Sendable, CaseIterable { case `in` = "In", notIn = "NotIn", exists = "Exists", doesNotExist = "DoesNotExist" }
    public var key: String
    public var `operator`: Operator
    /// Non-empty for In/NotIn, empty for Exists/DoesNotExist (validated by the loader).
    public var values: [String]
    public init(key: String, operator: Operator, values: [String]) {
        self.key = key
        self.operator = `operator`
        self.values = values
    }
}

/// A validated CIDR: the network (host bits must be zero, as Kubernetes requires for
/// ipBlock; Cilium masks them).
public struct CIDR: Sendable, Equatable, Hashable, CustomStringConvertible {
    public var prefix: IPPrefix
    public var isIPv4: Bool { self.prefix.isIPv4 }
    public init(prefix: IPPrefix) { self.prefix = prefix }
    /// "10.0.0.0/8" or "2001:db8::/32" as written in policies (set by the loader).
    public var text: String = ""
    public var description: String { self.text }
}

// MARK: - CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy

public struct CiliumRule: Sendable, Equatable {
    /// Exactly one of endpointSelector / nodeSelector is set (nodeSelector only in a CCNP).
    public var endpointSelector: LabelSelector?
    public var nodeSelector: LabelSelector?
    /// `nil` = the key is absent; `[]` = present and empty. Both matter for default deny.
    public var ingress: [CiliumIngressRule]?
    public var ingressDeny: [CiliumIngressRule]?
    public var egress: [CiliumEgressRule]?
    public var egressDeny: [CiliumEgressRule]?
    /// `enableDefaultDeny.ingress` / `.egress`; `nil` when not given (defaults to true).
    public var enableDefaultDenyIngress: Bool?
    public var enableDefaultDenyEgress: Bool?
    public var description: String?
    /// Position in the document: 0 for `spec`, then 1... for `specs` items (for messages).
    public var index: Int
    public init(endpointSelector: LabelSelector? = nil, nodeSelector: LabelSelector? = nil,
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
public struct CiliumIngressRule: Sendable, Equatable {
    public var fromEndpoints: [LabelSelector]?
    public var fromCIDR: [CIDR]?
    public var fromCIDRSet: [CIDRRule]?
    public var fromEntities: [Entity]?
    public var fromNodes: [LabelSelector]?
    public var toPorts: [PortRule]?
    public var icmps: [ICMPRule]?
    public init(fromEndpoints: [LabelSelector]? = nil, fromCIDR: [CIDR]? = nil, fromCIDRSet: [CIDRRule]? = nil,
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
public struct CiliumEgressRule: Sendable, Equatable {
    public var toEndpoints: [LabelSelector]?
    public var toCIDR: [CIDR]?
    public var toCIDRSet: [CIDRRule]?
    public var toEntities: [Entity]?
    public var toNodes: [LabelSelector]?
    public var toPorts: [PortRule]?
    public var icmps: [ICMPRule]?
    /// `toFQDNs` names (matchName / matchPattern), kept for messages: flowmon has no DNS proxy,
    /// so FQDN peers select no address (the loader reports a notice).
    public var toFQDNs: [String]?
    public init(toEndpoints: [LabelSelector]? = nil, toCIDR: [CIDR]? = nil, toCIDRSet: [CIDRRule]? = nil,
                toEntities: [Entity]? = nil, toNodes: [LabelSelector]? = nil, toPorts: [PortRule]? = nil,
                icmps: [ICMPRule]? = nil, toFQDNs: [String]? = nil) {
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
public struct CIDRRule: Sendable, Equatable {
    public var cidr: CIDR
    public var except: [CIDR]
    public init(cidr: CIDR, except: [CIDR] = []) {
        self.cidr = cidr
        self.except = except
    }
}

/// Cilium entities (pkg/policy/api/entity.go).
public enum Entity: String, Sendable, CaseIterable, Equatable {
    case all, world, cluster, host, `init` = "init", ingress, unmanaged
    case remoteNode = "remote-node", health, none, kubeAPIServer = "kube-apiserver"
    case worldIPv4 = "world-ipv4", worldIPv6 = "world-ipv6"
}

/// `toPorts` item. L7 `rules` are accepted and recorded, but flowmon decides at L3/L4 only.
public struct PortRule: Sendable, Equatable {
    /// May be empty (then the rule is about L7 only, which still means "these ports").
    public var ports: [PortProtocol]
    public var hasL7Rules: Bool
    public init(ports: [PortProtocol], hasL7Rules: Bool = false) {
        self.ports = ports
        self.hasL7Rules = hasL7Rules
    }
}

/// Cilium's `L4Proto` values allowed in `toPorts` (CRD enum: TCP, UDP, SCTP, VRRP, IGMP, ANY;
/// VRRP and IGMP since Cilium 1.17, for host policies). VRRP and IGMP carry no ports.
public enum TransportProtocol: String, Sendable, CaseIterable, Equatable {
    case tcp = "TCP", udp = "UDP", sctp = "SCTP", vrrp = "VRRP", igmp = "IGMP", any = "ANY"

    /// Whether the protocol has ports (VRRP and IGMP do not).
    public var hasPorts: Bool { self != .vrrp && self != .igmp }
}

public struct PortProtocol: Sendable, Equatable {
    public enum Port: Sendable, Equatable, Hashable {
        /// 0 means every port (also what an omitted or empty `port` means in Cilium).
        case number(UInt16)
        /// A named container port (IANA_SVC_NAME), resolved per endpoint by the compiler.
        case name(String)
    }
    public var port: Port
    /// Inclusive end of a port range; only with a numeric `port`, and ≥ it.
    public var endPort: UInt16?
    /// Absent or empty in the file = ANY for Cilium (TCP, UDP and SCTP).
    public var `protocol`: TransportProtocol
    public init(port: Port, endPort: UInt16? = nil, protocol: TransportProtocol = .any) {
        self.port = port
        self.endPort = endPort
        self.protocol = `protocol`
    }
}

/// `icmps` item: a list of ICMP types per family.
public struct ICMPRule: Sendable, Equatable {
    public var fields: [ICMPField]
    public init(fields: [ICMPField]) { self.fields = fields }
}

public struct ICMPField: Sendable, Equatable {
    public enum Family: String, Sendable { case ipv4 = "IPv4", ipv6 = "IPv6" }
    public var family: Family
    /// The numeric type; names such as `EchoRequest` are resolved by the loader per family.
    public var type: UInt8
    public init(family: Family, type: UInt8) {
        self.family = family
        self.type = type
    }
}

// MARK: - Kubernetes NetworkPolicy (networking.k8s.io/v1)

public struct KubernetesNetworkPolicySpec: Sendable, Equatable {
    public enum PolicyType: String, Sendable { case ingress = "Ingress", egress = "Egress" }
    public var podSelector: LabelSelector
    /// As written; `nil` when absent (the compiler applies the defaulting rule).
    public var policyTypes: [PolicyType]?
    /// `nil` when absent, `[]` when empty (both deny all once the direction applies).
    public var ingress: [KubernetesIngressRule]?
    public var egress: [KubernetesEgressRule]?
    public init(podSelector: LabelSelector, policyTypes: [PolicyType]? = nil,
                ingress: [KubernetesIngressRule]? = nil, egress: [KubernetesEgressRule]? = nil) {
        self.podSelector = podSelector
        self.policyTypes = policyTypes
        self.ingress = ingress
        self.egress = egress
    }
}

public struct KubernetesIngressRule: Sendable, Equatable {
    /// `nil` or `[]`: from everywhere.
    public var from: [KubernetesPeer]?
    /// `nil` or `[]`: every port.
    public var ports: [KubernetesPort]?
    public init(from: [KubernetesPeer]? = nil, ports: [KubernetesPort]? = nil) {
        self.from = from
        self.ports = ports
    }
}

public struct KubernetesEgressRule: Sendable, Equatable {
    public var to: [KubernetesPeer]?
    public var ports: [KubernetesPort]?
    public init(to: [KubernetesPeer]? = nil, ports: [KubernetesPort]? = nil) {
        self.to = to
        self.ports = ports
    }
}

/// A peer: `podSelector` and/or `namespaceSelector` (both = AND), or `ipBlock` alone.
public struct KubernetesPeer: Sendable, Equatable {
    public var podSelector: LabelSelector?
    public var namespaceSelector: LabelSelector?
    public var ipBlock: CIDRRule?
    public init(podSelector: LabelSelector? = nil, namespaceSelector: LabelSelector? = nil, ipBlock: CIDRRule? = nil) {
        self.podSelector = podSelector
        self.namespaceSelector = namespaceSelector
        self.ipBlock = ipBlock
    }
}

public struct KubernetesPort: Sendable, Equatable {
    /// Default TCP.
    public var `protocol`: TransportProtocol
    /// `nil`: every port of the protocol.
    public var port: PortProtocol.Port?
    public var endPort: UInt16?
    public init(protocol: TransportProtocol = .tcp, port: PortProtocol.Port? = nil, endPort: UInt16? = nil) {
        self.protocol = `protocol`
        self.port = port
        self.endPort = endPort
    }
}
