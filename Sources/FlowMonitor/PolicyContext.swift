import Datapath
import Output

/// What the datapath needs to tag new connections with identities and policy verdicts:
/// numbers only (the ipcache and the compiled policy table), plus the pre-rendered names
/// the output copies into records. Built by `AgentState` when inventory and policies load.
public final class PolicyContext: @unchecked Sendable {
    public let ipcache: IPCache
    public let policies: PolicyTable
    public let annotations: FlowAnnotations
    /// Writes Hubble policy-verdict lines (`--hubble`), when asked.
    public let hubble: JSONLinesOutput?
    public let nodeName: String
    /// Pod CIDRs, sensitive and allow-listed identities, for the detectors.
    public let detection: DetectionScope
    /// ClusterIP service ports (`--services`), translated before policy.
    public let services: ServiceTable
    /// Told every new connection, when set (`flowmon policy advise`); nil on the normal path.
    public let observer: ConnectionObserver?

    public init(ipcache: IPCache, policies: PolicyTable, annotations: FlowAnnotations, hubble: JSONLinesOutput?,
                nodeName: String, detection: DetectionScope = .empty, services: ServiceTable = ServiceTable(),
                observer: ConnectionObserver? = nil) {
        self.services = services
        self.observer = observer
        self.detection = detection
        self.ipcache = ipcache
        self.policies = policies
        self.annotations = annotations
        self.hubble = hubble
        self.nodeName = nodeName
    }

    /// Tags a connection that has just started: identities of both ends from the ipcache,
    /// then the egress decision at the source endpoint and the ingress decision at the
    /// destination endpoint, each only when that end is a local endpoint. The destination
    /// port is the responder's port; for ICMP it is the message type, as in Cilium's
    /// ICMP rules. A connection to a ClusterIP service port is judged as sent to the
    /// service's backends (their identity and target port), as after Cilium's load balancer;
    /// the record keeps the real address and port and names the service. Allocation-free.
    @inline(__always)
    func classify(_ flow: UnsafeMutablePointer<FlowEntry>) {
        let source = self.ipcache.lookup(flow.pointee.sourceAddress)
        var destination = self.ipcache.lookup(flow.pointee.destinationAddress)
        var port = flow.pointee.hasICMP ? UInt16(flow.pointee.icmpType)
            : flow.pointee.hasPorts ? flow.pointee.destinationPort : 0
        let ipProtocol = flow.pointee.ipProtocol
        if flow.pointee.hasPorts {
            flow.pointee.destinationService = self.services.translate(flow.pointee.destinationAddress, port: &port,
                                                                      ipProtocol: ipProtocol, destination: &destination)
        }
        flow.pointee.sourceIdentity = source.identity
        flow.pointee.destinationIdentity = destination.identity
        flow.pointee.sourceEndpoint = source.endpoint
        flow.pointee.destinationEndpoint = destination.endpoint
        flow.pointee.hasPolicyVerdict = true
        // An endpoint no policy selects enforces nothing in either direction.
        if source.isLocalEndpoint {
            flow.pointee.egressEvaluated = true
            flow.pointee.egressDecision = self.policies.policy(for: source.identity)?
                .decide(.egress, remote: destination.identity, ipProtocol: ipProtocol, port: port)
                ?? PolicyDecision(outcome: .notEnforced)
        }
        if destination.isLocalEndpoint {
            flow.pointee.ingressEvaluated = true
            flow.pointee.ingressDecision = self.policies.policy(for: destination.identity)?
                .decide(.ingress, remote: source.identity, ipProtocol: ipProtocol, port: port)
                ?? PolicyDecision(outcome: .notEnforced)
        }
        if let observer = self.observer { observer.observe(flow.pointee) }
    }

    /// The same lines, keyed for the pipeline's merge: egress before ingress, each direction's
    /// policy-verdict line before its drop line (`primary` 0-3 within the packet's key).
    func appendHubble(_ flow: FlowEntry, firstPacketFlags: UInt16, to keyed: KeyedRecords, key: EmissionKey) {
        for place in 0..<4 {
            guard let (direction, event, decision) = self.hubbleLine(flow, place) else { continue }
            keyed.beginRecord()
            HubbleRecord.append(flow, direction: direction, decision: decision, event: event,
                                firstPacketFlags: firstPacketFlags, nodeName: self.nodeName,
                                annotations: self.annotations, to: &keyed.block.buffer)
            keyed.endRecord(EmissionKey(event: key.event, primary: key.primary + Int64(place), secondary: key.secondary))
        }
    }

    /// Hubble lines for a new connection, in the same order: per enforced decision the
    /// policy-verdict line and, for an enforced drop, the drop line.
    func writeHubble(_ flow: FlowEntry, firstPacketFlags: UInt16) throws(OutputError) {
        guard let hubble = self.hubble else { return }
        for place in 0..<4 {
            guard let (direction, event, decision) = self.hubbleLine(flow, place) else { continue }
            HubbleRecord.append(flow, direction: direction, decision: decision, event: event,
                                firstPacketFlags: firstPacketFlags, nodeName: self.nodeName,
                                annotations: self.annotations, to: &hubble.buffer)
            try hubble.endLine()
        }
    }

    /// Line `place` (0-3) of a new connection: egress then ingress, each the policy-verdict
    /// event then the drop event; nil when the direction enforced nothing or did not drop.
    private func hubbleLine(_ flow: FlowEntry, _ place: Int)
        -> (direction: TrafficDirection, event: HubbleRecord.Event, decision: PolicyDecision)? {
        let direction: TrafficDirection = place < 2 ? .egress : .ingress
        let evaluated = direction == .egress ? flow.egressEvaluated : flow.ingressEvaluated
        let decision = direction == .egress ? flow.egressDecision : flow.ingressDecision
        guard evaluated && decision.outcome != .notEnforced else { return nil }
        if place % 2 == 0 { return (direction, .policyVerdict, decision) }
        return HubbleRecord.hasDropEvent(decision, annotations: self.annotations) ? (direction, .drop, decision) : nil
    }
}
