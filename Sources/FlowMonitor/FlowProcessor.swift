import Capture
import Datapath
import Decoding
import FlowCore
import Output

/// Settings of the per-packet stages, shared by replay and (later) live capture.
public struct ProcessorConfiguration: Sendable {
    /// Flow table capacity (`--max-flows`).
    public var maxFlows: Int
    public var timeouts: FlowTimeouts
    /// How the tunnel VNI is part of the connection key (`--tunnel-key`).
    public var tunnelKey: TunnelKeyMode
    /// Datagrams tracked for fragment attribution.
    public var maxFragmentDatagrams: Int
    public var fragmentTimeout: Duration
    /// The detectors' settings, or nil when alerts are off (`--no-alerts`).
    public var detectors: DetectorSettings?

    public init(maxFlows: Int = 65_536, timeouts: FlowTimeouts = FlowTimeouts(), tunnelKey: TunnelKeyMode = .auto,
                maxFragmentDatagrams: Int = 8192, fragmentTimeout: Duration = .seconds(60),
                detectors: DetectorSettings? = nil) {
        self.detectors = detectors
        self.maxFlows = maxFlows
        self.timeouts = timeouts
        self.tunnelKey = tunnelKey
        self.maxFragmentDatagrams = maxFragmentDatagrams
        self.fragmentTimeout = fragmentTimeout
    }
}

/// The datapath for one stream of packets: decode, attribute fragments, track flows, and
/// key the records of flows that end (and the Hubble lines and detector events of new ones)
/// by their place in capture order. One instance per pipeline worker; nothing shared. A
/// single pass on one thread is the same thing with one worker: `process` hands each epoch
/// to a `Merger` of its own, which writes it, as the pipeline's merger does.
///
/// `process` is the per-packet path: no allocation, no `String`, no existentials
/// (the malloc-counting test holds it to that).
public final class FlowProcessor {
    public let configuration: ProcessorConfiguration
    public let output: JSONLinesOutput
    public private(set) var capture = CaptureCounters()
    public private(set) var decode = DecodeCounters()
    let parser = LayerParser()
    let flows: FlowTable
    let fragments: FragmentTable
    var sweeps = SweepSchedule()
    var packetsProcessed: UInt64 = 0
    var latestTime = CaptureTime.zero
    /// Called once for each link type flowmon does not decode.
    let onUnsupportedLinkType: (UInt32) -> Void
    /// Identities and policies, when an inventory was given.
    public internal(set) var policy: PolicyContext? {
        didSet { if let policy { self.policyGenerations.append(policy) } }
    }
    /// Every policy context this processor has used (SIGHUP adds one); flow records are
    /// named with the one that judged them.
    var policyGenerations: [PolicyContext] = []

    /// A single pass on one thread, writing to `output` (and to the policy's Hubble output).
    public convenience init(configuration: ProcessorConfiguration, output: JSONLinesOutput, policy: PolicyContext? = nil,
                            onUnsupportedLinkType: @escaping (UInt32) -> Void = { _ in }) {
        self.init(configuration: configuration, output: output, policy: policy,
                  merger: Merger(workers: 1, output: output, policy: policy, detectors: configuration.detectors,
                                 statsInterval: nil),
                  onUnsupportedLinkType: onUnsupportedLinkType)
    }

    /// A processor for one pipeline worker (`merger` nil: its records are handed to the
    /// pipeline's merger), or a single pass with its own.
    init(configuration: ProcessorConfiguration, output: JSONLinesOutput, policy: PolicyContext?, merger: Merger?,
         onUnsupportedLinkType: @escaping (UInt32) -> Void) {
        self.merger = merger
        self.keyedHubble = policy?.hubble != nil ? KeyedRecords() : nil
        if let detectors = configuration.detectors {
            self.detectors = detectors.enabled == 0 ? nil : detectors.enabled
            self.alertEvents = AlertEventBuffer(capacity: detectors.maxPendingEvents)
        }
        self.configuration = configuration
        self.output = output
        self.policy = policy
        if let policy { self.policyGenerations = [policy] }
        self.flows = FlowTable(capacity: configuration.maxFlows, timeouts: configuration.timeouts,
                               tunnelKey: configuration.tunnelKey)
        self.fragments = FragmentTable(capacity: configuration.maxFragmentDatagrams,
                                       timeout: configuration.fragmentTimeout)
        self.onUnsupportedLinkType = onUnsupportedLinkType
    }

    /// The records of the epoch under way, keyed for the merge: flow records and Hubble lines.
    var keyedFlows = KeyedRecords()
    var keyedHubble: KeyedRecords?
    /// The event being processed (its place in capture order), and a counter inside it.
    var event: UInt64 = 0
    var eventCounter: UInt64 = 0
    /// The enabled detectors (`DetectorSettings.enabled`) when alerts are on, and their events
    /// of the epoch under way, for the merger's detectors.
    var detectors: UInt8?
    var alertEvents: AlertEventBuffer?
    /// A single pass's writer; nil for a pipeline worker.
    let merger: Merger?
    /// A single pass's `--alerts` file (alerts are also written to `output`).
    public var alertsOutput: JSONLinesOutput? {
        get { self.merger?.alerts }
        set { self.merger?.alerts = newValue }
    }

    /// A single pass: processes one captured packet, numbered as the pipeline's reading thread
    /// numbers it. Once per second of packet time (and every `SweepSchedule.packets` packets)
    /// idle flows are swept first, which ends an epoch: the merger writes its records.
    public func process(_ packet: CapturedPacket) throws(OutputError) {
        let sequence = self.packetsProcessed
        self.packetsProcessed &+= 1
        if self.sweeps.isDue(time: packet.time, packets: sequence), let merger = self.merger {
            self.endEpoch(2 &* sequence, at: packet.time, last: false, into: merger)
            if let error = merger.failure { throw error }
        }
        guard let link = self.capture.linkLayer(of: packet, onUnsupported: self.onUnsupportedLinkType) else {
            self.countCaptured(length: packet.originalLength, time: packet.time)
            return
        }
        // A local, not a stored property: passing it on borrows it in place, where a value
        // read out of a class or through a pointer would be copied for every call.
        var summary = PacketSummary()
        self.parser.parse(packet.bytes, link: link, into: &summary)
        self.accountDecoded(&summary, event: 2 &* sequence &+ 1, time: packet.time, length: packet.originalLength)
    }

    /// Ends an epoch as event `event`: sweeps at `time` (the `last`, at the end: ends every
    /// flow) and hands the epoch's records to `merger`, which writes them when it can.
    func endEpoch(_ event: UInt64, at time: CaptureTime, last: Bool, into merger: Merger, worker: Int = 0) {
        self.event = event
        if last { self.endFlows(at: time) } else { self.sweep(now: time) }
        merger.deposit(worker: worker, processor: self, time: last ? nil : time.nanoseconds)
    }

    /// Accounts one decoded packet (the pipeline's workers get packets already decoded).
    func account(_ summary: inout PacketSummary, time: CaptureTime, length: UInt32) {
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
        let (flow, isNew) = self.flows.record(summary, time: time, length: length,
                                              extraPackets: extraPackets, extraBytes: extraBytes) { flow, reason in
            self.write(flow, reason)
        }
        defer { if let detectors = self.detectors { self.detect(flow, isNew: isNew, summary: summary, time: time, detectors) } }
        if isNew, let policy = self.policy {
            policy.classify(flow)
            flow.pointee.policyGeneration = UInt16(truncatingIfNeeded: self.policyGenerations.count - 1)
            if let keyed = self.keyedHubble {
                self.eventCounter &+= 1
                policy.appendHubble(flow.pointee, firstPacketFlags: summary.tcpHeaderLength > 0 ? summary.tcpFlags : 0,
                                    to: keyed, key: EmissionKey(event: self.event, primary: 0, secondary: self.eventCounter))
            }
        }
    }

    /// A decoded packet (a pipeline worker's, decoded by the capture thread): `event` is its
    /// place in capture order.
    @inline(__always)
    func accountDecoded(_ summary: inout PacketSummary, event: UInt64, time: CaptureTime, length: UInt32) {
        self.event = event
        self.eventCounter = 0
        self.countCaptured(length: length, time: time)
        self.account(&summary, time: time, length: length)
    }

    /// Counts a packet read (here, or by the pipeline's capture thread for this worker).
    func countCaptured(length: UInt32, time: CaptureTime) {
        self.capture.count(length: length, time: time)
        if time > self.latestTime { self.latestTime = time }
    }

    /// Counts a packet the capture filter rejected.
    public func countFilteredOut() { self.capture.filteredOut &+= 1 }

    /// A single pass: ends every flow, writes the final `stats` record, and flushes the outputs.
    /// Called at the end of input, on a stop signal, or after an input error (`inputError`),
    /// so flows seen before an error are never lost.
    public func finish(inputError: String? = nil) throws(OutputError) {
        guard let merger = self.merger else { return }
        self.endEpoch(2 &* self.packetsProcessed &+ 2, at: self.latestTime, last: true, into: merger)
        if let error = merger.failure { throw error }
        StatsRecord.append(self.statistics(inputError: inputError), to: &self.output.buffer)
        try self.output.endLine()
        try merger.flush()
    }

    /// Expires what is idle at `now`, then ends every remaining flow (reason `shutdown`).
    func endFlows(at now: CaptureTime) {
        self.flows.expire(now: now) { flow, reason in self.write(flow, reason) }
        self.event &+= 1
        self.flows.flushAll { flow, reason in self.write(flow, reason) }
        self.fragments.flushAll()
    }

    /// The counters as they stand.
    public func statistics(inputError: String? = nil) -> StatsSnapshot {
        var snapshot = StatsSnapshot(time: self.latestTime, capture: self.capture, decode: self.decode,
                                     flows: self.flows.counters, activeFlows: self.flows.count,
                                     fragments: self.fragments.counters, inputError: inputError)
        snapshot.alerts = self.merger?.alertStage?.counters
        return snapshot
    }

    /// Ends the flows idle at `now` (timeouts) and the fragments past their timeout.
    func sweep(now: CaptureTime) {
        self.flows.expire(now: now) { flow, reason in self.write(flow, reason) }
        self.fragments.expire(now: now)
    }

    func write(_ flow: FlowEntry, _ reason: FlowEndReason) {
        let generation = Int(flow.policyGeneration)
        let annotations = generation < self.policyGenerations.count ? self.policyGenerations[generation].annotations
            : self.policy?.annotations
        // Whether the merger's detectors alert about the connection is not known yet: the
        // merger marks the record when it writes it (`Merger.write`).
        let key = self.emissionKey(flow, reason)
        self.keyedFlows.beginRecord()
        let alertedAt = FlowRecord.append(flow, reason: reason, annotations: annotations, to: &self.keyedFlows.block.buffer)
        self.keyedFlows.endRecord(key, flowID: flow.flowID, alertedAt: alertedAt)
        if self.detectors != nil && flow.isFailedAttempt { self.raise(.failedAttempt, flow: flow, time: flow.start, key: key) }
    }

    // MARK: Detectors

    /// The per-connection checks, on numbers only: invalid TCP flags and tunnel identities on
    /// any packet (each once per connection); on a new connection, ICMP echo requests (sweeps), would-be drops,
    /// spoofed pod-CIDR sources, and sensitive workloads reaching `world`.
    @inline(__always)
    func detect(_ flow: UnsafeMutablePointer<FlowEntry>, isNew: Bool, summary: borrowing PacketSummary,
                time: CaptureTime, _ enabled: UInt8) {
        @inline(__always) func on(_ detector: AlertDetector) -> Bool { enabled & (1 << detector.rawValue) != 0 }
        if summary.tcpHeaderLength > 0, flow.pointee.raisedAlerts & FlowEntry.raisedInvalidFlags == 0,
           on(.invalidTCPFlags), let kind = AlertKind.invalidFlags(summary.tcpFlags) {
            flow.pointee.raisedAlerts |= FlowEntry.raisedInvalidFlags
            self.raise(.raise(kind), flow: flow.pointee, time: time, key: self.packetEventKey())
        }
        if summary.tunnel.hasVNI, flow.pointee.hasPolicyVerdict,
           flow.pointee.raisedAlerts & FlowEntry.raisedTunnelMismatch == 0, on(.spoofedSource),
           let policy = self.policy, policy.detection.checksTunnelIdentity {
            // The sender of this packet: the initiator or the responder.
            let fromInitiator = summary.source == flow.pointee.sourceAddress
            let sender = fromInitiator ? flow.pointee.sourceIdentity : flow.pointee.destinationIdentity
            let vni = summary.tunnelVNI
            if !sender.matchesTunnelIdentity(vni) {
                flow.pointee.raisedAlerts |= FlowEntry.raisedTunnelMismatch
                self.raise(.tunnelMismatch(vni: vni, senderIdentity: sender.rawValue), flow: flow.pointee,
                           time: time, key: self.packetEventKey())
            }
        }
        guard isNew else { return }
        if flow.pointee.isEchoRequest && on(.icmpSweep) {
            self.raise(.echoRequest, flow: flow.pointee, time: time, key: self.packetEventKey())
        }
        guard let policy = self.policy else { return }
        if on(.policyViolation) && flow.pointee.wouldDrop != nil {
            self.raise(.raise(.policyViolation), flow: flow.pointee, time: time, key: self.packetEventKey())
        }
        let scope = policy.detection
        if on(.spoofedSource) && flow.pointee.sourceEndpoint == 0
            && (flow.pointee.sourceIdentity.isWorld || flow.pointee.sourceIdentity == .unknown)
            && scope.isInPodCIDR(flow.pointee.sourceAddress) {
            self.raise(.raise(.spoofedSource), flow: flow.pointee, time: time, key: self.packetEventKey())
        }
        if on(.worldEgress) && flow.pointee.egressEvaluated
            && flow.pointee.destinationIdentity.isWorldOrCIDR
            && scope.sensitiveIdentities.contains(flow.pointee.sourceIdentity.rawValue) {
            self.raise(.raise(.worldEgress), flow: flow.pointee, time: time, key: self.packetEventKey())
        }
    }

    @inline(__always)
    func packetEventKey() -> EmissionKey {
        self.eventCounter &+= 1
        return EmissionKey(event: self.event, primary: 0, secondary: self.eventCounter)
    }

    /// Queues one event for the merger's detectors.
    func raise(_ input: DetectorInput, flow: FlowEntry, time: CaptureTime, key: EmissionKey) {
        self.alertEvents?.append(input, time: time, key: key, flow: flow)
    }

    /// The record's place in single-pass order: expiries by deadline then flow id (the order
    /// `FlowTable.expire` ends them in), shutdown by start then flow id (`flushAll`),
    /// evictions and port reuse in the order their packet caused them.
    func emissionKey(_ flow: FlowEntry, _ reason: FlowEndReason) -> EmissionKey {
        switch reason {
        case .timeout:
            let timeout = self.configuration.timeouts.nanoseconds(for: flow.phase)
            let (deadline, overflow) = flow.lastActivity.addingReportingOverflow(timeout)
            return EmissionKey(event: self.event, primary: overflow ? .max : deadline, secondary: flow.flowID)
        case .shutdown:
            return EmissionKey(event: self.event, primary: flow.start.nanoseconds, secondary: flow.flowID)
        case .evicted, .tcpReuse:
            self.eventCounter &+= 1
            return EmissionKey(event: self.event, primary: 0, secondary: self.eventCounter)
        }
    }
}

extension CaptureCounters {
    /// The packet's link layer; nil for a link type flowmon does not decode, which is counted,
    /// and `onUnsupported` told the first time it is met.
    mutating func linkLayer(of packet: CapturedPacket, onUnsupported: (UInt32) -> Void) -> LinkLayer? {
        if let link = LinkLayer(linkType: packet.linkType) { return link }
        if self.countUnsupported(linkType: packet.linkType) { onUnsupported(packet.linkType) }
        return nil
    }
}
