import FlowMonitor
import Foundation
import Testing

/// Every real capture in Captures/corpus must replay: no crash, every line valid
/// JSON matching its schema, every flow created is written, and output is reproducible.
struct ReplayCorpusTests {
    @Test func theCorpusIsPresent() {
        #expect(Fixture.realCaptureNames.count == 60, "expected the 60 captures of \(Fixture.realCaptures.path)")
    }

    @Test(arguments: Fixture.realCaptureNames)
    func realCaptureReplays(name: String) throws {
        let file = Fixture.realCaptures.appendingPathComponent(name)
        let first = try replay(file)
        let second = try replay(file)
        #expect(first.lines == second.lines, "replay output must be byte-for-byte reproducible")
        #expect(first.records.count == first.lines.count, "every line is one JSON object")

        let invalidFiles: Set = ["invalid-pcap-major-version-1.pcap", "invalid-pcapng-shb-option-too-long.pcapng"]
        if invalidFiles.contains(name) {
            #expect(first.error != nil)
            return
        }
        let stats = try #require(first.stats, "a stats record ends every replay that opened its input")
        let flow = try #require(stats["flow"] as? [String: Int])
        #expect(flow["created"] == first.flows.count)
        #expect(flow["emitted"] == flow["created"])
        #expect(flow["active"] == 0)
        let capture = try #require(stats["capture"] as? [String: Any])
        if ["truncated-file-cut-mid-record.pcap", "damaged-record-header-after-2pkts.pcap"].contains(name) {
            #expect(first.error != nil)
            #expect(capture["error"] is String)
        } else {
            #expect(first.error == nil, "\(String(describing: first.error))")
        }
        let validation = try validateAgainstSchemas(first.lines)
        #expect(validation.status == 0, "\(validation.report)")
    }
}
