import FlowLog
import Foundation
import Testing

/// FlowLogRecord and FlowLogReader on real lines written by `flowmon replay` (the demo's
/// golden files), and on broken files: every error names the file and the line.
struct FlowLogReaderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demo = root.appendingPathComponent("Captures/demo")

    static func temporaryFile(_ contents: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("flowlog-\(UUID().uuidString).jsonl")
        try contents.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func demoFlowLinesWithoutInventory() throws {
        let path = Self.demo.appendingPathComponent("demo-cluster.expected.jsonl").path
        let reader = try FlowLogReader(path: path)
        var records: [FlowLogRecord] = []
        while let record = try reader.next() { records.append(record) }
        #expect(records.count == 120)
        #expect(reader.skipped == ["stats": 1, "dns": 78, "http": 40, "tls": 23])
        #expect(reader.lineNumber == 262)
        #expect(reader.incompleteLastLine == nil)

        // Line 1, as written.
        let first = records[0]
        #expect(first.timestamp == "2025-01-01T10:00:02.084069+0000")
        #expect(first.flowID == 1_091_995_594_986_881)
        #expect(first.sourceIP == "10.244.1.4" && first.sourcePort == 45488)
        #expect(first.destinationIP == "10.244.0.2" && first.destinationPort == 53)
        #expect(first.proto == "TCP" && first.ipVersion == 4 && !first.isICMP)
        #expect(first.packetsToServer == 10 && first.packetsToClient == 7)
        #expect(first.bytesToServer == 2807 && first.bytesToClient == 5319 && first.bytes == 8126 && first.packets == 17)
        #expect(first.start == "2025-01-01T10:00:00.055081+0000" && first.end == first.timestamp)
        #expect(first.state == "closed" && first.reason == "shutdown" && first.connState == "SF")
        #expect(first.source == nil && first.destination == nil && first.policy == nil && first.verdict == nil)
        #expect(first.time == Date(timeIntervalSince1970: 1_735_725_602.084069))

        // An ICMP flow: types, no ports.
        let icmp = try #require(records.first { $0.proto == "ICMP" && $0.icmpType == 8 })
        #expect(icmp.isICMP && icmp.sourcePort == nil && icmp.destinationPort == nil)
        #expect(icmp.icmpCode == 0 && icmp.responseICMPType == 0 && icmp.responseICMPCode == 0)
        #expect(records.contains { $0.ipVersion == 6 })
    }

    @Test func demoFlowLinesWithIdentitiesAndVerdicts() throws {
        let path = Self.demo.appendingPathComponent("demo-cluster.policies.expected.jsonl").path
        let records = try FlowLogReader.readAll(path: path)
        #expect(records.count == 120)
        #expect(records.allSatisfy { $0.source != nil && $0.destination != nil && $0.policy != nil })
        #expect(records.filter { $0.verdict == .audit }.count == 31)
        #expect(records.filter { $0.verdict == .forwarded }.count == 89)

        // Allowed at ingress by a named policy.
        let allowed = try #require(records.first { $0.flowID == 120_287_438_729_520 })
        #expect(allowed.verdict == .forwarded && allowed.verdict?.wouldDrop == false)
        let source = try #require(allowed.source)
        #expect(source.identity == 8437 && source.namespace == "payments" && source.podName == "users-5gprmhlzbs-p75jg")
        #expect(source.workloads == [FlowLogRecord.Workload(name: "users", kind: "Deployment")])
        #expect(source.labels.first == "k8s:app.kubernetes.io/name=users" && source.labels.count == 8)
        #expect(allowed.destination?.workloads.first?.name == "prometheus-k8s")
        let policy = try #require(allowed.policy)
        #expect(policy.matchType == 2 && policy.direction == nil && policy.dropReason == nil)
        #expect(policy.egress == FlowLogRecord.Decision(decision: "not_enforced", matchType: "none"))
        #expect(policy.ingress == FlowLogRecord.Decision(decision: "allowed", matchType: "L3-L4"))
        #expect(policy.ingressAllowedBy == [FlowLogRecord.PolicyReference(name: "prometheus-ingress", namespace: "monitoring", kind: "CiliumNetworkPolicy")])
        #expect(policy.egressAllowedBy.isEmpty && policy.egressDeniedBy.isEmpty && policy.ingressDeniedBy.isEmpty)
        #expect(policy.namedPolicies.map { "\($0.direction.rawValue) \($0.denied) \($0.policy)" }
            == ["INGRESS false CiliumNetworkPolicy monitoring/prometheus-ingress"])

        // Denied by an explicit rule, to a CIDR identity.
        let denied = try #require(records.first { $0.flowID == 513_174_325_468_115 })
        #expect(denied.verdict == .audit && denied.verdict?.wouldDrop == true)
        #expect(denied.policy?.direction == .egress && denied.policy?.dropReason == "POLICY_DENY")
        #expect(denied.policy?.egressDeniedBy.map(\.description) == ["CiliumNetworkPolicy platform/pci-no-internet"])
        let cidr = try #require(denied.destination)
        #expect(cidr.identity == 16_777_217 && cidr.labels == ["cidr:198.18.0.0/15", "reserved:world-ipv4"] && cidr.podName == nil)
        #expect(cidr.isWorld && cidr.reservedNames == ["world-ipv4"] && cidr.cidrPrefixes == ["198.18.0.0/15"])

        // A world address, a Service's backends (namespace, no pod) and the host.
        let world = try #require(records.first { $0.destination?.identity == 9 }?.destination)
        #expect(world.labels == ["reserved:world-ipv4"] && world.isWorld && world.cidrPrefixes.isEmpty)
        let dns = try #require(records.first { $0.destinationService?.name == "kube-dns" })
        #expect(dns.destination?.namespace == "kube-system" && dns.destination?.podName == nil && dns.destination?.identity == 23062)
        #expect(records.contains { $0.source?.reservedNames == ["host"] && $0.source?.isWorld == false })
        // The host's built-in rule (kind reserved, with labels) reads like any policy.
        #expect(records.contains { $0.policy?.ingressAllowedBy == [.init(name: "allow-localhost-ingress", kind: "reserved")] })
    }

    @Test func skipsOtherEventTypesBlankLinesAndCarriageReturns() throws {
        let file = try Self.temporaryFile("""
            {"timestamp":"2025-01-01T00:00:00.000000+0000","event_type":"alert","src_ip":"1.1.1.1"}\r

              \t
            {"timestamp":"2025-01-01T00:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"GRE"}\r
            { "event_type" : "flow", "timestamp":"2025-01-01T00:00:02.000000+0000","src_ip":"::1","dest_ip":"::2","proto":"UDP","dest_port":53,"future_key":[1,{"x":null}]}
            {"event_type":"lost","lost":{}}
            {"event_type":"stats","stats":{}}

            """)
        defer { try? FileManager.default.removeItem(at: file) }
        let reader = try FlowLogReader(path: file.path)
        let first = try #require(try reader.next())
        #expect(first.proto == "GRE" && first.packets == 0 && first.start == nil && reader.lineNumber == 4)
        let second = try #require(try reader.next())
        #expect(second.destinationPort == 53 && second.sourceIP == "::1" && reader.lineNumber == 5)
        #expect(try reader.next() == nil)
        #expect(reader.skipped == ["alert": 1, "lost": 1, "stats": 1])
        #expect(reader.flowCount == 2)
    }

    @Test func linesAcrossReadBlocks() throws {
        // More than one 1 MiB read block, lines of different lengths.
        let line = #"{"timestamp":"2025-01-01T10:00:00.000000+0000","event_type":"flow","src_ip":"10.0.0.1","src_port":PORT,"dest_ip":"10.0.0.2","dest_port":80,"proto":"TCP","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":60,"bytes_toclient":60}}"#
        var text = ""
        for port in 0..<12_000 { text += line.replacingOccurrences(of: "PORT", with: String(port)) + "\n" }
        let file = try Self.temporaryFile(text)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(text.utf8.count > 2 << 20)
        let records = try FlowLogReader.readAll(path: file.path)
        #expect(records.count == 12_000)
        #expect(records.map { Int($0.sourcePort!) } == Array(0..<12_000))
    }

    static let errorCases: [(name: String, contents: String, message: String)] = [
        ("not JSON", "{\"event_type\":\"stats\"}\n{not json}\n", ":2: not valid JSON"),
        ("not an object", "[1,2]\n", ":1: not a JSON object"),
        ("no event_type", "{\"src_ip\":\"1.2.3.4\"}\n", ":1: not a flowmon record (no \"event_type\")"),
        ("missing src_ip", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"dest_ip\":\"1.1.1.1\",\"proto\":\"TCP\"}\n",
         ":1: flow record without \"src_ip\""),
        ("port out of range", "\n{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"src_port\":70000}\n",
         ":2: src_port: expected a whole number from 0 to 65535"),
        ("fraction", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"ICMP\",\"flow\":{\"pkts_toserver\":1.5}}\n",
         ":1: flow.pkts_toserver: expected a whole number from 0"),
        ("label not a string", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"source\":{\"identity\":1,\"labels\":[\"a\",2]}}\n",
         ":1: \"source.labels[1]\": expected a string"),
        ("port as text", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"dest_port\":\"80\"}\n",
         ":1: \"dest_port\": expected an integer from 0 to 65535"),
        ("unknown verdict", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"policy\":{\"verdict\":\"MAYBE\"}}\n",
         ":1: policy.verdict: "),
        ("endpoint without identity", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"source\":{\"labels\":[]}}\n",
         ":1: \"source\" without \"identity\""),
        ("policy name null", "{\"event_type\":\"flow\",\"timestamp\":\"t\",\"src_ip\":\"a\",\"dest_ip\":\"b\",\"proto\":\"TCP\",\"policy\":{\"verdict\":\"AUDIT\",\"egress_denied_by\":[{\"name\":null,\"kind\":\"NetworkPolicy\"}]}}\n",
         ":1: \"policy.egress_denied_by[0].name\": null where a string was expected"),
    ]

    @Test(arguments: errorCases.map(\.name))
    func errorsNameTheFileAndLine(name: String) throws {
        let testCase = try #require(Self.errorCases.first { $0.name == name })
        let file = try Self.temporaryFile(testCase.contents)
        defer { try? FileManager.default.removeItem(at: file) }
        let reader = try FlowLogReader(path: file.path)
        do {
            while try reader.next() != nil {}
            Issue.record("\(name): no error")
        } catch {
            #expect(error.file == file.path)
            #expect(error.description.hasPrefix(file.path + testCase.message), "\(error.description)")
            #expect(!error.description.contains("\n"))
        }
    }

    @Test func missingFileAndDirectory() {
        #expect(throws: FlowLogError(file: "/nonexistent/flows.jsonl", message: "No such file or directory")) {
            _ = try FlowLogReader(path: "/nonexistent/flows.jsonl")
        }
        #expect(throws: FlowLogError(file: "/tmp", message: "is a directory")) {
            _ = try FlowLogReader(path: "/tmp")
        }
    }

    @Test func incompleteLastLineIsLeftForLater() throws {
        let complete = #"{"timestamp":"2025-01-01T00:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP"}"#
        let file = try Self.temporaryFile(complete + "\n" + #"{"timestamp":"2025-01-01T00:00:02.000000+0000","event_type":"flow","src_ip":"10.0"#)
        defer { try? FileManager.default.removeItem(at: file) }
        let reader = try FlowLogReader(path: file.path)
        #expect(try reader.next() != nil)
        #expect(try reader.next() == nil)
        #expect(reader.incompleteLastLine == 2)
        // A complete last line without a newline is read.
        let whole = try Self.temporaryFile(complete)
        defer { try? FileManager.default.removeItem(at: whole) }
        #expect(try FlowLogReader.readAll(path: whole.path).count == 1)
    }

    @Test func readsFromAHandleWithBytesAlreadyTaken() throws {
        let pipe = Pipe()
        let text = #"{"timestamp":"2025-01-01T00:00:01.000000+0000","event_type":"flow","src_ip":"10.0.0.1","dest_ip":"10.0.0.2","proto":"TCP"}"# + "\n"
        let bytes = Array(text.utf8)
        pipe.fileHandleForWriting.write(Data(bytes[10...]))
        try pipe.fileHandleForWriting.close()
        let reader = FlowLogReader(fileHandle: pipe.fileHandleForReading, name: "pipe", initialBytes: Array(bytes[..<10]))
        let record = try #require(try reader.next())
        #expect(record.sourceIP == "10.0.0.1")
        #expect(try reader.next() == nil)
    }

    @Test func sniffing() {
        #expect(FlowLogReader.looksLikeJSONLines(Array("{\"a\":1}".utf8)))
        #expect(FlowLogReader.looksLikeJSONLines(Array(" \n\t{".utf8)))
        #expect(FlowLogReader.looksLikeJSONLines([0xEF, 0xBB, 0xBF, UInt8(ascii: "{")]))
        #expect(!FlowLogReader.looksLikeJSONLines([0xD4, 0xC3, 0xB2, 0xA1]))  // pcap
        #expect(!FlowLogReader.looksLikeJSONLines([0x0A, 0x0D, 0x0D, 0x0A]))  // pcapng
        // A pcapng section header whose block length bytes happen to follow with "{" is still pcapng.
        #expect(!FlowLogReader.looksLikeJSONLines([0x0A, 0x0D, 0x0D, 0x0A, UInt8(ascii: "{"), 0, 0, 0]))
        let demo = Self.demo.appendingPathComponent("demo-cluster.policies.expected.jsonl").path
        #expect(FlowLogReader.looksLikeJSONLines(path: demo))
        #expect(!FlowLogReader.looksLikeJSONLines(path: Self.demo.appendingPathComponent("demo-cluster.pcap").path))
        #expect(!FlowLogReader.looksLikeJSONLines(path: "/nonexistent"))
        #expect(!FlowLogReader.looksLikeJSONLines([UInt8]()))
        #expect(!FlowLogReader.looksLikeJSONLines(Array("[{}]".utf8)))
    }

    @Test func timestamps() {
        #expect(FlowLogTime.parse("1970-01-01T00:00:00.000000+0000") == Date(timeIntervalSince1970: 0))
        #expect(FlowLogTime.parse("2024-02-29T23:59:59.500000+0000") == Date(timeIntervalSince1970: 1_709_251_199.5))
        #expect(FlowLogTime.parse("1969-12-31T23:59:59.000000+0000") == Date(timeIntervalSince1970: -1))
        #expect(FlowLogTime.parse("2025-13-01T00:00:00.000000+0000") == nil)
        #expect(FlowLogTime.parse("2025-01-01 00:00:00.000000+0000") == nil)
        #expect(FlowLogTime.parse("2025-01-01T00:00:00.000000+0100") == nil)
        #expect(FlowLogTime.parse("") == nil)
    }
}

/// The reader's fast parser against `JSONDecoder` (the record's `Decodable` conformance): the
/// same record for every line, or an error where `JSONDecoder` has one.
struct FlowLogParserAgreementTests {
    /// 1500 seeded mutations of `line`: one to three bytes replaced, removed or inserted, each
    /// with bytes JSON gives meaning to, invalid UTF-8 and a newline.
    static func mutations(of line: [UInt8]) -> [[UInt8]] {
        var state: UInt64 = 12345
        func next() -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int(truncatingIfNeeded: state >> 33)
        }
        let alphabet = Array("{}[]\",:0123456789.-eEtrufalsn\\ uX\u{7f}".utf8) + [0xC3, 0xFF, 0x0A]
        return (0..<1500).map { _ in
            var bytes = line
            for _ in 0..<(1 + next() % 3) {
                let position = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[position] = alphabet[next() % alphabet.count]
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet[next() % alphabet.count], at: position)
                }
            }
            return bytes
        }
    }

    static func decoded(_ line: String) -> FlowLogRecord? {
        try? JSONDecoder().decode(FlowLogRecord.self, from: Data(line.utf8))
    }

    /// What the reader makes of one line: a record, nil (skipped), or an error.
    static func read(_ line: String) -> Result<FlowLogRecord?, FlowLogError> {
        let pipe = Pipe()
        pipe.fileHandleForWriting.write(Data((line + "\n").utf8))
        try? pipe.fileHandleForWriting.close()
        let reader = FlowLogReader(fileHandle: pipe.fileHandleForReading, name: "line")
        return Result { () throws(FlowLogError) -> FlowLogRecord? in try reader.next() }
    }

    @Test func everyDemoLineReadsAsJSONDecoderReadsIt() throws {
        for file in ["demo-cluster.expected.jsonl", "demo-cluster.policies.expected.jsonl"] {
            let text = try String(contentsOf: FlowLogReaderTests.demo.appendingPathComponent(file), encoding: .utf8)
            let flows = text.split(separator: "\n").map(String.init).filter { $0.contains("\"event_type\":\"flow\"") }
            #expect(!flows.isEmpty)
            for line in flows {
                let expected = try #require(Self.decoded(line))
                #expect(try Self.read(line).get() == expected, "\(line)")
            }
        }
    }

    @Test func escapesAndUnusualSpellings() throws {
        let lines = [
            #"{"event_type":"flow","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","source":{"identity":1,"pod_name":"p\"q\\r\/s\u00e9\u2028\ud83d\ude00\n\t\b\f","labels":[]}}"#,
            #"{"event_type":"flow","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","extra":[1,-2.5e3,true,false,null,{"a":[[]]}],"flow":{}}"#,
            #"  {"event_type":"flow" , "timestamp" : "t" , "src_ip":"a","dest_ip":"b","proto":"TCP","src_port":0,"flow_id":18446744073709551615}  "#,
            #"{"event_type":"flow","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","dest_port":null}"#,
            #"{"event_type":"flow","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","policy":{"verdict":"DROPPED","egress":{"decision":"denied","match_type":"none"},"egress_denied_by":[{"name":"x","kind":"NetworkPolicy","extra":1}]}}"#,
            #"{"event_type":"flow","timestamp":"t","src_ip":"a","dest_ip":"b","proto":"TCP","source":{"identity":1,"workloads":[{"name":"w","kind":"Deployment"}],"labels":["k8s:a=b"]}}"#,
        ]
        for line in lines {
            let expected = try #require(Self.decoded(line), "\(line)")
            #expect(try Self.read(line).get() == expected, "\(line)")
        }
        let first = try #require(try Self.read(lines[0]).get())
        #expect(first.source?.podName == "p\"q\\r/sé\u{2028}😀\n\t\u{8}\u{c}")
        #expect(try Self.read(lines[3]).get()?.destinationPort == nil)
    }

    @Test func mutatedLinesAgreeWithJSONDecoder() throws {
        // Seeded byte mutations of a real line: whatever the reader returns, JSONDecoder
        // returns the same, and where the reader fails JSONDecoder fails too.
        let text = try String(contentsOf: FlowLogReaderTests.demo.appendingPathComponent("demo-cluster.policies.expected.jsonl"), encoding: .utf8)
        let line = Array(try #require(text.split(separator: "\n").first { $0.contains("\"event_type\":\"flow\"") && $0.contains("allowed_by") }).utf8)
        for bytes in Self.mutations(of: line) {
            // One line only: a newline inserted splits it, which is another test.
            guard !bytes.contains(0x0A) else { continue }
            let mutated = String(decoding: bytes, as: UTF8.self)
            guard Array(mutated.utf8) == bytes else { continue }
            let expected = Self.decoded(mutated)
            switch Self.read(mutated) {
            case .success(let record?):
                #expect(record == expected, "\(mutated)")
            case .success(nil):
                // Skipped: not a flow (event_type changed) or an incomplete last line.
                #expect(expected == nil || !mutated.contains("\"event_type\":\"flow\""), "\(mutated)")
            case .failure(let error):
                // The reader also needs "event_type" (the record's Decodable does not).
                #expect(expected == nil || !mutated.contains("\"event_type\":"), "\(error): \(mutated)")
            }
        }
    }
}
