import Datapath
import Detection
import FlowCore
import Foundation
import Output

/// Collects the workers' keyed records epoch by epoch and writes each epoch, merged in
/// single-pass order, once every worker has handed it over. The last epoch (every connection
/// still open at the end) comes in pieces, each with a bound no later record falls below:
/// what every worker's bound has passed is written at once, so the end of a run is written
/// in bounded memory. The only writer of the output.
/// Also writes the periodic `stats` records and a `lost` record whenever packets were lost
/// since the last report (Hubble's `lost_events_total`, as records).
///
/// The buffers an epoch is sorted and written with are kept from epoch to epoch: once warmed
/// up, writing an epoch allocates nothing (a single pass runs it on its packet path).
final class Merger: @unchecked Sendable {
    /// What one worker hands over at the end of an epoch.
    struct Epoch {
        var flows: KeyedRecords
        var hubble: KeyedRecords?
        /// The worker's counters, when periodic `stats` records are written.
        var statistics: StatsSnapshot?
        /// The sweep's packet time; nil for the last epoch (the end).
        var time: Int64?
        var findings: FindingBuffer?
        /// The worker's counts for the metrics page (`--metrics-address`).
        var metrics: FlowMetrics?
        /// The event number that closed the epoch.
        var event: UInt64
        /// For a piece of the last epoch that more pieces follow: every record the worker
        /// hands over later has a key at or above it. nil: the epoch is complete.
        var bound: EmissionKey?
    }

    private let lock = NSLock()
    let output: JSONLinesOutput
    let hubble: JSONLinesOutput?
    /// Per worker, the epochs handed over and not yet written.
    private var queues: [[Epoch]]
    /// The epoch being written (one per worker) and what it writes, kept for the next one.
    private var epoch: [Epoch] = []
    private var chunks: [KeyedRecords] = []
    private var order: [KeyedItem] = []
    /// The pieces of the last epoch handed over and not wholly written (records with keys at
    /// or above `writtenBelow`), and whether each worker has handed over its last piece.
    private var pendingFlows: [KeyedRecords] = []
    private var pendingHubble: [KeyedRecords] = []
    private var pendingFindings: [FindingBuffer] = []
    private var writtenBelow: EmissionKey?
    private var ended: [Bool]
    private var spares: [KeyedRecords] = []
    private var spareFindings: [FindingBuffer] = []
    private var spareMetrics: [FlowMetrics] = []
    /// The metrics page's counts, when it is served.
    let metrics: MetricsReport?
    private var error: OutputError?
    /// The outputs whose writing failed: the others are still written.
    private var failed = Set<ObjectIdentifier>()
    let statsInterval: Int64?
    private var nextStats: Int64 = .min
    private var capture = CaptureCounters()
    private var interfaceCounts: [(index: UInt32, counts: InterfaceCounters.Counts)] = []
    let interfaceNames: InterfaceNames?
    private var reportedLoss = (ring: UInt64(0), kernel: UInt64(0), interface: UInt64(0))
    /// Policy contexts by generation (0 = the one at start); SIGHUP appends.
    private var policies: [PolicyContext?]
    /// The detectors, fed every worker's events epoch by epoch, when alerts are on.
    let alertStage: AlertStage?
    /// Where alerts are written besides `output` (`--alerts FILE`).
    var alerts: JSONLinesOutput?
    /// Flush every output once the epochs a hand-over completes are written (live capture,
    /// replay from a pipe), so records are not held until 64 KiB gather; false: large blocks.
    var flushesEachEpoch = false
    /// The live capture's reload counts for `stats.agent` (nil in replay); set before the start.
    var reloadCounters: ReloadCounters?

    init(workers: Int, output: JSONLinesOutput, hubble: JSONLinesOutput?, policy: PolicyContext?,
         detectors: DetectorSettings?, statsInterval: Int64?, interfaces: InterfaceNames? = nil,
         metrics: Bool = false, communityIDSeed: UInt16 = 0) {
        self.interfaceNames = interfaces
        self.metrics = metrics ? MetricsReport() : nil
        self.output = output
        self.hubble = hubble
        self.statsInterval = statsInterval
        self.policies = [policy]
        self.alertStage = detectors.map { AlertStage(settings: $0, contexts: [policy].compactMap { $0 }, interfaces: interfaces,
                                                      communityIDSeed: communityIDSeed) }
        self.queues = Array(repeating: [], count: workers)
        self.ended = Array(repeating: false, count: workers)
        for worker in 0..<workers {
            self.queues[worker].reserveCapacity(4)
            // The buffers each worker is given back at its first hand-over.
            self.spares.append(KeyedRecords())
            if self.hubble != nil { self.spares.append(KeyedRecords()) }
            if let detectors { self.spareFindings.append(FindingBuffer(capacity: detectors.maxPendingEvents)) }
            if metrics { self.spareMetrics.append(FlowMetrics()) }
        }
        self.epoch.reserveCapacity(workers)
        self.chunks.reserveCapacity(3 * workers + 1)
        self.pendingFlows.reserveCapacity(3 * workers)
        self.pendingHubble.reserveCapacity(3 * workers)
        self.pendingFindings.reserveCapacity(3 * workers)
        self.order.reserveCapacity(1024)
    }

    func updateCapture(_ counters: CaptureCounters, interfaces: [(index: UInt32, counts: InterfaceCounters.Counts)]) {
        self.lock.lock()
        self.capture = counters
        self.interfaceCounts = interfaces
        self.lock.unlock()
    }

    /// The per-interface counters as the last sweep handed them, by name.
    var namedInterfaceCounts: [(name: String, counts: InterfaceCounters.Counts)] {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.namedLocked
    }

    private var namedLocked: [(name: String, counts: InterfaceCounters.Counts)] {
        self.interfaceCounts.map { (self.interfaceNames?.name(of: $0.index) ?? "if\($0.index)", $0.counts) }
    }

    func addPolicy(_ policy: PolicyContext) -> Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.policies.append(policy)
        self.metrics?.reloads.succeeded += 1
        self.alertStage?.contexts = self.policies.compactMap { $0 }
        return self.policies.count - 1
    }

    var nextPolicyRevision: UInt64 {
        self.lock.lock()
        defer { self.lock.unlock() }
        return UInt64(self.policies.count + 1)
    }

    func policy(generation: Int) -> PolicyContext? {
        self.lock.lock()
        defer { self.lock.unlock() }
        return generation < self.policies.count ? self.policies[generation] : nil
    }

    func reopen() {
        self.lock.lock()
        defer { self.lock.unlock() }
        do {
            try self.output.reopen()
            try self.hubble?.reopen()
            try self.alerts?.reopen()
        } catch {
            self.error = self.error ?? error
        }
    }

    /// The metrics page as of the last epoch written (`interface`: the captured interface).
    func metricsPage(interface: String, version: String) -> String {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.metrics?.page(interface: interface, interfaces: self.namedLocked, version: version,
                                  alerts: self.alertStage?.counters) ?? ""
    }

    /// Counts a reload that failed (the previous inventory and policies stay).
    func noteReloadFailed() {
        self.lock.lock()
        self.metrics?.reloads.failed += 1
        self.lock.unlock()
    }

    /// The error that stopped the writing, if any.
    var failure: OutputError? {
        self.lock.lock()
        defer { self.lock.unlock() }
        return self.error
    }

    /// Writes what is buffered to every output now; throws the error that stopped the writing.
    func flush() throws(OutputError) {
        self.lock.lock()
        defer { self.lock.unlock() }
        let earlier = self.error
        do throws(OutputError) {
            try self.flushOutputs()
        } catch {
            if self.error == nil { self.error = error }
        }
        if let error = earlier ?? self.error { throw error }
    }

    /// Flushes every output that has not failed, each whatever the others do (a reader of the
    /// records going away leaves the Hubble file whole); throws the first new error.
    private func flushOutputs() throws(OutputError) {
        var failure: OutputError?
        for output in [self.output, self.hubble, self.alerts] {
            guard let output, !self.failed.contains(ObjectIdentifier(output)) else { continue }
            do throws(OutputError) {
                try output.flush()
            } catch {
                self.failed.insert(ObjectIdentifier(output))
                failure = failure ?? error
            }
        }
        if let failure { throw failure }
    }

    /// Takes the processor's records for the epoch just ended and gives it empty buffers;
    /// writes every epoch each worker has now handed over. `time` is the sweep's packet time
    /// (nil at the end); `bound`, for a piece of the last epoch that more pieces follow, a key
    /// every later record of the worker is at or above. A worker two pieces ahead of the
    /// others waits for them, so the pieces held stay few.
    func deposit(worker: Int, processor: FlowProcessor, time: Int64?, bound: EmissionKey? = nil) {
        let statistics = self.statsInterval == nil && self.metrics == nil ? nil : processor.datapathStatistics()
        self.lock.lock()
        defer { self.lock.unlock() }
        let renderer = processor.renderer
        let epoch = Epoch(flows: renderer.flows, hubble: renderer.hubble, statistics: statistics, time: time,
                          findings: renderer.findings, metrics: renderer.metrics, event: processor.program.event, bound: bound)
        renderer.flows = self.spares.popLast() ?? KeyedRecords()
        if epoch.hubble != nil { renderer.hubble = self.spares.popLast() ?? KeyedRecords() }
        if let findings = epoch.findings {
            renderer.findings = self.spareFindings.popLast() ?? FindingBuffer(capacity: findings.capacity)
        }
        if epoch.metrics != nil { renderer.metrics = self.spareMetrics.popLast() ?? FlowMetrics() }
        self.queues[worker].append(epoch)
        if self.everyWorkerHandedOver {
            repeat { self.writeEpoch() } while self.everyWorkerHandedOver
            if self.flushesEachEpoch {
                do throws(OutputError) { try self.flushOutputs() } catch { if self.error == nil { self.error = error } }
            }
        }
        // Another worker hands over its next piece before this one makes a third (it is not
        // waiting itself: a worker waits only while the others are behind it).
        while bound != nil && self.queues[worker].count >= 2 {
            self.lock.unlock()
            usleep(100)
            self.lock.lock()
        }
    }

    /// Whether an epoch (or a piece of the last) can be written: every worker that has not
    /// handed over its last piece has handed over the next one.
    private var everyWorkerHandedOver: Bool {
        var some = false
        for worker in 0..<self.queues.count {
            if self.queues[worker].isEmpty {
                if !self.ended[worker] { return false }
            } else {
                some = true
            }
        }
        return some
    }

    /// Writes the oldest epoch, or what the pieces of the last one now allow: the detectors
    /// see its events in single-pass order, then the sweep (or the end) closes their
    /// aggregation windows; alerts merge with the flow records.
    private func writeEpoch() {
        self.epoch.removeAll(keepingCapacity: true)
        for worker in 0..<self.queues.count where !self.queues[worker].isEmpty {
            let handed = self.queues[worker].remove(at: 0)
            if handed.time == nil && handed.bound == nil { self.ended[worker] = true }
            self.epoch.append(handed)
        }
        let (time, event) = (self.epoch[0].time, self.epoch[0].event)
        // Below `bound`, every worker has handed over all it will: nil, everything.
        var bound: EmissionKey?
        for index in 0..<self.epoch.count {
            if let pieceBound = self.epoch[index].bound { bound = min(bound ?? pieceBound, pieceBound) }
        }
        let from = self.writtenBelow
        for index in 0..<self.epoch.count {
            self.pendingFlows.append(self.epoch[index].flows)
            if let hubble = self.epoch[index].hubble { self.pendingHubble.append(hubble) }
            if let findings = self.epoch[index].findings {
                self.alertStage?.eventsDropped &+= findings.dropped
                self.pendingFindings.append(findings)
            }
        }
        if let stage = self.alertStage {
            stage.observe(self.pendingFindings, from: from, below: bound)
            if bound == nil {
                if let time {
                    stage.advance(to: CaptureTime(nanoseconds: time), event: event)
                } else {
                    stage.finish(event: event)
                }
            }
        }
        self.chunks.removeAll(keepingCapacity: true)
        self.chunks.append(contentsOf: self.pendingFlows)
        if let stage = self.alertStage { self.chunks.append(stage.records) }
        self.write(to: self.output, from: from, below: bound)
        if let hubble = self.hubble {
            self.chunks.removeAll(keepingCapacity: true)
            self.chunks.append(contentsOf: self.pendingHubble)
            self.write(to: hubble, from: from, below: bound)
        }
        if let stage = self.alertStage, let alerts = self.alerts {
            self.chunks.removeAll(keepingCapacity: true)
            self.chunks.append(stage.records)
            self.write(to: alerts, from: from, below: bound)
        }
        if let time { self.report(time: time) }
        self.metrics?.absorb(self.epoch, capture: self.capture, time: time.map { CaptureTime(nanoseconds: $0) })
        self.writtenBelow = bound
        self.recycle(upTo: bound)
        self.epoch.removeAll(keepingCapacity: true)
    }

    /// Gives back the buffers whose records are all written (all of them when `bound` is nil).
    /// By index, keeping each array's storage: a single pass runs this on its packet path.
    private func recycle(upTo bound: EmissionKey?) {
        Self.keepUnwritten(&self.pendingFlows, below: bound) { self.spares.append($0) }
        Self.keepUnwritten(&self.pendingHubble, below: bound) { self.spares.append($0) }
        Self.keepUnwritten(&self.pendingFindings, below: bound) { self.spareFindings.append($0) }
        if bound == nil { self.alertStage?.records.removeAll() }
        for index in 0..<self.epoch.count {
            if let metrics = self.epoch[index].metrics {
                metrics.reset()
                self.spareMetrics.append(metrics)
            }
        }
    }

    /// Keeps the buffers of `pending` that hold a key at or above `bound` (records still to
    /// write; none when `bound` is nil), in order; empties the others and hands them to
    /// `recycle`. By index, keeping the array's storage: a single pass runs this on its packet path.
    private static func keepUnwritten<Buffer: PendingBuffer>(_ pending: inout [Buffer], below bound: EmissionKey?,
                                                             recycle: (Buffer) -> Void) {
        var kept = 0
        for index in 0..<pending.count {
            let buffer = pending[index]
            if let bound, buffer.holdsKey(atOrAbove: bound) {
                pending[kept] = buffer
                kept += 1
            } else {
                buffer.removeAll()
                recycle(buffer)
            }
        }
        pending.removeLast(pending.count - kept)
    }

    /// `lost` records for the drops the end of the run found that no epoch reported yet, so
    /// that the `lost` records always add up to the final `stats` record's drop counts.
    func reportFinalLoss(at time: CaptureTime) {
        self.lock.lock()
        defer { self.lock.unlock() }
        guard !self.failed.contains(ObjectIdentifier(self.output)) else { return }
        do {
            try self.reportLoss(at: time)
        } catch {
            self.failed.insert(ObjectIdentifier(self.output))
            if self.error == nil { self.error = error }
        }
    }

    /// `lost` records for drops since the last report, and a `stats` record when one is due.
    private func report(time: Int64) {
        guard !self.failed.contains(ObjectIdentifier(self.output)) else { return }
        let at = CaptureTime(nanoseconds: time)
        do {
            try self.reportLoss(at: at)
            guard let interval = self.statsInterval, time >= self.nextStats else { return }
            self.nextStats = time &+ interval
            var statistics = StatsSnapshot(combining: self.epoch.compactMap(\.statistics), capture: self.capture, time: at)
            statistics.alerts = self.alertStage?.counters
            statistics.interfaces = self.namedLocked
            statistics.agentReloads = self.reloadCounters?.counts
            StatsRecord.append(statistics, to: &self.output.buffer)
            try self.output.endLine()
            try self.output.flush()
        } catch {
            self.failed.insert(ObjectIdentifier(self.output))
            if self.error == nil { self.error = error }
        }
    }

    /// A `lost` record for each cause of drops whose count grew since it was last reported.
    private func reportLoss(at time: CaptureTime) throws(OutputError) {
        self.reportedLoss.ring = try self.reportLoss("ring_buffer", self.capture.ringDropped, self.reportedLoss.ring, time)
        self.reportedLoss.kernel = try self.reportLoss(self.capture.datapath?.kernelLossSource ?? "kernel",
                                                       self.capture.kernelDropped, self.reportedLoss.kernel, time)
        self.reportedLoss.interface = try self.reportLoss("interface", self.capture.interfaceDropped,
                                                          self.reportedLoss.interface, time)
    }

    /// A `lost` record when `total` grew past what was `reported`; returns the new reported count.
    private func reportLoss(_ source: String, _ total: UInt64, _ reported: UInt64, _ at: CaptureTime) throws(OutputError)
        -> UInt64 {
        guard total > reported else { return reported }
        LostRecord.append(time: at, source: source, lost: total - reported, total: total, to: &self.output.buffer)
        try self.output.endLine()
        return total
    }

    /// Writes the records of `chunks` whose keys are at or above `from` and below `bound`
    /// (nil: no limit), in key order.
    private func write(to output: JSONLinesOutput, from: EmissionKey?, below bound: EmissionKey?) {
        guard !self.failed.contains(ObjectIdentifier(output)) else { return }
        self.order.removeAll(keepingCapacity: true)
        for chunk in 0..<self.chunks.count {
            for entry in 0..<self.chunks[chunk].entries.count {
                let key = self.chunks[chunk].entries[entry].key
                if key.lies(from: from, below: bound) { self.order.append((key, chunk, entry)) }
            }
        }
        self.order.sortByKey()
        for item in 0..<self.order.count where !self.failed.contains(ObjectIdentifier(output)) {
            let (_, chunkIndex, entryIndex) = self.order[item]
            let chunk = self.chunks[chunkIndex]
            let entry = chunk.entries[entryIndex]
            let bytes = chunk.bytes(entryIndex)
            if entry.alertedAt >= 0, self.alertStage?.takeAlerted(entry.flowID) == true {
                // A flow record an alert was raised about: its `"alerted":false` becomes true.
                output.buffer.append(raw: UnsafeRawBufferPointer(rebasing: bytes[..<entry.alertedAt]))
                output.buffer.append(raw: "true")
                output.buffer.append(raw: UnsafeRawBufferPointer(rebasing: bytes[(entry.alertedAt + 5)...]))
            } else {
                output.buffer.append(raw: bytes)
            }
            do throws(OutputError) {
                try output.endLine()
            } catch {
                self.failed.insert(ObjectIdentifier(output))
                if self.error == nil { self.error = error }
            }
        }
    }
}

extension StatsSnapshot {
    /// The whole run's counters: the capture thread's, and the sum of the workers'.
    init(combining shards: [StatsSnapshot], capture: CaptureCounters, time: CaptureTime, inputError: String? = nil) {
        self.init(time: time, capture: capture, decode: DecodeCounters(), flows: FlowTableCounters(), activeFlows: 0,
                  fragments: FragmentCounters(), inputError: inputError)
        for shard in shards { self.add(shard) }
    }

    /// Adds a worker's counters (all but the capture thread's).
    mutating func add(_ shard: StatsSnapshot) {
        self.decode.add(shard.decode)
        self.flows.add(shard.flows)
        self.fragments.add(shard.fragments)
        self.activeFlows += shard.activeFlows
        if let counts = shard.application {
            var total = self.application ?? ApplicationCounters()
            total.add(counts)
            self.application = total
        }
    }
}

/// The buffers an epoch's records and findings come in: kept while they hold a key the
/// merger has not reached, then emptied to be used again.
protocol PendingBuffer: AnyObject {
    func holdsKey(atOrAbove bound: EmissionKey) -> Bool
    func removeAll()
}

extension KeyedRecords: PendingBuffer {
    func holdsKey(atOrAbove bound: EmissionKey) -> Bool {
        for index in 0..<self.entries.count where self.entries[index].key >= bound { return true }
        return false
    }
}

extension FindingBuffer: PendingBuffer {
    func holdsKey(atOrAbove bound: EmissionKey) -> Bool {
        for index in 0..<self.count where self.entries[index].key >= bound { return true }
        return false
    }
}

extension EmissionKey {
    /// Whether the key is at or above `from` and below `bound` (nil: no limit on that side):
    /// what one round of the merger writes.
    func lies(from: EmissionKey?, below bound: EmissionKey?) -> Bool {
        if let from, self < from { return false }
        if let bound, self >= bound { return false }
        return true
    }
}
