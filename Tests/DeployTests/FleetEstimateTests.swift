import Foundation
import Testing
import TestSupport

/// deploy/fleet-estimate (docs/deployment.md's per-node table from a flow log) on the demo's golden
/// records, against the same arithmetic done here: connections per second are the throughput over
/// the frame bytes per connection, log bytes per second those times every line's bytes per
/// connection.
@Suite struct FleetEstimateTests {
    @Test func theEstimateIsTheThroughputOverTheMeasuredBytesPerConnection() throws {
        let golden = FlowmonTestSupport.root.appendingPathComponent("Captures/demo/demo-cluster.policies.expected.jsonl")
        var connections = 0, frameBytes = 0, lineBytes = 0
        for line in try String(contentsOf: golden, encoding: .utf8).split(separator: "\n") {
            lineBytes += line.utf8.count + 1
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            guard record["event_type"] as? String == "flow", let flow = record["flow"] as? [String: Any] else { continue }
            connections += 1
            frameBytes += (flow["bytes_toserver"] as? Int ?? 0) + (flow["bytes_toclient"] as? Int ?? 0)
        }
        #expect(connections == 120)
        let run = try FlowmonTestSupport.run(FlowmonTestSupport.root.appendingPathComponent("deploy/fleet-estimate"),
                                             [golden.path, "--gbps", "1", "10"])
        #expect(run.status == 0, "\(run.stderr)")
        func rows(_ gbps: Double) -> (records: Double, megabytes: Double) {
            let records = gbps * 1e9 / 8 / (Double(frameBytes) / Double(connections))
            return (records, records * Double(lineBytes) / Double(connections) / 1e6)
        }
        for (gbps, label) in [(1.0, "1 Gbit/s"), (10.0, "10 Gbit/s")] {
            let row = try #require(run.stdout.split(separator: "\n").first { $0.contains(label) }, "\(run.stdout)")
            let numbers = row.split(separator: " ").dropFirst(2).map { Double($0.replacingOccurrences(of: ",", with: "")) ?? -1 }
            let expected = rows(gbps)
            #expect(abs(numbers[0] - expected.records) <= 1, "\(row): records/s, expected \(expected.records)")
            #expect(abs(numbers[1] - expected.megabytes) <= 0.05, "\(row): MB/s, expected \(expected.megabytes)")
        }
        #expect(run.stdout.contains("alert           31"), "\(run.stdout)")
        #expect(run.stdout.contains("flow           120        1,600"), "\(run.stdout)")
        #expect(run.stdout.contains("dns             78        1,233"), "\(run.stdout)")

        let bad = try FlowmonTestSupport.run(FlowmonTestSupport.root.appendingPathComponent("deploy/fleet-estimate"),
                                             [FlowmonTestSupport.root.appendingPathComponent("README.md").path])
        #expect(bad.status == 1 && bad.stderr.contains("README.md: line 1: not JSON"), "\(bad.stderr)")
    }
}
