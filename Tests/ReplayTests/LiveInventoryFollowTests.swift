import Foundation
import Testing

/// A live capture follows its inventory without SIGHUP: a pods file replaced by rename is
/// reloaded (the next connection's verdict follows the new labels), a half-written one is
/// reported and the previous pods kept, and `--pods FIFO` follows the watch stream of
/// `kubectl get pods -A --watch --output-watch-events -o json` (the next connection's identity
/// follows ADDED and DELETED). Each reload is on stderr and counted in `stats.agent`.
@Suite(.serialized)
struct LiveInventoryFollowTests {
    static func labPods() -> NetworkNamespaceLab {
        NetworkNamespaceLab(pods: [
            .init(name: "a", namespace: "x", app: "client", address: "10.244.0.11"),
            .init(name: "b", namespace: "x", app: "server", address: "10.244.0.12"),
        ])
    }

    /// Whether the live tests can run here; in CI (as root) they must.
    static func canRun() -> Bool {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "live-capture tests must run in CI (as root)")
            return false
        }
        return true
    }

    static func capture(_ lab: NetworkNamespaceLab, pods: String, output: URL, policy: URL) throws -> BoundedProcess {
        try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", lab.node, Fixture.flowmonBinary.path, "capture", "--interface", "any",
            "--filter", "inbound and udp", "--pods", pods, "--policies", policy.path, "--node-name", "lab-node",
            "--output", output.path, "--workers", "2", "--stats-interval", "1",
            // One-way UDP flows end half a second after their packet, so each is written before the next phase.
            "--timeout-new", "0.5"], seconds: 120)
    }

    static func send(_ lab: NetworkNamespaceLab, from sourcePort: Int) throws {
        let a = lab.namespace(of: lab.pods[0])
        try lab.sh("ip netns exec \(a) sh -c 'echo x | socat -u - UDP:10.244.0.12:7001,sourceport=\(sourcePort)'")
    }

    /// The flow records of `file` by source port.
    static func flows(_ file: URL) -> [Int: [String: Any]] {
        var result: [Int: [String: Any]] = [:]
        for line in ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n") {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  record["event_type"] as? String == "flow", let port = record["src_port"] as? Int else { continue }
            result[port] = record
        }
        return result
    }

    /// The last stats record's `stats.agent`.
    static func agentStats(_ file: URL) -> [String: Int]? {
        let text = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n").reversed() {
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let stats = record["stats"] as? [String: Any] else { continue }
            return stats["agent"] as? [String: Int]
        }
        return nil
    }

    static func count(_ text: String, _ part: String) -> Int { text.components(separatedBy: part).count - 1 }

    @Test func aReplacedPodsFileChangesTheNextVerdictAndAHalfWrittenOneIsRefused() throws {
        guard Self.canRun() else { return }
        let lab = Self.labPods()
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pods = directory.appendingPathComponent("pods.json")
        try lab.podsJSON().write(to: pods, atomically: true, encoding: .utf8)
        let policy = directory.appendingPathComponent("policy.yaml")
        try LiveReloadTests.policy(allowing: 7001).write(to: policy, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try Self.capture(lab, pods: pods.path, output: output, policy: policy)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")

        /// What a sidecar does: a new file in the same directory, renamed over the old one.
        func replace(_ text: String) throws {
            let temporary = directory.appendingPathComponent(".pods.json.tmp")
            try text.write(to: temporary, atomically: false, encoding: .utf8)
            #expect(rename(temporary.path, pods.path) == 0)
        }
        let relabelled = lab.podsJSON().replacingOccurrences(of: #""app":"client""#, with: #""app":"other""#)

        try Self.send(lab, from: 41001)  // a is app=client: allowed
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[41001] != nil }, "first flow written")
        try replace(relabelled)
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("reloaded inventory and policies (\(pods.path) changed: 2 pods, 1 policy)") },
                "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 41002)  // a is app=other now: no policy allows it
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[41002] != nil }, "second flow written")

        // An editor writing in place, caught half-way: refused, the previous pods kept.
        let half = String(lab.podsJSON().prefix(60))
        let descriptor = open(pods.path, O_WRONLY | O_TRUNC)
        #expect(descriptor >= 0)
        _ = half.withCString { write(descriptor, $0, strlen($0)) }
        close(descriptor)
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("reload failed") }, "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 41003)  // still app=other
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[41003] != nil }, "third flow written")

        // A later good write is taken.
        try replace(lab.podsJSON())
        #expect(flowmon.wait(seconds: 30) { Self.count(flowmon.stderrSoFar, "reloaded inventory and policies") == 2 },
                "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 41004)  // app=client again
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[41004] != nil }, "fourth flow written")

        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("flowmon: error: reload failed, keeping the previous inventory and policies (\(pods.path) changed): \(pods.path): not JSON"),
                "\(run.stderr)")
        let verdicts = Self.flows(output).mapValues { ($0["policy"] as? [String: Any])?["verdict"] as? String }
        #expect(verdicts[41001] == "FORWARDED" && verdicts[41002] == "AUDIT", "\(verdicts)")
        #expect(verdicts[41003] == "AUDIT" && verdicts[41004] == "FORWARDED", "\(verdicts)")
        // Two reloads, one refused; written in every stats record of a capture, as the schema says.
        #expect(Self.agentStats(output) == ["reloads": 2, "reload_errors": 1])
        let lines = try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init)
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    @Test func podsFromAWatchStreamFIFOFollowAddedAndDeleted() throws {
        guard Self.canRun() else { return }
        let lab = Self.labPods()
        defer { lab.tearDown() }
        try lab.setUp()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("pods.fifo")
        #expect(mkfifo(fifo.path, 0o600) == 0)
        let policy = directory.appendingPathComponent("policy.yaml")
        try LiveReloadTests.policy(allowing: 7001).write(to: policy, atomically: true, encoding: .utf8)
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try Self.capture(lab, pods: fifo.path, output: output, policy: policy)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        #expect(flowmon.stderrSoFar.contains("following the pods of the watch stream \(fifo.path)"))

        // Watch events as kubectl writes them: pretty-printed, one after the other.
        let list = try JSONSerialization.jsonObject(with: Data(lab.podsJSON().utf8)) as? [String: Any]
        let items = list?["items"] as? [[String: Any]] ?? []
        func event(_ type: String, _ item: [String: Any]) throws -> Data {
            try JSONSerialization.data(withJSONObject: ["type": type, "object": item], options: [.prettyPrinted, .sortedKeys])
                + Data("\n".utf8)
        }
        // Without waiting for a reader (flowmon opened the FIFO at its start): a test never hangs.
        let descriptor = open(fifo.path, O_WRONLY | O_NONBLOCK)
        guard descriptor >= 0 else {
            Issue.record("flowmon does not hold the FIFO open: \(String(cString: strerror(errno))); \(flowmon.stderrSoFar)")
            return
        }
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) & ~O_NONBLOCK)
        let writer = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        try writer.write(contentsOf: try event("ADDED", items[0]) + event("ADDED", items[1]))
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("(\(fifo.path) changed: 2 pods") }, "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 42001)
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[42001] != nil }, "first flow written")

        // A broken object is skipped; the DELETED after it is applied.
        try writer.write(contentsOf: Data("{\"type\": \"ADDED\", \"object\": {\"kind\": \"Pod\", \"metadata\": 7}}\n".utf8)
            + event("DELETED", items[0]))
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("(\(fifo.path) changed: 1 pod,") }, "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 42002)
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[42002] != nil }, "second flow written")

        // The writer goes away (kubectl's watch ends): reported, the pods kept.
        try writer.close()
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("end of the watch stream; keeping the 1 pod it gave") },
                "\(flowmon.stderrSoFar)")
        try Self.send(lab, from: 42003)
        #expect(flowmon.wait(seconds: 30) { Self.flows(output)[42003] != nil }, "third flow written")

        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.contains("flowmon: error: skipped: \(fifo.path): object 3 (line "), "\(run.stderr)")
        #expect(run.stderr.contains("$.object.metadata: expected an object"), "\(run.stderr)")
        let flows = Self.flows(output)
        func source(_ port: Int) -> String? { (flows[port]?["source"] as? [String: Any])?["pod_name"] as? String }
        func destination(_ port: Int) -> String? { (flows[port]?["destination"] as? [String: Any])?["pod_name"] as? String }
        #expect(source(42001) == "a" && destination(42001) == "b", "\(flows)")
        #expect(source(42002) == nil && destination(42002) == "b", "\(flows)")
        #expect(source(42003) == nil && destination(42003) == "b", "\(flows)")
        // A deleted pod's address is no longer a pod: the policy does not allow it (AUDIT).
        #expect((flows[42002]?["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT", "\(flows)")
        #expect(Self.agentStats(output) == ["reloads": 2, "reload_errors": 1])
    }

    /// `--pods -`: the stream on standard input (`kubectl … | flowmon capture --pods -`); its end
    /// is reported once and the pods kept.
    @Test func podsFromStandardInputAreKeptAfterItsEnd() throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")
        let input = Pipe()
        let flowmon = try BoundedProcess(Fixture.flowmonBinary, [
            "capture", "--interface", "lo", "--filter", "udp port 9", "--pods", "-", "--output", output.path,
            "--stats-interval", "1"], seconds: 60, standardInput: input)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 30) { flowmon.stderrSoFar.contains("flowmon: capturing on lo") }, "\(flowmon.stderrSoFar)")
        #expect(flowmon.stderrSoFar.contains("following the pods of the watch stream standard input"))
        let pod = #"{"type":"ADDED","object":{"kind":"Pod","metadata":{"name":"a","namespace":"x"},"status":{"podIP":"127.0.0.9"}}}"#
        try input.fileHandleForWriting.write(contentsOf: Data((pod + "\n").utf8))
        try input.fileHandleForWriting.close()
        #expect(flowmon.wait(seconds: 30) {
            flowmon.stderrSoFar.contains("standard input: end of the watch stream; keeping the 1 pod it gave\n")
                && flowmon.stderrSoFar.contains("(standard input changed: 1 pod, 0 policies)")
        }, "\(flowmon.stderrSoFar)")
        #expect(!flowmon.stderrSoFar.contains("waiting for a new writer"))
        kill(flowmon.pid, SIGINT)
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        #expect(Self.count(run.stderr, "end of the watch stream") == 1, "\(run.stderr)")
        #expect(Self.agentStats(output) == ["reloads": 1, "reload_errors": 0])
    }
}
