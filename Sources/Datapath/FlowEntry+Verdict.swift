extension FlowEntry {
    /// The connection's overall policy outcome: allowed when every evaluated side allows it.
    /// When a side would drop it, that side (egress first, as the packet meets the source's
    /// policy first) and its decision, whose outcome gives Cilium's drop reason: `POLICY_DENY`
    /// (181) for an explicit deny, `POLICY_DENIED` (133) for no allow under default deny.
    public var wouldDrop: (direction: TrafficDirection, decision: PolicyDecision)? {
        guard self.hasPolicyVerdict else { return nil }
        if self.egressEvaluated && !self.egressDecision.isAllowed {
            return (.egress, self.egressDecision)
        }
        if self.ingressEvaluated && !self.ingressDecision.isAllowed {
            return (.ingress, self.ingressDecision)
        }
        return nil
    }
}

extension PolicyDecision.Outcome {
    /// The name used in flow records' `policy.egress.decision` / `policy.ingress.decision`.
    public var name: StaticString {
        switch self {
        case .notEnforced: "not_enforced"
        case .allowed: "allowed"
        case .denied: "denied"
        case .deniedExplicitly: "denied_by_rule"
        case .allowedFromHost: "allowed_from_host"
        }
    }
}
