import Foundation
import Testing

/// `--format`, the output filters and `--summary` through the real CLI on the demo.
struct PresentationCLITests {
    static let demo = Fixture.captures.appendingPathComponent("demo")
    static let arguments = ["replay", demo.appendingPathComponent("demo-cluster.pcap").path,
                            "--pods", demo.appendingPathComponent("demo-cluster.pods.json").path,
                            "--services", demo.appendingPathComponent("demo-cluster.services.json").path, "--node-name", "kind-worker-0",
                            "--policies", Fixture.root.appendingPathComponent("Policies/demo").path]

    /// The compact lines and summary the presenter tests check against the same golden file.
    @Test func compactOutputOfTheDemoIsTheGoldenFile() throws {
        let result = try run(Fixture.flowmonBinary, Self.arguments + ["--format", "compact", "--no-color"])
        #expect(result.status == 0, "\(result.stderr)")
        let golden = try String(contentsOf: Self.demo.appendingPathComponent("demo-cluster.compact.expected.txt"), encoding: .utf8)
        #expect(result.stdout == golden)
    }

    /// Not a terminal: JSON lines, unless asked; filters keep the lines as they were.
    @Test func jsonIsTheDefaultOffATerminalAndFiltersSelectLines() throws {
        let plain = try run(Fixture.flowmonBinary, Self.arguments)
        #expect(plain.stdout.hasPrefix("{\"timestamp\""))
        let filtered = try run(Fixture.flowmonBinary, Self.arguments + ["--verdict", "AUDIT", "--type", "flow", "--namespace", "platform"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        let expected = plain.stdout.split(separator: "\n").filter {
            $0.contains("\"event_type\":\"flow\"") && $0.contains("\"verdict\":\"AUDIT\"") && $0.contains("\"namespace\":\"platform\"")
        }
        #expect(!expected.isEmpty)
        #expect(filtered.stdout.split(separator: "\n") == expected)
        #expect(try validateAgainstSchemas(filtered.stdout.split(separator: "\n").map(String.init)).status == 0)
    }

    /// With JSON, `--summary` goes to standard error so standard output stays JSON lines.
    @Test func aSummaryWithJSONGoesToStandardError() throws {
        let result = try run(Fixture.flowmonBinary, Self.arguments + ["--summary", "--to-pod", "payments/users"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("Summary\n  packets            1,500\n"), "\(result.stderr)")
        #expect(result.stdout.split(separator: "\n").allSatisfy { $0.contains("\"pod_name\":\"users-") || $0.contains("\"event_type\":\"stats\"") })
    }

    /// The summary counts what was seen, whatever the filters show: `--type alert` still
    /// counts 1,500 packets and 120 connections; and each alert once: 31 would-be drops are 31
    /// policy violations, though three of them were folded into summaries of two (28 lines
    /// of one occurrence, 3 of two: the sum of `count` is 34).
    @Test func theSummaryCountsWhatWasSeenWhateverTheFiltersShow() throws {
        let result = try run(Fixture.flowmonBinary, Self.arguments + ["--type", "alert", "--summary"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("Summary\n  packets            1,500\n  connections        120 (FORWARDED 89, AUDIT 31)\n"
            + "  alerts             policy_violation 31\n"), "\(result.stderr)")
        let alerts = result.stdout.split(separator: "\n")
        #expect(alerts.count == 31 && alerts.allSatisfy { $0.contains("\"event_type\":\"alert\"") })
        #expect(alerts.filter { $0.contains("\"aggregated\":true") }.count == 3)
    }

    /// Compact lines show when each connection started, the order they come in, so their
    /// times never go back; an ICMP flow names its message. The DNS, HTTP and TLS lines come
    /// when their message was seen, in time order too.
    @Test func compactLinesAreInTimeOrderAndNameICMPMessages() throws {
        let result = try run(Fixture.flowmonBinary, Self.arguments + ["--format", "compact", "--no-color", "--no-summary"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        func isApplication(_ line: Substring) -> Bool {
            line.contains("  DNS ") || line.contains("  HTTP ") || line.contains("  TLS ")
        }
        let times = lines.filter { !isApplication($0) }.map { String($0.prefix(23)) }
        #expect(times.count == 121)  // 120 connections, then the final stats line
        #expect(times == times.sorted(), "a line's time goes back")
        let applicationTimes = lines.filter(isApplication).map { String($0.prefix(23)) }
        #expect(applicationTimes.count > 100)
        #expect(applicationTimes == applicationTimes.sorted(), "an application line's time goes back")
        #expect(result.stdout.contains(" ICMP SF (8/0 echo)  FORWARDED"))
    }

    @Test func aBadFilterIsRefusedBeforeReading() throws {
        let result = try run(Fixture.flowmonBinary, Self.arguments + ["--verdict", "ALLOWED"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--verdict 'ALLOWED': expected FORWARDED, AUDIT or DROPPED"))
        #expect(result.stdout.isEmpty)
    }

    /// On a terminal (a pseudo-terminal from `script`), compact is the default and verdicts are
    /// coloured, unless NO_COLOR is set or --no-color is given.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "script(1) from bsdutils"))
    func onATerminalCompactIsTheDefaultAndNoColorIsRespected() throws {
        let command = ([Fixture.flowmonBinary.path] + Self.arguments + ["--no-summary", "--no-progress"])
            .map { "'\($0)'" }.joined(separator: " ")
        // NO_COLOR may be set around the test runner: removed for the coloured run.
        let coloured = try run(URL(fileURLWithPath: "/usr/bin/env"), ["-u", "NO_COLOR", "/usr/bin/script", "-qec", command, "/dev/null"])
        #expect(coloured.stdout.contains("\u{1b}[32mFORWARDED\u{1b}[0m"), "\(coloured.stdout.prefix(400))")
        #expect(!coloured.stdout.contains("{\"timestamp\""))
        let plain = try run(URL(fileURLWithPath: "/usr/bin/env"), ["NO_COLOR=1", "/usr/bin/script", "-qec", command, "/dev/null"])
        #expect(plain.stdout.contains(" FORWARDED"))
        #expect(!plain.stdout.contains("\u{1b}["))
        let flag = try run(URL(fileURLWithPath: "/usr/bin/env"), ["-u", "NO_COLOR", "/usr/bin/script", "-qec", command + " --no-color", "/dev/null"])
        #expect(!flag.stdout.contains("\u{1b}["))
    }

    /// A reader that goes away stops the run with the usual one-line message, also through
    /// the presenter.
    @Test func aClosedPipeBehindTheCompactOutputEndsTheRunCleanly() throws {
        let command = ([Fixture.flowmonBinary.path] + Self.arguments + ["--format", "compact"]).map { "'\($0)'" }.joined(separator: " ")
        let result = try run(URL(fileURLWithPath: "/bin/bash"), ["-c", "\(command) | head -c 100 > /dev/null; echo \"status=${PIPESTATUS[0]}\""])
        #expect(result.stdout.contains("status=1") || result.stdout.contains("status=0"), "\(result.stdout) \(result.stderr)")
        #expect(!result.stderr.contains("Fatal error"))
    }
}
