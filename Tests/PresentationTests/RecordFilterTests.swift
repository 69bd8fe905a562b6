import FlowLog
import Foundation
import Testing

@testable import Presentation

/// The output filters on real records: the demo's flow and alert lines (Captures/demo).
struct RecordFilterTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static var demo: [FlowLogEvent] {
        let text = (try? String(contentsOf: repository.appendingPathComponent("Captures/demo/demo-cluster.policies.expected.jsonl"),
                                encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { FlowLogEvent(line: ArraySlice($0.utf8)) }
    }

    func count(_ filter: RecordFilter) -> Int { Self.demo.filter(filter.matches).count }

    @Test func theDemoHasFlowsOfEveryKindTheFiltersNeed() {
        #expect(Self.demo.count > 100)
        #expect(Self.demo.contains { $0.connection?.verdict == .audit })
        #expect(Self.demo.contains { $0.kind == .stats })
    }

    @Test func noOptionsKeepEverything() throws {
        #expect(RecordFilter().isEmpty)
        #expect(try RecordFilter(arguments: []).isEmpty)
        #expect(self.count(RecordFilter()) == Self.demo.count)
    }

    /// Each row: the options, and the predicate on the records the filter must keep exactly.
    @Test(arguments: [
        (["--verdict", "AUDIT"], "flows policy would drop"),
        (["--verdict", "forwarded"], "forwarded or without verdict"),
        (["--protocol", "udp"], "UDP"),
        (["--port", "53"], "either port 53"),
        (["--namespace", "payments"], "either side in payments"),
        (["--from-pod", "platform/redis"], "from platform/redis*"),
        (["--to-pod", "payments/users"], "to payments/users*"),
        (["--from-label", "app=redis"], "source app=redis"),
        (["--from-label", "k8s:app=redis,!tier"], "source app=redis without tier"),
        (["--to-label", "reserved:world-ipv4"], "to the world"),
        (["--type", "stats"], "stats only"),
    ])
    func filterKeepsExactlyTheMatchingRecords(options: [String], meaning: String) throws {
        let value = options[1]
        let filter = try RecordFilter(arguments: options)
        let expected: (FlowLogEvent) -> Bool
        let isConnection: (FlowLogEvent) -> Bool = { $0.connection != nil }
        // Records other than flows and alerts pass every filter but --type.
        let passes: (FlowLogEvent, (FlowLogRecord) -> Bool) -> Bool = { event, test in event.connection.map(test) ?? true }
        switch options[0] {
        case "--verdict":
            expected = { passes($0) { ($0.verdict ?? .forwarded).rawValue == value.uppercased() } }
        case "--protocol":
            expected = { passes($0) { $0.proto == "UDP" } }
        case "--port":
            expected = { passes($0) { $0.sourcePort == 53 || $0.destinationPort == 53 } }
        case "--namespace":
            expected = { passes($0) { $0.source?.namespace == value || $0.destination?.namespace == value } }
        case "--from-pod":
            expected = { passes($0) { $0.source?.namespace == "platform" && $0.source?.podName?.hasPrefix("redis") == true } }
        case "--to-pod":
            expected = { passes($0) { $0.destination?.namespace == "payments" && $0.destination?.podName?.hasPrefix("users") == true } }
        case "--from-label":
            let needsNoTier = value.contains("!tier")
            expected = {
                passes($0) { record in
                    let labels = record.source?.labels ?? []
                    return labels.contains("k8s:app=redis") && (!needsNoTier || !labels.contains { $0.hasPrefix("k8s:tier=") })
                }
            }
        case "--to-label":
            expected = { passes($0) { $0.destination?.labels.contains("reserved:world-ipv4") == true } }
        default:
            expected = { $0.kind == .stats }
        }
        let kept = Self.demo.filter(filter.matches)
        #expect(kept.count == Self.demo.filter(expected).count, "\(meaning)")
        #expect(kept.allSatisfy(expected), "\(meaning)")
        #expect(kept.contains(where: isConnection) || options[0] == "--type", "\(meaning): the row selects something")
        #expect(kept.count < Self.demo.count, "\(meaning): the row filters something out")
    }

    @Test func optionsCombineWithAndValuesWithOr() throws {
        let both = try RecordFilter(arguments: ["--namespace", "payments", "--verdict", "AUDIT"])
        let flows = Self.demo.compactMap { event -> FlowLogRecord? in if case .flow(let record) = event { record } else { nil } }
        let expected = flows.filter {
            ($0.source?.namespace == "payments" || $0.destination?.namespace == "payments") && $0.verdict == .audit
        }
        #expect(flows.filter { both.matches(.flow($0)) }.count == expected.count)
        let either = try RecordFilter(arguments: ["--protocol", "udp", "--protocol", "icmpv4"])
        #expect(flows.filter { either.matches(.flow($0)) }.count == flows.filter { $0.proto == "UDP" || $0.proto == "ICMP" }.count)
    }

    @Test(arguments: [
        (["--verdict", "ALLOWED"], "--verdict 'ALLOWED': expected FORWARDED, AUDIT or DROPPED"),
        (["--protocol", "tcpp"], "--protocol 'tcpp': expected tcp, udp, sctp, icmp, icmpv4, icmpv6, vrrp, igmp, dns, http, tls, kafka or a protocol number"),
        (["--type", "flows"], "--type 'flows': expected flow, alert, stats, lost, dns, http, tls, l7, policy-verdict or drop"),
        (["--to-label", "app=x,=y"], "--to-label 'app=x,=y': a term has no label key"),
        (["--pod", ""], "a pod or service name must not be empty"),
    ])
    func badValuesAreNamed(arguments: [String], message: String) {
        do {
            _ = try RecordFilter(arguments: arguments)
            Issue.record("\(arguments) was accepted")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    /// Hubble's FQDN patterns: a star is any run of letters, digits, '-' and '.'; the whole
    /// name must match; case and a trailing dot do not matter.
    @Test func fqdnPatterns() throws {
        let pattern = try FQDNPattern("*.Example.COM.", option: "--fqdn")
        #expect(pattern.matches("www.example.com") && pattern.matches("a.b.example.com"))
        #expect(!pattern.matches("example.com") && !pattern.matches("www.example.com.evil") && !pattern.matches("a_b.example.com"))
        #expect(try FQDNPattern("*", option: "--fqdn").matches("anything.at.all"))
        #expect(try FQDNPattern("api.*.svc", option: "--fqdn").matches("api.x.y.svc"))
    }

    /// Go durations and the time forms Hubble takes.
    @Test func timeValues() {
        let now = Date(timeIntervalSince1970: 1_000_000)
        #expect(TimeValue.parse("1h30m", now: now) == Date(timeIntervalSince1970: 1_000_000 - 5_400))
        #expect(TimeValue.parse("1.5s", now: now) == Date(timeIntervalSince1970: 1_000_000 - 1.5))
        #expect(TimeValue.parse("2025-01-01T10:00:00Z", now: now) == Date(timeIntervalSince1970: 1_735_725_600))
        #expect(TimeValue.parse("2025-01-01T11:00:00.5+01:00", now: now) == Date(timeIntervalSince1970: 1_735_725_600.5))
        #expect(TimeValue.parse("2025-01-01", now: now) == Date(timeIntervalSince1970: 1_735_689_600))
        #expect(TimeValue.parse("5x", now: now) == nil && TimeValue.parse("", now: now) == nil)
    }
}
