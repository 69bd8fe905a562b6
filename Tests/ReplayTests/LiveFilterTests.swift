import Foundation
import Testing

/// The filters on `flowmon capture`: in a node built from network namespaces, one capture
/// keeps everything and another, on the same packets, takes `--to-namespace x --not --to-port
/// 9090 --type flow`; the second writes exactly the connections `flowmon observe` with the same
/// options keeps from the first. Needs root; when CI=true it must run, not skip.
@Suite(.serialized)
struct LiveFilterTests {
    @Test func captureFiltersAsObserveDoes() throws {
        guard LiveCaptureLabTests.isRoot else {
            #expect(!LiveCaptureLabTests.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: LiveCaptureLabTests.pods)
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (podsFile, policyFile) = try lab.writeInventory(policy: LiveCaptureLabTests.policy, into: directory)
        let everything = directory.appendingPathComponent("all.jsonl"), kept = directory.appendingPathComponent("kept.jsonl")
        let filters = ["--to-namespace", "x", "--not", "--to-port", "9090", "--type", "flow"]
        func capture(_ output: URL, _ extra: [String]) throws -> BoundedProcess {
            try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
                "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--datapath", "pcap",
                "--pods", podsFile.path, "--policies", policyFile.path, "--node-name", "lab-node", "--output", output.path,
                "--stats-interval", "1"] + extra, seconds: 180)
        }
        let all = try capture(everything, [])
        defer { all.process.stop() }
        let filtered = try capture(kept, ["--format", "json"] + filters)
        defer { filtered.process.stop() }
        for flowmon in [all, filtered] {
            #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        }
        let (a, b, c) = (lab.namespace(of: LiveCaptureLabTests.pods[0]), lab.namespace(of: LiveCaptureLabTests.pods[1]),
                         lab.namespace(of: LiveCaptureLabTests.pods[2]))
        let server = try startAnsweringServer(in: b)
        defer { server.stop() }
        _ = try lab.sh("ip netns exec \(a) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        _ = try lab.sh("ip netns exec \(c) sh -c 'echo hello | nc -w 2 -q 1 10.244.0.12 8080'")
        _ = try lab.sh("ip netns exec \(a) nc -z -w 2 10.244.0.12 9090")
        _ = try lab.sh("ip netns exec \(a) sh -c 'echo query | socat -t 10 - UDP:10.244.0.12:5353'")
        _ = try lab.sh("ip netns exec \(a) ping -c 3 -i 0.2 10.244.0.13")
        // Both have read everything once the unfiltered one's packet count stops moving.
        func packetsCounted() -> [Int] {
            let text = (try? String(contentsOf: everything, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("\"event_type\":\"stats\"") }.compactMap { line in
                let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
                return ((record?["stats"] as? [String: Any])?["capture"] as? [String: Any])?["packets"] as? Int
            }
        }
        let settledFrom = packetsCounted().count
        _ = all.wait(seconds: 60) {
            let counts = packetsCounted().dropFirst(settledFrom)
            return counts.count >= 3 && counts.last! > 0 && counts.suffix(2).first == counts.last
        }
        for flowmon in [all, filtered] {
            kill(flowmon.pid, SIGINT)
            let finished = flowmon.finish()
            #expect(finished.status == 0, "\(finished.stderr)")
        }
        func keys(_ lines: [String]) -> Set<String> {
            Set(lines.map(FilterCLITests.object).filter { FilterCLITests.type($0) == "flow" }.map {
                HubbleFilterConformanceTests.flowmonKey($0, unordered: false) + " \(FilterCLITests.verdict($0) ?? "")"
            })
        }
        let written = try FilterCLITests.lines(kept)
        let expected = keys(try FilterCLITests.observe(everything, filters))
        #expect(written.allSatisfy { $0.contains("\"event_type\":\"flow\"") })
        #expect(keys(written) == expected)
        #expect(expected.contains { $0.contains("10.244.0.13 ") && $0.contains(" 10.244.0.12 8080 TCP") }, "c -> b:8080 (y to x): \(expected)")
        #expect(expected.contains { $0.contains(" 10.244.0.12 5353 UDP") }, "\(expected)")
        #expect(!expected.contains { $0.contains(" 9090 ") || $0.contains("ICMP") }, "\(expected)")
    }
}
