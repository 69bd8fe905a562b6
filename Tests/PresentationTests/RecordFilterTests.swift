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
        #expect(try RecordFilter().isEmpty)
        #expect(self.count(try RecordFilter()) == Self.demo.count)
    }

    /// Each row: the options, and the predicate on the records the filter must keep exactly.
    @Test(arguments: [
        (["--verdict", "AUDIT"], "flows policy would drop"),
        (["--verdict", "forwarded"], "forwarded or without verdict"),
        (["--protocol", "udp"], "UDP"),
        (["--port", "53"], "either port 53"),
        (["--namespace", "payments"], "either side in payments"),
        (["--from-pod", "platform/redis"], "from platform/redis*"),
        (["--to-pod", "users"], "to users* in any namespace"),
        (["--from-label", "app=redis"], "source app=redis"),
        (["--from-label", "k8s:app=redis,!tier"], "source app=redis without tier"),
        (["--to-label", "reserved:world-ipv4"], "to the world"),
        (["--type", "stats"], "stats only"),
    ])
    func filterKeepsExactlyTheMatchingRecords(options: [String], meaning: String) throws {
        let value = options[1]
        var filter = RecordFilter()
        let expected: (FlowLogEvent) -> Bool
        let isConnection: (FlowLogEvent) -> Bool = { $0.connection != nil }
        // Records other than flows and alerts pass every filter but --type.
        let passes: (FlowLogEvent, (FlowLogRecord) -> Bool) -> Bool = { event, test in event.connection.map(test) ?? true }
        switch options[0] {
        case "--verdict":
            filter = try RecordFilter(verdicts: [value])
            expected = { passes($0) { ($0.verdict ?? .forwarded).rawValue == value.uppercased() } }
        case "--protocol":
            filter = try RecordFilter(protocols: [value])
            expected = { passes($0) { $0.proto == "UDP" } }
        case "--port":
            filter = try RecordFilter(ports: [Int(value)!])
            expected = { passes($0) { $0.sourcePort == 53 || $0.destinationPort == 53 } }
        case "--namespace":
            filter = try RecordFilter(namespaces: [value])
            expected = { passes($0) { $0.source?.namespace == value || $0.destination?.namespace == value } }
        case "--from-pod":
            filter = try RecordFilter(fromPods: [value])
            expected = { passes($0) { $0.source?.namespace == "platform" && $0.source?.podName?.hasPrefix("redis") == true } }
        case "--to-pod":
            filter = try RecordFilter(toPods: [value])
            expected = { passes($0) { $0.destination?.podName?.hasPrefix("users") == true } }
        case "--from-label":
            filter = try RecordFilter(fromLabels: [value])
            let needsNoTier = value.contains("!tier")
            expected = {
                passes($0) { record in
                    let labels = record.source?.labels ?? []
                    return labels.contains("k8s:app=redis") && (!needsNoTier || !labels.contains { $0.hasPrefix("k8s:tier=") })
                }
            }
        case "--to-label":
            filter = try RecordFilter(toLabels: [value])
            expected = { passes($0) { $0.destination?.labels.contains("reserved:world-ipv4") == true } }
        default:
            filter = try RecordFilter(types: [value])
            expected = { $0.kind == .stats }
        }
        let kept = Self.demo.filter(filter.matches)
        #expect(kept.count == Self.demo.filter(expected).count, "\(meaning)")
        #expect(kept.allSatisfy(expected), "\(meaning)")
        #expect(kept.contains(where: isConnection) || options[0] == "--type", "\(meaning): the row selects something")
        #expect(kept.count < Self.demo.count, "\(meaning): the row filters something out")
    }

    @Test func optionsCombineWithAndValuesWithOr() throws {
        let both = try RecordFilter(namespaces: ["payments"], verdicts: ["AUDIT"])
        let flows = Self.demo.compactMap { event -> FlowLogRecord? in if case .flow(let record) = event { record } else { nil } }
        let expected = flows.filter {
            ($0.source?.namespace == "payments" || $0.destination?.namespace == "payments") && $0.verdict == .audit
        }
        #expect(flows.filter { both.matches(.flow($0)) }.count == expected.count)
        let either = try RecordFilter(protocols: ["udp", "icmp"])
        #expect(flows.filter { either.matches(.flow($0)) }.count == flows.filter { $0.proto == "UDP" || $0.proto == "ICMP" }.count)
    }

    @Test(arguments: [
        (["verdict": "ALLOWED"], "--verdict 'ALLOWED': expected FORWARDED, AUDIT or DROPPED"),
        (["protocol": "tcpp"], "--protocol 'tcpp': expected tcp, udp, sctp, icmp, icmpv6 or a protocol number"),
        (["type": "flows"], "--type 'flows': expected flow, alert, stats or lost"),
        (["from-pod": "a/b/c"], "--from-pod 'a/b/c': expected POD or NAMESPACE/POD"),
        (["to-label": "app=x,=y"], "--to-label 'app=x,=y': a term has no label key"),
    ])
    func badValuesAreNamed(option: [String: String], message: String) {
        let (name, value) = option.first!
        do {
            switch name {
            case "verdict": _ = try RecordFilter(verdicts: [value])
            case "protocol": _ = try RecordFilter(protocols: [value])
            case "type": _ = try RecordFilter(types: [value])
            case "from-pod": _ = try RecordFilter(fromPods: [value])
            default: _ = try RecordFilter(toLabels: [value])
            }
            Issue.record("\(name) \(value) was accepted")
        } catch {
            #expect(error.description == message)
        }
    }
}
