import FlowCore

/// The numeric tables a policy decision reads, as the agent last compiled them: the ipcache,
/// the ClusterIP service table and every local endpoint's policy map. Immutable and `Sendable`;
/// the one place the decision is written, for replay, capture, `policy explain` and
/// `policy advise` alike (Cilium's `cilium policy trace` answers from the same maps its
/// datapath reads).
public struct PolicySnapshot: Sendable {
    public let ipcache: IPCache
    public let services: ServiceTable
    public let policies: PolicyTable

    public init(ipcache: IPCache, services: ServiceTable = ServiceTable(), policies: PolicyTable = PolicyTable()) {
        self.ipcache = ipcache
        self.services = services
        self.policies = policies
    }

    /// Judges a connection that starts at `source` and is sent to `destination`: both ends
    /// through the ipcache; a TCP, UDP or SCTP connection to a ClusterIP service port with known
    /// backends as sent to those backends (their identity, their target port), as after Cilium's
    /// load balancer; then the egress decision at the source endpoint and the ingress decision
    /// at the destination endpoint, each only when that end is a local endpoint (Cilium enforces
    /// policy where the endpoint runs). An endpoint no policy selects enforces nothing.
    /// `port` is the responder's port, or the ICMP type (Cilium's ICMP rules match the type).
    /// `destinationSelectors`: the `toFQDNs` selectors whose names resolved to `destination` when
    /// the connection started (the name cache's tag on its first packet); they count at the
    /// source's egress only (Cilium has no `fromFQDNs`). Allocation-free.
    public func judge(source: IPAddress, destination: IPAddress, port: UInt16, ipProtocol: UInt8,
                      destinationSelectors: UInt64 = 0) -> Judgement {
        let sourceValue = self.ipcache.lookup(source)
        let addressed = self.ipcache.lookup(destination)
        var judged = addressed
        var judgedPort = port
        var service: (service: UInt16, translated: Bool) = (0, false)
        if IPProtocolNumber.carriesPorts(ipProtocol) {
            service = self.services.translate(destination, port: &judgedPort, ipProtocol: ipProtocol, destination: &judged)
        }
        return Judgement(
            source: sourceValue, addressed: addressed, destination: judged, port: judgedPort, service: service.service,
            isTranslated: service.translated,
            egress: self.lookup(.egress, at: sourceValue, remote: judged.identity, ipProtocol: ipProtocol, port: judgedPort,
                                selectors: service.translated ? 0 : destinationSelectors),
            ingress: self.lookup(.ingress, at: judged, remote: sourceValue.identity, ipProtocol: ipProtocol,
                                 port: judgedPort))
    }

    private func lookup(_ direction: TrafficDirection, at endpoint: IPCacheValue, remote: Identity, ipProtocol: UInt8,
                port: UInt16, selectors: UInt64 = 0) -> Judgement.Lookup {
        guard endpoint.isLocalEndpoint else { return Judgement.Lookup(evaluated: false, selected: false) }
        guard let policy = self.policies.policy(for: endpoint.identity) else {
            return Judgement.Lookup(evaluated: true, selected: false)
        }
        let (decision, entry) = policy.lookup(direction, remote: remote, ipProtocol: ipProtocol, port: port,
                                              selectors: selectors)
        return Judgement.Lookup(evaluated: true, selected: true, decision: decision, entry: entry)
    }
}

/// What `PolicySnapshot.judge` decided about one connection, with what it was decided from.
public struct Judgement: Sendable, Equatable {
    /// One direction's policy lookup.
    public struct Lookup: Sendable, Equatable {
        /// The endpoint is local, so its policy was consulted.
        public var evaluated: Bool
        /// Some policy selects the endpoint (it has a policy map); otherwise nothing is enforced.
        public var selected: Bool
        /// `.notEnforced` when not evaluated or not selected.
        public var decision = PolicyDecision(outcome: .notEnforced)
        /// The map entry that decided, if one did.
        public var entry: PolicyMapEntry?
    }

    public var source: IPCacheValue
    /// The destination address's own ipcache value, before service translation.
    public var addressed: IPCacheValue
    /// What policy judged: the service's backends (no endpoint) when translated, else `addressed`.
    public var destination: IPCacheValue
    /// The port policy judged: the backends' target port when translated.
    public var port: UInt16
    /// The service port the destination was (index into the agent's service names; 0: none).
    public var service: UInt16
    /// The service translation applied: a service port with known backends, judged at them.
    public var isTranslated: Bool
    /// At the source endpoint, towards `destination`.
    public var egress: Lookup
    /// At the destination endpoint, from `source`.
    public var ingress: Lookup
}
