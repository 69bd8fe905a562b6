import Datapath

/// Names for the numbers the datapath keeps, rendered once to JSON when the inventory and
/// policies are loaded, so writing a flow record copies bytes and formats nothing.
public final class FlowAnnotations: @unchecked Sendable {
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

    public init(endpoints: [[UInt8]], identities: [UInt32: [UInt8]], policySets: [[UInt8]], verdictAsEnforced: Bool,
                services: [[UInt8]] = []) {
        self.services = services
        self.endpoints = endpoints
        self.identities = identities
        self.policySets = policySets
        self.verdictAsEnforced = verdictAsEnforced
    }

    /// Renders a Hubble endpoint object (agent data in, bytes out).
    public static func endpointJSON(identity: UInt32, namespace: String?, podName: String?, labels: [String],
                                    workload: (name: String, kind: String)?) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.append(raw: "{\"identity\":")
        out.append(UInt64(identity))
        if let namespace {
            out.append(raw: ",\"namespace\":")
            out.appendString(namespace)
        }
        if let podName {
            out.append(raw: ",\"pod_name\":")
            out.appendString(podName)
        }
        out.append(raw: ",\"labels\":[")
        for (index, label) in labels.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.appendString(label)
        }
        out.append(byte: UInt8(ascii: "]"))
        if let workload {
            out.append(raw: ",\"workloads\":[{\"name\":")
            out.appendString(workload.name)
            out.append(raw: ",\"kind\":")
            out.appendString(workload.kind)
            out.append(raw: "}]")
        }
        out.append(byte: UInt8(ascii: "}"))
        return Array(out.bytes)
    }

    /// Renders a list of Hubble `Policy` objects.
    public static func policiesJSON(_ policies: [(name: String, namespace: String?, kind: String)]) -> [UInt8] {
        var out = JSONBuffer(capacity: 256)
        out.append(byte: UInt8(ascii: "["))
        for (index, policy) in policies.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(raw: "{\"name\":")
            out.appendString(policy.name)
            if let namespace = policy.namespace {
                out.append(raw: ",\"namespace\":")
                out.appendString(namespace)
            }
            out.append(raw: ",\"kind\":")
            out.appendString(policy.kind)
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(byte: UInt8(ascii: "]"))
        return Array(out.bytes)
    }

    /// Renders a Hubble `Service` object.
    public static func serviceJSON(name: String, namespace: String) -> [UInt8] {
        var out = JSONBuffer(capacity: 64)
        out.append(raw: "{\"name\":")
        out.appendString(name)
        out.append(raw: ",\"namespace\":")
        out.appendString(namespace)
        out.append(byte: UInt8(ascii: "}"))
        return Array(out.bytes)
    }

    /// `,"destination_service":{...}` for a connection sent to a known service; nothing otherwise.
    func appendDestinationService(_ index: UInt16, to out: inout JSONBuffer) {
        guard index != 0, Int(index) < self.services.count else { return }
        out.append(raw: ",\"destination_service\":")
        out.append(bytes: self.services[Int(index)])
    }

    func appendEndpoint(identity: Identity, endpoint: UInt32, to out: inout JSONBuffer) {
        if endpoint != 0, Int(endpoint) < self.endpoints.count {
            out.append(bytes: self.endpoints[Int(endpoint)])
        } else if let rendered = self.identities[identity.rawValue] {
            out.append(bytes: rendered)
        } else {
            out.append(raw: "{\"identity\":")
            out.append(UInt64(identity.rawValue))
            out.append(raw: ",\"labels\":[]}")
        }
    }

    /// `,"egress_allowed_by":[...]` (or `_denied_by` for an explicit deny, `ingress_…` for
    /// ingress): Hubble's list of the policies behind a decision; nothing when there are none.
    /// Traffic from the local host names Cilium's built-in rule: in Hubble lines as Hubble
    /// prints it (a `Policy` with only its label, `{"labels":["reserved:io.cilium.policy.derived-from=allow-localhost-ingress"]}`:
    /// Hubble takes name, namespace and kind from `k8s:` labels only), in flowmon's records
    /// (`hubble` false) also with the name `allow-localhost-ingress` and the kind `reserved`.
    func appendPolicies(of decision: PolicyDecision, direction: TrafficDirection, hubble: Bool, to out: inout JSONBuffer) {
        if decision.outcome == .allowedFromHost {
            out.append(raw: hubble ? ",\"ingress_allowed_by\":[{" : ",\"ingress_allowed_by\":[{\"name\":\"")
            if !hubble {
                out.append(raw: PolicyDecision.hostRuleName)
                out.append(raw: "\",\"kind\":\"reserved\",")
            }
            out.append(raw: "\"labels\":[\"")
            out.append(raw: PolicyDecision.hostRuleLabel)
            out.append(raw: "\"]}]")
            return
        }
        guard decision.policySet != 0 else { return }
        switch (direction, decision.outcome) {
        case (.egress, .deniedExplicitly): out.append(raw: ",\"egress_denied_by\":")
        case (.egress, _): out.append(raw: ",\"egress_allowed_by\":")
        case (.ingress, .deniedExplicitly): out.append(raw: ",\"ingress_denied_by\":")
        case (.ingress, _): out.append(raw: ",\"ingress_allowed_by\":")
        }
        self.appendPolicySet(decision.policySet, to: &out)
    }

    func appendPolicySet(_ index: UInt32, to out: inout JSONBuffer) {
        if Int(index) < self.policySets.count {
            out.append(bytes: self.policySets[Int(index)])
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
