import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Faults while `flowmon replay` runs, through the real binary: a full disk, a reader that goes
/// away from `--hubble`, an input that ends early (a FIFO, standard input, a file truncated
/// while it is read), a file that grows while it is read, and SIGINT/SIGTERM. Each run is
/// bounded in time, and must end with an exit status, never a crash signal.
struct RuntimeFaultTests {
    static let flowmon = Fixture.flowmonBinary
    static let demo = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")
    static let agentArguments = [
        "--pods", Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path,
        "--node-name", "kind-worker-0",
        "--policies", Fixture.root.appendingPathComponent("Policies/demo").path,
    ]
    /// Connections end one second after their last packet, so a replay writes records all
    /// along the capture instead of mostly at its end.
    static let shortTimeouts = ["--timeout-new", "1", "--timeout-established", "1", "--timeout-closed", "1"]

    /// Exited by itself (no signal, no kill at the deadline) with `status`, and said exactly one line.
    static func expectCleanFailure(_ result: BoundedRun, status: Int32 = 1, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!result.timedOut, "no hang", sourceLocation: sourceLocation)
        #expect(!result.killedBySignal, "no crash signal: \(result.status)", sourceLocation: sourceLocation)
        #expect(result.status == status, "\(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.problemLines.count == 1, "one line: \(result.stderr)", sourceLocation: sourceLocation)
    }

    // MARK: Output faults

    @Test(arguments: ["--output", "--alerts", "--hubble"])
    func aFullDiskIsAOneLineErrorNamingTheFile(option: String) throws {
        let result = try runBounded(Self.flowmon, ["replay", Self.demo.path, option, "/dev/full"] + Self.agentArguments,
                                    seconds: 30)
        Self.expectCleanFailure(result)
        #expect(result.problems == "flowmon: error: cannot write to /dev/full: No space left on device\n")
        // The other outputs keep what was written before the failure: every line whole.
        let (_, bad) = parseJSONLines(result.stdoutLines)
        #expect(bad.isEmpty, "\(bad.prefix(1))")
    }

    @Test func aHubbleReaderThatGoesAwayEndsTheRunCleanly() throws {
        // `--hubble` into a FIFO whose reader opens it and closes it at once.
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("hubble.fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let replay = try BoundedProcess(Self.flowmon, ["replay", Self.demo.path, "--hubble", fifo] + Self.agentArguments,
                                        seconds: 30)
        // Opening the read end waits for flowmon to open the write end (O_NONBLOCK would not).
        let reader = DispatchQueue.global()
        let opened = DispatchSemaphore(value: 0)
        reader.async {
            let fd = open(fifo, O_RDONLY | O_CLOEXEC)
            if fd >= 0 { close(fd) }
            opened.signal()
        }
        if opened.wait(timeout: .now() + 20) == .timedOut {
            // flowmon never opened it: unblock the reader before failing.
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { close(fd) }
        }
        let result = replay.finish()
        Self.expectCleanFailure(result)
        #expect(result.problems == "flowmon: error: \(fifo) was closed by its reader (broken pipe); stopping\n")
    }

    @Test(arguments: [[], ["--format", "compact"]])
    func aClosedStandardOutputEndsTheRunQuietly(format: [String]) throws {
        // `flowmon replay big.pcap | head -1`: like a Unix filter, flowmon stops at the first
        // failed write, says nothing and exits 0 (flowmon's own status, through pipefail); the
        // Hubble file still gets every whole line made before. Before: a message and status 1.
        let big = try #require(GeneratedCapture.big, "gen_cluster_pcap.py could not make the capture")
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let arguments = ["replay", big.path, "--workers", "1", "--pods", GeneratedCapture.bigPods.path,
                         "--node-name", "kind-worker-0", "--policies", Fixture.root.appendingPathComponent("Policies/demo").path,
                         "--hubble", hubble.path] + format
        let result = try runBounded(URL(fileURLWithPath: "/bin/bash"),
                                    ["-c", "set -o pipefail; '\(Self.flowmon.path)' \(arguments.map { "'\($0)'" }.joined(separator: " ")) | head -1"],
                                    seconds: 30)
        #expect(!result.timedOut)
        #expect(result.status == 0, "flowmon's status comes through pipefail: \(result.stderr)")
        #expect(result.problems.isEmpty, "\(result.stderr)")
        #expect(result.stdoutLines.count == 1)
        let (records, bad) = parseJSONLines(try String(contentsOf: hubble, encoding: .utf8).split(separator: "\n").map(String.init))
        #expect(bad.isEmpty && !records.isEmpty, "\(records.count) Hubble lines, bad: \(bad.prefix(1))")
    }

    // MARK: Input that ends early

    /// The demo capture cut inside record 764 (of 1,500), after 74 connections have ended.
    static func demoCut() throws -> (bytes: [UInt8], cut: Int) {
        let bytes = [UInt8](try Data(contentsOf: Self.demo))
        return (bytes, 390_001)
    }

    /// Replays a regular file holding `bytes` (the reference for a stream cut at the same place).
    static func replayFile(_ bytes: ArraySlice<UInt8>, in directory: URL) throws -> (path: String, result: BoundedRun) {
        let file = directory.appendingPathComponent("reference.pcap")
        try Data(bytes).write(to: file)
        return (file.path, try runBounded(Self.flowmon, ["replay", file.path] + Self.shortTimeouts))
    }

    /// The stream gave the same records as the same bytes in a file, the stats line names the
    /// cut with the stream's name, and the error says "truncated".
    static func expectSameAsFile(_ stream: BoundedRun, name: String, file: (path: String, result: BoundedRun),
                                 sourceLocation: SourceLocation = #_sourceLocation) {
        expectCleanFailure(stream, sourceLocation: sourceLocation)
        #expect(stream.stderr.hasPrefix("flowmon: error: \(name): truncated in the middle of record "), "\(stream.stderr)",
                sourceLocation: sourceLocation)
        #expect(stream.stdoutText == file.result.stdoutText.replacingOccurrences(of: file.path, with: name),
                "the records before the cut are written, then the stats line", sourceLocation: sourceLocation)
        let lines = stream.stdoutLines
        #expect(lines.filter { $0.contains("\"event_type\":\"flow\"") }.count > 50, sourceLocation: sourceLocation)
        #expect(lines.last?.contains("\"error\":\"\(name): truncated in the middle of record ") == true,
                sourceLocation: sourceLocation)
    }

    @Test func aFIFOClosedInTheMiddleOfARecordIsATruncatedCapture() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (bytes, cut) = try Self.demoCut()
        let fifo = directory.appendingPathComponent("capture.fifo").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let replay = try BoundedProcess(Self.flowmon, ["replay", fifo] + Self.shortTimeouts, seconds: 30)
        let writer = openFIFOForWriting(fifo)
        #expect(writer != nil, "flowmon opened the FIFO")
        if let writer {
            // Two pieces with a pause between them (flowmon waits in read), then the writer goes away.
            writeAll(writer, bytes[0..<cut / 2])
            Thread.sleep(forTimeInterval: 0.2)
            writeAll(writer, bytes[(cut / 2)..<cut])
            close(writer)
        }
        let result = replay.finish()
        Self.expectSameAsFile(result, name: fifo, file: try Self.replayFile(bytes[0..<cut], in: directory))
    }

    @Test func standardInputIsReadWithADash() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (bytes, cut) = try Self.demoCut()
        // The whole capture through a pipe: the same output as from the file.
        let whole = Pipe()
        let replay = try BoundedProcess(Self.flowmon, ["replay", "-"] + Self.shortTimeouts, standardInput: whole)
        writeAll(whole.fileHandleForWriting.fileDescriptor, bytes)
        try whole.fileHandleForWriting.close()
        let fromPipe = replay.finish()
        let fromFile = try runBounded(Self.flowmon, ["replay", Self.demo.path] + Self.shortTimeouts)
        #expect(fromPipe.status == 0, "\(fromPipe.stderr)")
        #expect(fromPipe.stdoutText == fromFile.stdoutText)

        // Cut short: an error naming standard input.
        let part = Pipe()
        let cutReplay = try BoundedProcess(Self.flowmon, ["replay", "-"] + Self.shortTimeouts, standardInput: part)
        writeAll(part.fileHandleForWriting.fileDescriptor, bytes[0..<cut])
        try part.fileHandleForWriting.close()
        Self.expectSameAsFile(cutReplay.finish(), name: "standard input", file: try Self.replayFile(bytes[0..<cut], in: directory))
    }

    /// Starts a replay of a copy of the generated capture whose standard output is not read, and
    /// waits until flowmon is stuck writing it (the pipe is full), part way through the file.
    /// One worker: the reading thread writes too, so it stops reading when the pipe is full
    /// (with more, the whole file fits in the workers' rings, and a release build reads it all
    /// before the test acts).
    static func startStalledReplay(of file: URL) throws -> BoundedProcess {
        let replay = try BoundedProcess(Self.flowmon, ["replay", file.path, "--workers", "1"] + Self.shortTimeouts, seconds: 30,
                                        holdStandardOutput: true)
        var last = -1
        var steady = 0
        replay.wait(seconds: 15) {
            let waiting = bytesWaiting(in: replay.standardOutputDescriptor)
            steady = waiting == last && waiting > 0 ? steady + 1 : 0
            last = waiting
            return waiting >= 65_536 || steady >= 25  // full, or no longer growing for half a second
        }
        return replay
    }

    @Test func aFileTruncatedWhileItIsReadIsAnError() throws {
        let big = try #require(GeneratedCapture.big, "gen_cluster_pcap.py could not make the capture")
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("shrinking.pcap")
        try FileManager.default.copyItem(at: big, to: file)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? Int)
        let replay = try Self.startStalledReplay(of: file)
        #expect(replay.process.isRunning, "flowmon is still reading when the file is cut")
        // Cut to a third of its size (mid-record or not: either way the file ended early).
        #expect(truncate(file.path, off_t(size / 3)) == 0)
        let result = replay.finish()
        Self.expectCleanFailure(result)
        #expect(result.stderr.hasPrefix("flowmon: error: \(file.path): truncated while being read: the file had \(size) bytes when opened and ended at offset "),
                "\(result.stderr)")
        let (records, bad) = parseJSONLines(result.stdoutLines)
        #expect(bad.isEmpty)
        #expect(records.filter { $0["event_type"] as? String == "flow" }.count > 50, "flows read before the cut are written")
        let capture = (records.last?["stats"] as? [String: Any])?["capture"] as? [String: Any]
        #expect((capture?["error"] as? String)?.contains("truncated while being read") == true)
        #expect((capture?["packets"] as? Int ?? .max) < GeneratedCapture.packets)
    }

    @Test func aFileThatGrowsWhileItIsReadGivesThePrefixItHadWhenOpened() throws {
        let big = try #require(GeneratedCapture.big, "gen_cluster_pcap.py could not make the capture")
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("growing.pcap")
        try FileManager.default.copyItem(at: big, to: file)
        let reference = try runBounded(Self.flowmon, ["replay", big.path] + Self.shortTimeouts)
        #expect(reference.status == 0)
        let replay = try Self.startStalledReplay(of: file)
        #expect(replay.process.isRunning, "flowmon is still reading when the file grows")
        // Append the records again, the last one cut short (as a capture still being written).
        let bytes = try Data(contentsOf: big)
        let appended = try FileHandle(forWritingTo: file)
        try appended.seekToEnd()
        try appended.write(contentsOf: bytes[24..<(bytes.count - 100)])
        try appended.close()
        let result = replay.finish()
        #expect(!result.timedOut && !result.killedBySignal)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdoutText == reference.stdoutText.replacingOccurrences(of: big.path, with: file.path),
                "exactly the records of the file as it was when opened")
    }

    // MARK: Signals

    @Test(arguments: [SIGTERM, SIGINT])
    func aSignalStopsAReplayAndWritesWhatWasSeen(signal: Int32) throws {
        let big = try #require(GeneratedCapture.big, "gen_cluster_pcap.py could not make the capture")
        let name = signal == SIGTERM ? "SIGTERM" : "SIGINT"
        let replay = try Self.startStalledReplay(of: big)
        #expect(replay.process.isRunning, "flowmon is still reading when the signal comes")
        kill(replay.pid, signal)
        let signalled = Date()
        // flowmon's handler runs on a Dispatch queue, not in the blocked write: give it time to
        // note the signal before the output is read (a release build reads the rest of the
        // file at once, before a late note).
        Thread.sleep(forTimeInterval: 0.5)
        let result = replay.finish()
        #expect(Date().timeIntervalSince(signalled) < 10, "stops promptly")
        Self.expectCleanFailure(result, status: 128 + signal)
        let message = try #require(result.stderrLines.first)
        #expect(message.hasPrefix("flowmon: error: \(big.path): replay interrupted by \(name) after "), "\(message)")
        let (records, bad) = parseJSONLines(result.stdoutLines)
        #expect(bad.isEmpty)
        #expect(records.filter { $0["event_type"] as? String == "flow" }.count > 50)
        let last = try #require(records.last)
        #expect(last["event_type"] as? String == "stats", "the stats line comes last")
        let capture = try #require((last["stats"] as? [String: Any])?["capture"] as? [String: Any])
        let error = try #require(capture["error"] as? String)
        #expect(error.hasPrefix("\(big.path): replay interrupted by \(name) after "))
        #expect(message.contains(error), "the message and the stats line say the same")
        #expect((capture["packets"] as? Int ?? .max) < GeneratedCapture.packets, "it stopped before the end")
        // Every connection seen before the signal is written: those still open with reason shutdown.
        let flows = records.filter { $0["event_type"] as? String == "flow" }
        #expect(flows.contains { ($0["flow"] as? [String: Any])?["reason"] as? String == "shutdown" })
        let validation = try validateAgainstSchemas(result.stdoutLines)
        #expect(validation.status == 0, "\(validation.report)")
    }
}
