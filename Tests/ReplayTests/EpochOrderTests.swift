import Datapath
import Detection
import FlowMonitor
import Foundation
import Testing

/// The records an epoch ends are written in single-pass order (`EmissionKey`), whatever order
/// the flow table ended them in: connections that time out at the same sweep with the same
/// deadline are written by flow id. The merger sorts each epoch; this holds it to that.
struct EpochOrderTests {
    @Test func connectionsTimingOutTogetherAreWrittenByFlowID() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("same-instant.pcap")
        // 300 SYNs from new sources at one instant (the same deadline), then one packet two
        // seconds later whose sweep times them all out.
        var bytes = Flood.pcap(packets: 301, frame: Flood.synsFromNewSources)
        var record = 24
        for index in 0..<301 {
            let seconds: UInt32 = index == 300 ? 1_700_000_002 : 1_700_000_000
            withUnsafeBytes(of: seconds.littleEndian) { bytes.replaceSubrange(record..<(record + 4), with: $0) }
            withUnsafeBytes(of: UInt32(0)) { bytes.replaceSubrange((record + 4)..<(record + 8), with: $0) }
            record += 16 + Int(bytes[record + 8]) + Int(bytes[record + 9]) << 8
        }
        try bytes.write(to: file)
        let configuration = ProcessorConfiguration(timeouts: FlowTimeouts(new: .milliseconds(5)), detectors: DetectorSettings())
        let timedOut = try replay(file, configuration: configuration).flows
            .filter { ($0["flow"] as? [String: Any])?["reason"] as? String == "timeout" }
            .compactMap { $0["flow_id"] as? UInt64 }
        #expect(timedOut.count == 300)
        #expect(timedOut == timedOut.sorted(), "timed-out records not in flow id order")
        for workers in [1, 2, 3] {
            #expect(try PipelineTests.pipelineReplay(file, workers: workers, configuration: configuration)
                == replay(file, configuration: configuration).lines, "\(workers) workers")
        }
    }
}
