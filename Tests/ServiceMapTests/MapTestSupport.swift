import FlowLog
import Foundation
import ServiceMap
import Testing

/// Paths, the flowmon binary and process helpers for the service-map tests.
enum MapFixture {
    /// The repository root (this file is Tests/ServiceMapTests/MapTestSupport.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demo = root.appendingPathComponent("Captures/demo")
    static let demoCapture = demo.appendingPathComponent("demo-cluster.pcap")
    static let demoPods = demo.appendingPathComponent("demo-cluster.pods.json")
    /// The demo's flow lines with identities and verdicts (`scripts/demo`'s output).
    static let demoFlows = demo.appendingPathComponent("demo-cluster.policies.expected.jsonl")
    /// The demo's flow lines without an inventory.
    static let demoPlainFlows = demo.appendingPathComponent("demo-cluster.expected.jsonl")
    static let demoPolicies = root.appendingPathComponent("Policies/demo")
    static let goldenDOT = demo.appendingPathComponent("demo-cluster.map.expected.dot")

    /// `flowmon map` arguments for the demo capture, as `scripts/demo` replays it.
    static var demoArguments: [String] {
        ["map", demoCapture.path, "--pods", demoPods.path, "--node-name", "kind-worker-0", "--policies", demoPolicies.path]
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }
    static var recording: Bool { ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" }

    /// The built `flowmon` executable, next to the test bundle.
    static var flowmonBinary: URL {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        let candidate = directory.appendingPathComponent("flowmon")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("flowmon")
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-map-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

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
/// process group) is killed. Output is read while it runs, so a full pipe cannot stall it.
func runProgram(_ executable: URL, _ arguments: [String], timeout seconds: Int = 120,
                standardInput: FileHandle? = nil) throws -> RunResult {
    let process = Process()
    // coreutils `timeout` puts the program in its own process group and signals the group,
    // so a browser's helper processes go too.
    if let timeoutBinary = MapFixture.which("timeout") {
        process.executableURL = timeoutBinary
        process.arguments = ["-k", "10", String(seconds), executable.path] + arguments
    } else {
        process.executableURL = executable
        process.arguments = arguments
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    if let standardInput { process.standardInput = standardInput }
    try process.run()
    let group = DispatchGroup()
    nonisolated(unsafe) var outData = Data(), errData = Data()
    group.enter()
    DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter()
    DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    process.waitUntilExit()
    group.wait()
    let status = process.terminationStatus
    return RunResult(status: status, stdout: String(decoding: outData, as: UTF8.self),
                     stderr: String(decoding: errData, as: UTF8.self), timedOut: status == 124 || status == 137)
}
