import Datapath
import FlowCore
import L7

/// Renders one datapath's events for the merge: flow records and (`--hubble`) Hubble lines as
/// keyed JSON, findings queued for the detectors. It is the program's sink (one per worker),
/// and the only place names meet numbers: each connection is named by the annotations of the
/// policy generation that judged it.
package final class EventRenderer: DatapathEventSink {
    /// The records of the epoch under way, keyed for the merge.
    package var flows = KeyedRecords()
    /// Hubble policy-verdict and drop lines, when `--hubble` is given.
    package var hubble: KeyedRecords?
    /// Findings for the detectors, when alerts are on.
    package var findings: FindingBuffer?
    /// The counts for the metrics page, when it is served (`--metrics-address`).
    package var metrics: FlowMetrics?
    /// The names of each policy generation, by `FlowEntry.policyGeneration`.
    package private(set) var generations: [FlowAnnotations] = []
    /// The names of the interfaces connections were observed on (live capture), when known.
    let interfaces: InterfaceNames?

    /// The application layer (DNS, HTTP, TLS records), when it is on.
    package let application: ApplicationRecorder?
    /// The seed of the records' `community_id` (`--community-id-seed`).
    let communityIDSeed: UInt16

    package init(hubble: Bool, findingCapacity: Int?, interfaces: InterfaceNames? = nil, metrics: Bool = false,
                 application: ApplicationRecorder? = nil, communityIDSeed: UInt16 = 0) {
        self.interfaces = interfaces
        self.communityIDSeed = communityIDSeed
        self.application = application
        self.hubble = hubble ? KeyedRecords() : nil
        self.findings = findingCapacity.map { FindingBuffer(capacity: $0) }
        self.metrics = metrics ? FlowMetrics() : nil
    }

    /// Adds the names of the next policy generation (at start, and on reload).
    package func add(_ annotations: FlowAnnotations) { self.generations.append(annotations) }

    package func receive(_ event: DatapathEvent) {
        switch event {
        case .connectionEnded(let flow, let reason, let key):
            // HTTP transactions the connection left open are written first, with its key.
            if flow.applicationProtocol != 0 { self.application?.ended(flow, key: key, renderer: self) }
            // Whether the detectors alert about the connection is not known yet: the merger
            // marks the record when it writes it.
            self.flows.beginRecord()
            let alertedAt = FlowRecord.append(flow, reason: reason, annotations: self.annotations(of: flow),
                                              interfaces: self.interfaces, names: self.application?.names,
                                              communityIDSeed: self.communityIDSeed, to: &self.flows.block.buffer)
            self.flows.endRecord(key, flowID: flow.flowID, alertedAt: alertedAt)
            self.metrics?.countEnded(flow, reason: reason)
        case .connectionJudged(let flow, let flags, let key):
            guard let annotations = self.annotations(of: flow) else { return }
            if let hubble = self.hubble {
                Self.appendHubble(flow, firstPacketFlags: flags, annotations: annotations, interfaces: self.interfaces,
                                  names: self.application?.names, to: hubble, key: key)
            }
            if let metrics = self.metrics {
                Self.hubbleEvents(flow, annotations: annotations) { _, direction, decision, event in
                    metrics.countHubbleEvent(flow, direction: direction, decision: decision, event: event,
                                             verdictAsEnforced: annotations.verdictAsEnforced)
                }
            }
        case .finding(let finding, let flow, let time, let key):
            self.findings?.append(finding, flow: flow, time: time, key: key)
        }
    }

    /// The names of the generation that judged `flow` (none without an inventory).
    package func annotations(of flow: FlowEntry) -> FlowAnnotations? {
        let generation = Int(flow.policyGeneration)
        return generation < self.generations.count ? self.generations[generation] : self.generations.last
    }

    /// Hubble lines for a new connection: per enforced decision the policy-verdict line and,
    /// for an enforced drop, the drop line; egress before ingress (`primary` 0-3 within the
    /// packet's key).
    static func appendHubble(_ flow: FlowEntry, firstPacketFlags: UInt16, annotations: FlowAnnotations,
                             interfaces: InterfaceNames?, names: NameSets? = nil, to keyed: KeyedRecords, key: EmissionKey) {
        Self.hubbleEvents(flow, annotations: annotations) { place, direction, decision, event in
            keyed.beginRecord()
            HubbleRecord.append(flow, direction: direction, decision: decision, event: event,
                                firstPacketFlags: firstPacketFlags, nodeName: annotations.nodeName,
                                annotations: annotations, interfaces: interfaces, names: names,
                                to: &keyed.block.buffer)
            keyed.endRecord(EmissionKey(event: key.event, primary: key.primary + Int64(place), secondary: key.secondary))
        }
    }

    /// The Hubble events of a new connection, in their order (`place` 0-3): per enforced
    /// decision the policy-verdict event and, for an enforced drop, the drop event; egress
    /// before ingress. The `--hubble` lines and the metrics count the same events.
    @inline(__always)
    static func hubbleEvents(_ flow: FlowEntry, annotations: FlowAnnotations,
                             _ body: (Int, TrafficDirection, PolicyDecision, HubbleRecord.Event) -> Void) {
        for place in 0..<4 {
            let direction: TrafficDirection = place < 2 ? .egress : .ingress
            let evaluated = direction == .egress ? flow.egressEvaluated : flow.ingressEvaluated
            let decision = direction == .egress ? flow.egressDecision : flow.ingressDecision
            guard evaluated && decision.outcome != .notEnforced else { continue }
            let event: HubbleRecord.Event = place % 2 == 0 ? .policyVerdict : .drop
            if event == .drop && !HubbleRecord.hasDropEvent(decision, annotations: annotations) { continue }
            body(place, direction, decision, event)
        }
    }
}
