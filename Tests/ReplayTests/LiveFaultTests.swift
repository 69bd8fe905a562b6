import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults during `flowmon capture`, in network namespaces the tests create: the captured
/// interface set down and up again, and an output that cannot be written. Needs root; when
/// CI=true it must run, not skip.
///
/// An interface that goes down is waited out, as tcpdump (libpcap 1.10) does: a node agent
/// should outlive a link flap, and connections may go on once it is back. flowmon says so on
/// one line, writes the records of every connection that ended so far at once, keeps the
/// others (they end by their timeouts, or go on), says when the link is back, and goes on
/// capturing. A deleted interface ends the capture (LiveCaptureTests).
@Suite(.serialized)
struct LiveFaultTests {
    static var isRoot: Bool { getuid() == 0 }
    static var mustRun: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Two namespaces joined by a veth pair: `va` (10.77.0.1) in `client`, `vb` (10.77.0.2) in
    /// `server`. Removed by `tearDown`, also after a failed setup.
    final class VethPair {
        let prefix = "fl" + UUID().uuidString.prefix(8).lowercased()
        var client: String { "\(self.prefix)-c" }
        var server: String { "\(self.prefix)-s" }

        @discardableResult
        func sh(_ command: String) throws -> (status: Int32, stdout: String, stderr: String) {
            try run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
        }

        func setUp() throws {
            self.tearDown()
            for step in [
                "ip netns add \(self.client)", "ip netns add \(self.server)",
                // No IPv6: router solicitations and DAD would add packets the test did not send.
                "ip netns exec \(self.client) sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
                "ip netns exec \(self.server) sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
                "ip -n \(self.client) link set lo up", "ip -n \(self.server) link set lo up",
                "ip -n \(self.client) link add va type veth peer name vb netns \(self.server)",
                "ip -n \(self.client) addr add 10.77.0.1/24 dev va", "ip -n \(self.server) addr add 10.77.0.2/24 dev vb",
                "ip -n \(self.client) link set va up", "ip -n \(self.server) link set vb up",
            ] {
                let result = try self.sh(step)
                guard result.status == 0 else { throw NetworkNamespaceLab.LabError(message: "\(step): \(result.stderr)") }
            }
        }

        func tearDown() {
            _ = try? self.sh([self.client, self.server].map {
                "ip netns pids \($0) 2>/dev/null | xargs -r kill -9; ip netns del \($0) 2>/dev/null"
            }.joined(separator: "; ") + "; true")
        }
    }


    static func flows(in file: URL) -> [[String: Any]] {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        return parseJSONLines(text.split(separator: "\n").map(String.init)).records
            .filter { $0["event_type"] as? String == "flow" }
    }

    static func hasFlow(_ flows: [[String: Any]], proto: String, port: Int) -> Bool {
        flows.contains { $0["proto"] as? String == proto && $0["dest_port"] as? Int == port && $0["src_ip"] as? String == "10.77.0.1" }
    }

    @Test(.timeLimit(.minutes(1)))
    func anInterfaceSetDownIsReportedItsFlowsWrittenAndTheCaptureGoesOn() throws {
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let pair = VethPair()
        defer { pair.tearDown() }
        try pair.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")
        let server = try startAnsweringServer(in: pair.server)
        defer { server.stop() }

        // Connections end a second after their last packet; the stats line (and its flush) is
        // due only every 60 s, so records wait in the output buffer until something flushes it.
        let capture = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", pair.client, Fixture.flowmonBinary.path, "capture", "--interface", "va", "--filter", "ip",
            "--output", output.path, "--workers", "1",
            "--timeout-new", "1", "--timeout-established", "1", "--timeout-closed", "1",
        ], seconds: 50)
        defer { if capture.process.isRunning { kill(capture.pid, SIGKILL) } }
        #expect(capture.wait(seconds: 10) { capture.stderrSoFar.contains("flowmon: capturing on va") }, "\(capture.stderrSoFar)")

        let tcp = try pair.sh("ip netns exec \(pair.client) sh -c 'echo hello | nc -w 2 -q 1 10.77.0.2 8080'")
        #expect(tcp.stdout.contains("served"), "\(tcp)")
        let udp = try pair.sh("ip netns exec \(pair.client) sh -c 'echo query | socat -t 5 - UDP:10.77.0.2:5353'")
        #expect(udp.stdout.contains("answer"), "\(udp)")
        Thread.sleep(forTimeInterval: 2.5)  // both connections end (1 s timeouts, swept every second)

        try pair.sh("ip -n \(pair.client) link set va down")
        let downLine = "flowmon: warning: interface 'va' went down; waiting for it to come back up\n"
        #expect(capture.wait(seconds: 5) { capture.stderrSoFar.contains(downLine) }, "\(capture.stderrSoFar)")
        #expect(capture.wait(seconds: 5) {
            let flows = Self.flows(in: output)
            return Self.hasFlow(flows, proto: "TCP", port: 8080) && Self.hasFlow(flows, proto: "UDP", port: 5353)
        }, "the connections seen before the link went down are in the output while flowmon waits")
        Thread.sleep(forTimeInterval: 1)
        #expect(capture.process.isRunning, "a link that is down is waited out")

        try pair.sh("ip -n \(pair.client) link set va up")
        #expect(capture.wait(seconds: 5) { capture.stderrSoFar.contains("flowmon: interface 'va' is up again\n") },
                "\(capture.stderrSoFar)")
        // Traffic after the link is back is captured.
        var answered = false
        for _ in 0..<5 where !answered {  // the link may take a moment to carry traffic again
            answered = try pair.sh("ip netns exec \(pair.client) sh -c 'echo again | socat -t 2 - UDP:10.77.0.2:5353'")
                .stdout.contains("answer")
        }
        #expect(answered)
        Thread.sleep(forTimeInterval: 0.5)
        kill(capture.pid, SIGINT)
        let result = capture.finish()
        #expect(!result.timedOut && result.status == 0, "SIGINT ends the capture with status 0: \(result.stderr)")
        #expect(result.stderr.components(separatedBy: downLine).count == 2, "reported once: \(result.stderr)")
        let flows = Self.flows(in: output)
        #expect(flows.filter { $0["proto"] as? String == "UDP" && $0["dest_port"] as? Int == 5353 }.count == 2, "\(flows)")
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init)
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    @Test(.timeLimit(.minutes(1)))
    func aLiveCaptureWhoseOutputIsFullEndsWithOneLine() throws {
        // Before, the capture went on until it was stopped, writing nothing.
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let pair = VethPair()
        defer { pair.tearDown() }
        try pair.setUp()
        let result = try runBounded(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", pair.client, Fixture.flowmonBinary.path, "capture", "--interface", "lo",
            "--output", "/dev/full", "--stats-interval", "1",
        ], seconds: 20)
        #expect(!result.timedOut, "no hang")
        #expect(!result.killedBySignal)
        #expect(result.status == 1)
        #expect(result.stderrLines.last == "flowmon: error: cannot write to /dev/full: No space left on device", "\(result.stderr)")
        #expect(result.stderrLines.filter { $0.hasPrefix("flowmon: error:") }.count == 1)
    }
    /// `--rotate-size` counts every line: a file is moved aside as soon as a line reaches the
    /// size, so none is more than one line larger, and `--rotate-keep` old files are kept.
    /// Before, the file was rotated only between epochs (each second of packets), so the records
    /// written together at the end went whole into one file many times the size, and only
    /// `FILE.1` was kept.
    @Test(.timeLimit(.minutes(1)))
    func rotationKeepsEveryFileWithinOneLineOfTheSize() throws {
        guard Self.isRoot else {
            #expect(!Self.mustRun, "live-capture tests must run in CI (as root)")
            return
        }
        let pair = VethPair()
        defer { pair.tearDown() }
        try pair.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")
        let capture = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", pair.client, Fixture.flowmonBinary.path, "capture", "--interface", "lo", "--workers", "1",
            "--output", output.path, "--rotate-size", "8K", "--rotate-keep", "3",
        ], seconds: 50)
        defer { if capture.process.isRunning { kill(capture.pid, SIGKILL) } }
        #expect(capture.wait(seconds: 10) { capture.stderrSoFar.contains("flowmon: capturing on lo") }, "\(capture.stderrSoFar)")
        // 300 UDP connections, still open when the capture stops: about 150 kB of records
        // written at once (reason shutdown).
        let sender = directory.appendingPathComponent("send.py")
        try """
            import socket
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for port in range(20000, 20300):
                s.sendto(b"x", ("127.0.0.1", port))
            """.write(to: sender, atomically: true, encoding: .utf8)
        let sent = try pair.sh("ip netns exec \(pair.client) python3 '\(sender.path)'")
        #expect(sent.status == 0, "\(sent.stderr)")
        Thread.sleep(forTimeInterval: 1)
        kill(capture.pid, SIGINT)
        let result = capture.finish()
        #expect(!result.timedOut && result.status == 0, "\(result.stderr)")

        #expect(!FileManager.default.fileExists(atPath: output.path + ".4"), "3 old files are kept, no more")
        var flows = 0
        for generation in 1...3 {
            let text = try String(contentsOfFile: output.path + ".\(generation)", encoding: .utf8)
            let lines = text.split(separator: "\n").map(String.init)
            let (records, bad) = parseJSONLines(lines)
            #expect(bad.isEmpty && text.hasSuffix("\n"), "whole lines only")
            flows += records.filter { $0["event_type"] as? String == "flow" }.count
            let size = text.utf8.count, longest = lines.map(\.utf8.count).max() ?? 0
            #expect(size >= 8192 && size <= 8192 + longest, "flows.jsonl.\(generation): \(size) bytes, longest line \(longest)")
        }
        #expect(flows > 20, "\(flows) flows in the kept files")
    }
}
