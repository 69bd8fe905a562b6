import Capture
import Datapath
import Detection
import FlowMonitor
import Foundation
import Output
import Testing

/// The worker pipeline (ring buffers, sharded flow tables, merged output) writes exactly what
/// a single pass on one thread writes, for any number of workers — flow records, alerts
/// (the detectors see the workers' events merged in capture order) and stats.
struct PipelineTests {
    static func pipelineReplay(_ file: URL, workers: Int,
                               configuration: ProcessorConfiguration = ProcessorConfiguration(detectors: DetectorSettings()),
                               ringBytes: Int = 1 << 16) throws -> [String] {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.jsonl").path
        do {
            let output = try JSONLinesOutput(path: path)
            let pipeline = Pipeline(configuration: PipelineConfiguration(workers: workers, ringBytes: ringBytes, mode: .replay),
                                    processor: configuration, output: output, policy: nil)
            do {
                let reader = try CaptureFileReader(path: file.path)
                try Replay.run(reader, filter: nil, into: pipeline)
            } catch {
                // Input errors end the run the same way in both paths; compare what was written.
                _ = error
            }
        }
        return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static var captures: [String] {
        Fixture.captureFiles(in: Fixture.captures)
            .map(\.path)
            .filter { !$0.contains("/regressions/") && !$0.hasSuffix("invalid-pcap-major-version-1.pcap")
                && !$0.hasSuffix("invalid-pcapng-shb-option-too-long.pcapng") }
    }

    @Test(arguments: captures)
    func twoAndThreeWorkersWriteWhatOnePassWrites(path: String) throws {
        let file = URL(fileURLWithPath: path)
        let single = try replay(file).lines
        // A tiny ring (64 KiB) so replay keeps filling it and has to wait.
        for workers in [1, 2, 3] {
            let pipelined = try Self.pipelineReplay(file, workers: workers)
            #expect(pipelined.count == single.count, "\(file.lastPathComponent), \(workers) workers")
            #expect(Array(pipelined.dropLast()) == Array(single.dropLast()), "\(file.lastPathComponent), \(workers) workers: flow records")
            let stats = { (line: String) in line.replacingOccurrences(of: "\"kernel_dropped\":0,\"interface_dropped\":0,\"ring_dropped\":0,", with: "") }
            #expect(pipelined.last.map(stats) == single.last.map(stats), "\(file.lastPathComponent), \(workers) workers: stats")
        }
    }

    /// Drops the capture noted after the last sweep (a live capture stopped right after a burst)
    /// get their `lost` records at the end, before the final `stats`: the `lost` records always
    /// add up to the drop counts the run ends with.
    @Test func dropsNotedAfterTheLastSweepAreReportedAtTheEnd() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("out.jsonl").path
        do {
            let pipeline = Pipeline(configuration: PipelineConfiguration(workers: 2, ringBytes: 1 << 16, mode: .live),
                                    processor: ProcessorConfiguration(), output: try JSONLinesOutput(path: path), policy: nil)
            pipeline.datapath = .ebpf
            let reader = try CaptureFileReader(path: Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path)
            while let packet = try reader.next() { pipeline.submit(packet) }
            pipeline.publish()
            pipeline.noteDrops(kernel: 20_600, interface: 3)
            try pipeline.finish()
        }
        let records = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").suffix(3).map {
            try #require(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let lost = records.prefix(2).compactMap { $0["lost"] as? [String: Any] }
        #expect(lost.map { $0["source"] as? String } == ["ebpf_ringbuf", "interface"], "\(records)")
        #expect(lost.map { $0["num_events_lost"] as? Int } == [20_600, 3] && lost.map { $0["total"] as? Int } == [20_600, 3])
        let capture = (records.last?["stats"] as? [String: Any])?["capture"] as? [String: Any]
        #expect(capture?["kernel_dropped"] as? Int == 20_600 && capture?["interface_dropped"] as? Int == 3, "\(records)")
    }

    /// More than 16,384 packets inside one second: the pipeline also sweeps (and ends an epoch)
    /// every 16,384 packets, as a single pass does, so the output stays the same. Unanswered SYNs
    /// from new sources, 1 µs apart, with a 5 ms timeout for unanswered connections: most of
    /// them end at those sweeps, and the detectors see failed attempts in every epoch. (With a
    /// full table the output would differ: each worker evicts the least recently active
    /// connection of its own shard.)
    @Test func aFloodInsideOneSecondIsSweptByPacketCountTheSameWay() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("syn-flood.pcap")
        try Flood.pcap(packets: 40_000, frame: Flood.synsFromNewSources).write(to: file)
        let configuration = ProcessorConfiguration(timeouts: FlowTimeouts(new: .milliseconds(5)), detectors: DetectorSettings())
        let single = try replay(file, configuration: configuration).lines
        #expect(single.count > 40_000)
        #expect(single.last?.contains("\"timeout\":35000,") == true, "flows ended by the packet-count sweeps")
        for workers in [1, 2, 3] {
            let pipelined = try Self.pipelineReplay(file, workers: workers, configuration: configuration)
            let difference = zip(pipelined, single).enumerated().first { $0.element.0 != $0.element.1 }?.offset
            #expect(pipelined.count == single.count && difference == nil,
                    "\(workers) workers: \(pipelined.count) lines, \(single.count) in one pass; first difference at \(difference ?? -1)")
        }
    }
}
