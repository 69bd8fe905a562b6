import FlowLog
import Foundation
import Testing

@testable import Presentation

/// The presenter on the demo's output (Captures/demo/demo-cluster.policies.expected.jsonl: the
/// demo replayed with its pods and policies): compact lines and the summary against a reviewed
/// golden file, JSON passed through unchanged, and the filters applied before both.
/// Re-record after a deliberate change: `FLOWMON_RECORD=1 swift test --filter PresenterTests`.
struct PresenterTests {
    static let demo = RecordFilterTests.repository.appendingPathComponent("Captures/demo")
    static let input = demo.appendingPathComponent("demo-cluster.policies.expected.jsonl")

    /// Runs a presenter over `input` and returns what it wrote (and the summary, when asked).
    static func present(format: Presenter.Format, filter: RecordFilter = RecordFilter(), summary: Bool) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-presenter-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputPath = directory.appendingPathComponent("out").path
        let output = open(outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        let input = open(Self.input.path, O_RDONLY)
        try #require(output >= 0 && input >= 0)
        let presenter = Presenter(format: format, filter: filter, color: false, output: output,
                                  summaryOutput: summary ? output : nil)
        presenter.run(input: input)
        close(output)
        return try String(contentsOfFile: outputPath, encoding: .utf8)
    }

    @Test func compactLinesAndSummaryMatchTheGoldenFile() throws {
        let actual = try Self.present(format: .compact, summary: true)
        let golden = Self.demo.appendingPathComponent("demo-cluster.compact.expected.txt")
        if ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" {
            try actual.write(to: golden, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: golden, encoding: .utf8)
        #expect(actual == expected)
        // One line per flow (120), per DNS message, HTTP transaction and TLS ClientHello, and per
        // alert other than policy violations (none here), then the summary.
        let lines = actual.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.isEmpty }
        let application = lines.filter { $0.contains("  DNS ") || $0.contains("  HTTP ") || $0.contains("  TLS ") }
        #expect(lines.count - application.count == 120)
        #expect(application.count == 141)
        #expect(actual.contains("\nSummary\n  packets            1,500\n  connections        120 (FORWARDED 89, AUDIT 31)\n"))
        #expect(!actual.contains("\u{1b}["), "no colour when it is off")
    }

    @Test func jsonIsPassedThroughUnchanged() throws {
        let actual = try Self.present(format: .json, summary: false)
        #expect(actual == (try String(contentsOf: Self.input, encoding: .utf8)))
    }

    @Test func filteredJSONKeepsOnlyTheMatchingLinesAsTheyWere() throws {
        let actual = try Self.present(format: .json, filter: try RecordFilter(arguments: ["--verdict", "AUDIT", "--type", "flow"]), summary: false)
        let expected = try String(contentsOf: Self.input, encoding: .utf8).split(separator: "\n")
            .filter { $0.contains("\"event_type\":\"flow\"") && $0.contains("\"verdict\":\"AUDIT\"") }
        #expect(actual.split(separator: "\n") == expected)
        #expect(expected.count == 31)
    }

    @Test func policyViolationAlertsAreShownWhenAlertsAreAskedFor() throws {
        let actual = try Self.present(format: .compact, filter: try RecordFilter(arguments: ["--type", "alert"]), summary: false)
        let lines = actual.split(separator: "\n")
        // 31 violations: 28 first occurrences, and 3 repeats within the aggregation window told by
        // a summary line (×2) instead of a line of their own.
        #expect(lines.count == 31)
        #expect(lines.allSatisfy { $0.contains("ALERT sev 2  FLOWMON POLICY") })
    }

    @Test func coloursMarkVerdicts() {
        let printer = CompactPrinter(color: true)
        func flow(_ policy: FlowLogRecord.PolicyVerdict) -> FlowLogEvent {
            .flow(FlowLogRecord(timestamp: "2025-01-01T10:00:00.529504+0000", sourceIP: "10.0.0.1", destinationIP: "10.0.0.2",
                                proto: "TCP", policy: policy))
        }
        let forwarded = flow(FlowLogRecord.PolicyVerdict(verdict: .forwarded))
        let audit = flow(FlowLogRecord.PolicyVerdict(verdict: .audit, direction: .ingress))
        #expect(printer.line(forwarded).contains("\u{1b}[32mFORWARDED\u{1b}[0m"))
        #expect(printer.line(audit).contains("\u{1b}[31mAUDIT\u{1b}[0m  no policy allows it (ingress)"))
    }

    /// An ICMP error about a UDP or TCP connection is shown after its state, named by family;
    /// an ICMP flow shows its first message's type/code and name (its reply is not an error).
    @Test(arguments: [
        (4, "UDP", nil, 3, 3, "UDP S0 (ICMP 3/3 unreachable)"),
        (4, "TCP", nil, 11, 0, "TCP S0 (ICMP 11/0 time-exceeded)"),
        (6, "UDP", nil, 1, 4, "UDP S0 (ICMP 1/4 unreachable)"),
        (6, "TCP", nil, 2, 0, "TCP S0 (ICMP 2/0 packet-too-big)"),
        (4, "ICMP", 8, 0, 0, "ICMP S0 (8/0 echo)"),
        (6, "IPv6-ICMP", 128, 0, 0, "IPv6-ICMP S0 (128/0 echo)"),
        (4, "ICMP", 13, 0, 0, "ICMP S0 (13/0 timestamp)"),
        (4, "ICMP", 42, 0, 0, "ICMP S0 (42/0)"),
    ] as [(Int, String, UInt8?, UInt8, UInt8, String)])
    func icmpErrorsAboutAConnectionAreShown(version: Int, proto: String, icmpType: UInt8?, type: UInt8, code: UInt8,
                                            expected: String) {
        let record = FlowLogRecord(timestamp: "2025-01-01T10:00:00.000000+0000", sourceIP: "10.0.0.1", destinationIP: "10.0.0.2",
                                   proto: proto, ipVersion: version, icmpType: icmpType, icmpCode: icmpType.map { _ in 0 },
                                   responseICMPType: type, responseICMPCode: code, connState: "S0")
        #expect(CompactPrinter(color: false).line(.flow(record)).hasSuffix("10.0.0.1 -> 10.0.0.2 " + expected))
    }

    @Test func theProgressLineShowsBarRateAndTimeLeft() {
        #expect(ProgressBar.render(bytes: 774_000_000, total: 1_600_000_000, packets: 1_310_000, elapsedNanoseconds: 1_000_000_000,
                                   width: 20)
            == "[#########···········]  48%  774 MB / 1.6 GB  1.31 Mpps  ETA 0:01")
        #expect(ProgressBar.render(bytes: 12_000, total: nil, packets: 0, elapsedNanoseconds: 1, width: 20) == "12 kB  0.00 Mpps")
    }
}

extension PresenterTests {
    /// With `--services`, a connection to a ClusterIP names the service and its backends' identity.
    @Test func aTranslatedServiceIsNamed() {
        let record = FlowLogRecord(timestamp: "2025-01-01T10:00:00.068000+0000", sourceIP: "10.244.0.9", sourcePort: 54516,
                                   destinationIP: "10.96.0.10", destinationPort: 53, proto: "UDP", connState: "SF",
                                   source: FlowLogRecord.Endpoint(identity: 262, namespace: "payments", podName: "users-1"),
                                   destination: FlowLogRecord.Endpoint(identity: 265, labels: ["k8s:k8s-app=kube-dns"]),
                                   destinationService: FlowLogRecord.ServiceReference(name: "kube-dns", namespace: "kube-system"),
                                   policy: FlowLogRecord.PolicyVerdict(verdict: .forwarded))
        #expect(CompactPrinter(color: false).line(.flow(record))
            == "2025-01-01 10:00:00.068  payments/users-1:54516 (ID:262) -> 10.96.0.10:53 (service kube-system/kube-dns, ID:265) UDP SF  FORWARDED")
    }
}
