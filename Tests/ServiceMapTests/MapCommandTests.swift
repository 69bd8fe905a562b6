import Foundation
import Testing

/// `flowmon map` end to end: a capture replayed in process and the same flows read as JSON
/// lines give the same map (the demo's golden DOT), output to a file or standard output, and
/// every mistake is one line on standard error with a non-zero status.
struct MapCommandTests {
    static func flowmon(_ arguments: [String], standardInput: FileHandle? = nil) throws -> RunResult {
        try runProgram(MapFixture.flowmonBinary, arguments, timeout: 300, standardInput: standardInput)
    }

    /// The one line of an error on standard error (besides the notice that the demo pods file has
    /// a finished pod, left out).
    static func errorLine(_ result: RunResult) -> String {
        let lines = result.stderr.split(separator: "\n").filter { !$0.contains(": skipped 1 pod in phase Succeeded or Failed ") }
        #expect(lines.count == 1, "stderr: \(result.stderr)")
        return lines.first.map(String.init) ?? ""
    }

    @Test func captureAndJSONLinesGiveTheGoldenDOT() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let golden = try String(contentsOf: MapFixture.goldenDOT, encoding: .utf8)

        let fromCapture = directory.appendingPathComponent("capture.dot")
        let result = try Self.flowmon(MapFixture.demoArguments + ["--out", fromCapture.path])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.isEmpty)
        #expect(try String(contentsOf: fromCapture, encoding: .utf8) == golden)

        let fromLines = directory.appendingPathComponent("lines.gv")
        let lines = try Self.flowmon(["map", MapFixture.demoFlows.path, "-o", fromLines.path])
        #expect(lines.status == 0, "\(lines.stderr)")
        #expect(lines.stderr.isEmpty)
        #expect(try String(contentsOf: fromLines, encoding: .utf8) == golden)

        // Standard output, and JSON lines from standard input.
        let toStdout = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", "-", "--format", "dot"])
        #expect(toStdout.status == 0 && toStdout.stdout == golden)
        let input = try FileHandle(forReadingFrom: MapFixture.demoFlows)
        let fromStdin = try Self.flowmon(["map", "-", "--out", "-", "--format", "dot"], standardInput: input)
        #expect(fromStdin.status == 0 && fromStdin.stdout == golden, "\(fromStdin.stderr)")
    }

    @Test func captureAndJSONLinesGiveTheSamePage() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let fromCapture = directory.appendingPathComponent("capture.html")
        let fromLines = directory.appendingPathComponent("lines.htm")
        #expect(try Self.flowmon(MapFixture.demoArguments + ["--out", fromCapture.path]).status == 0)
        #expect(try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", fromLines.path]).status == 0)
        let capturePage = try String(contentsOf: fromCapture, encoding: .utf8)
        let linesPage = try String(contentsOf: fromLines, encoding: .utf8)
        #expect(capturePage.contains("<title>flowmon map: demo-cluster.pcap</title>"))
        #expect(capturePage.replacingOccurrences(of: "demo-cluster.pcap", with: "demo-cluster.policies.expected.jsonl") == linesPage)
        // Again: byte for byte.
        let again = directory.appendingPathComponent("again.html")
        #expect(try Self.flowmon(MapFixture.demoArguments + ["--out", again.path]).status == 0)
        #expect(try Data(contentsOf: again) == Data(contentsOf: fromCapture))
        // --format wins over the extension.
        let dotInHTML = directory.appendingPathComponent("map.html")
        #expect(try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", dotInHTML.path, "--format", "dot"]).status == 0)
        #expect(try String(contentsOf: dotInHTML, encoding: .utf8).hasPrefix("// flowmon map"))
    }

    @Test func withServicesDNSReachesCoreDNS() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The demo's golden map has --services: DNS to the kube-dns ClusterIP goes to coredns.
        let golden = try String(contentsOf: MapFixture.goldenDOT, encoding: .utf8)
        #expect(golden.contains("\"platform/redis\" -> \"kube-system/coredns\""))
        #expect(golden.contains("through: service kube-system/kube-dns"))
        #expect(!golden.contains("\"identity:"))
        #expect(!golden.contains("\"platform/redis\" -> \"world\" [label=\"53/UDP"))
        // Without it, the ClusterIP is just an address in the world.
        let out = directory.appendingPathComponent("no-services.dot")
        var arguments = MapFixture.demoArguments
        let services = try #require(arguments.firstIndex(of: "--services"))
        arguments.removeSubrange(services...services + 1)
        let result = try Self.flowmon(arguments + ["--out", out.path])
        #expect(result.status == 0, "\(result.stderr)")
        let dot = try String(contentsOf: out, encoding: .utf8)
        #expect(dot.contains("\"platform/redis\" -> \"world\" [label=\"53/UDP ×8"))
        #expect(!dot.contains("through: service"))
    }

    /// The DOT line of one node (its id quoted at the start), or nil.
    static func nodeLine(_ id: String, in dot: String) -> String? {
        dot.split(separator: "\n").first { $0.hasPrefix("    \"\(id)\" [") }.map(String.init)
    }

    /// World peers the pod had looked up are nodes named by the name (`dest_names`), holding every
    /// address answered for it; a world address never resolved stays in `world`. The L7 capture:
    /// 203.0.113.10 answered for api.example.test (and later www.example.test, a CNAME to it),
    /// 198.51.100.7 for blocked.example.net, 203.0.113.20 reached by address only.
    @Test func worldPeersLookedUpByNameAreFQDNNodes() throws {
        let result = try Self.flowmon(MapFixture.l7Arguments + ["--out", "-", "--format", "dot"])
        #expect(result.status == 0, "\(result.stderr)")
        let dot = result.stdout
        let api = try #require(Self.nodeLine("fqdn:api.example.test", in: dot), "no api.example.test node:\n\(dot)")
        #expect(api.contains("[label=\"api.example.test\\nFQDN\""))
        #expect(api.contains("\\naddresses (1): 203.0.113.10\\n"))
        #expect(api.contains("\\nnames (2): api.example.test, www.example.test\""))
        let blocked = try #require(Self.nodeLine("fqdn:blocked.example.net", in: dot), "no blocked.example.net node:\n\(dot)")
        #expect(blocked.contains("\\naddresses (1): 198.51.100.7\\n"))
        let world = try #require(Self.nodeLine("world", in: dot))
        #expect(world.contains("\\naddresses (1): 203.0.113.20\""))
        #expect(!dot.contains("\"fqdn:www.example.test\""))
        // Edges keep their verdicts and say which application protocol they carried.
        #expect(dot.contains("\"shop/frontend-5d8f\" -> \"fqdn:api.example.test\" [label=\"80/TCP ×4\\n443/TCP ×1\", color=\"#2f9e44\""))
        #expect(dot.contains("\\napplication: http ×4, tls ×1\\n"))
        #expect(dot.contains("\"shop/frontend-5d8f\" -> \"fqdn:blocked.example.net\" [label=\"80/TCP ×1\", color=\"#e8590c\""))
        #expect(dot.contains("\"shop/frontend-5d8f\" -> \"world\" [label=\"80/TCP ×1\", color=\"#e8590c\""))
    }

    @Test func missingInput() throws {
        let result = try Self.flowmon(["map", "/nonexistent/flows.pcap", "--out", "/tmp/never-written.html"])
        #expect(result.status == 1)
        #expect(Self.errorLine(result) == "flowmon: error: /nonexistent/flows.pcap: No such file or directory")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/never-written.html"))
    }

    @Test func unknownOutputExtension() throws {
        let result = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", "map.svg"])
        #expect(result.status == 64)
        #expect(Self.errorLine(result)
            == "flowmon: error: cannot tell the map's format from 'map.svg': name it .html or .dot, or give --format html|dot")
        let stdout = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", "-"])
        #expect(stdout.status == 64)
        #expect(Self.errorLine(stdout).contains("give --format html or --format dot"))
        let badFormat = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", "x.html", "--format", "svg"])
        #expect(badFormat.status == 64)
    }

    @Test func unwritableOutput() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        let directoryNamedHTML = directory.appendingPathComponent("map.html")
        try FileManager.default.createDirectory(at: directoryNamedHTML, withIntermediateDirectories: false)
        for (path, reason) in [("/nonexistent-directory/map.html", "No such file or directory"),
                               (file.path + "/map.dot", "Not a directory"), (directoryNamedHTML.path, "Is a directory")] {
            let result = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", path])
            #expect(result.status == 1, "\(path)")
            #expect(Self.errorLine(result) == "flowmon: error: cannot write the map to \(path): \(reason)")
        }
    }

    @Test func notACaptureNorJSONLines() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let notes = directory.appendingPathComponent("notes.txt")
        try "hello there\n".write(to: notes, atomically: true, encoding: .utf8)
        let result = try Self.flowmon(["map", notes.path, "--out", directory.appendingPathComponent("m.html").path])
        #expect(result.status == 1)
        #expect(Self.errorLine(result) == "flowmon: error: \(notes.path): not a pcap, pcapng or flowmon JSON-lines file (magic 0x6c6c6568)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("m.html").path))
        let directoryInput = try Self.flowmon(["map", directory.path, "--out", directory.appendingPathComponent("m.html").path])
        #expect(directoryInput.status == 1)
        #expect(Self.errorLine(directoryInput) == "flowmon: error: \(directory.path): Is a directory")
    }

    @Test func badLineNamesFileAndLine() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lines = try String(contentsOf: MapFixture.demoFlows, encoding: .utf8).split(separator: "\n")
        let file = directory.appendingPathComponent("flows.jsonl")
        try (lines.prefix(40).joined(separator: "\n") + "\n{\"event_type\":\"flow\",\"src_ip\":\n" + lines[41] + "\n")
            .write(to: file, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("m.dot")
        let result = try Self.flowmon(["map", file.path, "--out", out.path])
        #expect(result.status == 1)
        #expect(Self.errorLine(result).hasPrefix("flowmon: error: \(file.path):41: not valid JSON"))
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func inventoryOptionsOnJSONLinesAreRefused() throws {
        let result = try Self.flowmon(["map", MapFixture.demoFlows.path, "--out", "/tmp/x.html",
                                       "--pods", MapFixture.demoPods.path, "--filter", "tcp", "--services", MapFixture.demoServices.path])
        #expect(result.status == 64)
        #expect(Self.errorLine(result) == "flowmon: error: \(MapFixture.demoFlows.path) holds JSON lines, which carry their identities and verdicts already; --filter, --pods, --services apply only to captures")
    }

    @Test func captureCutShortStillGivesAMap() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let whole = try Data(contentsOf: MapFixture.demoCapture)
        let cut = directory.appendingPathComponent("cut.pcap")
        try whole.prefix(whole.count / 2 + 7).write(to: cut)
        let out = directory.appendingPathComponent("cut.dot")
        let result = try Self.flowmon(["map", cut.path, "--out", out.path, "--pods", MapFixture.demoPods.path,
                                       "--node-name", "kind-worker-0", "--policies", MapFixture.demoPolicies.path])
        #expect(result.status == 1)
        let line = Self.errorLine(result)
        #expect(line.hasPrefix("flowmon: error: \(cut.path): "))
        #expect(line.hasSuffix("; the map shows every connection seen before"))
        let dot = try String(contentsOf: out, encoding: .utf8)
        #expect(dot.contains(" -> "))
    }

    @Test func filterAndEmptyInput() throws {
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let udp = directory.appendingPathComponent("udp.dot")
        let result = try Self.flowmon(MapFixture.demoArguments + ["--filter", "udp port 53", "--out", udp.path])
        #expect(result.status == 0, "\(result.stderr)")
        let dot = try String(contentsOf: udp, encoding: .utf8)
        #expect(dot.contains("53/UDP") && !dot.contains("/TCP"))

        let stats = directory.appendingPathComponent("stats.jsonl")
        try "{\"timestamp\":\"2025-01-01T00:00:00.000000+0000\",\"event_type\":\"stats\",\"stats\":{}}\n"
            .write(to: stats, atomically: true, encoding: .utf8)
        let empty = directory.appendingPathComponent("empty.html")
        let emptyResult = try Self.flowmon(["map", stats.path, "--out", empty.path])
        #expect(emptyResult.status == 0)
        #expect(Self.errorLine(emptyResult) == "flowmon: notice: \(stats.path): no flow records; the map is empty")
        #expect(try String(contentsOf: empty, encoding: .utf8).contains("No flow records in the input."))
    }

    @Test func help() throws {
        let result = try Self.flowmon(["map", "--help"])
        #expect(result.status == 0)
        for option in ["--out", "--format", "--pods", "--policies", "--node-name", "--filter", "--max-flows"] {
            #expect(result.stdout.contains(option), "\(option)")
        }
        // The page's behaviour, in words (the help wraps lines anywhere).
        let words = result.stdout.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for phrase in ["each namespace starts as one node", "filter by namespace, verdict and port", "labels never overlap",
                       "orange when audit", "The DOT file keeps every workload"] {
            #expect(words.contains(phrase), "\(phrase)")
        }
        let top = try Self.flowmon(["--help"])
        #expect(top.stdout.contains("map"))
    }
}
