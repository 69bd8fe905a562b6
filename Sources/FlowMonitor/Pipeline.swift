import Capture
import Datapath
import Decoding
import FlowCore
import Foundation
import KernelCapture
import L7
import Output

/// How the pipeline behaves when a worker's ring is full.
package enum PipelineMode: Sendable {
    /// Replay: the reader waits; nothing is ever dropped.
    case replay
    /// Live capture: the packet is dropped and counted (`stats.capture.ring_dropped`).
    case live
}

package struct PipelineConfiguration: Sendable {
    package var workers: Int
    /// Bytes of ring per worker.
    package var ringBytes: Int
    package var mode: PipelineMode
    /// Write a `stats` record (and `lost` records for new drops) this often, in packet time.
    package var statsInterval: Duration?
    /// The names of the interfaces packets are captured on, for the records (live capture).
    package var interfaces: InterfaceNames?
    /// Replay from a pipe (`tcpdump -U -w - | flowmon replay -`): write and flush each epoch as
    /// soon as it is merged, as live capture always does, instead of in 64 KiB blocks.
    package var streamsOutput = false

    package init(workers: Int, ringBytes: Int = 32 << 20, mode: PipelineMode = .replay, statsInterval: Duration? = nil) {
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
/// rule; twice a second in live capture) and sends the same sweep marker to every worker, so all
/// shards expire flows at the same instants. Each record is tagged with its place in single-pass
/// order (`EmissionKey`); at every marker the workers hand their records and detector events to
/// the `Merger`, which runs the detectors over the events in that order and writes each epoch's
/// records, merged by key, once every worker has reached it (and flushes them, in live capture
/// and in replay from a pipe).
package final class Pipeline: @unchecked Sendable {
    package let configuration: PipelineConfiguration
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
    /// The read-ahead the reading thread decodes into: worker 0's when the reading thread is
    /// worker 0 (replay), else one of its own, whose summaries only it touches (live capture:
    /// worker 0's belongs to worker 0's thread).
    let readerReadAhead: Unmanaged<ReadAhead>
    let readerReadAheadStorage: ReadAhead
    let merger: Merger
    let output: JSONLinesOutput
    let hubble: JSONLinesOutput?
    /// The policy revision of the next reload: 1 for the policies loaded at start, then one
    /// more per reload (the Hubble lines' `Policy.revision`).
    package var nextPolicyRevision: UInt64 { self.merger.nextPolicyRevision }
    /// Where alerts are written besides the main output (`--alerts FILE`).
    package var alertsOutput: JSONLinesOutput? {
        get { self.merger.alerts }
        set { self.merger.alerts = newValue }
    }
    /// Counts of inventory and policy reloads, written in `stats.agent` (live capture).
    package var reloadCounters: ReloadCounters? {
        get { self.merger.reloadCounters }
        set { self.merger.reloadCounters = newValue }
    }
    let parser = LayerParser()
    let onUnsupportedLinkType: (UInt32) -> Void
    let finished = DispatchGroup()

    // Capture-thread state.
    var sequence: UInt64 = 0
    var sweeps = SweepSchedule()
    var latestTime = CaptureTime.zero
    package private(set) var capture = CaptureCounters()
    var lastSweepWall: Int64 = 0
    /// Which packets count when several interfaces are captured at once (live capture on the
    /// node's interfaces); nil: every packet counts.
    var observation: ObservationPoints?
    /// The interface a single-interface live capture reads (its packets do not say): the
    /// records name it.
    var captureInterfaceIndex: UInt32 = 0
    /// Packets per interface (live capture).
    let interfaceCounters: InterfaceCounters?
    /// The eBPF datapath in mode 2 (`--ebpf-mode flows`): the kernel's flow map, read before
    /// every sweep (`idle(now:drain:)`), which the capture loop then makes by the clock alone.
    var kernelFlows: (kernel: KernelCapture, deltas: KernelFlows)?
    /// The application layer's capture-thread side (names from DNS answers, payload to the
    /// workers); nil with `--no-l7`.
    let application: ApplicationTap?

    package init(configuration: PipelineConfiguration, processor: ProcessorConfiguration, output: JSONLinesOutput,
                policy: PolicyContext?, hubble: JSONLinesOutput? = nil,
                onUnsupportedLinkType: @escaping (UInt32) -> Void = { _ in }) {
        self.configuration = configuration
        self.output = output
        self.hubble = hubble
        self.onUnsupportedLinkType = onUnsupportedLinkType
        self.interfaceCounters = configuration.mode == .live ? InterfaceCounters() : nil
        let owners = configuration.shardOwners
        self.shardOwners = .allocate(capacity: owners.count)
        for (shard, owner) in owners.enumerated() { (self.shardOwners + shard).initialize(to: UInt16(owner)) }
        let application = processor.application.map { ApplicationTap($0, policy: policy) }
        self.application = application
        // Each worker's tables are sized by its share of the shards.
        self.processors = (0..<configuration.workers).map { worker in
            let shards = owners.filter { $0 == worker }.count
            var share = processor
            share.maxFlows = max(1, processor.maxFlows * shards / owners.count)
            share.maxFragmentDatagrams = max(1, processor.maxFragmentDatagrams * shards / owners.count)
            return FlowProcessor(configuration: share, output: output, policy: policy, hubble: hubble != nil, merger: nil,
                                 interfaces: configuration.interfaces, names: application?.cache.nameSets,
                                 onUnsupportedLinkType: { _ in })
        }
        for processor in self.processors { processor.stops = application?.stops }
        self.readerProcessor = .passUnretained(self.processors[0])
        let readerIsWorker = configuration.readerIsWorker
        self.readerReadAheadStorage = readerIsWorker ? self.processors[0].readAhead
            : ReadAhead(flows: self.processors[0].program.flows)
        self.readerReadAhead = .passUnretained(self.readerReadAheadStorage)
        self.rings = (0..<configuration.workers).map { worker in
            // Workers receive decoded summaries, never packets: that is the largest record.
            worker == 0 && readerIsWorker ? nil
                : PacketRing(bytes: configuration.ringBytes, maximumPayloadBytes: PacketRing.maximumWorkerPayload)
        }
        self.ringTable = .allocate(capacity: configuration.workers)
        for (index, ring) in self.rings.enumerated() {
            (self.ringTable + index).initialize(to: ring.map { .passUnretained($0) })
        }
        self.merger = Merger(workers: configuration.workers, output: output, hubble: hubble, policy: policy,
                             detectors: processor.alertSettings, statsInterval: configuration.statsInterval?.flowmonNanoseconds,
                             interfaces: configuration.interfaces, metrics: processor.metrics,
                             communityIDSeed: processor.communityIDSeed)
        self.merger.flushesEachEpoch = configuration.mode == .live || configuration.streamsOutput
        if configuration.mode == .live { self.sweeps = SweepSchedule(interval: SweepSchedule.liveInterval) }
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
    package func submit(_ packet: CapturedPacket) {
        self.submit(packet, interfaceIndex: 0, direction: .unknown)
    }

    /// Hands one packet to its worker, with where it was captured and which way when the
    /// capture says so beside the bytes (the eBPF datapath) rather than in a link header.
    @inline(__always)
    package func submit(_ packet: CapturedPacket, interfaceIndex: UInt32, direction: LinkDirection) {
        self.capture.count(length: packet.originalLength, time: packet.time)
        if packet.time > self.latestTime { self.latestTime = packet.time }
        // Mode 2 of the eBPF datapath sweeps by time from the capture loop, with the kernel's
        // counts (`idle(now:drain:)`); here only every `SweepSchedule.packets` records.
        if self.kernelFlows == nil ? self.sweeps.isDue(time: packet.time, packets: self.sequence)
            : self.sweeps.isDue(packets: self.sequence) {
            self.broadcast(.sweep, time: packet.time.nanoseconds, sequence: 2 &* self.sequence)
            // The workers end the epoch now, not at the next batch: a replay from a pipe may
            // wait in read(2) before the next one.
            self.publish()
        }
        guard let link = self.capture.linkLayer(packet.linkType, onUnsupported: self.onUnsupportedLinkType) else {
            self.sequence &+= 1
            return
        }
        // Decode here, once: the address pair picks the worker, and the worker gets the
        // summary (about 180 bytes) instead of the packet, so it neither copies nor decodes it again.
        // Decoded into the reading thread's read-ahead, where its own share waits its turn.
        let summary = self.readerReadAhead._withUnsafeGuaranteedRef { $0.nextSlot() }
        self.parser.parse(packet.bytes, link: link, into: &summary.pointee)
        if interfaceIndex != 0 {
            summary.pointee.interfaceIndex = interfaceIndex
            summary.pointee.direction = direction
        } else if summary.pointee.interfaceIndex == 0 {
            summary.pointee.interfaceIndex = self.captureInterfaceIndex
        }
        var interfaceSlot = -1
        if let counters = self.interfaceCounters, summary.pointee.interfaceIndex != 0 {
            interfaceSlot = counters.count(summary.pointee.interfaceIndex, length: packet.originalLength, time: packet.time)
        }
        if let observation = self.observation, !observation.admits(&summary.pointee, time: packet.time) {
            // Seen before at another interface: counted there.
            self.capture.seenElsewhere &+= 1
            if interfaceSlot >= 0 { self.interfaceCounters?.countSeenElsewhere(slot: interfaceSlot) }
            self.sequence &+= 1
            return
        }
        let carriesPayload = self.application?.observe(&summary.pointee, frame: packet.bytes, time: packet.time) ?? false
        let worker = self.configuration.workers == 1 ? 0 : Int(self.shardOwners[Self.shard(of: summary.pointee)])
        let event = 2 &* self.sequence &+ 1
        self.sequence &+= 1
        guard let target = self.ringTable[worker] else {
            // Worker 0 on this thread: account the packet here, as a worker would, a few packets
            // later (`ReadAhead`); one with payload at once, after those before it (its payload
            // lies in the read buffer).
            self.readerProcessor._withUnsafeGuaranteedRef { processor in
                if carriesPayload {
                    processor.readAhead.flush(processor)
                    processor.process(&summary.pointee, payload: ApplicationTap.payload(of: summary.pointee, in: packet.bytes),
                                      event: event, time: packet.time, length: packet.originalLength)
                } else {
                    self.readerReadAhead._withUnsafeGuaranteedRef {
                        $0.enqueue(summary, event: event, time: packet.time.nanoseconds, length: packet.originalLength,
                                   into: processor)
                    }
                }
            }
            return
        }
        let live = self.configuration.mode == .live
        let application = carriesPayload ? ApplicationTap.payload(of: summary.pointee, in: packet.bytes)
            : UnsafeRawBufferPointer(start: nil, count: 0)
        let bytes = UnsafeRawBufferPointer(start: summary, count: MemoryLayout<PacketSummary>.size)
        let dropped = target._withUnsafeGuaranteedRef { ring -> Bool in
            while !(carriesPayload
                ? ring.write(packet: packet, summary: bytes, application: application, time: packet.time.nanoseconds,
                             sequence: event)
                : ring.write(kind: .decoded, packet: packet, payload: bytes, time: packet.time.nanoseconds,
                             sequence: event))
            {
                if live { return true }
                ring.publish()
                PacketRing.pause()
            }
            return false
        }
        if dropped {
            self.capture.ringDropped &+= 1
            if interfaceSlot >= 0 { self.interfaceCounters?.countRingDropped(slot: interfaceSlot) }
        }
    }

    deinit {
        self.ringTable.deallocate()
        self.shardOwners.deallocate()
    }

    /// Makes submitted packets visible to the workers (after each capture batch).
    package func publish() {
        for ring in self.rings { ring?.publish() }
    }

    /// Live capture with no traffic: sweep on the clock so idle flows still end, and their
    /// records are written (and flushed) within 1 s of their timeout passing. The time
    /// passed is the caller's (the kernel's clock); the flow table reads none itself.
    ///
    /// With the eBPF datapath in mode 2 every sweep is made here, after each batch, and first
    /// reads the kernel's flow map, then `drain`s the records waiting in the ring, then hands the
    /// workers what the map counted: a connection's aggregate never reaches its worker before the
    /// record of the packet that created it (sent up before any packet was counted in the map).
    package func idle(now: CaptureTime, drain: () -> Void = {}) {
        guard self.configuration.mode == .live, self.sweeps.isDue(idle: now) else { return }
        self.collectKernelFlows(now: now, drain: drain)
        self.broadcast(.sweep, time: now.nanoseconds, sequence: 2 &* self.sequence)
        if now > self.latestTime { self.latestTime = now }
        self.publish()
    }

    package func countFilteredOut() { self.capture.filteredOut &+= 1 }

    /// Reads what the kernel counted since the last sweep (eBPF mode 2) and hands it to the
    /// workers ahead of the sweep marker, so no connection the kernel keeps busy expires, and
    /// adds the kernel's counts of the packets it never sent up to `stats.capture`.
    func collectKernelFlows(now: CaptureTime, drain: () -> Void) {
        guard let (kernel, deltas) = self.kernelFlows else { return }
        let counted = deltas.collect(from: kernel, now: now)
        drain()
        for index in deltas.aggregates.indices { self.submit(deltas.aggregates[index]) }
        self.capture.countKernel(aggregated: counted.aggregated, seenElsewhere: counted.seenElsewhere, time: now)
        for interface in deltas.interfaceDeltas {
            self.interfaceCounters?.add(interface.index, packets: interface.packets, bytes: interface.bytes,
                                        seenElsewhere: interface.seenElsewhere, time: now)
        }
    }

    /// Hands a kernel aggregate to the worker that owns its connection, numbered with the sweep
    /// that follows it. Waits while the ring is full: an aggregate stands for many packets.
    func submit(_ aggregate: FlowAggregate) {
        let hash = FlowKey.addressPairHash(aggregate.key.lowAddress, aggregate.key.highAddress,
                                           ipProtocol: aggregate.key.ipProtocol)
        let worker = self.configuration.workers == 1 ? 0 : Int(self.shardOwners[Int(hash % UInt64(PipelineConfiguration.shardCount))])
        let event = 2 &* self.sequence
        guard let target = self.ringTable[worker] else {
            self.readerProcessor._withUnsafeGuaranteedRef { processor in
                processor.readAhead.flush(processor)
                processor.apply(aggregate, event: event)
            }
            return
        }
        var aggregate = aggregate
        let time = aggregate.last.nanoseconds
        withUnsafeBytes(of: &aggregate) { bytes in
            target._withUnsafeGuaranteedRef { ring in
                while !ring.write(kind: .aggregate, packet: nil, payload: bytes, time: time,
                                  sequence: event) {
                    ring.publish()
                    PacketRing.pause()
                }
            }
        }
    }

    /// What reads the packets (live capture): names the kernel's losses in the records.
    package var datapath: CaptureDatapath? {
        get { self.capture.datapath }
        set { self.capture.datapath = newValue }
    }

    /// Records the kernel's and the interface's drop counts (live capture).
    package func noteDrops(kernel: UInt64, interface: UInt64) {
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
        if kind == .sweep { self.merger.updateCapture(self.capture, interfaces: self.interfaceCounters?.snapshot() ?? []) }
        for ring in self.rings {
            guard let ring else { continue }
            while !ring.write(kind: kind, packet: nil, payload: UnsafeRawBufferPointer(start: nil, count: 0), time: time,
                              sequence: sequence) {
                ring.publish()
                PacketRing.pause()
            }
            ring.publish()
        }
        // Worker 0 on this thread: the marker takes effect here and now, once the other workers
        // have theirs (at the end it may wait for their pieces of the last epoch).
        for (index, ring) in self.rings.enumerated() where ring == nil {
            self.processors[index].readAhead.flush(self.processors[index])
            _ = self.handleMarker(kind, time: time, sequence: sequence, worker: index)
        }
    }

    /// A sweep, reload or end marker reaching a worker. Returns true at the end.
    func handleMarker(_ kind: PacketRing.Kind, time: Int64, sequence: UInt64, worker index: Int) -> Bool {
        let processor = self.processors[index]
        switch kind {
        case .sweep:
            processor.endEpoch(sequence, at: CaptureTime(nanoseconds: time), last: false, into: self.merger, worker: index)
        case .reload:
            if let policy = self.merger.policy(generation: Int(sequence)) { processor.load(policy) }
        case .end:
            processor.endEpoch(sequence, at: CaptureTime(nanoseconds: time), last: true, into: self.merger, worker: index)
            return true
        case .padding, .decoded, .decodedWithPayload, .aggregate:
            break
        }
        return false
    }

    /// Swaps in new identities and policies (SIGHUP): connections that start after the swap
    /// are judged by them; earlier connections keep the verdicts and names they had.
    package func reload(policy: PolicyContext) {
        self.application?.reload(policy)
        let generation = self.merger.addPolicy(policy)
        self.broadcast(.reload, time: self.latestTime.nanoseconds, sequence: UInt64(generation))
        self.publish()
    }

    /// The metrics page (`--metrics-address`) as of the last epoch written: at most a sweep
    /// interval old (one second of a live capture). Called by the metrics server's thread.
    package func metricsPage(interface: String, version: String) -> String {
        self.merger.metricsPage(interface: interface, version: version)
    }

    /// Counts a failed reload for the metrics page.
    package func noteReloadFailed() { self.merger.noteReloadFailed() }

    /// Reopens the output files (after logrotate moved them; SIGHUP).
    package func reopenOutputs() { self.merger.reopen() }

    /// Ends the run: every worker expires and flushes its flows at the latest packet time,
    /// the last records are merged and written, then one `stats` record for the whole run.
    package func finish(inputError: String? = nil, drain: () -> Void = {}) throws(OutputError) {
        self.collectKernelFlows(now: self.latestTime, drain: drain)
        self.broadcast(.end, time: self.latestTime.nanoseconds, sequence: 2 &* self.sequence &+ 2)
        self.publish()
        self.finished.wait()
        if let error = self.merger.failure { throw error }
        self.merger.updateCapture(self.capture, interfaces: self.interfaceCounters?.snapshot() ?? [])
        self.merger.reportFinalLoss(at: self.latestTime)
        if let error = self.merger.failure { throw error }
        var statistics = StatsSnapshot(combining: self.processors.map { $0.statistics() }, capture: self.capture,
                                       time: self.latestTime, inputError: inputError)
        if let application = self.application, statistics.application != nil { application.addCounts(to: &statistics.application!) }
        statistics.alerts = self.merger.alertStage?.counters
        statistics.interfaces = self.merger.namedInterfaceCounts
        statistics.agentReloads = self.merger.reloadCounters?.counts
        StatsRecord.append(statistics, to: &self.output.buffer)
        try self.output.endLine()
        try self.merger.flush()
    }

    // MARK: Workers

    func runWorker(_ index: Int) {
        guard let ring = self.rings[index] else { return }
        let processor = self.processors[index]
        let readAhead = processor.readAhead
        var done = false
        var idle = 0
        while !done {
            let count = ring.drain { header, bytes in
                if header.kind != .decoded { readAhead.flush(processor) }
                switch header.kind {
                case .decoded:
                    // The summary is used where it lies: ring records are 8-byte aligned and the
                    // ring's bytes are this worker's until `drain` returns (a copy out costs 8%),
                    // a few records later (`ReadAhead`).
                    let summary = UnsafeMutableRawPointer(mutating: bytes.rawBuffer.baseAddress!)
                        .bindMemory(to: PacketSummary.self, capacity: 1)
                    readAhead.enqueue(summary, event: header.sequence, time: header.time, length: header.originalLength,
                                      into: processor)
                case .decodedWithPayload:
                    let record = bytes.rawBuffer
                    let summary = UnsafeMutableRawPointer(mutating: record.baseAddress!)
                        .bindMemory(to: PacketSummary.self, capacity: 1)
                    let payload = UnsafeRawBufferPointer(rebasing: record[PacketRing.summaryBytes..<record.count])
                    processor.process(&summary.pointee, payload: payload,
                                      event: header.sequence, time: CaptureTime(nanoseconds: header.time),
                                      length: header.originalLength)
                case .aggregate:
                    let aggregate = bytes.rawBuffer.baseAddress!.loadUnaligned(as: FlowAggregate.self)
                    processor.apply(aggregate, event: header.sequence)
                case .sweep, .reload, .end, .padding:
                    if self.handleMarker(header.kind, time: header.time, sequence: header.sequence, worker: index) {
                        done = true
                    }
                }
            } done: {
                readAhead.flush(processor)
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

