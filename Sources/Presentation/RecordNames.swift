import FlowLog

/// How the compact lines and the summary name policies and peers that are not pods.
extension FlowLogRecord.PolicyVerdict {
    /// The policies that deny the connection, egress first, as `namespace/name` (or `name` for
    /// a cluster-wide policy).
    var denyingPolicies: [String] { (self.egressDeniedBy + self.ingressDeniedBy).map(\.qualifiedName) }
    /// The policies that allow it, in the same order and form.
    var allowingPolicies: [String] { (self.egressAllowedBy + self.ingressAllowedBy).map(\.qualifiedName) }

    /// Why a would-be drop drops, and on which side: `denied by platform/pci-no-internet
    /// (egress)` or `no policy allows it (ingress)`.
    var dropExplanation: String {
        let side = self.direction.map { " (\($0.rawValue.lowercased()))" } ?? ""
        let denying = self.denyingPolicies
        return (denying.isEmpty ? "no policy allows it" : "denied by " + denying.joined(separator: ", ")) + side
    }
}

extension FlowLogRecord.PolicyReference {
    var qualifiedName: String { self.namespace.map { "\($0)/\(self.name)" } ?? self.name }
}

extension FlowLogRecord.Endpoint {
    /// The reserved identity's name of a peer that is not a pod (`reserved:world-ipv4` ->
    /// `world-ipv4`); nil for a pod.
    var entity: String? { self.podName == nil ? self.reservedNames.first : nil }
}
