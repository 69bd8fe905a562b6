import Foundation
import Testing

/// The real `flowmon` binary on bad input: a one-line error on stderr naming the problem,
/// a non-zero exit, and for a capture cut mid-record every flow seen before the cut.
struct CommandLineTests {
    static let flowmon = Fixture.flowmonBinary

    @Test func aMissingFileIsAOneLineError() throws {
        let result = try run(Self.flowmon, ["replay", "/nonexistent/capture.pcap"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("flowmon: error: /nonexistent/capture.pcap"))
        #expect(result.stderr.contains("No such file or directory"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aDirectoryIsRefused() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try run(Self.flowmon, ["replay", directory.path])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("flowmon: error: \(directory.path)"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aFileThatIsNotACaptureIsRefused() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("notes.txt")
        try "hello, this is not a capture\n".write(to: file, atomically: true, encoding: .utf8)
        let result = try run(Self.flowmon, ["replay", file.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("flowmon: error: \(file.path)"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aTruncatedCaptureStillWritesEveryFlowSeenBeforeTheCut() throws {
        let file = Fixture.realCaptures.appendingPathComponent("truncated-file-cut-mid-record.pcap")
        let result = try run(Self.flowmon, ["replay", file.path])
        #expect(result.status == 1)
        let lines = result.stdout.split(separator: "\n")
        let flows = lines.filter { $0.contains("\"event_type\":\"flow\"") }
        // One TCP conversation of 2696 frames before the cut (tshark, Captures/real/TSHARK-CONV.md).
        #expect(flows.count >= 1, "flows before the cut are emitted")
        #expect(lines.last?.contains("\"capture\":{\"packets\":2696,") == true)
        #expect(lines.last?.contains("\"event_type\":\"stats\"") == true)
        #expect(lines.last?.contains("\"error\":") == true)
        #expect(result.stderr.hasPrefix("flowmon: error: \(file.path)"))
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test func aBadFilterExpressionNamesTheExpression() throws {
        let file = Fixture.realCaptures.appendingPathComponent("eth-tcp-http-three-streams.pcap")
        let result = try run(Self.flowmon, ["replay", file.path, "--filter", "tcp prt 80"])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains("'tcp prt 80'"))
    }

    @Test func aFilterSelectsPackets() throws {
        let file = Fixture.realCaptures.appendingPathComponent("eth-mixed-realworld-4709pkts.pcap")
        let all = try run(Self.flowmon, ["replay", file.path])
        let dns = try run(Self.flowmon, ["replay", file.path, "--filter", "udp port 53"])
        #expect(all.status == 0 && dns.status == 0)
        let flows = dns.stdout.split(separator: "\n").filter { $0.contains("\"event_type\":\"flow\"") }
        #expect(!flows.isEmpty)
        #expect(flows.allSatisfy { $0.contains("\"proto\":\"UDP\"") && ($0.contains("\"dest_port\":53,") || $0.contains("\"src_port\":53,")) })
        #expect(flows.count < all.stdout.split(separator: "\n").count)
    }

    @Test(arguments: [
        (["--max-flows", "0"], "'--max-flows' must be between 1"),
        (["--timeout-new", "0"], "'--timeout-new' must be a number of seconds above 0"),
        (["--timeout-closed=-3"], "'--timeout-closed' must be a number of seconds above 0"),
    ])
    func invalidOptionsAreRejectedBeforeReading(arguments: [String], message: String) throws {
        let file = Fixture.realCaptures.appendingPathComponent("eth-tcp-http-three-streams.pcap")
        let result = try run(Self.flowmon, ["replay", file.path] + arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.contains(message))
    }

    /// Checked before any interface is opened, so these need no privileges.
    @Test(arguments: [
        (["--rotate-size", "0"], "The value '0' is invalid for '--rotate-size <size>'"),
        (["--rotate-size", "5X"], "The value '5X' is invalid for '--rotate-size <size>'"),
        (["--rotate-size", "K"], "The value 'K' is invalid for '--rotate-size <size>'"),
        (["--rotate-size", "99999999999G"], "The value '99999999999G' is invalid for '--rotate-size <size>'"),
        (["--rotate-keep", "3"], "'--rotate-keep' needs '--rotate-size'."),
        (["--rotate-size", "64K", "--rotate-keep", "0"], "'--rotate-keep' must be between 1 and 1000."),
    ])
    func invalidRotationOptionsAreRejectedBeforeCapturing(arguments: [String], message: String) throws {
        let result = try run(Self.flowmon, ["capture", "--interface", "lo", "--output", "/nonexistent/flows.jsonl"] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    /// `any` is every interface: naming others beside it is refused before anything opens; an
    /// unknown name among several is named, with the interfaces there are.
    @Test func interfaceListsAreCheckedBeforeCapturing() throws {
        let withAny = try run(Self.flowmon, ["capture", "--interface", "any", "--interface", "lo", "--output", "/nonexistent/x"])
        #expect(withAny.status == 64)
        #expect(withAny.stderr.contains("'--interface any' covers every interface"), "\(withAny.stderr)")
        let unknown = try run(Self.flowmon, ["capture", "--interface", "lo", "--interface", "nosuch0", "--output", "/nonexistent/x"])
        #expect(unknown.status != 0)
        #expect(unknown.stderr.contains("no such interface 'nosuch0' (available: "), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("lo"))
    }

    /// The cluster name is every pod's `io.cilium.k8s.policy.cluster` label value: an empty or
    /// malformed one is refused before any file is read (it was taken as it was).
    @Test(arguments: [("", "the cluster name must not be empty"), ("east west", "invalid label value 'east west'"),
                      ("east_", "invalid label value 'east_'")])
    func anInvalidClusterNameIsRefused(name: String, message: String) throws {
        let file = Fixture.realCaptures.appendingPathComponent("eth-tcp-http-three-streams.pcap")
        let result = try run(Self.flowmon, ["replay", file.path, "--cluster-name", name])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--cluster-name: \(message)"), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test func outputGoesToAFileWhenAsked() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("flows.jsonl")
        let file = Fixture.realCaptures.appendingPathComponent("eth-tcp-http-three-streams.pcap")
        let result = try run(Self.flowmon, ["replay", file.path, "--output", output.path])
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty)
        let written = try String(contentsOf: output, encoding: .utf8)
        // Three connections, their three HTTP transactions and the stats line.
        #expect(written.split(separator: "\n").count == 7)
    }

    @Test func anUnwritableOutputIsAOneLineError() throws {
        let file = Fixture.realCaptures.appendingPathComponent("eth-tcp-http-three-streams.pcap")
        let result = try run(Self.flowmon, ["replay", file.path, "--output", "/nonexistent/dir/flows.jsonl"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("flowmon: error: cannot open output file /nonexistent/dir/flows.jsonl"))
    }

    @Test func aReaderThatGoesAwayEndsTheRunQuietly() throws {
        // `flowmon replay big.pcap | head -1`: flowmon stops at the closed pipe, with no message
        // and status 0, as a Unix filter does; no hang, no crash signal.
        let file = Fixture.realCaptures.appendingPathComponent("eth-mixed-realworld-4709pkts.pcap")
        let result = try run(URL(fileURLWithPath: "/bin/bash"),
                             ["-c", "set -o pipefail; '\(Self.flowmon.path)' replay '\(file.path)' | head -1"])
        #expect(result.status == 0, "flowmon's status, through pipefail: \(result.stderr)")
        #expect(result.stderr.isEmpty)
        #expect(result.stdout.split(separator: "\n").count == 1)
    }

    @Test func helpDescribesEveryReplayOption() throws {
        let result = try run(Self.flowmon, ["replay", "--help"])
        #expect(result.status == 0)
        for option in ["--filter", "--max-flows", "--timeout-new", "--timeout-established", "--timeout-closed", "--output",
                       "--community-id-seed", "--identities"] {
            #expect(result.stdout.contains(option), "\(option)")
        }
    }
}
