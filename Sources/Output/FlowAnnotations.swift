import Datapath
import L7

/// Names for the numbers the datapath keeps, rendered once to JSON when the inventory and
/// policies are loaded, so writing a flow record copies bytes and formats nothing.
public final class FlowAnnotations: Sendable {
    /// Hubble `Endpoint` objects by endpoint index (index 0 unused):
    /// `{"identity":258,"namespace":"shop","pod_name":"web-1","labels":[...],"workloads":[...]}`.
    let endpoints: [[UInt8]]
    /// Endpoint objects for identities that are not a known endpoint (reserved, CIDR):
    /// `{"identity":2,"labels":["reserved:world"]}`.
    let identities: [UInt32: [UInt8]]
    /// `[{"name":...,"namespace":...,"kind":...}]` by policy-set index (index 0 = `[]`).
    let policySets: [[UInt8]]
    /// Print would-be drops as `DROPPED` instead of `AUDIT` (`--verdict-as-enforced`).
    public let verdictAsEnforced: Bool
    /// Hubble `Service` objects by service index (index 0 unused): `{"name":"kube-dns","namespace":"kube-system"}`.
    let services: [[UInt8]]
    /// The `--hubble` variants: endpoints with `cluster_name`, policies with `labels` and
    /// `revision` (flow.proto `Endpoint` and `Policy`), by the same indexes.
    let hubble: HubbleNames
    /// `ingress_allowed_by` of traffic from the local host (`hostRuleJSON`).
    let hostRuleSet: [UInt8]
    /// The node flowmon runs on (Hubble's `node_name`), when the inventory names it.
    public let nodeName: String

    /// What only the Hubble lines carry (`--cluster-name`, policy labels and revision).
    public struct HubbleNames: Sendable {
        let endpoints: [[UInt8]]
        let identities: [UInt32: [UInt8]]
        let policySets: [[UInt8]]
        /// `ingress_allowed_by` of traffic from the local host (`hostRuleJSON`).
        let hostRuleSet: [UInt8]

        public init(endpoints: [[UInt8]], identities: [UInt32: [UInt8]], policySets: [[UInt8]], revision: UInt64) {
            self.endpoints = endpoints
            self.identities = identities
            self.policySets = policySets
            self.hostRuleSet = FlowAnnotations.hostRuleJSON(revision: revision)
        }
    }

    /// The L7 rules the generation's policy entries carry (`PolicyDecision.l7RuleSet`).
    public let l7Rules: L7RuleTable

    public init(endpoints: [[UInt8]], identities: [UInt32: [UInt8]], policySets: [[UInt8]], verdictAsEnforced: Bool,
                services: [[UInt8]], hubble: HubbleNames, nodeName: String, l7Rules: L7RuleTable = L7RuleTable()) {
        self.l7Rules = l7Rules
        self.nodeName = nodeName
        self.services = services
        self.endpoints = endpoints
        self.identities = identities
        self.policySets = policySets
        self.verdictAsEnforced = verdictAsEnforced
        self.hubble = hubble
        self.hostRuleSet = Self.hostRuleJSON(revision: nil)
    }

    /// Renders a Hubble endpoint object (agent data in, bytes out); `clusterName` only in
    /// `--hubble` lines (flow.proto `Endpoint.cluster_name`, what `hubble observe --cluster` matches).
    public static func endpointJSON(identity: UInt32, clusterName: String? = nil, namespace: String?, podName: String?,
                                    labels: [String], workload: (name: String, kind: String)?) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.append(byte: UInt8(ascii: "{"))
        out.append(.identity, UInt64(identity))
        if let clusterName {
            out.append(raw: ",\"cluster_name\":")
            out.appendString(clusterName)
        }
        if let namespace { out.append(.namespace, string: namespace) }
        if let podName { out.append(.podName, string: podName) }
        out.append(key: .labels)
        out.append(byte: UInt8(ascii: "["))
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.appendString(label)
        }
        out.append(byte: UInt8(ascii: "]"))
        if let workload {
            out.append(key: .workloads)
            out.append(raw: "[{")
            out.append(.name, string: workload.name)
            out.append(.kind, string: workload.kind)
            out.append(raw: "}]")
        }
        out.append(byte: UInt8(ascii: "}"))
        return Array(out.bytes)
    }

    /// Renders a list of Hubble `Policy` objects. With `revision` (the `--hubble` lines), each
    /// also carries Cilium's `labels` and `revision`: the rule labels Cilium derives from a
    /// policy resource (`GetPolicyLabels` in cilium pkg/k8s/apis/cilium.io/utils, sorted by key:
    /// `k8s:io.cilium.k8s.policy.derived-from=<kind>`, `…policy.name=<name>`,
    /// `…policy.namespace=<namespace>` for namespaced kinds; flowmon has no `uid`) and the
    /// policy revision, a uint64 that protojson writes as a string.
    public static func policiesJSON(_ policies: [(name: String, namespace: String?, kind: String)],
                                    revision: UInt64? = nil) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.append(byte: UInt8(ascii: "["))
        for (index, policy) in policies.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(byte: UInt8(ascii: "{"))
            out.append(.name, string: policy.name)
            if let namespace = policy.namespace { out.append(.namespace, string: namespace) }
            if let revision {
                out.append(key: .labels)
                out.append(byte: UInt8(ascii: "["))
                out.appendString("k8s:io.cilium.k8s.policy.derived-from=" + policy.kind)
                out.append(raw: ",")
                out.appendString("k8s:io.cilium.k8s.policy.name=" + policy.name)
                if let namespace = policy.namespace {
                    out.append(raw: ",")
                    out.appendString("k8s:io.cilium.k8s.policy.namespace=" + namespace)
                }
                out.append(raw: "],\"revision\":\"")
                out.append(revision)
                out.append(byte: UInt8(ascii: "\""))
            }
            out.append(.kind, string: policy.kind)
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(byte: UInt8(ascii: "]"))
        return Array(out.bytes)
    }

    /// The local host's built-in rule as a policy list: Cilium allows traffic from the local
    /// host to its endpoints by a rule derived from `allow-localhost-ingress` (its only label,
    /// `PolicyDecision.hostRuleLabel`). With `revision` (the `--hubble` lines) it is what Hubble
    /// prints, the labels and revision only: Hubble takes a policy's name, namespace and kind
    /// from its `k8s:` labels, and this rule has none. In flowmon's records it also has the
    /// name `allow-localhost-ingress` and the kind `reserved`.
    public static func hostRuleJSON(revision: UInt64?) -> [UInt8] {
        var out = JSONBuffer(capacity: 160)
        out.append(raw: "[{")
        if revision == nil {
            out.append(.name, name: PolicyDecision.hostRuleName)
            out.append(.kind, name: "reserved")
        }
        out.append(key: .labels)
        out.append(raw: "[\"")
        out.append(raw: PolicyDecision.hostRuleLabel)
        out.append(raw: "\"]")
        if let revision {
            out.append(raw: ",\"revision\":\"")
            out.append(revision)
            out.append(byte: UInt8(ascii: "\""))
        }
        out.append(raw: "}]")
        return Array(out.bytes)
    }

    /// Renders a Hubble `Service` object.
    public static func serviceJSON(name: String, namespace: String) -> [UInt8] {
        var out = JSONBuffer(capacity: 64)
        out.append(byte: UInt8(ascii: "{"))
        out.append(.name, string: name)
        out.append(.namespace, string: namespace)
        out.append(byte: UInt8(ascii: "}"))
        return Array(out.bytes)
    }

    /// `,"destination_service":{...}` for a connection sent to a known service; nothing otherwise.
    func appendDestinationService(_ index: UInt16, to out: inout JSONBuffer) {
        guard index != 0, Int(index) < self.services.count else { return }
        out.append(key: .destinationService)
        out.append(bytes: self.services[Int(index)])
    }

    func appendEndpoint(identity: Identity, endpoint: UInt32, to out: inout JSONBuffer) {
        Self.appendEndpoint(identity: identity, endpoint: endpoint, endpoints: self.endpoints, identities: self.identities,
                            to: &out)
    }

    /// The endpoint object of a `--hubble` line (with `cluster_name`).
    func appendHubbleEndpoint(identity: Identity, endpoint: UInt32, to out: inout JSONBuffer) {
        Self.appendEndpoint(identity: identity, endpoint: endpoint, endpoints: self.hubble.endpoints,
                            identities: self.hubble.identities, to: &out)
    }

    private static func appendEndpoint(identity: Identity, endpoint: UInt32, endpoints: [[UInt8]],
                                       identities: [UInt32: [UInt8]], to out: inout JSONBuffer) {
        if endpoint != 0, Int(endpoint) < endpoints.count {
            out.append(bytes: endpoints[Int(endpoint)])
        } else if let rendered = identities[identity.rawValue] {
            out.append(bytes: rendered)
        } else {
            out.append(byte: UInt8(ascii: "{"))
            out.append(.identity, UInt64(identity.rawValue))
            out.append(key: .labels)
            out.append(raw: "[]}")
        }
    }

    /// `,"egress_allowed_by":[...]` (or `_denied_by` for an explicit deny, `ingress_…` for
    /// ingress): Hubble's list of the policies behind a decision; nothing when there are none.
    /// `hubble` picks the `--hubble` rendering (with `labels` and `revision`).
    /// Traffic from the local host names Cilium's built-in rule (`hostRuleJSON`).
    func appendPolicies(of decision: PolicyDecision, direction: TrafficDirection, hubble: Bool,
                        to out: inout JSONBuffer) {
        if decision.outcome == .allowedFromHost {
            out.append(key: .ingressAllowedBy)
            out.append(bytes: hubble ? self.hubble.hostRuleSet : self.hostRuleSet)
            return
        }
        guard decision.policySet != 0 else { return }
        switch (direction, decision.outcome) {
        case (.egress, .deniedExplicitly): out.append(key: .egressDeniedBy)
        case (.egress, _): out.append(key: .egressAllowedBy)
        case (.ingress, .deniedExplicitly): out.append(key: .ingressDeniedBy)
        case (.ingress, _): out.append(key: .ingressAllowedBy)
        }
        let sets = hubble ? self.hubble.policySets : self.policySets
        if Int(decision.policySet) < sets.count {
            out.append(bytes: sets[Int(decision.policySet)])
        } else {
            out.append(raw: "[]")
        }
    }

}

extension JSONBuffer {
    /// Appends bytes that are already valid JSON.
    public mutating func append(bytes: [UInt8]) {
        bytes.withUnsafeBytes { self.append(raw: $0) }
    }
}
