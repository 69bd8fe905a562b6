import Decoding
import FlowCore

/// The datapath for one stream of packets (one pipeline worker, or a single pass): it decodes,
/// attributes fragments, tracks connections, judges each new one against the loaded policy
/// (`PolicySnapshot.judge`, the same decision `policy explain` and `policy advise` make), runs
/// the per-connection checks, and emits what happens as `DatapathEvent`s to a sink, each keyed
/// by its place in single-pass order. It owns its tables; nothing is shared between programs.
/// Cilium's `bpf/` programs play this part there; the agent side only loads the numeric
/// snapshot (`load`) and reads the events.
///
/// `process` is the per-packet path: no allocation, no `String`, no existentials (the
/// malloc-counting tests hold it to that).
public final class DatapathProgram {
    public private(set) var capture = CaptureCounters()
    public private(set) var decode = DecodeCounters()
    let parser = LayerParser()
    public let flows: FlowTable
    public let fragments: FragmentTable
    let timeouts: FlowTimeouts
    /// The checks whose findings the detectors judge (none when alerts are off).
    public let checks: ConnectionChecks
    /// The identities, services and policy maps new connections are judged by, when an
    /// inventory was given, and the detectors' view of the cluster that goes with them.
    public private(set) var policy: PolicySnapshot?
    public private(set) var scope = DetectionScope.empty
    /// The generation of `policy` (0 at start, one more per reload), stored in each entry it judges.
    public private(set) var generation: UInt16 = 0
    /// The latest packet time seen.
    public private(set) var latestTime = CaptureTime.zero
    /// The event being processed (its place in capture order), and a counter inside it.
    public private(set) var event: UInt64 = 0
    var eventCounter: UInt64 = 0
    /// The connection the last packet processed was counted in (nil: none, e.g. a fragment held
    /// or a packet without IP): the application layer reads and annotates it right after
    /// `process`, before the next packet can end or reuse the slot.
    public private(set) var lastFlow: UnsafeMutablePointer<FlowEntry>?

    public init(maxFlows: Int, timeouts: FlowTimeouts, tunnelKey: TunnelKeyMode, maxFragmentDatagrams: Int,
                fragmentTimeout: Duration, checks: ConnectionChecks) {
        self.flows = FlowTable(capacity: maxFlows, timeouts: timeouts, tunnelKey: tunnelKey)
        self.fragments = FragmentTable(capacity: maxFragmentDatagrams, timeout: fragmentTimeout)
        self.timeouts = timeouts
        self.checks = checks
    }

    /// Loads the policy that judges connections starting from now on (at start, and on
    /// reload); connections already tracked keep their verdicts.
    public func load(_ policy: PolicySnapshot, scope: DetectionScope, generation: Int) {
        self.policy = policy
        self.scope = scope
        self.generation = UInt16(truncatingIfNeeded: generation)
    }

    /// Decodes and accounts one captured frame, event `event` in capture order. Returns the
    /// frame's link type when flowmon does not decode it and this is its first frame (the
    /// frame is counted and skipped).
    @discardableResult
    public func process<Sink: DatapathEventSink>(frame: PacketBytes, linkType: UInt32, event: UInt64,
                                                 time: CaptureTime, length: UInt32, sink: Sink) -> UInt32? {
        // A local, not a stored property: passing it on borrows it in place, where a value
        // read out of a class or through a pointer would be copied for every call.
        var summary = PacketSummary()
        return self.process(frame: frame, linkType: linkType, event: event, time: time, length: length,
                            summary: &summary, tap: { _ in }, sink: sink)
    }

    /// As `process(frame:…)`, decoding into the caller's `summary`, which `tap` sees (and may
    /// annotate: the capture thread's name cache) between decoding and the flow table; the
    /// caller reads it afterwards (the application layer). `summary.ipVersion` is 0 when the
    /// frame was not decoded.
    @inline(__always)
    public func process<Sink: DatapathEventSink>(frame: PacketBytes, linkType: UInt32, event: UInt64,
                                                 time: CaptureTime, length: UInt32, summary: inout PacketSummary,
                                                 tap: (inout PacketSummary) -> Void, sink: Sink) -> UInt32? {
        var unsupported: UInt32?
        guard let link = self.capture.linkLayer(linkType, onUnsupported: { unsupported = $0 }) else {
            self.countCaptured(length: length, time: time)
            summary.ipVersion = 0
            self.lastFlow = nil
            return unsupported
        }
        self.parser.parse(frame, link: link, into: &summary)
        tap(&summary)
        self.process(&summary, event: event, time: time, length: length, sink: sink)
        return nil
    }

    /// Accounts one decoded packet (a pipeline worker's, decoded by the capture thread).
    /// `prepared`: what `FlowTable.prefetchSlot` returned for it, if it was called.
    public func process<Sink: DatapathEventSink>(_ summary: inout PacketSummary, event: UInt64, time: CaptureTime,
                                                 length: UInt32, prepared: FlowTable.Prepared? = nil, sink: Sink) {
        self.event = event
        self.eventCounter = 0
        self.lastFlow = nil
        self.countCaptured(length: length, time: time)
        self.decode.count(summary, length: length)
        guard summary.ipVersion != 0 else { return }
        if summary.quotesConnection, self.flows.recordRelated(summary, time: time, length: length) { return }

        var extraPackets: UInt64 = 0
        var extraBytes: UInt64 = 0
        if summary.isFragment {
            switch self.fragments.observe(&summary, time: time, length: length) {
            case .held: return
            case .record(let packets, let bytes):
                extraPackets = packets
                extraBytes = bytes
            }
        }
        // A fragment's ports may have come from its datagram's first fragment since it was prepared.
        let (flow, isNew) = self.flows.record(summary, time: time, length: length, extraPackets: extraPackets,
                                              extraBytes: extraBytes, prepared: summary.isFragment ? nil : prepared) { flow, reason in
            self.end(flow, reason, sink: sink)
        }
        self.lastFlow = flow
        if summary.applicationProtocol != 0 { flow.pointee.applicationProtocol = summary.applicationProtocol }
        if isNew {
            // The names and `toFQDNs` selectors of the ends as the name cache knew them at the
            // connection's first packet, oriented as the connection is.
            let sameWay = flow.pointee.sourceAddress == summary.source
            flow.pointee.destinationNameSet = sameWay ? summary.destinationNameSet : summary.sourceNameSet
            flow.pointee.sourceNameSet = sameWay ? summary.sourceNameSet : summary.destinationNameSet
            if let policy = self.policy {
                self.classify(flow, by: policy,
                              destinationSelectors: sameWay ? summary.destinationSelectors : summary.sourceSelectors)
                sink.receive(.connectionJudged(flow.pointee,
                                               firstPacketFlags: summary.tcpHeaderLength > 0 ? summary.tcpFlags : 0,
                                               key: self.nextPacketKey()))
            }
        }
        if !self.checks.isEmpty { self.check(flow, isNew: isNew, summary: summary, time: time, sink: sink) }
    }

    /// Adds a kernel aggregate (eBPF mode 2, `FlowAggregate`) to its connection, as event
    /// `event` (the aggregates read before a sweep share the sweep's event number, numbered
    /// within it). A connection the table no longer had is created and judged as a first packet
    /// would be; no per-packet check runs (the packets are not here). Allocates nothing.
    public func apply<Sink: DatapathEventSink>(_ aggregate: FlowAggregate, event: UInt64, sink: Sink) {
        if event != self.event {
            self.event = event
            self.eventCounter = 0
        }
        if aggregate.last > self.latestTime { self.latestTime = aggregate.last }
        let (flow, isNew) = self.flows.apply(aggregate) { flow, reason in self.end(flow, reason, sink: sink) }
        if isNew, let policy = self.policy {
            self.classify(flow, by: policy)
            sink.receive(.connectionJudged(flow.pointee, firstPacketFlags: 0, key: self.nextPacketKey()))
        }
    }

    /// Counts a packet read and not decoded (or the pipeline's capture thread's, for this worker).
    func countCaptured(length: UInt32, time: CaptureTime) {
        self.capture.count(length: length, time: time)
        if time > self.latestTime { self.latestTime = time }
    }

    /// Counts a packet the capture filter rejected.
    public func countFilteredOut() { self.capture.filteredOut &+= 1 }

    /// Ends the connections idle at `now` (timeouts) and drops the fragments past their
    /// timeout, as event `event`.
    public func sweep<Sink: DatapathEventSink>(now: CaptureTime, event: UInt64, sink: Sink) {
        self.event = event
        self.flows.expire(now: now) { flow, reason in self.end(flow, reason, sink: sink) }
        self.fragments.expire(now: now)
    }

    /// Ends what is idle at `now`, then every remaining connection (reason `shutdown`), as
    /// events `event` and `event + 1`. After every `batch` connections, while more remain,
    /// `batchEnd` receives a key below every key the rest will be emitted with.
    public func endAll<Sink: DatapathEventSink>(at now: CaptureTime, event: UInt64, sink: Sink, batch: Int = .max,
                                                batchEnd: (_ bound: EmissionKey) -> Void = { _ in }) {
        self.sweep(now: now, event: event, sink: sink)
        self.event &+= 1
        // Shutdown records are keyed by start then flow id (`emissionKey`), and what a record
        // brings along (HTTP transactions, alerts) sorts at or after it.
        self.flows.flushAll(batch: batch, onEnd: { flow, reason in self.end(flow, reason, sink: sink) },
                            batchEnd: { nextStart in batchEnd(EmissionKey(event: self.event, primary: nextStart.nanoseconds, secondary: 0)) })
        self.fragments.flushAll()
    }

    /// Tags a connection that has just started with `PolicySnapshot.judge`: the port is the
    /// responder's port, or for ICMP the message type. The entry keeps the real destination
    /// address and port, and names the service when it was a ClusterIP service port.
    /// `destinationSelectors`: the `toFQDNs` selectors whose names resolved to the destination.
    @inline(__always)
    func classify(_ flow: UnsafeMutablePointer<FlowEntry>, by policy: PolicySnapshot, destinationSelectors: UInt64 = 0) {
        let judgement = policy.judge(source: flow.pointee.sourceAddress, destination: flow.pointee.destinationAddress,
                                     port: flow.pointee.judgedPort, ipProtocol: flow.pointee.ipProtocol,
                                     destinationSelectors: destinationSelectors)
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
        flow.pointee.policyGeneration = self.generation
    }

    /// A connection ended: its event, and a failed attempt's finding with the same key (the
    /// detectors' alerts about it follow its record).
    func end<Sink: DatapathEventSink>(_ flow: borrowing FlowEntry, _ reason: FlowEndReason, sink: Sink) {
        let key = self.emissionKey(flow, reason)
        sink.receive(.connectionEnded(copy flow, reason: reason, key: key))
        guard self.checks.contains(.failedAttempts) else { return }
        if flow.isFailedAttempt { sink.receive(.finding(.failedAttempt, copy flow, time: flow.start, key: key)) }
    }

    /// The next key of the event under way: what the packet being processed emits, in order
    /// (the application layer's records of a packet follow its connection's events).
    @inline(__always)
    public func nextPacketKey() -> EmissionKey {
        self.eventCounter &+= 1
        return EmissionKey(event: self.event, primary: 0, secondary: self.eventCounter)
    }

    /// The record's place in single-pass order: expiries by deadline then flow id (the order
    /// `FlowTable.expire` ends them in), shutdown by start then flow id (`flushAll`),
    /// evictions and port reuse in the order their packet caused them.
    func emissionKey(_ flow: borrowing FlowEntry, _ reason: FlowEndReason) -> EmissionKey {
        switch reason {
        case .timeout:
            let timeout = self.timeouts.nanoseconds(for: flow.phase)
            let (deadline, overflow) = flow.lastActivity.addingReportingOverflow(timeout)
            return EmissionKey(event: self.event, primary: overflow ? .max : deadline, secondary: flow.flowID)
        case .shutdown:
            return EmissionKey(event: self.event, primary: flow.start.nanoseconds, secondary: flow.flowID)
        case .evicted, .tcpReuse:
            return self.nextPacketKey()
        }
    }
}

extension FlowEntry {
    /// The port a connection is judged on: the responder's port, or for ICMP the initiator's
    /// message type (Cilium matches ICMP rules on the type); 0 for other protocols.
    public var judgedPort: UInt16 {
        self.hasICMP ? UInt16(self.icmpType) : self.hasPorts ? self.destinationPort : 0
    }
}
