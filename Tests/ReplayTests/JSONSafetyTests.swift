import Foundation
import Output
import Testing

/// Every string flowmon writes that came from outside — pod names, namespaces, label keys and
/// values, workload names, file names, selectors in the alerts configuration — is escaped, so
/// each line stays one JSON object that means what it says.
///
/// The escaper (`JSONBuffer.appendString`) writes `"` `\` and U+0000–U+001F escaped (RFC 8259
/// §7; U+007F too), U+2028 and U+2029 as `\u2028`/`\u2029` (so a line is one line of JavaScript),
/// `/` as it is, and replaces invalid UTF-8 the way Swift's `String(decoding:as:)` does: one
/// U+FFFD per maximal subpart of an ill-formed sequence (Unicode §3.9). Every result is checked
/// with two strict JSON parsers, Foundation's and Python's `json.loads`.
struct JSONSafetyTests {
    // MARK: The escaper

    static func escaped(_ bytes: [UInt8]) -> [UInt8] {
        var buffer = JSONBuffer(capacity: 16)
        bytes.withUnsafeBytes { buffer.appendString(utf8: $0) }
        return Array(buffer.bytes)
    }

    /// Foundation's parser, on the literal inside an array (no fragment options needed).
    static func parse(_ json: [UInt8]) -> String? {
        let document = Data("[".utf8) + Data(json) + Data("]".utf8)
        return (try? JSONSerialization.jsonObject(with: document)) .flatMap { ($0 as? [Any])?.first as? String }
    }

    /// The output is valid UTF-8 and one line: no raw control character (below U+0020, DEL)
    /// and no raw U+2028/U+2029 in it.
    static func isOneValidLine(_ json: [UInt8]) -> Bool {
        guard String(validating: json, as: UTF8.self) != nil else { return false }
        if json.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return false }
        for index in json.indices.dropLast(2) where json[index] == 0xe2 && json[index + 1] == 0x80
            && (json[index + 2] == 0xa8 || json[index + 2] == 0xa9) { return false }
        return true
    }

    static func controlCharacterEscape(_ byte: UInt8) -> String {
        switch byte {
        case 0x08: #"\b"#
        case 0x09: #"\t"#
        case 0x0a: #"\n"#
        case 0x0c: #"\f"#
        case 0x0d: #"\r"#
        default: #"\u00"# + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        }
    }

    @Test(arguments: Array(UInt8(0)...UInt8(0x1f)) + [0x7f])
    func everyControlCharacterIsEscaped(byte: UInt8) throws {
        let json = Self.escaped([UInt8(ascii: "a"), byte, UInt8(ascii: "b")])
        #expect(String(decoding: json, as: UTF8.self) == "\"a" + Self.controlCharacterEscape(byte) + "b\"")
        #expect(Self.isOneValidLine(json))
        #expect(Self.parse(json) == "a" + String(Character(Unicode.Scalar(byte))) + "b")
    }

    @Test(arguments: [
        ("\"", #""\"""#),
        ("\\", #""\\""#),
        ("/", #""/""#),  // may be escaped in JSON; it is not, as nothing needs it
        ("</script>", #""</script>""#),
        ("\u{2028}", #""\u2028""#),  // LINE SEPARATOR: a line break for JavaScript
        ("\u{2029}", #""\u2029""#),  // PARAGRAPH SEPARATOR
        ("a\u{2028}b\u{2029}c", #""a\u2028b\u2029c""#),
        ("\u{80}\u{9f}\u{a0}\u{feff}\u{fffd}", "\"\u{80}\u{9f}\u{a0}\u{feff}\u{fffd}\""),  // valid, left as they are
        ("\u{20ac}\u{1f600}\u{10ffff}", "\"\u{20ac}\u{1f600}\u{10ffff}\""),  // 3- and 4-byte sequences pass through
        ("\",\"injected\":\"x", #""\",\"injected\":\"x""#),
        ("\\\"\\u0000\\", #""\\\"\\u0000\\""#),  // escapes in the input are text, escaped again
    ] as [(String, String)])
    func specialCharactersAreEscapedExactly(text: String, expected: String) throws {
        let json = Self.escaped(Array(text.utf8))
        #expect(String(decoding: json, as: UTF8.self) == expected)
        #expect(Self.isOneValidLine(json))
        #expect(Self.parse(json) == text)
        // A Swift string from the agent side takes the same path.
        var buffer = JSONBuffer()
        buffer.appendString(text)
        #expect(Array(buffer.bytes) == json)
    }

    /// Invalid UTF-8 and what it becomes: the same as Swift's repair of the bytes.
    static let invalidUTF8: [(bytes: [UInt8], expected: String, what: String)] = [
        ([0x80], "\u{fffd}", "lone continuation byte"),
        ([0xbf, 0x41], "\u{fffd}A", "lone continuation byte, then ASCII"),
        ([0x80, 0x80, 0xbf], "\u{fffd}\u{fffd}\u{fffd}", "continuation bytes only"),
        ([0xc0, 0x80], "\u{fffd}\u{fffd}", "overlong U+0000 (2 bytes)"),
        ([0xc0, 0xaf], "\u{fffd}\u{fffd}", "overlong '/' (2 bytes)"),
        ([0xc1, 0xbf], "\u{fffd}\u{fffd}", "overlong U+007F"),
        ([0xe0, 0x80, 0xaf], "\u{fffd}\u{fffd}\u{fffd}", "overlong '/' (3 bytes)"),
        ([0xe0, 0x9f, 0xbf], "\u{fffd}\u{fffd}\u{fffd}", "overlong U+07FF"),
        ([0xf0, 0x80, 0x80, 0xaf], "\u{fffd}\u{fffd}\u{fffd}\u{fffd}", "overlong '/' (4 bytes)"),
        ([0xf8, 0x88, 0x80, 0x80, 0x80], String(repeating: "\u{fffd}", count: 5), "5-byte form"),
        ([0xc3], "\u{fffd}", "2-byte sequence cut short at the end"),
        ([0xe2, 0x82], "\u{fffd}", "3-byte sequence cut short at the end"),
        ([0xf0, 0x9f, 0x98], "\u{fffd}", "4-byte sequence cut short at the end"),
        ([0xe2, 0x82, 0x41], "\u{fffd}A", "3-byte sequence cut short by ASCII"),
        ([0xf0, 0x9f, 0x98, 0x22, 0x2c], "\u{fffd}\",", "cut short by a quote, which is still escaped"),
        ([0xc3, 0x5c], "\u{fffd}\\", "cut short by a backslash"),
        ([0xe2, 0x0a], "\u{fffd}\n", "cut short by a newline"),
        ([0xe2, 0x80], "\u{fffd}", "the start of U+2028 alone"),
        ([0xe2, 0x80, 0xa8, 0xe2, 0x80], "\u{2028}\u{fffd}", "U+2028, then its start alone"),
        ([0xed, 0xa0, 0x80], "\u{fffd}\u{fffd}\u{fffd}", "high surrogate U+D800 encoded in UTF-8"),
        ([0xed, 0xbf, 0xbf], "\u{fffd}\u{fffd}\u{fffd}", "low surrogate U+DFFF encoded in UTF-8"),
        ([0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80], String(repeating: "\u{fffd}", count: 6), "surrogate pair encoded in UTF-8 (CESU-8)"),
        ([0xf4, 0x90, 0x80, 0x80], String(repeating: "\u{fffd}", count: 4), "above U+10FFFF"),
        ([0xf5, 0x80, 0x80, 0x80], String(repeating: "\u{fffd}", count: 4), "lead byte F5"),
        ([0xfe, 0xff, 0x41], "\u{fffd}\u{fffd}A", "bytes FE and FF"),
        ([0x61, 0xc3, 0xa9, 0xff, 0xc3, 0xa9], "a\u{e9}\u{fffd}\u{e9}", "one bad byte between valid sequences"),
    ]

    @Test(arguments: Self.invalidUTF8.indices)
    func invalidUTF8BecomesReplacementCharacters(index: Int) throws {
        let (bytes, expected, what) = Self.invalidUTF8[index]
        #expect(String(decoding: bytes, as: UTF8.self) == expected, "the policy is Swift's repair: \(what)")
        let json = Self.escaped(bytes)
        #expect(Self.isOneValidLine(json), "\(what)")
        #expect(Self.parse(json) == expected, "\(what): \(String(decoding: json, as: UTF8.self))")
    }

    /// A small deterministic generator (SplitMix64), so the random strings are the same on every run.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9e37_79b9_7f4a_7c15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    /// Byte strings made of the pieces that matter (controls, quotes, lead and continuation
    /// bytes, the first bytes of U+2028), in every order.
    static let randomInputs: [[UInt8]] = {
        var generator = SplitMix64(state: 2028)
        let pieces: [[UInt8]] = [[0x00], [0x0a], [0x0d], [0x1f], [0x7f], [0x22], [0x5c], [0x2f], [0x41], [0x80], [0xbf],
                                 [0xc0], [0xc3], [0xe0], [0xe2], [0xed], [0xf0], [0xf4], [0xf5], [0xff], [0xe2, 0x80],
                                 [0xe2, 0x80, 0xa8], [0xe2, 0x80, 0xa9], [0xc3, 0xa9], [0xf0, 0x9f, 0x98, 0x80]]
        return (0..<3000).map { _ in
            (0..<Int.random(in: 0...12, using: &generator)).flatMap { _ in pieces.randomElement(using: &generator)! }
        }
    }()

    @Test func randomBytesAlwaysGiveOneValidLineThatParsesToTheRepairedString() {
        for bytes in Self.randomInputs {
            let json = Self.escaped(bytes)
            let expected = String(decoding: bytes, as: UTF8.self)
            #expect(Self.isOneValidLine(json), "\(bytes)")
            #expect(Self.parse(json) == expected, "\(bytes)")
        }
    }

    @Test func pythonsStrictParserReadsEveryResultAsExpected() throws {
        // Every case above through `json.loads` (strict: raw control characters are errors),
        // compared as the UTF-8 of the result (lone surrogates would show as ED A0 80).
        var inputs: [[UInt8]] = (Array(UInt8(0)...UInt8(0x1f)) + [0x7f]).map { [$0] }
        inputs += ["\"", "\\", "/", "\u{2028}", "\u{2029}", "\u{1f600}", "\",\"injected\":\"x"].map { Array($0.utf8) }
        inputs += Self.invalidUTF8.map(\.bytes) + Self.randomInputs
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("strings.jsonl")
        var lines = Data()
        for input in inputs {
            lines.append(contentsOf: Self.escaped(input))
            lines.append(UInt8(ascii: "\n"))
        }
        try lines.write(to: file)
        let script = """
            import json, sys
            for line in open(sys.argv[1], 'rb').read().split(b'\\n')[:-1]:
                print(json.loads(line.decode('utf-8')).encode('utf-8', 'surrogatepass').hex())
            """
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, file.path])
        #expect(result.status == 0, "\(result.stderr)")
        let decoded = result.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(decoded.count == inputs.count)
        for (input, hex) in zip(inputs, decoded) {
            let expected = String(decoding: input, as: UTF8.self).utf8.map { ($0 < 0x10 ? "0" : "") + String($0, radix: 16) }.joined()
            #expect(hex == expected, "\(input)")
        }
    }

    // MARK: End to end, through the CLI

    /// Quotes, backslashes, a slash, a newline, a tab, a carriage return, NUL, ESC, DEL, U+2028,
    /// U+2029, an emoji, and a payload that would add a key if it were not escaped.
    static let strange = "q\"b\\s/n\nt\tr\rz\u{0}e\u{1b}[31md\u{7f} ls\u{2028}ps\u{2029} \u{1f600} \",\"injected\":\"x"

    /// A YAML double-quoted scalar for `text` (YAML 1.2 escapes).
    static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case "\u{0}": out += "\\0"
            case "\u{2028}": out += "\\L"
            case "\u{2029}": out += "\\P"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7f {
                    out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// The demo inventory with one pod (10.244.0.7, which talks to the world) renamed: its name,
    /// namespace, a label key and value and its owner hold `strange`; `app: strange` selects it.
    static func strangePods() throws -> Data {
        let file = Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json")
        var inventory = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        var items = try #require(inventory["items"] as? [[String: Any]])
        let index = try #require(items.firstIndex { ($0["metadata"] as? [String: Any])?["name"] as? String == "recommendations-rs4dtjk2rt-t85ff" })
        var metadata = try #require(items[index]["metadata"] as? [String: Any])
        metadata["name"] = "pod-" + Self.strange
        metadata["namespace"] = "ns-" + Self.strange
        var labels = try #require(metadata["labels"] as? [String: Any])
        labels["key-" + Self.strange] = "value-" + Self.strange
        labels["app"] = "strange"
        metadata["labels"] = labels
        var owners = try #require(metadata["ownerReferences"] as? [[String: Any]])
        owners[0]["name"] = "wl-" + Self.strange + "-rs4dtjk2rt"  // ReplicaSet of Deployment "wl-<strange>"
        metadata["ownerReferences"] = owners
        items[index]["metadata"] = metadata
        inventory["items"] = items
        return try JSONSerialization.data(withJSONObject: inventory)
    }

    static let denyWorld = """
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata:
          name: strange-no-world
        spec:
          endpointSelector:
            matchLabels:
              app: strange
          egressDeny:
            - toEntities: [world]
        """

    /// Every key of every object, at any depth.
    static func allKeys(_ value: Any) -> Set<String> {
        if let object = value as? [String: Any] {
            return object.reduce(into: Set(object.keys)) { $0.formUnion(allKeys($1.value)) }
        }
        if let array = value as? [Any] { return array.reduce(into: []) { $0.formUnion(allKeys($1)) } }
        return []
    }

    /// Lines of an output file: each one JSON object, none with a raw control character or a
    /// raw U+2028/U+2029 (a line break for JavaScript), and no key `injected` anywhere.
    static func checkedLines(_ data: Data, _ name: String) -> [[String: Any]] {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        #expect(lines.last?.isEmpty == true, "\(name) ends with a newline")
        var records: [[String: Any]] = []
        for line in lines.dropLast() {
            let bytes = Array(line)
            #expect(isOneValidLine(bytes), "\(name): \(String(decoding: bytes, as: UTF8.self))")
            guard let record = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                Issue.record("\(name): not one JSON object: \(String(decoding: bytes, as: UTF8.self))")
                continue
            }
            #expect(!allKeys(record).contains("injected"), "\(name): a key was injected")
            records.append(record)
        }
        return records
    }

    @Test func strangeNamesInTheInventoryRoundTripThroughEveryOutput() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pods = directory.appendingPathComponent("pods.json")
        try Self.strangePods().write(to: pods)
        let policy = directory.appendingPathComponent("deny.yaml")
        try Self.denyWorld.write(to: policy, atomically: true, encoding: .utf8)
        // The alerts configuration selects the pod by its strange namespace, so world_egress
        // alerts carry it too.
        let config = directory.appendingPathComponent("alerts.yaml")
        try "world_egress:\n  sensitive:\n    - namespace: \(Self.yamlQuoted("ns-" + Self.strange))\n"
            .write(to: config, atomically: true, encoding: .utf8)
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let alerts = directory.appendingPathComponent("alerts.jsonl")
        let result = try runBounded(Fixture.flowmonBinary, [
            "replay", Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path, "--pods", pods.path,
            "--node-name", "kind-worker-0", "--policies", policy.path, "--alerts-config", config.path,
            "--hubble", hubble.path, "--alerts", alerts.path,
        ])
        #expect(result.status == 0, "\(result.stderr)")
        // Notices about the strange namespace (not in a namespaces file) are one line each.
        #expect(result.stderrLines.allSatisfy { $0.hasPrefix("flowmon: ") }, "\(result.stderr)")

        let flowLines = Self.checkedLines(result.stdout, "output")
        let hubbleLines = Self.checkedLines(try Data(contentsOf: hubble), "hubble")
        let alertLines = Self.checkedLines(try Data(contentsOf: alerts), "alerts")
        let validation = try validateAgainstSchemas(
            (result.stdoutLines + [hubble, alerts].flatMap { (try? String(contentsOf: $0, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? [] }))
        #expect(validation.status == 0, "\(validation.report)")

        // The strange strings come back exactly, wherever the pod appears.
        func expectStrangePod(_ endpoint: Any?, _ what: String) {
            let endpoint = endpoint as? [String: Any] ?? [:]
            #expect(endpoint["pod_name"] as? String == "pod-" + Self.strange, "\(what)")
            #expect(endpoint["namespace"] as? String == "ns-" + Self.strange, "\(what)")
            let labels = endpoint["labels"] as? [String] ?? []
            #expect(labels.contains("k8s:key-\(Self.strange)=value-\(Self.strange)"), "\(what): \(labels)")
            #expect(labels.contains("k8s:io.kubernetes.pod.namespace=ns-" + Self.strange), "\(what)")
            let workloads = endpoint["workloads"] as? [[String: Any]] ?? []
            #expect(workloads.first?["name"] as? String == "wl-" + Self.strange, "\(what)")
        }
        let strangeFlows = flowLines.filter { $0["event_type"] as? String == "flow" && $0["src_ip"] as? String == "10.244.0.7" }
        #expect(strangeFlows.count >= 5)
        for flow in strangeFlows { expectStrangePod(flow["source"], "flow source") }
        let denied = strangeFlows.compactMap { ($0["policy"] as? [String: Any])?["egress_denied_by"] as? [[String: Any]] }
        #expect(!denied.isEmpty, "the deny policy is named in the flows it denies")
        #expect(denied.allSatisfy { $0.first?["name"] as? String == "strange-no-world" })
        let strangeHubble = hubbleLines.filter { (($0["flow"] as? [String: Any])?["IP"] as? [String: Any])?["source"] as? String == "10.244.0.7" }
        #expect(!strangeHubble.isEmpty)
        for line in strangeHubble { expectStrangePod((line["flow"] as? [String: Any])?["source"], "hubble source") }
        let worldEgress = alertLines.filter { ($0["alert"] as? [String: Any])?["kind"] as? String == "world_egress" }
        #expect(!worldEgress.isEmpty, "the strange namespace in the alerts configuration selects the pod")
        for alert in worldEgress { expectStrangePod(alert["source"], "alert source") }
    }

    /// How `flowmon: error:` lines show a name: control characters and line separators escaped.
    static func shownInMessages(_ text: String) -> String {
        var shown = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0a: shown += "\\n"
            case 0x0d: shown += "\\r"
            case 0x09: shown += "\\t"
            case 0..<0x20, 0x7f...0x9f, 0x2028, 0x2029: shown += "\\u{" + String(scalar.value, radix: 16) + "}"
            default: shown.unicodeScalars.append(scalar)
            }
        }
        return shown
    }

    @Test func aPolicyWithAStrangeNameIsRefusedOnOneLine() throws {
        // Policy names must be RFC 1123 subdomains (as Kubernetes requires), so a strange name
        // never reaches the output: it is refused, and the message stays one line.
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let policy = directory.appendingPathComponent("strange.yaml")
        try Self.denyWorld.replacingOccurrences(of: "name: strange-no-world", with: "name: \(Self.yamlQuoted(Self.strange))")
            .write(to: policy, atomically: true, encoding: .utf8)
        let result = try runBounded(Fixture.flowmonBinary, [
            "replay", Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path,
            "--pods", Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path, "--policies", policy.path,
        ])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("flowmon: error: \(policy.path): document 1: metadata.name: invalid name 'q\"b\\s/n\\nt\\tr\\rz\\u{0}e\\u{1b}[31md\\u{7f} ls\\u{2028}ps\\u{2029} \u{1f600} \",\"injected\":\"x': must be"),
                "\(result.stderr)")
    }

    @Test func aStrangeCaptureFileNameIsEscapedInTheStatsLineAndOnOneLineInTheMessage() throws {
        let base = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: base) }
        let directory = base.appendingPathComponent("we\"ird\ndir")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let demo = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")
        let whole = directory.appendingPathComponent("cap\"ture\nname\u{2028}\u{1f600}.pcap")
        try FileManager.default.copyItem(at: demo, to: whole)
        let reference = try runBounded(Fixture.flowmonBinary, ["replay", demo.path])
        let result = try runBounded(Fixture.flowmonBinary, ["replay", whole.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout == reference.stdout)

        // Cut short, the file's name is in the stats line and in the message.
        let cut = directory.appendingPathComponent("cut\"\n\u{2029}.pcap")
        try Data(try Data(contentsOf: demo).prefix(390_001)).write(to: cut)
        let truncated = try runBounded(Fixture.flowmonBinary, ["replay", cut.path])
        #expect(truncated.status == 1)
        let problem = "truncated in the middle of record 764 at offset 389964 (header says 569 bytes, 21 remain)"
        #expect(truncated.stderr == "flowmon: error: \(Self.shownInMessages(cut.path)): \(problem)\n")
        let records = Self.checkedLines(truncated.stdout, "output")
        let stats = try #require(records.last?["stats"] as? [String: Any])
        #expect((stats["capture"] as? [String: Any])?["error"] as? String == "\(cut.path): \(problem)")
        let validation = try validateAgainstSchemas(truncated.stdoutLines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    @Test func aPodsFileWithInvalidUTF8IsRefusedOnOneLineNamingTheFile() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pods = directory.appendingPathComponent("pods\n\"\u{2028}.json")
        var bytes = Array(#"{"apiVersion":"v1","kind":"List","items":[{"metadata":{"name":"a"#.utf8)
        bytes += [0xff, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xe2, 0x82]  // a bad byte, overlong, surrogate, cut short
        bytes += Array(#"","namespace":"x"},"spec":{},"status":{"podIP":"10.244.0.9"}}]}"#.utf8)
        try Data(bytes).write(to: pods)
        let result = try runBounded(Fixture.flowmonBinary, [
            "replay", Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path, "--pods", pods.path,
        ])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderrLines.count == 1, "\(result.stderr)")
        #expect(result.stderr.hasPrefix("flowmon: error: \(Self.shownInMessages(pods.path)): not JSON: "), "\(result.stderr)")
    }
}
