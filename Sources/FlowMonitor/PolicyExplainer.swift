import Agent
import Datapath
import FlowCore
import L7

/// Answers "what would policy do with this connection?" from the same compiled maps and
/// ipcache the datapath uses (`flowmon policy explain`).
package struct PolicyExplanation: Sendable {
    package struct Side: Sendable {
        package var text: String
        package var address: IPAddress
        package var identity: Identity
        package var labels: [String]
        package var namespace: String?
        package var podName: String?
        package var isLocalEndpoint: Bool
    }

    package struct Direction: Sendable {
        package var direction: TrafficDirection
        /// The endpoint whose policy is consulted.
        package var endpoint: String
        package var decision: PolicyDecision
        package var entry: PolicyMapEntry?
        package var policies: [PolicyReference]
        /// Why nothing was evaluated, when that is the case.
        package var note: String?
        /// The entry's remote when it is an FQDN selector's pseudo-identity: the selector.
        package var remoteSelector: String? = nil
        /// The entry's L7 rules (HTTP, DNS, TLS server names), one line each; empty when
        /// every request is allowed at L7.
        package var l7Rules: [String] = []
    }

    package var from: Side
    package var to: Side
    package var ipProtocol: UInt8
    /// Destination port, or the ICMP type (for a ClusterIP service port: the backends' target port).
    package var port: UInt16
    package var egress: Direction
    package var ingress: Direction
    /// The ClusterIP service `to` names (`--services`), and the service port asked about: policy
    /// is then judged at the service's backends, on their target port.
    package var service: ServiceReference?
    package var servicePort: UInt16 = 0
    /// The service has backends flowmon knows (otherwise the ClusterIP itself was judged).
    package var serviceTranslated = false
    /// `--to-fqdn`: the destination is a DNS name, judged with the `toFQDNs` selectors it matches.
    package var fqdn: FQDNTarget?

    /// A destination given by name (`policy explain --to-fqdn`).
    package struct FQDNTarget: Sendable {
        /// The name as selectors compare it (`FQDNSelector.normalizedName`).
        package var name: String
        /// The `toFQDNs` selectors matching the name (`matchName: ...`, `matchPattern: ...`).
        package var selectors: [String]
        /// False when no address was given or learned: the judgement is at `PolicyExplainer.worldAddress`.
        package var addressKnown: Bool
    }

    package var allowed: Bool { self.egress.decision.isAllowed && self.ingress.decision.isAllowed }
}

/// Names what `PolicySnapshot.judge` decided; it decides nothing itself.
package enum PolicyExplainer {
    /// Resolves `NS/POD` or an IP address to an address of the inventory. POD may be a prefix
    /// of pod names, as in Hubble's `--pod NS/PREFIX` filter (`web` for `web-7d4b9c-x2x`): the
    /// pod of that exact name, else the first by name of the pods it begins (those on the node
    /// named by --node-name first), as long as they all share one identity (so one policy);
    /// pods of several identities are an error naming them.
    package static func address(_ text: String, in state: AgentState) throws(AgentError) -> IPAddress {
        if let parsed = IPAddress(text: text) { return parsed }
        let parts = text.split(separator: "/", maxSplits: 1).map(String.init)
        guard parts.count == 2, let endpoint = try Self.pod(namespace: parts[0], prefix: parts[1], in: state) else {
            throw AgentError(file: text, message: "neither an IP address nor a NAMESPACE/POD (or NAMESPACE/POD-NAME-PREFIX) of the inventory")
        }
        guard let first = endpoint.ips.first ?? endpoint.pod?.ips.first else {
            throw AgentError(file: text, message: "the pod has no IP address in the inventory")
        }
        return first
    }

    /// The pod `namespace/prefix` names: exact name first, else the pods whose names begin with `prefix`.
    static func pod(namespace: String, prefix: String, in state: AgentState) throws(AgentError) -> Endpoint? {
        if let exact = state.endpoints.endpoint(namespace: namespace, pod: prefix) { return exact }
        guard !prefix.isEmpty else { return nil }
        let matches = state.endpoints.endpoints
            .filter { $0.pod != nil && $0.namespace == namespace && ($0.podName ?? "").hasPrefix(prefix) }
            .sorted { ($0.isLocal ? 0 : 1, $0.podName ?? "") < ($1.isLocal ? 0 : 1, $1.podName ?? "") }
        guard let first = matches.first else { return nil }
        guard matches.allSatisfy({ $0.identity == first.identity }) else {
            let names = matches.prefix(5).map { "\($0.podName ?? "") (identity \($0.identity.rawValue))" }.joined(separator: ", ")
            throw AgentError(file: "\(namespace)/\(prefix)",
                             message: "\(matches.count) pods begin with '\(prefix)' and they have different identities (so possibly different policies): \(names)\(matches.count > 5 ? ", ..." : ""); name one")
        }
        return first
    }

    static func side(_ text: String, address: IPAddress, value: IPCacheValue, in state: AgentState)
        -> PolicyExplanation.Side
    {
        let endpoint = value.endpoint != 0 && Int(value.endpoint) < state.endpoints.endpoints.count
            ? state.endpoints.endpoints[Int(value.endpoint)] : nil
        return PolicyExplanation.Side(
            text: text, address: address, identity: value.identity,
            labels: endpoint?.labels ?? state.endpoints.identities[value.identity] ?? [],
            namespace: endpoint?.namespace, podName: endpoint?.podName, isLocalEndpoint: value.isLocalEndpoint)
    }

    /// The address an FQDN destination is judged at when none is given or learned: `0.0.0.0`
    /// (`::` from an IPv6 source), which only `0.0.0.0/0`-style CIDR rules hold, so its identity
    /// is `reserved:world`: as Cilium, whose identity for an address learned for a `toFQDNs` name
    /// is the address's CIDR identity, world unless another rule names a range holding it.
    package static func worldAddress(from source: IPAddress) -> IPAddress {
        source.isIPv4 ? IPAddress(ipv4: 0) : IPAddress(high: 0, low: 0)
    }

    /// Explains `from` -> `to` (`NS/POD` or an address). With `fqdn`, the destination is that DNS
    /// name: the `toFQDNs` selectors matching it (Cilium's name-to-selector match,
    /// `FQDNSelectorTable.mask`) apply at `to`, or at `worldAddress` when `to` is nil.
    package static func explain(from: String, to: String?, fqdn: String? = nil, ipProtocol: UInt8, port: UInt16,
                                in state: AgentState) throws(AgentError) -> PolicyExplanation
    {
        let sourceAddress = try Self.address(from, in: state)
        let destinationAddress = try to.map { (text: String) throws(AgentError) in try Self.address(text, in: state) }
            ?? Self.worldAddress(from: sourceAddress)
        let table = state.compiled.fqdnSelectors
        let mask = fqdn.map { table.mask(matching: $0) } ?? 0
        let target = fqdn.map { name in
            PolicyExplanation.FQDNTarget(
                name: FQDNSelector.normalizedName(name),
                selectors: table.selectors.indices.filter { mask & (1 << UInt64($0)) != 0 }.map { table.selectors[$0].description },
                addressKnown: to != nil)
        }
        let judgement = state.snapshot.judge(source: sourceAddress, destination: destinationAddress, port: port,
                                             ipProtocol: ipProtocol, destinationSelectors: mask)
        let source = Self.side(from, address: sourceAddress, value: judgement.source, in: state)
        var destination = Self.side(to ?? fqdn ?? "", address: destinationAddress, value: judgement.addressed, in: state)
        // A ClusterIP service port: judged at the backends, as the datapath does.
        let service = state.services.reference(judgement.service)
        if judgement.isTranslated {
            destination = PolicyExplanation.Side(
                text: "backends of service \(service.map { "\($0.namespace)/\($0.name)" } ?? "")", address: destinationAddress,
                identity: judgement.destination.identity, labels: state.endpoints.identities[judgement.destination.identity] ?? [],
                namespace: service?.namespace, podName: nil, isLocalEndpoint: judgement.destination.isLocalEndpoint)
        }
        func direction(_ direction: TrafficDirection, local: PolicyExplanation.Side, _ lookup: Judgement.Lookup)
            -> PolicyExplanation.Direction
        {
            let name = local.podName.map { "\(local.namespace ?? "")/\($0)" } ?? local.text
            let decision = lookup.decision
            var policies = Int(decision.policySet) < state.compiled.policySets.count
                ? state.compiled.policySets[Int(decision.policySet)] : []
            // A verdict of default deny matched no entry: the policies responsible are those
            // that put the endpoint in default deny for this direction.
            if decision.outcome == .denied && lookup.entry == nil {
                policies = state.compiled.defaultDeny[local.identity]?.policies(direction) ?? []
            }
            let note: String?
            switch decision.outcome {
            case _ where !lookup.evaluated: note = "\(name) is not a pod on this node; its own node enforces its policy"
            case _ where !lookup.selected: note = "no policy selects \(name)"
            case .notEnforced: note = "no policy puts \(name) in default deny for \(direction == .egress ? "egress" : "ingress")"
            case .denied: note = "no rule allows it, and \(name) is in default deny for \(direction == .egress ? "egress" : "ingress")"
            case .allowedFromHost:
                note = "traffic from the pod's own node is always allowed: Cilium's built-in rule \(PolicyDecision.hostRuleName), match \(decision.matchType.name)"
            case .allowed, .deniedExplicitly: note = nil
            }
            let selectors = state.compiled.fqdnSelectors.selectors
            let selector = lookup.entry?.remote.fqdnSelectorIndex.flatMap { $0 < selectors.count ? selectors[$0] : nil }
            return .init(direction: direction, endpoint: name, decision: decision, entry: lookup.entry,
                         policies: lookup.selected ? policies : [], note: note, remoteSelector: selector?.description,
                         l7Rules: lookup.entry.flatMap { state.compiled.l7Rules[$0.l7RuleSet] }?.lines ?? [])
        }
        return PolicyExplanation(from: source, to: destination, ipProtocol: ipProtocol, port: judgement.port,
                                 egress: direction(.egress, local: source, judgement.egress),
                                 ingress: direction(.ingress, local: destination, judgement.ingress),
                                 service: service, servicePort: port, serviceTranslated: judgement.isTranslated,
                                 fqdn: target)
    }
}
