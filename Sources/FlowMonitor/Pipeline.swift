import Capture
import Datapath
import Decoding
import FlowCore
import Foundation
import Output

/// How the pipeline behaves when a worker's ring is full.
public enum PipelineMode: Sendable {
    /// Replay: the reader waits; nothing is ever dropped.
    case replay
    /// Live capture: the packet is dropped and counted (`stats.capture.ring_dropped`).
    case live
}

public struct PipelineConfiguration: Sendable {
    public var workers: Int
    /// Bytes of ring per worker.
    public var ringBytes: Int
    public var mode: PipelineMode
    /// Write a `stats` record (and `lost` records for new drops) this often, in packet time.
    public var statsInterval: Duration?

    public init(workers: Int, ringBytes: Int = 32 << 20, mode: PipelineMode = .replay, statsInterval: Duration? = nil) {
        self.workers = max(1, workers)
        self.ringBytes = ringBytes
        self.mode = mode
        self.statsInterval = statsInterval
    }

    /// Replay makes the reading thread worker 0: it tracks a small share of the connections
    /// itself, so `--workers N` is N threads of packet work (one thread with `--workers 1`).
    /// Live capture keeps the capture thread free to drain the kernel's buffer.
    var readerIsWorker: Bool { self.mode == .replay }

    /// Connections are shared out by a symmetric hash into this many shards, each owned by one worker.
    /// A power of two up to 2^16, so an untracked ICMP error's key, which holds the low 16 bits
    /// of its shard hash, always lands in the same shard (`PacketObservation`).
    static let shardCount = 64

    /// The worker that owns each shard. When the reading thread is worker 0 it also reads and
    /// decodes every packet, so it owns a quarter of an equal share (at least one shard) and
    /// the other workers split the rest.
    var shardOwners: [Int] {
        let count = Self.shardCount
        guard self.workers > 1 else { return Array(repeating: 0, count: count) }
        guard self.readerIsWorker else { return (0..<count).map { $0 % self.workers } }
        let readerShards = max(1, count / (4 * self.workers))
        return (0..<count).map { $0 < readerShards ? 0 : 1 + ($0 - readerShards) % (self.workers - 1) }
    }
}

/// Capture thread → rings → workers → one writer.
///
/// The capture (or file-reading) thread calls `submit` for every packet. It decodes the
/// packet once, picks its shard by a symmetric hash of the address pair and protocol — both
/// directions of a connection and every fragment of a datagram land in the same shard — and
/// copies the decoded summary (not the packet) into the ring of the worker that owns the shard.
/// Each worker owns a `FlowProcessor`: a private flow-table shard (`--max-flows` split by
/// share), fragment table and counters; nothing is shared on the packet path. In replay the
/// reading thread is worker 0 and accounts its (smaller) share itself, so N workers are N
/// threads; live capture keeps its capture thread for draining the kernel buffer.
///
/// Output stays exactly what one pass on one thread writes. The capture thread decides when
/// idle flows are swept (once per second of packet time and every 16,384 packets, the single-pass
/// rule) and sends the same sweep marker to every worker, so all shards expire flows at the same
/// instants. Each record is tagged with its place in single-pass order (`EmissionKey`); at every
/// marker the workers hand their records and detector events to the `Merger`, which runs the detectors
/// over the events in that order and writes each epoch's records, merged by key, once every
/// worker has reached it.
public final class Pipeline: @unchecked Sendable {
    public let configuration: PipelineConfiguration
    let processors: [FlowProcessor]
    /// One ring per worker that runs on its own thread (none for worker 0 in replay).
    let rings: [PacketRing?]
    /// The rings again, unretained, for the capture thread's per-packet path: reading a class
    /// reference out of an array costs a retain/release pair per packet (13% of replay time).
    let ringTable: UnsafeMutablePointer<Unmanaged<PacketRing>?>
    /// Worker by shard (`PipelineConfiguration.shardOwners`), for the per-packet path.
    let shardOwners: UnsafeMutablePointer<UInt16>
    /// Worker 0's processor, unretained for the per-packet path (`processors` keeps it alive).
    let readerProcessor: Unmanaged<FlowProcessor>
    let merger: Merger
    let output: JSONLinesOutput
    let hubble: JSONLinesOutput?
    /// The Hubble output, for contexts built on reload.
    public var hubbleOutput: JSONLinesOutput? { self.hubble }
    /// The policy revision of the next reload: 1 for the policies loaded at start, then one
    /// more per reload (the Hubble lines' `Policy.revision`).
    public var nextPolicyRevision: UInt64 { self.merger.nextPolicyRevision }
    /// Where alerts are written besides the main output (`--alerts FILE`).
    public var alertsOutput: JSONLinesOutput? {
        get { self.merger.alerts }
        set { self.merger.alerts = newValue }
    }
    let parser = LayerParser()
    let onUnsupportedLinkType: (UInt32) -> Void
    let finished = DispatchGroup()

    // Capture-thread state.
    var sequence: UInt64 = 0
    var sweeps = SweepSchedule()
    var latestTime = CaptureTime.zero
    public private(set) var capture = CaptureCounters()
    var lastSweepWall: Int64 = 0

    public init(configuration: PipelineConfiguration, processor: ProcessorConfiguration, output: JSONLinesOutput,
                policy: PolicyContext?, onUnsupportedLinkType: @escaping (UInt32) -> Void = { _ in }) {
        self.configuration = configuration
        self.output = output
        self.hubble = policy?.hubble
        self.onUnsupportedLinkType = onUnsupportedLinkType
        let owners = configuration.shardOwners
        self.shardOwners = .allocate(capacity: owners.count)
        for (shard, owner) in owners.enumerated() { (self.shardOwners + shard).initialize(to: UInt16(owner)) }
        // Each worker's tables are sized by its share of the shards.
        self.processors = (0..<configuration.workers).map { worker in
            let shards = owners.filter { $0 == worker }.count
            var share = processor
            share.maxFlows = max(1, processor.maxFlows * shards / owners.count)
            share.maxFragmentDatagrams = max(1, processor.maxFragmentDatagrams * shards / owners.count)
            return FlowProcessor(configuration: share, output: output, policy: policy, keyed: true, onUnsupportedLinkType: { _ in })
        }
        self.readerProcessor = .passUnretained(self.processors[0])
        let readerIsWorker = configuration.readerIsWorker
        self.rings = (0..<configuration.workers).map { worker in
            // Workers receive decoded summaries, never packets: that is the largest record.
            worker == 0 && readerIsWorker ? nil
                : PacketRing(bytes: configuration.ringBytes, maximumPayloadBytes: MemoryLayout<PacketSummary>.size)
        }
        self.ringTable = .allocate(capacity: configuration.workers)
        for (index, ring) in self.rings.enumerated() {
            (self.ringTable + index).initialize(to: ring.map { .passUnretained($0) })
        }
        self.merger = Merger(workers: configuration.workers, output: output, hubble: policy?.hubble,
                             statsInterval: configuration.statsInterval?.flowmonNanoseconds)
        self.merger.policies = [policy]
        if let detectors = processor.detectors {
            self.merger.alertStage = AlertStage(settings: detectors, contexts: [policy].compactMap { $0 })
        }
        for index in 0..<configuration.workers where !(index == 0 && readerIsWorker) {
            self.finished.enter()
            let thread = Thread { [self] in
                self.runWorker(index)
                self.finished.leave()
            }
            thread.name = "flowmon-worker-\(index)"
            thread.start()
        }
    }

    // MARK: Capture thread

    /// Hands one packet to its worker. Replay waits while the ring is full; live capture
    /// drops the packet and counts it.
    public func submit(_ packet: CapturedPacket) {
        self.capture.count(length: packet.originalLength, time: packet.time)
        if packet.time > self.latestTime { self.latestTime = packet.time }
        if self.sweeps.isDue(time: packet.time, packets: self.sequence) {
            self.broadcast(.sweep, time: packet.time.nanoseconds, sequence: 2 &* self.sequence)
        }
        guard let link = self.capture.linkLayer(of: packet, onUnsupported: self.onUnsupportedLinkType) else {
            self.sequence &+= 1
            return
        }
        // Decode here, once: the address pair picks the worker, and the worker gets the
        // summary (about 180 bytes) instead of the packet, so it neither copies nor decodes it again.
        var summary = PacketSummary()
        self.parser.parse(packet.bytes, link: link, into: &summary)
        let worker = self.configuration.workers == 1 ? 0 : Int(self.shardOwners[Self.shard(of: summary)])
        let event = 2 &* self.sequence &+ 1
        self.sequence &+= 1
        guard let target = self.ringTable[worker] else {
            // Worker 0 on this thread: account the packet here, as a worker would.
            self.readerProcessor._withUnsafeGuaranteedRef { processor in
                processor.accountDecoded(&summary, event: event, time: packet.time, length: packet.originalLength)
            }
            return
        }
        let live = self.configuration.mode == .live
        let dropped = withUnsafeBytes(of: &summary) { bytes in
            target._withUnsafeGuaranteedRef { ring -> Bool in
                while !ring.write(kind: .decoded, packet: packet, payload: bytes, time: packet.time.nanoseconds,
                                  sequence: event) {
                    if live { return true }
                    ring.publish()
                    PacketRing.pause()
                }
                return false
            }
        }
        if dropped { self.capture.ringDropped &+= 1 }
    }

    deinit {
        self.ringTable.deallocate()
        self.shardOwners.deallocate()
    }

    /// Makes submitted packets visible to the workers (after each capture batch).
    public func publish() {
        for ring in self.rings { ring?.publish() }
    }

    /// Live capture with no traffic: sweep on the clock so idle flows still end. The time
    /// passed is the caller's (the kernel's clock); the flow table reads none itself.
    public func idle(now: CaptureTime) {
        guard self.configuration.mode == .live, self.sweeps.isDue(idle: now) else { return }
        self.broadcast(.sweep, time: now.nanoseconds, sequence: 2 &* self.sequence)
        if now > self.latestTime { self.latestTime = now }
        self.publish()
    }

    public func countFilteredOut() { self.capture.filteredOut &+= 1 }

    /// Records the kernel's and the interface's drop counts (live capture).
    public func noteDrops(kernel: UInt64, interface: UInt64) {
        self.capture.kernelDropped = kernel
        self.capture.interfaceDropped = interface
    }

    /// The shard of a packet: a symmetric hash of the address pair and protocol (no ports, so
    /// every fragment of a datagram goes where its first fragment goes); packets without IP
    /// go to shard 0. An ICMP error goes to the shard of the connection it quotes, where it is
    /// counted (`FlowTable.recordRelated`).
    static func shard(of summary: PacketSummary) -> Int {
        guard summary.ipVersion != 0 else { return 0 }
        let hash = summary.quotesConnection
            ? FlowKey.addressPairHash(summary.quotedSource, summary.quotedDestination, ipProtocol: summary.quotedProtocol)
            : FlowKey.addressPairHash(summary.source, summary.destination, ipProtocol: summary.ipProtocol)
        return Int(hash % UInt64(PipelineConfiguration.shardCount))
    }

    func broadcast(_ kind: PacketRing.Kind, time: Int64, sequence: UInt64) {
        if kind == .sweep { self.merger.updateCapture(self.capture) }
        for (index, ring) in self.rings.enumerated() {
            guard let ring else {
                // Worker 0 on this thread: the marker takes effect here and now.
                _ = self.handleMarker(kind, time: time, sequence: sequence, worker: index)
                continue
            }
            while !ring.write(kind: kind, packet: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0), time: time,
                              sequence: sequence) {
                ring.publish()
                PacketRing.pause()
            }
        }
    }

    /// A sweep, reload or end marker reaching a worker. Returns true at the end.
    func handleMarker(_ kind: PacketRing.Kind, time: Int64, sequence: UInt64, worker index: Int) -> Bool {
        let processor = self.processors[index]
        switch kind {
        case .sweep:
            processor.event = sequence
            processor.sweep(now: CaptureTime(nanoseconds: time))
            self.merger.deposit(worker: index, processor: processor, time: time)
        case .reload:
            processor.policy = self.merger.policy(generation: Int(sequence))
        case .end:
            processor.event = sequence
            processor.endFlows(at: CaptureTime(nanoseconds: time))
            self.merger.deposit(worker: index, processor: processor, time: nil)
            return true
        case .padding, .decoded:
            break
        }
        return false
    }

    /// Ends the run: every worker expires and flushes its flows at the latest packet time,
    /// the last records are merged and written, then one `stats` record for the whole run.
    /// Swaps in new identities and policies (SIGHUP): connections that start after the swap
        /// are judged by them; earlier connections keep the verdicts and names they had.
    public func reload(policy: PolicyContext) {
        let generation = self.merger.addPolicy(policy)
        self.broadcast(.reload, time: self.latestTime.nanoseconds, sequence: UInt64(generation))
        self.publish()
    }

    /// Reopens the output files (after logrotate moved them; SIGHUP).
    public func reopenOutputs() { self.merger.reopen() }

    public func finish(inputError: String? = nil) throws(OutputError) {
        self.broadcast(.end, time: self.latestTime.nanoseconds, sequence: 2 &* self.sequence &+ 2)
        self.publish()
        self.finished.wait()
        if let error = self.merger.failure { throw error }
        var statistics = StatsSnapshot(combining: self.processors.map { $0.statistics() }, capture: self.capture,
                                       time: self.latestTime, inputError: inputError)
        statistics.alerts = self.merger.alertStage?.counters
        StatsRecord.append(statistics, to: &self.output.buffer)
        try self.output.endLine()
        try self.merger.flush()
    }

    // MARK: Workers

    func runWorker(_ index: Int) {
        guard let ring = self.rings[index] else { return }
        let processor = self.processors[index]
        var done = false
        var idle = 0
        while !done {
            let count = ring.drain { header, bytes in
                switch header.kind {
                case .decoded:
                    // The summary is used where it lies: ring records are 8-byte aligned and the
                    // ring's bytes are this worker's until `drain` returns (a copy out costs 8%).
                    let summary = UnsafeMutableRawPointer(mutating: bytes.rawBuffer.baseAddress!)
                        .bindMemory(to: PacketSummary.self, capacity: 1)
                    processor.accountDecoded(&summary.pointee, event: header.sequence,
                                             time: CaptureTime(nanoseconds: header.time), length: header.originalLength)
                case .sweep, .reload, .end, .padding:
                    if self.handleMarker(header.kind, time: header.time, sequence: header.sequence, worker: index) {
                        done = true
                    }
                }
            }
            if count > 0 {
                idle = 0
            } else if !done {
                // Back off while the ring stays empty (50 µs doubling to 3.2 ms): a quiet live
                // capture costs little CPU; a busy one never sleeps.
                PacketRing.pause(nanoseconds: 50_000 << min(idle, 6))
                idle += 1
            }
        }
    }
}

/// Collects the workers' keyed records epoch by epoch and writes each epoch, merged in
/// single-pass order, once every worker has handed it over. The only writer of the output.
/// Also writes the periodic `stats` records and a `lost` record whenever packets were lost
/// since the last report (Hubble's `lost_events_total`, as records).
final class Merger: @unchecked Sendable {
    private let lock = NSLock()
    let workers: Int
    let output: JSONLinesOutput
    let hubble: JSONLinesOutput?
    /// What one worker hands over at the end of an epoch.
    struct Epoch {
        var flows: KeyedRecords
        var hubble: KeyedRecords?
        var statistics: StatsSnapshot
        /// The sweep's packet time; nil for the last epoch (the end).
        var time: Int64?
        var events: AlertEventBuffer?
        /// The event number that closed the epoch.
        var event: UInt64
    }

    /// Per worker, the epochs handed over and not yet written.
    private var queues: [[Epoch]]
    var spares: [KeyedRecords] = []
    private var error: OutputError?
    let statsInterval: Int64?
    var nextStats: Int64 = .min
    var capture = CaptureCounters()
    var reportedLoss = (ring: UInt64(0), kernel: UInt64(0), interface: UInt64(0))
    /// Policy contexts by generation (0 = the one at start); SIGHUP appends.
    var policies: [PolicyContext?] = []
    /// The detectors, fed every worker's events epoch by epoch, when alerts are on.
    var alertStage: AlertStage?
    var alerts: JSONLinesOutput?
    var spareEvents: [AlertEventBuffer] = []

    init(workers: Int, output: JSONLinesOutput, hubble: JSONLinesOutput?, statsInterval: Int64?) {
        self.workers = workers
        self.output = output
        self.hubble = hubble
        self.statsInterval = statsInterval
        self.queues = Array(repeating: [], count: workers)
    }

    func updateCapture(_ counters: CaptureCounters) {
        self.lock.lock()
        self.capture = counters
        self.lock.unlock()
    }

    func addPolicy(_ policy: PolicyContext) -> Int {
        self.lock.lock()
        defer { self.lock.unlock() }
        self.policies.append(policy)
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
        if let error = self.error { throw error }
        try self.output.flush()
        try self.hubble?.flush()
        try self.alerts?.flush()
    }

    /// Takes the processor's records for the epoch just ended and gives it empty buffers.
    /// `time` is the sweep's packet time (nil at the end).
    func deposit(worker: Int, processor: FlowProcessor, time: Int64?) {
        let statistics = processor.statistics()
        self.lock.lock()
        defer { self.lock.unlock() }
        self.queues[worker].append(Epoch(
            flows: processor.takeFlows(replacement: self.spare()),
            hubble: processor.takeHubble(replacement: processor.keyedHubble == nil ? nil : self.spare()),
            statistics: statistics, time: time, events: processor.takeAlertEvents(replacement: self.spareEventBuffer),
            event: processor.event))
        while self.queues.allSatisfy({ !$0.isEmpty }) {
            let epoch = self.queues.indices.map { self.queues[$0].removeFirst() }
            let (time, event) = (epoch[0].time, epoch[0].event)
            var chunks = epoch.map(\.flows)
            if let stage = self.alertStage {
                // The detectors see the epoch's events in single-pass order, then the sweep (or
                // the end) closes their aggregation windows; alerts merge with the flow records.
                stage.observe(epoch.compactMap(\.events))
                if let time {
                    stage.advance(to: CaptureTime(nanoseconds: time), event: event)
                } else {
                    stage.finish(event: event)
                }
                chunks.append(stage.records)
            }
            self.write(chunks, to: self.output)
            if let hubble = self.hubble { self.write(epoch.compactMap(\.hubble), to: hubble) }
            if let stage = self.alertStage {
                if let alerts = self.alerts { self.write([stage.records], to: alerts) }
                stage.records.removeAll()
            }
            if let time { self.report(epoch.map(\.statistics), time: time) }
            for handed in epoch {
                handed.flows.removeAll()
                self.spares.append(handed.flows)
                if let hubble = handed.hubble {
                    hubble.removeAll()
                    self.spares.append(hubble)
                }
                if let events = handed.events {
                    events.removeAll()
                    self.spareEvents.append(events)
                }
            }
        }
    }

    func spare() -> KeyedRecords { self.spares.popLast() ?? KeyedRecords() }

    func spareEventBuffer(capacity: Int) -> AlertEventBuffer {
        self.spareEvents.popLast() ?? AlertEventBuffer(capacity: capacity)
    }

    /// `lost` records for drops since the last report, and a `stats` record when one is due.
    func report(_ shards: [StatsSnapshot], time: Int64) {
        guard self.error == nil else { return }
        let at = CaptureTime(nanoseconds: time)
        do {
            for (source, total, reported) in [("ring_buffer", self.capture.ringDropped, self.reportedLoss.ring),
                                              ("kernel", self.capture.kernelDropped, self.reportedLoss.kernel),
                                              ("interface", self.capture.interfaceDropped, self.reportedLoss.interface)]
            where total > reported {
                LostRecord.append(time: at, source: source, lost: total - reported, total: total, to: &self.output.buffer)
                try self.output.endLine()
            }
            self.reportedLoss = (self.capture.ringDropped, self.capture.kernelDropped, self.capture.interfaceDropped)
            guard let interval = self.statsInterval, time >= self.nextStats else { return }
            self.nextStats = time &+ interval
            var statistics = StatsSnapshot(combining: shards, capture: self.capture, time: at)
            statistics.alerts = self.alertStage?.counters
            StatsRecord.append(statistics, to: &self.output.buffer)
            try self.output.endLine()
            try self.output.flush()
        } catch {
            self.error = error
        }
    }

    func write(_ chunks: [KeyedRecords], to output: JSONLinesOutput) {
        var order: [(key: EmissionKey, chunk: Int, entry: Int)] = []
        for (chunkIndex, chunk) in chunks.enumerated() {
            for (entryIndex, entry) in chunk.entries.enumerated() { order.append((entry.key, chunkIndex, entryIndex)) }
        }
        order.sort { ($0.key, $0.chunk, $0.entry) < ($1.key, $1.chunk, $1.entry) }
        guard self.error == nil else { return }
        do {
            for item in order {
                let chunk = chunks[item.chunk]
                let entry = chunk.entries[item.entry]
                let bytes = chunk.bytes(item.entry)
                if entry.alertedAt >= 0, self.alertStage?.takeAlerted(entry.flowID) == true {
                    // A flow record an alert was raised about: its `"alerted":false` becomes true.
                    output.buffer.append(raw: UnsafeRawBufferPointer(rebasing: bytes[..<entry.alertedAt]))
                    output.buffer.append(raw: "true")
                    output.buffer.append(raw: UnsafeRawBufferPointer(rebasing: bytes[(entry.alertedAt + 5)...]))
                } else {
                    output.buffer.append(raw: bytes)
                }
                try output.endLine()
            }
        } catch {
            self.error = error
        }
    }
}

extension StatsSnapshot {
    /// The whole run's counters: the capture thread's, and the sum of the workers'.
    init(combining shards: [StatsSnapshot], capture: CaptureCounters, time: CaptureTime, inputError: String? = nil) {
        self.init(time: time, capture: capture, decode: DecodeCounters(), flows: FlowTableCounters(), activeFlows: 0,
                  fragments: FragmentCounters(), inputError: inputError)
        for shard in shards {
            self.decode.add(shard.decode)
            self.flows.add(shard.flows)
            self.fragments.add(shard.fragments)
            self.activeFlows += shard.activeFlows
        }
    }
}

extension FlowProcessor {
    func takeFlows(replacement: KeyedRecords) -> KeyedRecords {
        let taken = self.keyedFlows!
        self.keyedFlows = replacement
        return taken
    }

    func takeAlertEvents(replacement: (Int) -> AlertEventBuffer) -> AlertEventBuffer? {
        guard let taken = self.alertEvents else { return nil }
        self.alertEvents = replacement(taken.capacity)
        return taken
    }

    func takeHubble(replacement: KeyedRecords?) -> KeyedRecords? {
        let taken = self.keyedHubble
        self.keyedHubble = replacement
        return taken
    }
}
