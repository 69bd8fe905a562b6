@testable import FlowLog
import Foundation
import Testing

/// The records besides flows (`alert`, `stats`, `lost`) as `FlowLogReader.nextEvent()` and
/// `FlowLogEvent(line:)` read them: real lines from the golden files under Captures/, the fast
/// parser against `JSONDecoder` on every golden line of every kind, and malformed lines.
struct FlowLogEventTests {
    static let captures = FlowLogReaderTests.root.appendingPathComponent("Captures")

    /// No golden file has a `lost` record (only a live capture loses packets): this line is
    /// written as `LostRecord` (Sources/Output/LostRecord.swift) writes one.
    static let lostLine = #"{"timestamp":"2025-01-01T10:00:05.000000+0000","event_type":"lost","lost":{"source":"ring_buffer","num_events_lost":12,"total":40}}"#

    /// The lines of the golden file `file` under Captures/.
    static func lines(_ file: String) throws -> [String] {
        try String(contentsOf: Self.captures.appendingPathComponent(file), encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Every golden JSON-lines file that flowmon wrote, under Captures/ (the Hubble lines are another format).
    static func goldenFiles() throws -> [String] {
        try FileManager.default.subpathsOfDirectory(atPath: Self.captures.path)
            .filter { $0.hasSuffix(".expected.jsonl") && !$0.contains(".hubble.") }.sorted()
    }

    // MARK: - Alerts

    /// The alert line of a connection (`flow_id`) with a `count`, and what it holds.
    struct AlertRow: Sendable, CustomTestStringConvertible {
        var file: String
        var flowID: UInt64
        var kind: String
        var severity: UInt8
        var count: UInt64
        var scan: FlowLogAlert.Scan?
        var flood: FlowLogAlert.Flood?
        /// `src_ip:src_port -> dest_ip:dest_port proto verdict`, `-` for what is absent.
        var connection: String
        var testDescription: String { "\(self.file) flow_id \(self.flowID) count \(self.count)" }
    }

    static let alertRows: [AlertRow] = [
        AlertRow(file: "alerts/port-scan-vertical.alerts.expected.jsonl", flowID: 1_763_967_913_984_062, kind: "port_scan_vertical", severity: 2, count: 1,
                 scan: FlowLogAlert.Scan(window: 300, distinctPorts: 15), connection: "10.244.0.10:54321 -> 10.244.1.20:34 TCP -"),
        AlertRow(file: "alerts/port-scan-horizontal.alerts.expected.jsonl", flowID: 1_678_277_656_248_655, kind: "port_scan_horizontal", severity: 2, count: 1,
                 scan: FlowLogAlert.Scan(window: 300, distinctHosts: 25), connection: "10.244.0.10:54322 -> 10.244.1.124:22 TCP -"),
        AlertRow(file: "alerts/icmp-sweep.alerts.expected.jsonl", flowID: 1_861_833_130_876_719, kind: "icmp_sweep", severity: 3, count: 1,
                 scan: FlowLogAlert.Scan(window: 300, distinctHosts: 25), connection: "10.244.0.10:- -> 10.244.1.124:- ICMP -"),
        AlertRow(file: "alerts/syn-flood.alerts.expected.jsonl", flowID: 808_485_326_512_459, kind: "syn_flood", severity: 1, count: 1,
                 flood: FlowLogAlert.Flood(halfOpen: 200, distinctSources: 20), connection: "198.18.10.200:35881 -> 10.244.0.10:443 TCP -"),
        AlertRow(file: "alerts/policy-violation.alerts.expected.jsonl", flowID: 1_790_920_755_288_376, kind: "policy_violation", severity: 2, count: 1,
                 connection: "10.244.0.11:40001 -> 10.244.0.20:8443 TCP AUDIT"),
        // An aggregated summary: four occurrences in one line.
        AlertRow(file: "alerts/policy-violation.alerts.expected.jsonl", flowID: 1_790_920_755_288_376, kind: "policy_violation", severity: 2, count: 4,
                 connection: "10.244.0.11:40001 -> 10.244.0.20:8443 TCP AUDIT"),
        // With a `tunnel` object, which is skipped.
        AlertRow(file: "alerts/spoofed-source.alerts.expected.jsonl", flowID: 3_011_380_218_083_521, kind: "tunnel_identity_mismatch", severity: 1, count: 1,
                 connection: "10.244.1.10:40200 -> 10.244.0.11:8080 TCP -"),
    ]

    @Test(arguments: alertRows)
    func alertLines(row: AlertRow) throws {
        let line = try #require(try Self.lines(row.file).first {
            $0.contains("\"flow_id\":\(row.flowID),\"event_type\":\"alert\"") && $0.contains("\"count\":\(row.count),")
        })
        guard case .alert(let alert)? = FlowLogEvent(line: ArraySlice(line.utf8)) else {
            Issue.record("not read as an alert: \(line)")
            return
        }
        #expect(alert.kind == row.kind && alert.severity == row.severity && alert.count == row.count)
        #expect(alert.signature.hasPrefix("FLOWMON "))
        #expect(alert.scan == row.scan && alert.flood == row.flood)
        let connection = alert.connection
        func port(_ port: UInt16?) -> String { port.map(String.init) ?? "-" }
        #expect("\(connection.sourceIP):\(port(connection.sourcePort)) -> \(connection.destinationIP):\(port(connection.destinationPort)) "
            + "\(connection.proto) \(connection.verdict?.rawValue ?? "-")" == row.connection)
        #expect(connection.timestamp.hasPrefix("20") && connection.flowID == row.flowID && connection.packets == 0)
        #expect(connection.source != nil && connection.destination != nil)
    }

    // MARK: - Stats and lost

    struct StatsRow: Sendable, CustomTestStringConvertible {
        var file: String
        var packets: Int
        var emitted: Int
        var errorPrefix: String?
        var anomalies: [String: Int]
        var testDescription: String { self.file }
    }

    static let statsRows: [StatsRow] = [
        StatsRow(file: "demo/demo-cluster.expected.jsonl", packets: 1500, emitted: 120, anomalies: [:]),
        StatsRow(file: "real/truncated-file-cut-mid-record.expected.jsonl", packets: 2696, emitted: 1,
                 errorPrefix: "real/truncated-file-cut-mid-record.pcap: truncated in the header of record 2697", anomalies: [:]),
        StatsRow(file: "real/malformed-tcp-bad-data-offset.expected.jsonl", packets: 2, emitted: 1,
                 anomalies: ["decoder.tcp.hlen_too_large": 2]),
    ]

    @Test(arguments: statsRows)
    func statsLines(row: StatsRow) throws {
        let line = try #require(try Self.lines(row.file).last)
        guard case .stats(let stats)? = FlowLogEvent(line: ArraySlice(line.utf8)) else {
            Issue.record("not read as stats: \(line)")
            return
        }
        #expect(stats["capture", "packets"] == .integer(row.packets))
        #expect(stats["flow", "emitted"]?.intValue == row.emitted)
        #expect(stats["capture", "unsupported_link_types"] == .object([:]))
        let error = stats["capture", "error"]?.stringValue
        #expect(row.errorPrefix.map { error?.hasPrefix($0) == true } ?? (error == nil))
        #expect(stats.sections["anomalies"]?.objectValue?.compactMapValues(\.intValue) == row.anomalies)
        #expect(stats["alerts", "raised"]?["syn_flood"] == .integer(0))
        #expect(stats["no such", "section"] == nil)
    }

    @Test func aLostLine() throws {
        let event = try #require(FlowLogEvent(line: ArraySlice(Self.lostLine.utf8)))
        #expect(event == .lost(FlowLogLost(timestamp: "2025-01-01T10:00:05.000000+0000", source: "ring_buffer", count: 12, total: 40)))
        #expect(event.kind == .lost && event.connection == nil)
    }

    /// Logs written before flowmon used Suricata 8's `ip_v` hold `ip_version`: both readers take it.
    @Test func theIPVersionsFormerName() throws {
        let line = ArraySlice(#"{"timestamp":"t","event_type":"flow","src_ip":"a","dest_ip":"b","proto":"UDP","ip_version":6}"#.utf8)
        #expect(FlowLogParser.parse(line, as: .flow)?.connection?.ipVersion == 6)
        #expect(try FlowLogEvent.decode(.flow, from: line, with: JSONDecoder()).connection?.ipVersion == 6)
    }

    // MARK: - The reader

    @Test func nextEventReadsEveryKindAndNextStillOnlyFlows() throws {
        let file = "demo/demo-cluster.policies.expected.jsonl"
        let lines = try Self.lines(file)
        func count(_ type: String) -> Int { lines.filter { $0.contains("\"event_type\":\"\(type)\"") }.count }
        #expect(count("alert") > 0 && count("flow") > 0 && count("stats") == 1)

        let reader = try FlowLogReader(path: Self.captures.appendingPathComponent(file).path)
        var kinds: [FlowLogEvent.Kind: Int] = [:]
        while let event = try reader.nextEvent() { kinds[event.kind, default: 0] += 1 }
        #expect(kinds == [.flow: count("flow"), .alert: count("alert"), .stats: 1, .dns: count("dns"), .http: count("http"),
                          .tls: count("tls")])
        #expect(reader.skipped.isEmpty && reader.flowCount == count("flow"))

        let flows = try FlowLogReader(path: Self.captures.appendingPathComponent(file).path)
        while try flows.next() != nil {}
        #expect(flows.skipped == ["alert": count("alert"), "stats": 1, "dns": count("dns"), "http": count("http"),
                                  "tls": count("tls")] && flows.flowCount == count("flow"))
    }

    @Test func otherEventTypesAreSkippedAndCounted() throws {
        let file = try FlowLogReaderTests.temporaryFile("{\"event_type\":\"drop\",\"x\":1}\n" + Self.lostLine + "\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let reader = try FlowLogReader(path: file.path)
        #expect(try reader.nextEvent()?.kind == .lost)
        #expect(try reader.nextEvent() == nil)
        #expect(reader.skipped == ["drop": 1])
        #expect(FlowLogEvent(line: ArraySlice("{\"event_type\":\"drop\",\"x\":1}".utf8)) == nil)
    }

    // MARK: - Fast parser and JSONDecoder

    /// Every flow, alert, stats and lost line flowmon wrote in the goldens takes the fast path, and
    /// reads as `JSONDecoder` reads it; the application lines (far fewer) are read by `JSONDecoder`.
    @Test func everyGoldenLineParsesAsJSONDecoderReadsIt() throws {
        var lines = [Self.lostLine]
        for file in try Self.goldenFiles() { lines += try Self.lines(file) }
        var kinds: [FlowLogEvent.Kind: Int] = [:]
        for line in lines {
            let bytes = ArraySlice(line.utf8)
            let kind = try #require(FlowLogReader.eventType(of: bytes).flatMap(FlowLogEvent.Kind.init(rawValue:)), "\(line)")
            let decoded = try FlowLogEvent.decode(kind, from: bytes, with: JSONDecoder())
            if FlowLogEvent.Kind.application.contains(kind) {
                #expect(FlowLogEvent(line: bytes) == decoded, "\(line)")
            } else {
                let parsed = FlowLogParser.parse(bytes, as: kind)
                #expect(parsed != nil, "the fast parser gave up: \(line)")
                #expect(parsed == decoded, "\(line)")
            }
            kinds[kind, default: 0] += 1
        }
        #expect(FlowLogEvent.Kind.allCases.allSatisfy { kinds[$0, default: 0] > 0 }, "\(kinds)")
    }

    /// Seeded byte mutations of a real line of each kind: whatever the fast parser returns,
    /// `JSONDecoder` returns the same. (FlowLogParserAgreementTests mutates a flow line.)
    @Test(arguments: ["alerts/syn-flood.alerts.expected.jsonl", "demo/demo-cluster.expected.jsonl", nil])
    func mutatedLinesAgreeWithJSONDecoder(file: String?) throws {
        // The syn-flood alert, the demo's stats line, the lost line.
        let line = Array((try file.map { try #require(try Self.lines($0).last) } ?? Self.lostLine).utf8)
        let kind = try #require(FlowLogReader.eventType(of: line[...]).flatMap(FlowLogEvent.Kind.init(rawValue:)))
        var parsedCount = 0
        for bytes in FlowLogParserAgreementTests.mutations(of: line) {
            guard let parsed = FlowLogParser.parse(bytes[...], as: kind) else { continue }
            parsedCount += 1
            let decoded = try? FlowLogEvent.decode(kind, from: bytes[...], with: JSONDecoder())
            #expect(parsed == decoded, "\(String(decoding: bytes, as: UTF8.self))")
        }
        #expect(parsedCount > 100, "the mutations leave lines the fast parser reads")
    }

    // MARK: - Malformed lines

    static let malformedRows: [(name: String, line: String, message: String)] = [
        ("alert without its alert object", #"{"event_type":"alert","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP"}"#,
         ":1: alert record without \"alert\""),
        ("alert without dest_ip", #"{"event_type":"alert","timestamp":"t","src_ip":"a","proto":"TCP","alert":{"kind":"syn_flood","signature":"s","severity":1,"count":1}}"#,
         ":1: alert record without \"dest_ip\""),
        ("alert without kind", #"{"event_type":"alert","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","alert":{"signature":"s","severity":1,"count":1}}"#,
         ":1: \"alert\" without \"kind\""),
        ("severity out of range", #"{"event_type":"alert","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","alert":{"kind":"k","signature":"s","severity":256,"count":1}}"#,
         ":1: alert.severity: expected a whole number from 0 to 255"),
        ("count as text", #"{"event_type":"alert","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","alert":{"kind":"k","signature":"s","severity":1,"count":"1"}}"#,
         ":1: \"alert.count\": expected an integer"),
        ("scan without window", #"{"event_type":"alert","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","alert":{"kind":"k","signature":"s","severity":1,"count":1},"scan":{"distinct_ports":3}}"#,
         ":1: \"scan\" without \"window\""),
        ("stats not an object", #"{"event_type":"stats","timestamp":"t","stats":[1]}"#,
         ":1: \"stats\": expected an object"),
        ("stats without timestamp", #"{"event_type":"stats","stats":{}}"#,
         ":1: stats record without \"timestamp\""),
        ("stats not JSON", #"{"event_type":"stats","timestamp":"t","stats":{"capture":{"packets":tru}}}"#,
         ":1: not valid JSON"),
        ("lost count negative", #"{"event_type":"lost","timestamp":"t","lost":{"source":"kernel","num_events_lost":-1,"total":1}}"#,
         ":1: lost.num_events_lost: "),
        ("lost without total", #"{"event_type":"lost","timestamp":"t","lost":{"source":"kernel","num_events_lost":1}}"#,
         ":1: \"lost\" without \"total\""),
    ]

    /// The reader names the file, the line and the key; `FlowLogEvent(line:)` says nil (the
    /// presenter passes such a line on as it is).
    @Test(arguments: malformedRows.map(\.name))
    func malformedLines(name: String) throws {
        let row = try #require(Self.malformedRows.first { $0.name == name })
        #expect(FlowLogEvent(line: ArraySlice(row.line.utf8)) == nil)
        let file = try FlowLogReaderTests.temporaryFile(row.line + "\n")
        defer { try? FileManager.default.removeItem(at: file) }
        let reader = try FlowLogReader(path: file.path)
        do {
            while try reader.nextEvent() != nil {}
            Issue.record("\(name): no error")
        } catch {
            #expect(error.description.hasPrefix(file.path + row.message), "\(error.description)")
        }
        // Reading flows only, the line is skipped unread.
        let flows = try FlowLogReader(path: file.path)
        #expect(try flows.next() == nil && flows.skipped.count == 1)
    }
}
