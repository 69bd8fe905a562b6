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

    public init(ipcache: IPCache, policies: PolicyTable, annotations: FlowAnnotations, hubble: JSONLinesOutput?,
                nodeName: String, detection: DetectionScope = .empty) {
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
    /// ICMP rules. Allocation-free.
    @inline(__always)
    func classify(_ flow: UnsafeMutablePointer<FlowEntry>) {
        let source = self.ipcache.lookup(flow.pointee.sourceAddress)
        let destination = self.ipcache.lookup(flow.pointee.destinationAddress)
        flow.pointee.sourceIdentity = source.identity
        flow.pointee.destinationIdentity = destination.identity
        flow.pointee.sourceEndpoint = source.endpoint
        flow.pointee.destinationEndpoint = destination.endpoint
        let port = flow.pointee.hasICMP ? UInt16(flow.pointee.icmpType)
            : flow.pointee.hasPorts ? flow.pointee.destinationPort : 0
        let ipProtocol = flow.pointee.ipProtocol
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
    }

    /// The same lines, keyed for the pipeline's merge.
    func appendHubble(_ flow: FlowEntry, firstPacketFlags: UInt16, to keyed: KeyedRecords, key: EmissionKey) {
        if flow.egressEvaluated && flow.egressDecision.outcome != .notEnforced {
            keyed.beginRecord()
            HubbleRecord.append(flow, direction: .egress, decision: flow.egressDecision, firstPacketFlags: firstPacketFlags,
                                nodeName: self.nodeName, annotations: self.annotations, to: &keyed.block.buffer)
            keyed.endRecord(key)
        }
        if flow.ingressEvaluated && flow.ingressDecision.outcome != .notEnforced {
            keyed.beginRecord()
            HubbleRecord.append(flow, direction: .ingress, decision: flow.ingressDecision, firstPacketFlags: firstPacketFlags,
                                nodeName: self.nodeName, annotations: self.annotations, to: &keyed.block.buffer)
            keyed.endRecord(EmissionKey(event: key.event, primary: key.primary + 1, secondary: key.secondary))
        }
    }

    /// Hubble lines for a new connection: one per enforced decision.
    func writeHubble(_ flow: FlowEntry, firstPacketFlags: UInt16) throws(OutputError) {
        guard let hubble = self.hubble else { return }
        if flow.egressEvaluated && flow.egressDecision.outcome != .notEnforced {
            HubbleRecord.append(flow, direction: .egress, decision: flow.egressDecision, firstPacketFlags: firstPacketFlags,
                                nodeName: self.nodeName, annotations: self.annotations, to: &hubble.buffer)
            try hubble.endLine()
        }
        if flow.ingressEvaluated && flow.ingressDecision.outcome != .notEnforced {
            HubbleRecord.append(flow, direction: .ingress, decision: flow.ingressDecision, firstPacketFlags: firstPacketFlags,
                                nodeName: self.nodeName, annotations: self.annotations, to: &hubble.buffer)
            try hubble.endLine()
        }
    }
}
