import FlowLog
import Foundation
import ServiceMap
import Testing

/// The HTML page and the DOT file: the demo's golden DOT (also checked by Graphviz), the
/// page's nodes, edges and data attributes, escaping of strange names in every context, and
/// byte-for-byte reproducibility.
///
/// To accept a deliberate change of the DOT output:
/// `FLOWMON_RECORD=1 swift test --filter ServiceMapTests`, then review `git diff Captures/`.
struct MapRenderingTests {
    /// `data-name="value"` attribute values in order of appearance (HTML-escaped as written).
    static func attributeValues(_ name: String, in html: String) -> [String] {
        var values: [String] = []
        var rest = html[...]
        let marker = " \(name)=\""
        while let range = rest.range(of: marker) {
            rest = rest[range.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { break }
            values.append(String(rest[..<end]))
            rest = rest[end...]
        }
        return values
    }

    /// The JSON inside `<script type="application/json" id="map-data">`.
    static func mapData(_ html: String) throws -> [String: Any] {
        let start = try #require(html.range(of: "<script type=\"application/json\" id=\"map-data\">"))
        let end = try #require(html.range(of: "</script>", range: start.upperBound..<html.endIndex))
        let json = String(html[start.upperBound..<end.lowerBound])
        return try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
    }

    @Test func demoGoldenDOT() throws {
        let dot = DOTMapRenderer.render(try MapFixture.demoMap())
        if MapFixture.recording {
            try dot.write(to: MapFixture.goldenDOT, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: MapFixture.goldenDOT, encoding: .utf8),
                                    "missing \(MapFixture.goldenDOT.lastPathComponent): record it with FLOWMON_RECORD=1 and review it")
        let actualLines = dot.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(actualLines.count == expectedLines.count, "line count")
        for (index, (a, e)) in zip(actualLines, expectedLines).enumerated() where a != e {
            Issue.record("demo-cluster.map.expected.dot line \(index + 1) differs:\n  expected \(e)\n  actual   \(a)")
            break
        }
    }

    @Test func demoDOTStructure() throws {
        let dot = DOTMapRenderer.render(try MapFixture.demoMap())
        #expect(dot.hasPrefix("// flowmon map"))
        #expect(dot.contains("digraph \"flowmon map\" {"))
        #expect(dot.components(separatedBy: "  subgraph \"cluster_").count - 1 == 9)
        #expect(dot.components(separatedBy: " -> ").count - 1 == 58)
        #expect(dot.contains("subgraph \"cluster_ns:platform\""))
        #expect(dot.contains("\"platform/redis\" -> \"cidr:198.18.0.0/15\" [label=\"443/TCP ×3\\n443/UDP ×1\", color=\"#e8590c\", fontcolor=\"#d9480f\""))
        // Colour by verdict: the demo's policies are in audit mode, so nothing is dropped.
        #expect(dot.components(separatedBy: "class=\"audit\"").count - 1 == 14)
        #expect(dot.components(separatedBy: "class=\"forwarded\"").count - 1 == 44)
        #expect(dot.contains("\"host\" [label=\"host\\nthis node\""))
    }

    @Test(.enabled(if: MapFixture.which("dot") != nil || MapFixture.isCI, "needs Graphviz (scripts/ensure-deps --tests)"))
    func graphvizReadsTheDemoDOT() throws {
        let dotBinary = try #require(MapFixture.which("dot"), "Graphviz 'dot' is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("map.dot")
        try DOTMapRenderer.render(try MapFixture.demoMap()).write(to: file, atomically: true, encoding: .utf8)
        let result = try runProgram(dotBinary, ["-Tsvg", file.path], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.isEmpty, "\(result.stderr)")
        #expect(result.stdout.contains("<svg"))
        // One SVG group per node and per edge, clusters per group.
        #expect(result.stdout.components(separatedBy: "class=\"node\"").count - 1 == 13)
        #expect(result.stdout.components(separatedBy: "class=\"edge ").count - 1 == 58)
        #expect(result.stdout.components(separatedBy: "class=\"edge audit\"").count - 1 == 14)
        #expect(result.stdout.components(separatedBy: "class=\"cluster\"").count - 1 == 9)
        #expect(result.stdout.contains("443/TCP ×3"))
    }

    @Test func demoHTMLDataControlsAndLegend() throws {
        let map = try MapFixture.demoMap()
        let html = HTMLMapRenderer.render(map, source: "demo-cluster.pcap")
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(html.hasSuffix("</html>\n"))
        #expect(html.contains("<body data-nodes=\"13\" data-edges=\"67\" data-links=\"58\" data-connections=\"120\">"))
        #expect(html.contains("7 namespaces · 13 nodes · 67 edges · 120 connections · 31 would be dropped"))
        // The script's data: every node (by group) and edge (by node), with its verdict colour class.
        let data = try Self.mapData(html)
        let nodes = try #require(data["nodes"] as? [[String: Any]])
        #expect(nodes.compactMap { $0["id"] as? String } == ServiceMapModelTests.demoNodeIDs)
        let groups = try #require(data["groups"] as? [[String: Any]])
        #expect(groups.compactMap { $0["id"] as? String } == ["ns:default", "ns:ingress-nginx", "ns:kube-system", "ns:monitoring",
                                                             "ns:payments", "ns:platform", "ns:shop", "cluster", "world"])
        let edges = try #require(data["edges"] as? [[String: Any]])
        #expect(edges.count == 67)
        #expect(edges.filter { $0["v"] as? String == "audit" }.count == map.edges.filter { $0.verdictClass == .wouldBeDropped }.count)
        #expect(edges.filter { $0["v"] as? String == "forwarded" }.count == map.edges.filter { $0.verdictClass == .allowed }.count)
        let redis = try #require(nodes.firstIndex { $0["id"] as? String == "platform/redis" })
        let cidr = try #require(nodes.firstIndex { $0["id"] as? String == "cidr:198.18.0.0/15" })
        let dropped = try #require(edges.first { $0["s"] as? Int == redis && $0["t"] as? Int == cidr && $0["p"] as? String == "443/TCP" })
        #expect(dropped["v"] as? String == "audit" && dropped["c"] as? Int == 3)
        let details = try #require(dropped["d"] as? [String: Any])
        #expect(details["h"] as? String == "redis → 198.18.0.0/15  443/TCP")
        // Filters: one option per namespace and per service; verdict boxes with the legend's colours.
        #expect(Self.attributeValues("value", in: html).filter { $0.hasPrefix("ns:") }.count == 7)
        #expect(html.contains("<option>443/TCP</option>") && html.contains("<option>53/UDP</option>"))
        for verdict in EdgeVerdict.allCases {
            #expect(html.contains("id=\"show-\(verdict.rawValue)\" checked><svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(verdict.color)\""))
        }
        #expect(html.contains("audit: would be dropped") && html.contains("id=\"search\"") && html.contains("id=\"width-by\""))
    }

    @Test func theHTMLIsSelfContained() throws {
        let html = HTMLMapRenderer.render(try MapFixture.demoMap(), source: "demo-cluster.pcap")
        // Nothing fetched: no external URL anywhere but the SVG namespace, no src/href attributes.
        let urls = html.components(separatedBy: "://").dropFirst().map { String($0.prefix(20)) }
        #expect(!urls.isEmpty && urls.allSatisfy { $0.hasPrefix("www.w3.org/2000/svg") }, "\(urls)")
        #expect(!html.contains(" src="))
        #expect(!html.contains(" href="))
        #expect(!html.contains("@import"))
        #expect(html.contains("Content-Security-Policy\" content=\"default-src 'none'"))
        #expect(html.components(separatedBy: "<script").count - 1 == 2)
    }

    @Test func reproducibleByteForByte() throws {
        let first = try MapFixture.demoMap(), second = try MapFixture.demoMap()
        #expect(HTMLMapRenderer.render(first, source: "a") == HTMLMapRenderer.render(second, source: "a"))
        #expect(DOTMapRenderer.render(first) == DOTMapRenderer.render(second))
    }

    @Test func emptyMap() {
        let map = ServiceMapBuilder().build()
        let html = HTMLMapRenderer.render(map, source: "empty.jsonl")
        #expect(html.contains("No flow records in the input."))
        #expect(html.contains("data-nodes=\"0\""))
        let dot = DOTMapRenderer.render(map)
        #expect(dot.contains("0 nodes") && dot.hasSuffix("}\n"))
    }

    /// Names from outside that try to leave their context.
    static let strangeRecords: [FlowLogRecord] = {
        let pod = FlowLogRecord.Endpoint(
            identity: 400, namespace: "ns\"<b>&'x", podName: "</script><script>alert(1)</script>",
            labels: ["k8s:evil=<img src=x onerror=alert(1)>", "k8s:quote=\"'&amp;", "k8s:line=a\u{2028}b\nc\\d"],
            workloads: [FlowLogRecord.Workload(name: "w\"]; x [label=\"pwned\\N", kind: "Deployment<svg onload=alert(2)>")])
        let other = FlowLogRecord.Endpoint(identity: 401, namespace: "plain", podName: "p-1", labels: ["k8s:app=p"],
                                           workloads: [FlowLogRecord.Workload(name: "p", kind: "Deployment")])
        var policy = FlowLogRecord.PolicyVerdict(verdict: .audit, dropReason: "POLICY_DENY", direction: .egress)
        policy.egressDeniedBy = [FlowLogRecord.PolicyReference(name: "--><script>alert(3)</script><!--", namespace: "ns\"<b>&'x",
                                                               kind: "CiliumNetworkPolicy")]
        return [
            FlowLogRecord(timestamp: "2025-01-01T00:00:00.000000+0000", sourceIP: "10.0.0.1", sourcePort: 1234,
                          destinationIP: "10.0.0.2", destinationPort: 80, proto: "TCP", bytesToServer: 1,
                          source: pod, destination: other, policy: policy),
            FlowLogRecord(timestamp: "2025-01-01T00:00:01.000000+0000", sourceIP: "10.0.0.2", sourcePort: 1234,
                          destinationIP: "10.0.0.1", destinationPort: 443, proto: "TCP", bytesToServer: 1,
                          source: other, destination: pod),
        ]
    }()

    static var strangeMap: ServiceMap {
        var builder = ServiceMapBuilder()
        builder.add(contentsOf: strangeRecords)
        return builder.build()
    }

    @Test func strangeNamesStayTextInHTML() throws {
        let map = Self.strangeMap
        let strangeID = "ns\"<b>&'x/w\"]; x [label=\"pwned\\N"
        #expect(map.nodes.map(\.id).contains(strangeID))
        let html = HTMLMapRenderer.render(map, source: "<evil>\".jsonl")
        // Nothing from the records became markup.
        #expect(html.components(separatedBy: "<script").count - 1 == 2)
        #expect(!html.contains("<img"))
        #expect(!html.contains("<svg onload"))
        #expect(!html.contains("<b>"))
        #expect(!html.contains("<evil>"))
        // In the script, U+2028 is escaped (in HTML text it is only a character).
        let script = try #require(html.components(separatedBy: "id=\"map-data\">").last?.components(separatedBy: "</script>").first)
        #expect(!script.contains("\u{2028}") && script.contains("\\u2028"))
        #expect(!html.contains("</script><script>alert"))
        #expect(Self.attributeValues("value", in: html).contains("ns:ns&quot;&lt;b&gt;&amp;&#39;x"))
        // The script's data parses back to the very names.
        let data = try Self.mapData(html)
        let nodes = try #require(data["nodes"] as? [[String: Any]])
        #expect(nodes.contains { $0["id"] as? String == strangeID && ($0["d"] as? [String: Any])?["h"] as? String == strangeID })
        let lists = nodes.flatMap { (($0["d"] as? [String: Any])?["l"] as? [[Any]]) ?? [] }
        #expect(lists.contains { ($0[1] as? [String])?.contains("k8s:line=a\u{2028}b\nc\\d") == true })
        let edges = try #require(data["edges"] as? [[String: Any]])
        let policies = edges.flatMap { (($0["d"] as? [String: Any])?["l"] as? [[Any]]) ?? [] }.compactMap { $0[1] as? [String] }.flatMap { $0 }
        #expect(policies.contains("egress denied by CiliumNetworkPolicy ns\"<b>&'x/--><script>alert(3)</script><!--"))
    }

    @Test func strangeNamesStayTextInDOT() throws {
        let dot = DOTMapRenderer.render(Self.strangeMap)
        #expect(dot.contains("\"ns\\\"<b>&'x/w\\\"]; x [label=\\\"pwned\\\\N\""))
        #expect(!dot.contains("\u{2028}b\nc"))
        // Every line but the comment, the braces and the attribute lines ends a statement.
        guard let dotBinary = MapFixture.which("dot") else { return }
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("strange.dot")
        try dot.write(to: file, atomically: true, encoding: .utf8)
        let result = try runProgram(dotBinary, ["-Tsvg", file.path], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.components(separatedBy: "class=\"node\"").count - 1 == 2)
        #expect(!result.stdout.contains("pwned\"]"))
        #expect(result.stdout.contains("&lt;/script&gt;") || result.stdout.contains("pwned"))
    }

    @Test func escaping() {
        #expect(MapEscaping.html("a&b<c>d\"e'f") == "a&amp;b&lt;c&gt;d&quot;e&#39;f")
        #expect(MapEscaping.html("tab\tnew\nline\u{0}\u{1b}\u{7f}\u{85}") == "tab\tnew\nline\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}")
        #expect(MapEscaping.html("plain ünïcode ×") == "plain ünïcode ×")
        #expect(MapEscaping.scriptJSONString("</script><!--&'\"\\\n\u{2028}\u{2029}\u{1}")
            == "\"\\u003c/script\\u003e\\u003c!--\\u0026\\u0027\\\"\\\\\\n\\u2028\\u2029\\u0001\"")
        #expect(MapEscaping.dot("a\"b\\c\nd\u{1}") == "a\\\"b\\\\c\\nd\u{FFFD}")
    }
}
