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
        #expect(dot.contains("\"platform/redis\" -> \"cidr:198.18.0.0/15\" [label=\"443/TCP ×3\\n443/UDP ×1\", color=\"#e03131\""))
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
        #expect(result.stdout.components(separatedBy: "class=\"edge would&#45;be&#45;dropped\"").count - 1 == 14)
        #expect(result.stdout.components(separatedBy: "class=\"cluster\"").count - 1 == 9)
        #expect(result.stdout.contains("443/TCP ×3"))
    }

    @Test func demoHTMLNodesEdgesAndAttributes() throws {
        let map = try MapFixture.demoMap()
        let html = HTMLMapRenderer.render(map, source: "demo-cluster.pcap")
        #expect(html.hasPrefix("<!DOCTYPE html>\n<html lang=\"en\">"))
        #expect(html.hasSuffix("</html>\n"))
        #expect(Self.attributeValues("data-node", in: html) == ServiceMapModelTests.demoNodeIDs)
        let edges = Self.attributeValues("data-edge", in: html)
        #expect(edges.count == 67)
        #expect(Set(zip(edges, Self.attributeValues("data-verdict", in: html).suffix(67)).map { "\($0) \($1)" }).count == 67)
        #expect(edges.contains("platform/redis→cidr:198.18.0.0/15 443/TCP"))
        #expect(edges.contains("host→platform/redis 6379/TCP"))
        #expect(Self.attributeValues("data-link", in: html).count == 58)
        #expect(Self.attributeValues("data-group", in: html).prefix(9) == ["ns:default", "ns:ingress-nginx", "ns:kube-system", "ns:monitoring",
                                                                          "ns:payments", "ns:platform", "ns:shop", "cluster", "world"])
        #expect(html.contains("<body data-nodes=\"13\" data-edges=\"67\" data-links=\"58\" data-connections=\"120\">"))
        #expect(html.contains("13 nodes · 67 edges · 120 connections · 31 would be dropped"))
        // Would-be-dropped links are drawn red, allowed ones green, with the legend.
        #expect(html.contains("data-link=\"platform/redis→cidr:198.18.0.0/15\" data-verdict=\"would-be-dropped\""))
        let redLines = html.components(separatedBy: "stroke=\"\(HTMLMapRenderer.droppedColor)\" stroke-width=\"").count - 2
        let greenLines = html.components(separatedBy: "stroke=\"\(HTMLMapRenderer.allowedColor)\" stroke-width=\"").count - 2
        #expect(redLines == map.links.filter { $0.verdictClass == .wouldBeDropped }.count)
        #expect(redLines + greenLines == 58)
        #expect(html.contains("would be dropped (AUDIT / DROPPED)"))
        // Labels, SVG titles for hover without scripts, details for the script's tooltip.
        #expect(html.contains(">443/TCP ×3</tspan>"))
        #expect(html.contains("<title>redis → 198.18.0.0/15  443/TCP\nfrom: platform/redis\nto: cidr:198.18.0.0/15\nservice: 443/TCP\nverdict: would be dropped: AUDIT ×3"))
        let data = try Self.mapData(html)
        #expect((data["nodes"] as? [Any])?.count == 13)
        #expect((data["edges"] as? [Any])?.count == 67)
        #expect((data["links"] as? [Any])?.count == 58)
    }

    @Test func theHTMLIsSelfContained() throws {
        let html = HTMLMapRenderer.render(try MapFixture.demoMap(), source: "demo-cluster.pcap")
        // Nothing fetched: no external URL anywhere but the SVG namespace, no src/href attributes.
        let urls = html.components(separatedBy: "://").dropFirst().map { String($0.prefix(20)) }
        #expect(urls == ["www.w3.org/2000/svg\""], "\(urls)")
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

    @Test func layoutKeepsNodesApartAndInside() throws {
        let map = try MapFixture.demoMap()
        let layout = MapLayout(map)
        for (i, a) in layout.nodes.enumerated() {
            #expect(a.x >= 0 && a.y >= 0 && a.x + a.width <= layout.width && a.y + a.height <= layout.height)
            for b in layout.nodes[(i + 1)...] {
                #expect(a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y)
            }
        }
        for (i, a) in layout.groups.enumerated() {
            for b in layout.groups[(i + 1)...] {
                #expect(a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y)
            }
        }
        // Each node lies in its group's box.
        for (index, node) in map.nodes.enumerated() {
            let group = layout.groups[map.groups.firstIndex(of: node.group)!]
            let rect = layout.nodes[index]
            #expect(rect.x >= group.x && rect.y >= group.y && rect.x + rect.width <= group.x + group.width
                && rect.y + rect.height <= group.y + group.height)
        }
        #expect(layout.links.count == 58)
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
        #expect(html.contains("&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(Self.attributeValues("data-node", in: html).contains("ns&quot;&lt;b&gt;&amp;&#39;x/w&quot;]; x [label=&quot;pwned\\N"))
        // The script's data parses back to the very names.
        let data = try Self.mapData(html)
        let nodes = try #require(data["nodes"] as? [[String: Any]])
        #expect(nodes.contains { $0["h"] as? String == strangeID })
        let lists = nodes.flatMap { ($0["l"] as? [[Any]]) ?? [] }
        #expect(lists.contains { ($0[1] as? [String])?.contains("k8s:line=a\u{2028}b\nc\\d") == true })
        let edges = try #require(data["edges"] as? [[String: Any]])
        let policies = edges.flatMap { ($0["l"] as? [[Any]]) ?? [] }.compactMap { $0[1] as? [String] }.flatMap { $0 }
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
