import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Issue 16's latency guarantee in a live capture, with no `--stats-interval` and no traffic
/// after the event: a policy-violation alert (and the connection's Hubble line) is in the
/// output, the `--alerts` and the `--hubble` files within 2 s of the connection, and the
/// connection's flow record within 2 s of its closed timeout passing — while the capture runs
/// (before, all of them waited for the next stats record or the exit). The record still waits
/// for the closed timeout: when a connection ends does not change. Needs root; when CI=true it
/// must run, not skip.
@Suite(.serialized)
struct LiveLatencyTests {
    struct Scope: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var testDescription: String
    }

    /// The server pod's veth alone, as tcpdump captures it, and the default (every pod's veth
    /// through `any`) with several workers, whose epochs are written only once each has
    /// handed its part over.
    static let scopes = [
        Scope(arguments: ["--interface", "veth1", "--workers", "1"], testDescription: "one named interface, 1 worker"),
        Scope(arguments: ["--workers", "3"], testDescription: "the pods' interfaces, 3 workers"),
    ]

    /// `--timeout-closed`, shortened so the test is quick; the record must not come before it.
    static let closedTimeout = 3.0

    @Test(arguments: scopes) func recordsAndAlertsAreWrittenWithoutWaitingForMoreTraffic(_ scope: Scope) throws {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "live-capture tests must run in CI (as root)")
            return
        }
        let lab = NetworkNamespaceLab(pods: LiveCaptureLabTests.pods)
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (pods, policy) = try lab.writeInventory(policy: LiveCaptureLabTests.policy, into: directory)
        let output = directory.appendingPathComponent("flows.jsonl")
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let alerts = directory.appendingPathComponent("alerts.jsonl")

        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--filter", "ip", "--pods", pods.path,
            "--policies", policy.path, "--node-name", "lab-node", "--output", output.path, "--hubble", hubble.path,
            "--alerts", alerts.path, "--timeout-closed", "\(Self.closedTimeout)"] + scope.arguments, seconds: 120)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        let server = try startAnsweringServer(in: lab.namespace(of: lab.pods[1]))
        defer { server.stop() }

        // c (app: intruder) -> b:8080, which the policy allows only from app: client: verdict
        // AUDIT and a policy_violation alert. The connection closes (FIN both ways); then no
        // packet at all.
        let started = Date()
        let intruder = lab.namespace(of: lab.pods[2])
        let served = try lab.sh("ip netns exec \(intruder) sh -c 'echo hello | nc -w 2 -N 10.244.0.12 8080'")
        let closed = Date()
        #expect(served.stdout.contains("served"), "the connection c -> b:8080 was served: \(served)")

        func lines(_ file: URL) -> [String] {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        func isIntruders(_ line: String) -> Bool { line.contains("10.244.0.13") }
        let alert = { lines(output).contains { $0.contains("\"event_type\":\"alert\"") && $0.contains("policy_violation") } }
        let alertInFile = { lines(alerts).contains { $0.contains("policy_violation") && isIntruders($0) } }
        let hubbleLine = { lines(hubble).contains(where: isIntruders) }
        let flow = { lines(output).contains { $0.contains("\"event_type\":\"flow\"") && isIntruders($0) } }
        var seen: [String: Date] = [:]
        let checks = [("alert", alert), ("alerts file", alertInFile), ("hubble", hubbleLine), ("flow", flow)]
        flowmon.wait(seconds: Self.closedTimeout + 10) {
            for (name, check) in checks where seen[name] == nil && check() { seen[name] = Date() }
            return seen.count == checks.count
        }
        #expect(flowmon.process.isRunning, "the capture still runs: \(flowmon.stderrSoFar)")
        for name in ["alert", "alerts file", "hubble"] {
            let at = try #require(seen[name], "\(name): not written while the capture runs")
            #expect(at.timeIntervalSince(closed) <= 2, "\(name) written \(at.timeIntervalSince(closed)) s after the connection")
        }
        let flowAt = try #require(seen["flow"], "the flow record is not written while the capture runs")
        #expect(flowAt.timeIntervalSince(closed) <= Self.closedTimeout + 2,
                "the flow record came \(flowAt.timeIntervalSince(closed) - Self.closedTimeout) s after its closed timeout")
        #expect(flowAt.timeIntervalSince(started) >= Self.closedTimeout, "the connection ends after its closed timeout, not before")
        print("LiveLatencyTests (\(scope.testDescription)): alert after \(seen["alert"]!.timeIntervalSince(closed)) s, "
              + "flow record \(flowAt.timeIntervalSince(closed) - Self.closedTimeout) s after the closed timeout")

        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        let record = try #require(lines(output).first { $0.contains("\"event_type\":\"flow\"") && isIntruders($0) }
            .flatMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] })
        #expect((record["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT")
        #expect((record["flow"] as? [String: Any])?["alerted"] as? Bool == true)
        #expect((record["flow"] as? [String: Any])?["reason"] as? String == "timeout", "ended by its closed timeout: \(record)")
    }
}
