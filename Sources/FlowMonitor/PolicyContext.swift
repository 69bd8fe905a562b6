import Datapath
import Output

/// What a processor needs to tag new connections with identities and policy verdicts: the
/// numeric snapshot the decision is made from (`Sendable` on its own), plus what is not
/// numbers: the pre-rendered names the output copies into records, the Hubble output and the
/// advisor's observer (which is why this class is only `@unchecked Sendable`). Built by
/// `AgentState` when inventory and policies load.
public final class PolicyContext: @unchecked Sendable {
    public let snapshot: PolicySnapshot
    public let annotations: FlowAnnotations
    /// Writes Hubble policy-verdict lines (`--hubble`), when asked.
    public let hubble: JSONLinesOutput?
    public let nodeName: String
    /// Pod CIDRs, sensitive and allow-listed identities, for the detectors.
    public let detection: DetectionScope
    /// Told every new connection, when set (`flowmon policy advise`); nil on the normal path.
    public let observer: ConnectionObserver?

    public init(snapshot: PolicySnapshot, annotations: FlowAnnotations, hubble: JSONLinesOutput?, nodeName: String,
                detection: DetectionScope = .empty, observer: ConnectionObserver? = nil) {
        self.snapshot = snapshot
        self.observer = observer
        self.detection = detection
        self.annotations = annotations
        self.hubble = hubble
        self.nodeName = nodeName
    }

    /// Tags a connection that has just started with `PolicySnapshot.judge`: the port is the
    /// responder's port, or for ICMP the message type. The record keeps the real destination
    /// address and port, and names the service when it was a ClusterIP service port.
    /// Allocation-free.
    @inline(__always)
    func classify(_ flow: UnsafeMutablePointer<FlowEntry>) {
        let port = flow.pointee.hasICMP ? UInt16(flow.pointee.icmpType)
            : flow.pointee.hasPorts ? flow.pointee.destinationPort : 0
        let judgement = self.snapshot.judge(source: flow.pointee.sourceAddress,
                                            destination: flow.pointee.destinationAddress, port: port,
                                            ipProtocol: flow.pointee.ipProtocol)
        flow.pointee.destinationService = judgement.service
        flow.pointee.sourceIdentity = judgement.source.identity
        flow.pointee.destinationIdentity = judgement.destination.identity
        flow.pointee.sourceEndpoint = judgement.source.endpoint
        flow.pointee.destinationEndpoint = judgement.destination.endpoint
        flow.pointee.hasPolicyVerdict = true
        if judgement.egress.evaluated {
            flow.pointee.egressEvaluated = true
            flow.pointee.egressDecision = judgement.egress.decision
        }
        if judgement.ingress.evaluated {
            flow.pointee.ingressEvaluated = true
            flow.pointee.ingressDecision = judgement.ingress.decision
        }
        if let observer = self.observer { observer.observe(flow.pointee, port: port) }
    }

    /// Hubble lines for a new connection, keyed for the merge: per enforced decision the
    /// policy-verdict line and, for an enforced drop, the drop line; egress before ingress
    /// (`primary` 0-3 within the packet's key).
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
