import Datapath
import Detection
import FlowCore
import Output

/// The detectors and the writing of their alerts. There is one per run: the merger feeds it
/// every worker's events in single-pass order. Alerts are rendered into keyed records so they
/// merge with flow records in capture order.
final class AlertStage {
    let engine: DetectorEngine
    /// The identity/policy generations, numbered as `FlowEntry.policyGeneration` counts them,
    /// for the scope and the names of each connection's generation.
    var contexts: [PolicyContext]
    let records = KeyedRecords()
    private var counter: UInt64 = 0
    /// Events the workers could not hand over, summed.
    var eventsDropped: UInt64 = 0
    /// The connections an alert was raised about (written, or folded into a summary), by flow
    /// id, until their flow record is written with `flow.alerted` true: Suricata sets its
    /// flow's `FLOW_HAS_ALERTS` when a packet of the flow alerts (`detect-engine-alert.c`), and
    /// the flow log writes it as `alerted`. Every such event comes before, or in the same
    /// epoch as, the record of its connection (a failed attempt is raised as the record is
    /// written), so the stage knows it when the record is written.
    private var alerted = Set<UInt64>()
    /// The epoch's events in single-pass order, kept from epoch to epoch.
    private var order: [KeyedItem] = []

    /// The names of the interfaces connections were observed on (live capture).
    let interfaces: InterfaceNames?

    /// The seed of the alerts' `community_id` (`--community-id-seed`).
    let communityIDSeed: UInt16

    init(settings: DetectorSettings, contexts: [PolicyContext], interfaces: InterfaceNames?, communityIDSeed: UInt16 = 0) {
        self.interfaces = interfaces
        self.communityIDSeed = communityIDSeed
        self.engine = DetectorEngine(settings: settings)
        self.contexts = contexts
        // Room for the alerted connections that are open at once, so a single pass (which
        // runs the stage at its sweeps, on the packet path) does not allocate for them.
        self.alerted.reserveCapacity(Self.alertedCapacity)
        self.order.reserveCapacity(1024)
    }

    static let alertedCapacity = 4096

    /// Whether an alert was raised about the connection `flowID`; forgets it, since its record
    /// is being written.
    func takeAlerted(_ flowID: UInt64) -> Bool {
        self.alerted.remove(flowID) != nil
    }

    /// Runs the events of `buffers` (every worker's, an epoch's or what pieces of the last
    /// one allow) whose keys are at or above `from` and below `bound` (nil: no limit), in
    /// single-pass order.
    func observe(_ buffers: [FindingBuffer], from: EmissionKey?, below bound: EmissionKey?) {
        self.order.removeAll(keepingCapacity: true)
        for buffer in 0..<buffers.count {
            let entries = buffers[buffer].entries
            for index in 0..<entries.count {
                let key = entries[index].key
                if key.lies(from: from, below: bound) { self.order.append((key, buffer, index)) }
            }
        }
        self.order.sortByKey()
        for item in 0..<self.order.count {
            let (_, buffer, index) = self.order[item]
            self.observe(buffers[buffer].entries[index], in: buffers[buffer])
        }
    }

    /// One finding of `buffer`: an alert it raises shows the DNS name kept beside it.
    func observe(_ found: FindingBuffer.Entry, in buffer: FindingBuffer) {
        let context = self.context(for: found.flow)
        let raised = self.engine.observe(found.finding, flow: found.flow, time: found.time,
                                         scope: context?.detection ?? .empty) {
            fire, flow in
            let name = fire.isSummary ? nil : fire.dns.map { buffer.name(of: $0) }
            self.render(fire, flow: flow, key: found.key, dnsName: name)
        }
        if raised { self.alerted.insert(found.flow.flowID) }
    }

    /// Closes the aggregation windows ended by `time`; their summaries take `key` (after
    /// everything else of that sweep).
    func advance(to time: CaptureTime, event: UInt64) {
        self.engine.advance(to: time) { fire, flow in
            self.render(fire, flow: flow, key: EmissionKey(event: event, primary: .max, secondary: .max))
        }
    }

    func finish(event: UInt64) {
        self.engine.finish { fire, flow in
            self.render(fire, flow: flow, key: EmissionKey(event: event, primary: .max, secondary: .max))
        }
    }

    var counters: AlertCounters {
        var counters = self.engine.counters
        counters.eventsDropped = self.eventsDropped
        return counters
    }

    private func context(for flow: FlowEntry) -> PolicyContext? {
        let generation = Int(flow.policyGeneration)
        return generation < self.contexts.count ? self.contexts[generation] : self.contexts.last
    }

    private func render(_ fire: AlertFire, flow: FlowEntry, key: EmissionKey, dnsName: UnsafeRawBufferPointer? = nil) {
        self.counter &+= 1
        self.records.beginRecord()
        AlertRecord.append(fire, flow: flow, severity: self.engine.settings.severity(of: fire.kind),
                           annotations: self.context(for: flow)?.annotations, interfaces: self.interfaces,
                           dnsName: dnsName, communityIDSeed: self.communityIDSeed, to: &self.records.block.buffer)
        // The counter keeps alerts of one event in the order they were raised.
        self.records.endRecord(EmissionKey(event: key.event, primary: key.primary, secondary: key.secondary,
                                           alertOrder: self.counter))
    }
}
