import Foundation
import Testing

/// The eBPF datapath wakes its reader once per batch of records, not once per packet
/// (bpf/flowmon.bpf.c, `wakeup`). With the ring buffer's default notification, a reader that
/// keeps up was woken for nearly every packet: an inter-processor interrupt in the sending
/// context each, and batches of one or two packets (scripts/bench-live-rate measured 27 packets
/// per wake-up at 200,000 pps, and a BPF program time of 650-990 ns per packet, against 350-420
/// after). Through the real CLI: the voluntary context switches of flowmon's capture thread (the
/// main thread, which reads the ring) while 6,000 packets arrive at a steady 2,000 per second,
/// far below what it reads: about 6,000 before, a few dozen after.
@Suite(.serialized)
struct EBPFWakeupTests {
    @Test func theReaderIsWokenPerBatchNotPerPacket() throws {
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
        let flowmon = try BoundedProcess(
            URL(fileURLWithPath: "/usr/sbin/ip"),
            [
                "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--datapath", "ebpf", "--interface", "veth0",
                "--workers", "1", "--output", output.path, "--stats-interval", "1"
            ], seconds: 120)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")

        /// Voluntary context switches of flowmon's main thread, the capture loop: each is a wait
        /// for the ring ended by a wake-up (or by the wait's 100 ms timeout).
        func switches() -> Int {
            let status = (try? String(contentsOfFile: "/proc/\(flowmon.pid)/task/\(flowmon.pid)/status", encoding: .utf8)) ?? ""
            let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
            return line.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? -1
        }
        let capture = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path
        let before = switches()
        let replay = try lab.sh("ip netns exec \(lab.namespace(of: lab.pods[0])) tcpreplay --pps 2000 --loop 4 -i eth0 '\(capture)' 2>&1")
        let woken = switches() - before
        #expect(replay.status == 0, "\(replay.stdout)")
        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("datapath: eBPF"), "\(run.stderr)")
        // A batch is 32 KiB of records (a few hundred of these packets); the 100 ms timeouts of
        // the wait add ten a second.
        #expect(before >= 0 && woken < 6000 / 10, "\(woken) wake-ups of the capture thread for 6,000 packets")
    }
}
