import Agent
import Datapath
import FlowCore

/// Answers "what would policy do with this connection?" from the same compiled maps and
/// ipcache the datapath uses (`flowmon policy explain`).
public struct PolicyExplanation: Sendable {
    public struct Side: Sendable {
        public var text: String
        public var address: IPAddress
        public var identity: Identity
        public var labels: [String]
        public var namespace: String?
        public var podName: String?
        public var isLocalEndpoint: Bool
    }

    public struct Direction: Sendable {
        public var direction: TrafficDirection
        /// The endpoint whose policy is consulted.
        public var endpoint: String
        public var decision: PolicyDecision
        public var entry: PolicyMapEntry?
        public var policies: [PolicyReference]
        /// Why nothing was evaluated, when that is the case.
        public var note: String?
    }

    public var from: Side
    public var to: Side
    public var ipProtocol: UInt8
    /// Destination port, or the ICMP type (for a ClusterIP service port: the backends' target port).
    public var port: UInt16
    public var egress: Direction
    public var ingress: Direction
    /// The ClusterIP service `to` names (`--services`), and the service port asked about: policy
    /// is then judged at the service's backends, on their target port.
    public var service: ServiceReference?
    public var servicePort: UInt16 = 0
    /// The service has backends flowmon knows (otherwise the ClusterIP itself was judged).
    public var serviceTranslated = false

    public var allowed: Bool { self.egress.decision.isAllowed && self.ingress.decision.isAllowed }
}

public enum PolicyExplainer {
    /// Resolves `NS/POD` or an IP address to an endpoint of the inventory.
    public static func side(_ text: String, in state: AgentState) throws(AgentError) -> PolicyExplanation.Side {
        let address: IPAddress
        if let parsed = IPAddressText.parse(text) {
            address = parsed
        } else {
            let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, let endpoint = state.endpoints.endpoint(namespace: parts[0], pod: parts[1]) else {
                throw AgentError(file: text, message: "neither an IP address nor a NAMESPACE/POD of the inventory")
            }
            guard let first = endpoint.ips.first ?? endpoint.pod?.ips.first else {
                throw AgentError(file: text, message: "the pod has no IP address in the inventory")
            }
            address = first
        }
        let value = state.ipcache.lookup(address)
        let endpoint = value.endpoint != 0 && Int(value.endpoint) < state.endpoints.endpoints.count
            ? state.endpoints.endpoints[Int(value.endpoint)] : nil
        return PolicyExplanation.Side(
            text: text, address: address, identity: value.identity,
            labels: endpoint?.labels ?? state.endpoints.identities[value.identity] ?? [],
            namespace: endpoint?.namespace, podName: endpoint?.podName, isLocalEndpoint: value.isLocalEndpoint)
    }

    public static func explain(from: String, to: String, ipProtocol: UInt8, port: UInt16, in state: AgentState)
        throws(AgentError) -> PolicyExplanation
    {
        let source = try side(from, in: state)
        var destination = try side(to, in: state)
        // A ClusterIP service port: judged at the backends, as the datapath does.
        var port = port
        let servicePort = port
        var service: ServiceReference?
        var translated = false
        if ipProtocol == IPProtocolNumber.tcp || ipProtocol == IPProtocolNumber.udp || ipProtocol == IPProtocolNumber.sctp {
            var value = IPCacheValue(identity: destination.identity, isLocalEndpoint: destination.isLocalEndpoint)
            let original = value
            let index = state.services.table.translate(destination.address, port: &port, ipProtocol: ipProtocol, destination: &value)
            service = state.services.reference(index)
            if value != original {
                translated = true
                destination = PolicyExplanation.Side(
                    text: "backends of service \(service.map { "\($0.namespace)/\($0.name)" } ?? "")", address: destination.address, identity: value.identity,
                    labels: state.endpoints.identities[value.identity] ?? [], namespace: service?.namespace, podName: nil,
                    isLocalEndpoint: value.isLocalEndpoint)
            }
        }
        func direction(_ direction: TrafficDirection, local: PolicyExplanation.Side, remote: PolicyExplanation.Side)
            -> PolicyExplanation.Direction
        {
            let name = local.podName.map { "\(local.namespace ?? "")/\($0)" } ?? local.text
            guard local.isLocalEndpoint else {
                return .init(direction: direction, endpoint: name, decision: PolicyDecision(outcome: .notEnforced),
                             entry: nil, policies: [],
                             note: "\(name) is not a pod on this node; its own node enforces its policy")
            }
            guard let policy = state.compiled.table.policy(for: local.identity) else {
                return .init(direction: direction, endpoint: name, decision: PolicyDecision(outcome: .notEnforced),
                             entry: nil, policies: [], note: "no policy selects \(name)")
            }
            let (decision, entry) = policy.lookup(direction, remote: remote.identity, ipProtocol: ipProtocol, port: port)
            let policies = Int(decision.policySet) < state.compiled.policySets.count
                ? state.compiled.policySets[Int(decision.policySet)] : []
            var note: String?
            switch decision.outcome {
            case .notEnforced: note = "no policy puts \(name) in default deny for \(direction == .egress ? "egress" : "ingress")"
            case .denied: note = "no rule allows it, and \(name) is in default deny for \(direction == .egress ? "egress" : "ingress")"
            case .allowedFromHost:
                note = "traffic from the pod's own node is always allowed: Cilium's built-in rule \(PolicyDecision.hostRuleName), match \(decision.matchType.name)"
            case .allowed, .deniedExplicitly: note = nil
            }
            return .init(direction: direction, endpoint: name, decision: decision, entry: entry, policies: policies, note: note)
        }
        return PolicyExplanation(from: source, to: destination, ipProtocol: ipProtocol, port: port,
                                 egress: direction(.egress, local: source, remote: destination),
                                 ingress: direction(.ingress, local: destination, remote: source),
                                 service: service, servicePort: servicePort, serviceTranslated: translated)
    }
}
