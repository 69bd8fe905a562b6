import Agent
import Capture
import Datapath
import Detection
@testable import FlowMonitor
import Foundation
import Output
import Testing

/// The metrics page over a replay, epoch after epoch: every counter series only goes up and
/// none disappears, the page ends with the run's totals (the flow records and stats written),
/// and `promtool check metrics` accepts it (when promtool is there; in CI it must be).
@Suite struct MetricsCountersTests {
    /// `series → value` of the page's counter families (gauges left out).
    static func counters(_ page: String) -> [String: Double] {
        var counterFamilies: Set<String> = []
        var values: [String: Double] = [:]
        for line in page.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 && parts[3] == "counter" { counterFamilies.insert(String(parts[2])) }
                continue
            }
            guard !line.hasPrefix("#"), let space = line.lastIndex(of: " ") else { continue }
            let series = String(line[..<space])
            let name = String(series.prefix { $0 != "{" })
            if counterFamilies.contains(name) { values[series] = Double(line[line.index(after: space)...]) }
        }
        return values
    }

    @Test func countersOnlyGoUpAndEndAtTheRunsTotals() throws {
        let state = try AgentState.load(AgentConfiguration(
            pods: Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path], verdictAsEnforced: true))
        var configuration = ProcessorConfiguration(detectors: DetectorSettings())
        configuration.metrics = true
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("flows.jsonl").path
        let output = try JSONLinesOutput(path: outputPath)
        let processor = FlowProcessor(configuration: configuration, output: output, policy: state.context())
        let merger = try #require(processor.merger)
        let reader = try CaptureFileReader(path: Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path)
        var previous: [String: Double] = [:]
        var pages = 0
        var packets = 0
        while let packet = try reader.next() {
            try processor.process(packet)
            packets += 1
            guard packets % 50 == 0 else { continue }
            let current = Self.counters(merger.metricsPage(interface: "demo", version: "test"))
            for (series, value) in previous {
                let now = try #require(current[series], "\(series) disappeared")
                #expect(now >= value, "\(series) went from \(value) to \(now)")
            }
            if current != previous { pages += 1 }
            previous = current
        }
        try processor.finish()
        #expect(pages > 5, "the page changed only \(pages) times")
        let page = merger.metricsPage(interface: "demo", version: "test")
        let final = Self.counters(page)
        for (series, value) in previous { #expect(final[series, default: -1] >= value, "\(series)") }
        // The totals are the run's: flow records by end reason, all of them ended.
        let lines = try String(contentsOfFile: outputPath, encoding: .utf8).split(separator: "\n")
        let records = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let flows = records.filter { $0["event_type"] as? String == "flow" }
        let flowsTotal = final.filter { $0.key.hasPrefix("flowmon_flows_total{") }.values.reduce(0, +)
        #expect(flowsTotal == Double(flows.count))
        let ports = final.filter { $0.key.hasPrefix("hubble_port_distribution_total{") }.values.reduce(0, +)
        #expect(ports == Double(flows.count))
        #expect(final["flowmon_inventory_reloads_total{result=\"success\"}"] == 0)
        // The demo has no scan and no source over the rate limit: nothing folded or suppressed.
        #expect(final["flowmon_alerts_suppressed_total{reason=\"folded\"}"] == 0)
        #expect(final["flowmon_alerts_suppressed_total{reason=\"rate_limited\"}"] == 0)

        let promtool = "/usr/bin/promtool"
        guard FileManager.default.isExecutableFile(atPath: promtool) else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "promtool is missing in CI")
            return
        }
        let pageFile = directory.appendingPathComponent("metrics.txt")
        try page.write(to: pageFile, atomically: true, encoding: .utf8)
        let check = try run(URL(fileURLWithPath: "/bin/sh"), ["-c", "\(promtool) check metrics < '\(pageFile.path)'"])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
    }
}
