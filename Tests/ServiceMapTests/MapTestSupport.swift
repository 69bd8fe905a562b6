import FlowLog
import Foundation
import ServiceMap
import TestSupport
import Testing

/// Paths, the flowmon binary and process helpers for the service-map tests.
enum MapFixture {
    static let root = FlowmonTestSupport.root
    static let demo = root.appendingPathComponent("Captures/demo")
    static let demoCapture = demo.appendingPathComponent("demo-cluster.pcap")
    static let demoPods = demo.appendingPathComponent("demo-cluster.pods.json")
    static let demoServices = demo.appendingPathComponent("demo-cluster.services.json")
    /// The demo's flow lines with identities and verdicts (`scripts/demo`'s output).
    static let demoFlows = demo.appendingPathComponent("demo-cluster.policies.expected.jsonl")
    /// The demo's flow lines without an inventory.
    static let demoPlainFlows = demo.appendingPathComponent("demo-cluster.expected.jsonl")
    static let demoPolicies = root.appendingPathComponent("Policies/demo")
    static let goldenDOT = demo.appendingPathComponent("demo-cluster.map.expected.dot")
    /// The L7 capture: one pod's DNS lookups, then HTTP and TLS to the addresses answered
    /// (Captures/l7/README.md).
    static let l7 = root.appendingPathComponent("Captures/l7")
    static var l7Arguments: [String] {
        ["map", l7.appendingPathComponent("l7-egress.pcap").path, "--pods", l7.appendingPathComponent("l7.pods.json").path,
         "--policies", l7.appendingPathComponent("l7.policies.yaml").path, "--node-name", "kind-worker-0"]
    }

    /// `flowmon map` arguments for the demo capture, as `scripts/demo` replays it.
    static var demoArguments: [String] {
        ["map", demoCapture.path, "--pods", demoPods.path, "--services", demoServices.path, "--node-name", "kind-worker-0",
         "--policies", demoPolicies.path]
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    static var recording: Bool { ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" }

    static var flowmonBinary: URL { FlowmonTestSupport.flowmonBinary }

    static func temporaryDirectory() throws -> URL { try FlowmonTestSupport.temporaryDirectory(prefix: "flowmon-map-tests") }

    /// The demo's map, from its flow lines.
    static func demoMap() throws -> ServiceMap {
        var builder = ServiceMapBuilder()
        builder.add(contentsOf: try FlowLogReader.readAll(path: demoFlows.path))
        return builder.build()
    }

    /// A program on the PATH, or nil.
    static func which(_ name: String) -> URL? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(directory)).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }
}

struct RunResult {
    var status: Int32
    var stdout: String
    var stderr: String
    var timedOut: Bool
}

/// Runs a program with a deadline; past it the program (and, through `timeout`, its whole
/// process group) is killed.
func runProgram(_ executable: URL, _ arguments: [String], timeout seconds: Int = 120,
                standardInput: FileHandle? = nil) throws -> RunResult {
    // coreutils `timeout` puts the program in its own process group and signals the group,
    // so a browser's helper processes go too.
    let result = if let timeoutBinary = MapFixture.which("timeout") {
        try FlowmonTestSupport.run(timeoutBinary, ["-k", "10", String(seconds), executable.path] + arguments,
                                   standardInput: standardInput)
    } else {
        try FlowmonTestSupport.run(executable, arguments, standardInput: standardInput)
    }
    return RunResult(status: result.status, stdout: result.stdout, stderr: result.stderr,
                     timedOut: result.status == 124 || result.status == 137)
}
