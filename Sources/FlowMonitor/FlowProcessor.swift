import Capture
import Datapath
import Decoding
import Detection
import FlowCore
import L7
import Output

/// Settings of the per-packet stages, shared by replay and (later) live capture.
package struct ProcessorConfiguration: Sendable {
    /// Flow table capacity (`--max-flows`).
    package var maxFlows: Int
    /// The default capacity: Cilium's default conntrack size (`bpf-ct-global-tcp-max`, 512Ki
    /// entries), which a node's connections fit in. The table's memory is mapped lazily, so a
    /// capture pays only for the flows it has (`FlowTable.bytesPerFlow` each, at most).
    package static let defaultMaxFlows = 524_288
    package var timeouts: FlowTimeouts
    /// How the tunnel VNI is part of the connection key (`--tunnel-key`).
    package var tunnelKey: TunnelKeyMode
    /// Datagrams tracked for fragment attribution.
    package var maxFragmentDatagrams: Int
    package var fragmentTimeout: Duration
    /// The detectors' settings, or nil when alerts are off (`--no-alerts`).
    package var detectors: DetectorSettings?
    /// The detectors' settings as the merger runs them: a fold hold the configuration does not
    /// give waits for this run's new-connection timeout plus 2 s (docs/alerts.md, "Folding").
    package var alertSettings: DetectorSettings? {
        self.detectors.map { settings in
            var settings = settings
            if settings.foldHold == nil { settings.foldHold = self.timeouts.new.flowmonNanoseconds &+ 2_000_000_000 }
            return settings
        }
    }
    /// Count for the metrics page (`--metrics-address`): each worker's `FlowMetrics`.
    package var metrics = false
    /// The application layer (DNS, HTTP, TLS), or nil when it is off (`--no-l7`).
    package var application: ApplicationSettings? = ApplicationSettings()
    /// The seed of flow and alert records' `community_id` (`--community-id-seed`; Suricata's
    /// `community-id-seed`).
    package var communityIDSeed: UInt16 = 0

    package init(maxFlows: Int = Self.defaultMaxFlows, timeouts: FlowTimeouts = FlowTimeouts(), tunnelKey: TunnelKeyMode = .auto,
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

/// One stream of packets (a pipeline worker's, or a single pass): a `DatapathProgram` and the
/// `EventRenderer` its events go to, handed to a `Merger` epoch by epoch. A single pass on one
/// thread is the same thing with a one-worker `Merger` of its own, which writes each epoch as
/// the pipeline's merger does: there is one way a record is written.
package final class FlowProcessor {
    package let configuration: ProcessorConfiguration
    package let output: JSONLinesOutput
    package let program: DatapathProgram
    let renderer: EventRenderer
    /// Decoded packets waiting their turn while the flow table prefetches for them (pipeline workers).
    let readAhead: ReadAhead
    var sweeps = SweepSchedule()
    var packetsProcessed: UInt64 = 0
    /// Called once for each link type flowmon does not decode.
    let onUnsupportedLinkType: (UInt32) -> Void
    /// A single pass's writer; nil for a pipeline worker.
    let merger: Merger?
    /// A single pass's look at application payload (the pipeline's capture thread has its own).
    let tap: ApplicationTap?
    /// Where the HTTP connections the application layer stopped reading go: the tap's (the
    /// pipeline sets its own on each worker's processor before they start).
    var stops: FollowStops?

    /// A single pass on one thread, writing to `output` (and Hubble lines to `hubble`).
    package convenience init(configuration: ProcessorConfiguration, output: JSONLinesOutput, policy: PolicyContext? = nil,
                            hubble: JSONLinesOutput? = nil, onUnsupportedLinkType: @escaping (UInt32) -> Void = { _ in }) {
        self.init(configuration: configuration, output: output, policy: policy, hubble: hubble != nil,
                  merger: Merger(workers: 1, output: output, hubble: hubble, policy: policy,
                                 detectors: configuration.alertSettings, statsInterval: nil, metrics: configuration.metrics,
                                 communityIDSeed: configuration.communityIDSeed),
                  onUnsupportedLinkType: onUnsupportedLinkType)
    }

    /// A processor for one pipeline worker (`merger` nil: its records are handed to the
    /// pipeline's merger), or a single pass with its own.
    init(configuration: ProcessorConfiguration, output: JSONLinesOutput, policy: PolicyContext?, hubble: Bool,
         merger: Merger?, interfaces: InterfaceNames? = nil, names: NameSets? = nil,
         onUnsupportedLinkType: @escaping (UInt32) -> Void) {
        self.configuration = configuration
        self.output = output
        self.merger = merger
        // A single pass reads application payload itself; a worker gets the capture thread's.
        self.tap = merger != nil ? configuration.application.map { ApplicationTap($0, policy: policy) } : nil
        self.stops = self.tap?.stops
        self.onUnsupportedLinkType = onUnsupportedLinkType
        self.program = DatapathProgram(maxFlows: configuration.maxFlows, timeouts: configuration.timeouts,
                                       tunnelKey: configuration.tunnelKey,
                                       maxFragmentDatagrams: configuration.maxFragmentDatagrams,
                                       fragmentTimeout: configuration.fragmentTimeout,
                                       checks: configuration.detectors?.connectionChecks ?? [])
        self.readAhead = ReadAhead(flows: self.program.flows)
        let nameSets = names ?? self.tap?.cache.nameSets ?? NameSets()
        self.renderer = EventRenderer(hubble: hubble, findingCapacity: configuration.detectors?.maxPendingEvents,
                                      interfaces: interfaces, metrics: configuration.metrics,
                                      application: configuration.application.map { settings in
                                          ApplicationRecorder(settings: settings, names: nameSets,
                                                              detectors: configuration.detectors)
                                      }, communityIDSeed: configuration.communityIDSeed)
        if let policy { self.load(policy) }
    }

    /// Judges connections that start from now on by `policy` (at start, and on reload).
    func load(_ policy: PolicyContext) {
        self.program.load(policy.snapshot, scope: policy.detection, generation: self.renderer.generations.count)
        self.renderer.add(policy.annotations)
        self.renderer.application?.dnsAlerts?.add(policy.detection)
    }

    /// A single pass's `--alerts` file (alerts are also written to `output`).
    package var alertsOutput: JSONLinesOutput? {
        get { self.merger?.alerts }
        set { self.merger?.alerts = newValue }
    }

    /// A single pass: processes one captured packet, numbered as the pipeline's reading thread
    /// numbers it. Once per second of packet time (and every `SweepSchedule.packets` packets)
    /// idle flows are swept first, which ends an epoch: the merger writes its records.
    package func process(_ packet: CapturedPacket) throws(OutputError) {
        let sequence = self.packetsProcessed
        self.packetsProcessed &+= 1
        if self.sweeps.isDue(time: packet.time, packets: sequence), let merger = self.merger {
            self.endEpoch(2 &* sequence, at: packet.time, last: false, into: merger)
            if let error = merger.failure { throw error }
        }
        guard let tap = self.tap else {
            if let unsupported = self.program.process(frame: packet.bytes, linkType: packet.linkType,
                                                      event: 2 &* sequence &+ 1, time: packet.time,
                                                      length: packet.originalLength, sink: self.renderer) {
                self.onUnsupportedLinkType(unsupported)
            }
            return
        }
        var summary = PacketSummary()
        var carriesPayload = false
        if let unsupported = self.program.process(
            frame: packet.bytes, linkType: packet.linkType, event: 2 &* sequence &+ 1, time: packet.time,
            length: packet.originalLength, summary: &summary,
            tap: { carriesPayload = tap.observe(&$0, frame: packet.bytes, time: packet.time) }, sink: self.renderer)
        {
            self.onUnsupportedLinkType(unsupported)
        }
        if carriesPayload { self.observeApplication(summary, payload: ApplicationTap.payload(of: summary, in: packet.bytes), time: packet.time) }
    }

    /// Hands a packet's application payload to the renderer's application layer, with the
    /// connection the program just counted it in.
    func observeApplication(_ summary: borrowing PacketSummary, payload: UnsafeRawBufferPointer, time: CaptureTime) {
        guard let application = self.renderer.application, let flow = self.program.lastFlow else { return }
        let program = self.program
        application.observe(summary, payload: payload, flow: flow, time: time, renderer: self.renderer,
                            nextKey: { program.nextPacketKey() })
        if !application.stoppedHTTP.isEmpty {
            self.stops?.add(application.stoppedHTTP)
            application.stoppedHTTP.removeAll(keepingCapacity: true)
        }
    }

    /// A decoded packet (a pipeline worker's, decoded by the capture thread): `event` is its
    /// place in capture order; `prepared`, its flow-table key when already worked out (`ReadAhead`).
    @inline(__always)
    func process(_ summary: inout PacketSummary, event: UInt64, time: CaptureTime, length: UInt32,
                 prepared: FlowTable.Prepared? = nil) {
        self.program.process(&summary, event: event, time: time, length: length, prepared: prepared, sink: self.renderer)
    }

    /// A decoded packet with its application payload (the capture thread's `ApplicationTap` chose it).
    func process(_ summary: inout PacketSummary, payload: UnsafeRawBufferPointer, event: UInt64, time: CaptureTime,
                 length: UInt32) {
        self.program.process(&summary, event: event, time: time, length: length, sink: self.renderer)
        self.observeApplication(summary, payload: payload, time: time)
    }

    /// A kernel aggregate (eBPF mode 2) for a connection of this worker's shards.
    @inline(__always)
    func apply(_ aggregate: FlowAggregate, event: UInt64) {
        self.program.apply(aggregate, event: event, sink: self.renderer)
    }

    /// Ends an epoch as event `event`: sweeps at `time` (the `last`, at the end: ends every
    /// flow) and hands the epoch's records to `merger`, which writes them when it can.
    func endEpoch(_ event: UInt64, at time: CaptureTime, last: Bool, into merger: Merger, worker: Int = 0) {
        if last {
            // The connections still open are handed over a batch at a time, so the records of
            // the end of a run are written as they are made instead of held all at once.
            self.program.endAll(at: time, event: event, sink: self.renderer, batch: Self.endBatch) { bound in
                merger.deposit(worker: worker, processor: self, time: nil, bound: bound)
            }
        } else {
            self.program.sweep(now: time, event: event, sink: self.renderer)
        }
        merger.deposit(worker: worker, processor: self, time: last ? nil : time.nanoseconds)
    }

    /// Connections ended per hand-over at the end of a run.
    static let endBatch = 8192

    /// Counts a packet the capture filter rejected.
    package func countFilteredOut() { self.program.countFilteredOut() }

    /// A single pass: ends every flow, writes the final `stats` record, and flushes the outputs.
    /// Called at the end of input, on a stop signal, or after an input error (`inputError`),
    /// so flows seen before an error are never lost.
    package func finish(inputError: String? = nil) throws(OutputError) {
        guard let merger = self.merger else { return }
        self.endEpoch(2 &* self.packetsProcessed &+ 2, at: self.program.latestTime, last: true, into: merger)
        if let error = merger.failure { throw error }
        StatsRecord.append(self.statistics(inputError: inputError), to: &self.output.buffer)
        try self.output.endLine()
        try merger.flush()
    }

    /// The counters as they stand.
    package func statistics(inputError: String? = nil) -> StatsSnapshot {
        var snapshot = self.datapathStatistics(inputError: inputError)
        snapshot.alerts = self.merger?.alertStage?.counters
        return snapshot
    }

    /// The datapath's counters, without the detectors' (whose copy allocates): what a worker
    /// hands over with each epoch.
    func datapathStatistics(inputError: String? = nil) -> StatsSnapshot {
        let program = self.program
        var snapshot = StatsSnapshot(time: program.latestTime, capture: program.capture, decode: program.decode,
                                     flows: program.flows.counters, activeFlows: program.flows.count,
                                     fragments: program.fragments.counters, inputError: inputError)
        if let application = self.renderer.application {
            var counts = application.counters
            self.tap?.addCounts(to: &counts)
            snapshot.application = counts
        }
        return snapshot
    }
}
