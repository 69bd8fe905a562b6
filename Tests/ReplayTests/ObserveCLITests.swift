import Foundation
import Synchronization
import Testing

/// `flowmon observe` through the real CLI: files, standard input, a bad line, and `--follow`
/// across a rotation (renamed and replaced, then truncated) until SIGINT.
struct ObserveCLITests {
    static func demoLines() throws -> [String] {
        try FilterCLITests.lines(try FilterCLITests.demo.get().eve)
    }

    @Test func filesInOrderAndStandardInput() throws {
        let lines = try Self.demoLines()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let first = directory.appendingPathComponent("a.jsonl"), second = directory.appendingPathComponent("b.jsonl")
        try (lines[0..<100].joined(separator: "\n") + "\n").write(to: first, atomically: true, encoding: .utf8)
        try (lines[100...].joined(separator: "\n") + "\n").write(to: second, atomically: true, encoding: .utf8)
        let both = try run(Fixture.flowmonBinary, ["observe", first.path, second.path, "--format", "json"])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(both.stdout.split(separator: "\n").map(String.init) == lines)
        // Standard input, with no file and with '-'; compact by default.
        for arguments in [["observe", "--to-port", "53", "--no-color"], ["observe", "-", "--to-port", "53", "--no-color"]] {
            let input = try FileHandle(forReadingFrom: first)
            let result = try run(Fixture.flowmonBinary, arguments, standardInput: input)
            #expect(result.status == 0, "\(result.stderr)")
            let expected = lines[0..<100].filter { FilterCLITests.port(FilterCLITests.object($0), "destination") == 53 }
            #expect(result.stdout.split(separator: "\n").count == expected.count && !expected.isEmpty)
            #expect(!result.stdout.contains("{"), "compact lines")
            #expect(result.stdout.contains(":53"), "\(result.stdout)")
        }
    }

    /// A bad line stops with file, line and field named; the records before it were printed.
    @Test func aBadLineIsNamedAfterTheRecordsBeforeIt() throws {
        let lines = try Self.demoLines()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("bad.jsonl")
        let bad = lines[3].replacingOccurrences(of: "\"src_port\":", with: "\"src_port\":\"x\",\"was\":")
        try ([lines[0], lines[1], lines[2], bad, lines[4]].joined(separator: "\n") + "\n").write(to: file, atomically: true, encoding: .utf8)
        let result = try run(Fixture.flowmonBinary, ["observe", file.path, "--format", "json"])
        #expect(result.status == 1)
        #expect(result.stdout.split(separator: "\n").map(String.init) == Array(lines[0..<3]))
        #expect(result.stderr.contains("\(file.path):4: "), "\(result.stderr)")
        #expect(result.stderr.contains("src_port"), "\(result.stderr)")
        // A port out of range in a DNS record: the key is named (it was "an application-layer record").
        let dns = try #require(lines.first { $0.contains("\"event_type\":\"dns\"") })
        let range = try #require(dns.range(of: #""src_port":\d+"#, options: .regularExpression))
        try (lines[0] + "\n" + dns.replacingCharacters(in: range, with: "\"src_port\":70000") + "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let outOfRange = try run(Fixture.flowmonBinary, ["observe", file.path, "--format", "json"])
        #expect(outOfRange.status == 1 && outOfRange.stdout == lines[0] + "\n")
        #expect(outOfRange.stderr.contains("\(file.path):2: src_port: expected a whole number from 0 to 65535"), "\(outOfRange.stderr)")
    }

    /// Output collected from a running process.
    final class Collected: Sendable {
        let text = Mutex("")
        func append(_ data: Data) { self.text.withLock { $0 += String(decoding: data, as: UTF8.self) } }
        var lines: [String] { self.text.withLock { $0.split(separator: "\n").map(String.init) } }
    }

    /// Waits (up to 20 s) until `condition` holds.
    static func waitFor(_ condition: () -> Bool) -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    /// Written, renamed away and replaced by a new file, then truncated and written again:
    /// `observe --follow` prints every record once, in order, and ends cleanly on SIGINT.
    @Test func followReadsOnAcrossRotationUntilSIGINT() throws {
        let lines = try Self.demoLines().filter { $0.contains("\"event_type\":\"flow\"") }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("flows.jsonl")
        try (lines[0..<3].joined(separator: "\n") + "\n").write(to: file, atomically: false, encoding: .utf8)
        let process = Process()
        process.executableURL = Fixture.flowmonBinary
        process.arguments = ["observe", "--follow", file.path, "--format", "json", "--type", "flow"]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        let stdout = Collected(), stderr = Collected()
        out.fileHandleForReading.readabilityHandler = { stdout.append($0.availableData) }
        err.fileHandleForReading.readabilityHandler = { stderr.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(Self.waitFor { stdout.lines.count == 3 }, "\(stdout.lines.count) lines; \(stderr.lines)")
        // Appended, with a line written in two pieces.
        let handle = try FileHandle(forWritingTo: file)
        handle.seekToEndOfFile()
        handle.write(Data((lines[3] + "\n" + lines[4].prefix(40)).utf8))
        usleep(300_000)
        handle.write(Data((lines[4].dropFirst(40) + "\n").utf8))
        try handle.close()
        #expect(Self.waitFor { stdout.lines.count == 5 }, "\(stdout.lines.count) lines; \(stderr.lines)")
        // Rotated: renamed away, a new file under the name.
        try FileManager.default.moveItem(at: file, to: directory.appendingPathComponent("flows.jsonl.1"))
        usleep(300_000)
        try (lines[5..<8].joined(separator: "\n") + "\n").write(to: file, atomically: false, encoding: .utf8)
        #expect(Self.waitFor { stdout.lines.count == 8 }, "\(stdout.lines.count) lines; \(stderr.lines)")
        // Truncated (copytruncate), then written again.
        let truncate = try FileHandle(forWritingTo: file)
        try truncate.truncate(atOffset: 0)
        try truncate.close()
        usleep(400_000)
        try (lines[8] + "\n").write(to: file, atomically: false, encoding: .utf8)
        #expect(Self.waitFor { stdout.lines.count == 9 }, "\(stdout.lines.count) lines; \(stderr.lines)")
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        stdout.append(out.fileHandleForReading.readDataToEndOfFile())
        #expect(process.terminationReason == .exit && process.terminationStatus == 0, "\(stderr.lines)")
        #expect(stdout.lines == Array(lines[0..<9]))
        #expect(stderr.lines.contains { $0.contains("flows.jsonl was replaced") }, "\(stderr.lines)")
        #expect(stderr.lines.contains { $0.contains("flows.jsonl was truncated") }, "\(stderr.lines)")
    }

    /// `--follow --last N`: the last N records already there, then what is written after.
    @Test func followWithLastStartsWithTheLastRecords() throws {
        let lines = try Self.demoLines().filter { $0.contains("\"event_type\":\"flow\"") }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("flows.jsonl")
        try (lines[0..<10].joined(separator: "\n") + "\n").write(to: file, atomically: false, encoding: .utf8)
        let process = Process()
        process.executableURL = Fixture.flowmonBinary
        process.arguments = ["observe", "-f", file.path, "--format", "json", "--last", "2"]
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        let stdout = Collected()
        out.fileHandleForReading.readabilityHandler = { stdout.append($0.availableData) }
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        #expect(Self.waitFor { stdout.lines.count == 2 })
        let handle = try FileHandle(forWritingTo: file)
        handle.seekToEndOfFile()
        handle.write(Data((lines[10] + "\n").utf8))
        try handle.close()
        #expect(Self.waitFor { stdout.lines.count == 3 })
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        #expect(process.terminationStatus == 0)
        #expect(stdout.lines == [lines[8], lines[9], lines[10]])
    }
}
