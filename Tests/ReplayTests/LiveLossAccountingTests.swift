import Foundation
import Testing

/// Packets sent at the highest rate the machine manages (`tcpreplay --topspeed`) into a
/// namespace where `flowmon capture` listens: what flowmon received plus every kind of drop
/// it reports adds up to what was sent. Run once with generous buffers and once with a tiny
/// kernel buffer and ring, so drops happen and must be counted (and reported as `lost`).
@Suite(.serialized)
struct LiveLossAccountingTests {
    @Test(arguments: [(32, 32), (1, 1)])
    func receivedPlusDropsEqualsSent(bufferMiB: Int, ringMiB: Int) throws {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "live-capture tests must run in CI (as root)")
            return
        }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpreplay") else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "tcpreplay is installed by .ci/run")
            return
        }
        let lab = NetworkNamespaceLab(pods: [.init(name: "sender", namespace: "x", app: "sender", address: "10.244.0.21")])
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")

        // veth0 is the sender pod's port on the node's bridge: every frame it sends arrives there.
        // Leave out what the lab's own stacks send (ARP, IGMP reports to multicast groups): only the
        // replayed frames count, and the demo capture has no multicast frames.
        let sender = lab.namespace(of: lab.pods[0])
        let mac = try lab.sh("ip netns exec \(sender) cat /sys/class/net/eth0/address").stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--datapath", "pcap", "--interface", "veth0",
            "--filter", "not ether multicast and not ether src \(mac)", "--buffer-size", "\(bufferMiB)", "--ring-size", "\(ringMiB)",
            "--output", output.path, "--stats-interval", "1"], seconds: 180)
        defer { flowmon.process.stop() }
        // Sending starts once the capture is open (not after a fixed sleep: on a loaded machine,
        // or under a sanitizer, opening it can take longer).
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")

        let capture = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path
        // A veth drops what its peer's backlog cannot take and counts it as the sender's tx_dropped:
        // those packets never reach the capture's interface, so they are not sent as far as it is concerned.
        func senderTxDropped() throws -> Int {
            Int(try lab.sh("ip netns exec \(sender) cat /sys/class/net/eth0/statistics/tx_dropped").stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let droppedBefore = try senderTxDropped()
        let replay = try lab.sh("ip netns exec \(sender) tcpreplay --topspeed --loop 40 -i eth0 '\(capture)' 2>&1")
        #expect(replay.status == 0, "\(replay.stdout)")
        let sentLine = replay.stdout.split(separator: "\n").first { $0.contains("Successful packets:") }
        let successful = try #require(sentLine.flatMap { Int($0.split(separator: ":").last!.trimmingCharacters(in: .whitespaces)) },
                                      "\(replay.stdout)")
        #expect(successful == 1500 * 40)
        let sent = successful - (try senderTxDropped() - droppedBefore)
        // Stop once the stats (every second) account for every packet sent, or after 60 s: the
        // capture may still be draining the kernel's buffer when tcpreplay is done.
        func accounted() -> Int {
            let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            guard let line = text.split(separator: "\n").last(where: { $0.contains("\"event_type\":\"stats\"") }),
                  let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let capture = (record["stats"] as? [String: Any])?["capture"] as? [String: Any] else { return 0 }
            return ["packets", "kernel_dropped", "interface_dropped"].reduce(0) { $0 + (capture[$1] as? Int ?? 0) }
        }
        _ = flowmon.wait(seconds: 60) { accounted() >= sent }
        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")

        let records = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        let stats = try #require(records.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any])
        let counters = try #require(stats["capture"] as? [String: Any]).compactMapValues { $0 as? Int }
        let received = counters["packets"] ?? -1
        let drops = (counters["kernel_dropped"] ?? 0) + (counters["interface_dropped"] ?? 0) + (counters["ring_dropped"] ?? 0)
        // Ring drops are packets flowmon read (counted in `packets`) and then dropped; the kernel's
        // are packets it never saw.
        let seen = received + (counters["kernel_dropped"] ?? 0) + (counters["interface_dropped"] ?? 0)
        #expect(seen == sent, "received \(received) + kernel/interface drops must equal sent \(sent): \(counters)")
        if drops > 0 {
            #expect(records.contains { $0["event_type"] as? String == "lost" }, "drops are reported as lost records")
        }
        let processed = (stats["decoder"] as? [String: Int])?["pkts"] ?? -1
        #expect(processed + (counters["ring_dropped"] ?? 0) == received, "every packet read was decoded or counted as a ring drop")
    }
}
