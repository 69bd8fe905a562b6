import Capture
import Detection
import FlowMonitor
import Datapath
import Foundation
import Output
import TestSupport
import Testing

/// Paths and helpers shared by the replay and CLI tests.
enum Fixture {
    static let root = FlowmonTestSupport.root
    static let captures = root.appendingPathComponent("Captures")
    static let realCaptures = FlowmonTestSupport.realCaptures

    /// Every capture file under a directory, sorted by path.
    static func captureFiles(in directory: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else { return [] }
        return walker.compactMap { $0 as? URL }
            .filter { ["pcap", "pcapng"].contains($0.pathExtension) }
            .sorted { $0.path < $1.path }
    }

    static var realCaptureNames: [String] {
        captureFiles(in: realCaptures).map(\.lastPathComponent)
    }

    static var flowmonBinary: URL { FlowmonTestSupport.flowmonBinary }

    static func temporaryDirectory() throws -> URL { try FlowmonTestSupport.temporaryDirectory(prefix: "flowmon-tests") }

    /// The real `hubble` CLI (cilium/hubble, Apache-2.0), kept xz-compressed in `../shared/tools/hubble`
    /// (too large for the repository), unpacked into `directory`. Nil, with a one-line notice, when
    /// `../shared` is absent; under CI=true that is a failure, not a skip.
    static func hubbleCLI(in directory: URL, for check: String) throws -> URL? {
        let archive = root.deletingLastPathComponent().appendingPathComponent("shared/tools/hubble/hubble.xz")
        guard FileManager.default.fileExists(atPath: archive.path) else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "the hubble CLI must be there in CI: \(archive.path)")
            print("notice: \(check) skipped: \(archive.path) is absent")
            return nil
        }
        let hubble = directory.appendingPathComponent("hubble")
        let unpack = try run(URL(fileURLWithPath: "/bin/sh"),
                             ["-c", "xz -dc '\(archive.path)' > '\(hubble.path)' && chmod +x '\(hubble.path)'"])
        try #require(unpack.status == 0, "xz (Debian xz-utils) is needed: \(unpack.stderr)")
        return hubble
    }
}

/// The result of replaying a capture in process.
struct ReplayResult {
    var lines: [String]
    var error: ReplayError?

    var records: [[String: Any]] {
        self.lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
    var flows: [[String: Any]] { self.records.filter { $0["event_type"] as? String == "flow" } }
    var stats: [String: Any]? { self.records.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any] }
}

/// Replays `file` through the library pipeline (no CLI), writing to a temporary file. The
/// default configuration is the CLI's: every detector on with its default thresholds.
func replay(_ file: URL, configuration: ProcessorConfiguration = ProcessorConfiguration(detectors: DetectorSettings()),
            filter: String? = nil) throws -> ReplayResult {
    let directory = try Fixture.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let outputPath = directory.appendingPathComponent("out.jsonl").path
    var replayError: ReplayError?
    do {
        let output = try JSONLinesOutput(path: outputPath)
        let processor = FlowProcessor(configuration: configuration, output: output)
        let packetFilter = try filter.map { try PacketFilter(expression: $0) }
        do {
            let reader = try CaptureFileReader(path: file.path)
            try Replay.run(reader, filter: packetFilter, into: processor)
        } catch let error as CaptureError {
            replayError = .input(error)
        } catch let error as ReplayError {
            replayError = error
        }
    }
    let text = try String(contentsOfFile: outputPath, encoding: .utf8)
    return ReplayResult(lines: text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init), error: replayError)
}

/// Runs a program and returns its exit status, standard output and standard error.
func run(_ executable: URL, _ arguments: [String], standardInput: FileHandle? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    try FlowmonTestSupport.run(executable, arguments, standardInput: standardInput)
}

/// Validates JSON lines against schema/ with the real JSON Schema validator (python jsonschema).
func validateAgainstSchemas(_ lines: [String]) throws -> (status: Int32, report: String) {
    let directory = try Fixture.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: directory) }
    let file = directory.appendingPathComponent("lines.jsonl")
    try (lines.joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
    let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                         ["python3", Fixture.root.appendingPathComponent("scripts/validate-jsonl").path, file.path])
    return (result.status, result.stdout + result.stderr)
}
