import Foundation
import Testing

/// The map of 6, 60 and 600 workloads in headless Chromium: synthetic flow lines from
/// `scripts/map-flows N` (deterministic; its header says what they hold), drawn by the real
/// `flowmon map`. For each size: the page is interactive within a second of navigation start,
/// no two labels overlap (their `getBoundingClientRect` boxes, compared pairwise) in the default
/// view and with a namespace expanded, expanding shows exactly that namespace's workloads, and
/// the filters hide arrows. The numbers are printed for docs/usage.md.
///
/// Runs whenever Chromium is installed, and always when `CI=true`; one size at a time, so the
/// browsers do not slow each other's clocks down.
@Suite(.enabled(if: MapBrowser.binary != nil || MapFixture.isCI, "needs Chromium (scripts/ensure-deps --tests installs it)"), .serialized)
struct MapScaleBrowserTests {
    @Test(arguments: [6, 60, 600])
    func staysReadableAndFast(workloads: Int) throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let python = try #require(MapFixture.which("python3"), "python3 is not installed: scripts/ensure-deps installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let flows = directory.appendingPathComponent("flows-\(workloads).jsonl")
        let generated = try runProgram(python, [MapFixture.root.appendingPathComponent("scripts/map-flows").path, String(workloads)], timeout: 120)
        #expect(generated.status == 0, "\(generated.stderr)")
        try generated.stdout.write(to: flows, atomically: true, encoding: .utf8)
        let page = directory.appendingPathComponent("map-\(workloads).html")
        let mapped = try runProgram(MapFixture.flowmonBinary, ["map", flows.path, "--out", page.path], timeout: 300)
        #expect(mapped.status == 0, "\(mapped.stderr)")

        // ns-1 holds workloads 1, 1+K, 1+2K, ... (K namespaces, scripts/map-flows).
        let namespaces = max(2, Int(Double(workloads).squareRoot()))
        let inNamespace = Array(stride(from: 1, to: workloads, by: namespaces)).count
        let body = try MapBrowser.run(browser, page: page, profile: directory, player: """
            var svg = document.getElementById('map'), body = document.body;
            function count(selector) { return svg.querySelectorAll(selector).length; }
            function change(id, value) { var e = document.getElementById(id); if (value === undefined) e.checked = !e.checked; else e.value = value; e.dispatchEvent(new Event('change')); }
            body.setAttribute('data-test-default', MapBrowser.overlaps());
            body.setAttribute('data-test-default-scale', body.getAttribute('data-scale'));
            body.setAttribute('data-test-default-nodes', String(count('g.node')) + ' ' + count('g.node.collapsed'));
            body.setAttribute('data-test-links', String(count('g.link')));
            var started = performance.now();
            svg.querySelector('g.node[data-node="ns:ns-1"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
            body.setAttribute('data-test-expand-ms', String(Math.round(performance.now() - started)));
            body.setAttribute('data-test-expanded', MapBrowser.overlaps());
            body.setAttribute('data-test-expanded-scale', body.getAttribute('data-scale'));
            body.setAttribute('data-test-expanded-nodes', String(count('g.node')));
            body.setAttribute('data-test-workloads', String(count('g.node[data-group="ns:ns-1"]:not(.collapsed)')));
            body.setAttribute('data-test-expanded-labels', body.getAttribute('data-labels-shown') + ' ' + body.getAttribute('data-labels-hidden'));
            change('show-forwarded');
            body.setAttribute('data-test-unforwarded', String(count('g.link')) + ' ' + count('g.link.forwarded'));
            change('show-forwarded');
            change('filter-port', '443/TCP');
            body.setAttribute('data-test-port', String(count('g.link')) + ' ' + count('g.link:not([data-services="443/TCP"])'));
            """)
        #expect(body["data-ready"] == "true", "\(body)")
        #expect(body["data-nodes"] == String(workloads + 1))
        let ready = try #require(body["data-ready-ms"].flatMap(Int.init))
        let expand = try #require(body["data-test-expand-ms"].flatMap(Int.init))
        print("map of \(workloads) workloads: \(body["data-edges"] ?? "?") edges, interactive \(ready) ms after navigation start, first drawing \(body["data-render-ms"] ?? "?") ms;"
              + " default view \(body["data-test-default-nodes"] ?? "?") nodes (all but the world group collapsed), \(body["data-test-links"] ?? "?") arrows, labels:overlaps \(body["data-test-default"] ?? "?") at \(body["data-test-default-scale"] ?? "?");"
              + " ns-1 expanded in \(expand) ms, labels:overlaps \(body["data-test-expanded"] ?? "?") at \(body["data-test-expanded-scale"] ?? "?"), arrow labels shown/hidden \(body["data-test-expanded-labels"] ?? "?")")
        #expect(ready < 1000, "interactive after \(ready) ms")
        #expect(expand < 1000, "expanding took \(expand) ms")
        // Aggregated: one node per namespace, plus the world group's node.
        #expect(body["data-test-default-nodes"] == "\(namespaces + 1) \(namespaces)", "\(body)")
        #expect(body["data-test-default"]?.hasSuffix(":0") == true, "\(body)")
        #expect(body["data-test-expanded"]?.hasSuffix(":0") == true, "\(body)")
        // And the labels are there to be read: every node's title and subtitle at least (the page
        // hides text only when zoomed out below half size).
        func labels(_ key: String) -> Int { body[key].flatMap { Int($0.prefix { $0 != ":" }) } ?? 0 }
        #expect(labels("data-test-default") >= 2 * (namespaces + 1), "\(body)")
        let expandedNodes = try #require(body["data-test-expanded-nodes"].flatMap(Int.init))
        #expect(labels("data-test-expanded") >= 2 * expandedNodes, "\(body)")
        #expect(body["data-test-workloads"] == String(inNamespace), "\(body)")
        let links = try #require(body["data-test-links"].flatMap(Int.init))
        let unforwarded = try #require(body["data-test-unforwarded"]?.split(separator: " ").compactMap { Int($0) })
        #expect(unforwarded.count == 2 && unforwarded[0] > 0 && unforwarded[1] == 0, "\(body)")
        let port = try #require(body["data-test-port"]?.split(separator: " ").compactMap { Int($0) })
        #expect(port.count == 2 && port[0] > 0 && port[1] == 0, "\(body)")
        #expect(unforwarded[0] < links + inNamespace * 10 && port[0] < links + inNamespace * 10)
    }
}
