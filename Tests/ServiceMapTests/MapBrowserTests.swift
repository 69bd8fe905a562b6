import Foundation
import ServiceMap
import Testing

/// The demo's map in a real browser: headless Chromium (Debian's `chromium` package) loads the
/// page from a file, runs its script (and a player script the test adds after it, which clicks,
/// hovers, filters and searches like a person and writes what it saw on `<body>`), and the DOM it
/// dumps shows what was rendered: namespaces collapsed, arrows coloured by verdict, no two labels
/// overlapping, expanding, filtering and searching. A screenshot
/// of the page is the picture in docs/usage.md: `FLOWMON_RECORD=1 swift test --filter MapBrowserTests`
/// writes it to docs/demo-map.png.
///
/// Runs whenever Chromium is installed, and always when `CI=true` (where a missing browser is
/// a failure, not a skip). Each browser run is bounded by a timeout.
@Suite(.enabled(if: MapBrowser.binary != nil || MapFixture.isCI, "needs Chromium (scripts/ensure-deps --tests installs it)"))
struct MapBrowserTests {
    static let screenshot = MapFixture.root.appendingPathComponent("docs/demo-map.png")

    /// The demo's page, written by `flowmon map` from the capture (as a person would).
    static func demoPage(in directory: URL) throws -> URL {
        let page = directory.appendingPathComponent("demo-map.html")
        let result = try runProgram(MapFixture.flowmonBinary, MapFixture.demoArguments + ["--out", page.path], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        return page
    }

    @Test func demoRendersInChromium() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let body = try MapBrowser.run(browser, page: try Self.demoPage(in: directory), profile: directory, player: """
            var body = document.body;
            body.setAttribute('data-test-overlaps', MapBrowser.overlaps());
            body.setAttribute('data-test-strokes', Array.prototype.map.call(document.querySelectorAll('g.link'), function (l) {
              return l.getAttribute('data-verdict') + '=' + l.querySelector('path.line').getAttribute('data-rendered-stroke'); }).sort().filter(function (v, i, a) { return a.indexOf(v) === i; }).join(';'));
            body.setAttribute('data-test-nodes', Array.prototype.map.call(document.querySelectorAll('g.node'), function (n) { return n.getAttribute('data-node'); }).join(' '));
            """)
        // The script ran to its end within a second of navigation start.
        #expect(body["data-ready"] == "true")
        #expect(body["data-nodes"] == "13" && body["data-edges"] == "67")
        let ready = try #require(body["data-ready-ms"].flatMap(Int.init))
        #expect(ready < 1000, "ready after \(ready) ms")
        // Namespaces collapsed, the small cluster and world groups open.
        #expect(body["data-test-nodes"] == "ns:default ns:ingress-nginx ns:kube-system ns:monitoring ns:payments ns:platform ns:shop host kube-apiserver cidr:198.18.0.0/15 cidr:198.18.250.0/24 world")
        #expect(body["data-expanded"] == "cluster world")
        #expect(body["data-rendered-nodes"] == "12")
        // No two labels overlap (count of labels:overlapping pairs).
        #expect(body["data-test-overlaps"]?.hasSuffix(":0") == true, "\(body)")
        // Colour by verdict, computed by the browser: the demo's policies audit, nothing is dropped.
        #expect(body["data-test-strokes"] == "audit=rgb(232, 89, 12);forwarded=rgb(47, 158, 68)", "\(body)")
    }

    @Test func expandFilterSearchAndHoverInChromium() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // A script after the map's plays a person and writes what happened on <body>.
        let body = try MapBrowser.run(browser, page: try Self.demoPage(in: directory), profile: directory, player: """
            var svg = document.getElementById('map'), tip = document.getElementById('tooltip'), body = document.body;
            function count(selector) { return String(svg.querySelectorAll(selector).length); }
            function change(id, value) { var e = document.getElementById(id); if (value === undefined) e.checked = !e.checked; else e.value = value; e.dispatchEvent(new Event('change')); }
            body.setAttribute('data-test-links-before', count('g.link'));
            // Expand platform: its workload replaces the namespace's node.
            svg.querySelector('g.node[data-node="ns:platform"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
            body.setAttribute('data-test-expanded', body.getAttribute('data-expanded'));
            body.setAttribute('data-test-platform', Array.prototype.map.call(svg.querySelectorAll('g.node[data-group="ns:platform"]'), function (n) { return n.getAttribute('data-node'); }).join(' '));
            body.setAttribute('data-test-expanded-overlaps', MapBrowser.overlaps());
            // Hover the arrow from redis to the CIDR: its details.
            var link = svg.querySelector('g.link[data-source="platform/redis"][data-destination="cidr:198.18.0.0/15"]');
            link.dispatchEvent(new MouseEvent('mouseenter', { clientX: 200, clientY: 200 }));
            body.setAttribute('data-test-tooltip', tip.hidden ? 'hidden' : tip.textContent);
            link.dispatchEvent(new MouseEvent('mouseleave'));
            body.setAttribute('data-test-tooltip-after', tip.hidden ? 'hidden' : 'shown');
            // Clicking host lights its arrows and peers; the background clears it.
            svg.querySelector('g.node[data-node="host"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
            body.setAttribute('data-test-focus', String(svg.classList.contains('focus')) + ' ' + count('g.link.lit'));
            svg.dispatchEvent(new MouseEvent('click', { bubbles: true }));
            body.setAttribute('data-test-focus-after', String(svg.classList.contains('focus')));
            // Collapse it again by its heading.
            svg.querySelector('.heading[data-group="ns:platform"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
            body.setAttribute('data-test-collapsed', body.getAttribute('data-expanded') + '|' + count('g.node[data-node="ns:platform"]'));
            // Filters: verdict, port, namespace.
            change('show-forwarded');
            body.setAttribute('data-test-audit-only', count('g.link') + ' ' + count('g.link.forwarded'));
            change('show-forwarded');
            change('filter-port', '53/UDP');
            body.setAttribute('data-test-port', count('g.link') + ' ' + count('g.link:not([data-services="53/UDP"])'));
            change('filter-port', '');
            change('filter-namespace', 'ns:shop');
            body.setAttribute('data-test-namespace', count('g.link') + ' ' + count('g.link:not([data-source="ns:shop"]):not([data-destination="ns:shop"])'));
            change('filter-namespace', '');
            body.setAttribute('data-test-links-after', count('g.link'));
            // Search: a workload's name expands its namespace and marks it.
            change('search', 'recommendations');
            body.setAttribute('data-test-search', body.getAttribute('data-found') + '|' + body.getAttribute('data-expanded') + '|' + count('g.node.found'));
            // ... and centres the view on it.
            var found = svg.querySelector('g.node.found').getBoundingClientRect(), view = svg.getBoundingClientRect();
            body.setAttribute('data-test-search-offset', String(Math.round(Math.abs(found.left + found.width / 2 - view.left - view.width / 2)
              + Math.abs(found.top + found.height / 2 - view.top - view.height / 2))));
            // Width by bytes: the arrows' widths follow bytes instead of connections.
            function widths() { return Array.prototype.map.call(svg.querySelectorAll('g.link'), function (l) {
              return l.getAttribute('data-source') + '>' + l.getAttribute('data-destination') + '=' + l.querySelector('path.line').getAttribute('stroke-width'); }).sort().join(' '); }
            var byConnections = widths();
            change('width-by', 'bytes');
            var widest = null;
            Array.prototype.forEach.call(svg.querySelectorAll('g.link'), function (l) { if (!widest || +l.getAttribute('data-bytes') > +widest.getAttribute('data-bytes')) widest = l; });
            body.setAttribute('data-test-width-by-bytes', String(byConnections !== widths()) + ' ' + widest.querySelector('path.line').getAttribute('stroke-width'));
            change('search', 'no-such-thing');
            body.setAttribute('data-test-search-missing', String(document.getElementById('search').classList.contains('missing')));
            """)
        #expect(body["data-ready"] == "true")
        let linksBefore = try #require(body["data-test-links-before"].flatMap(Int.init))
        #expect(linksBefore > 0)
        #expect(body["data-test-expanded"] == "ns:platform cluster world")
        #expect(body["data-test-platform"] == "platform/redis")
        #expect(body["data-test-expanded-overlaps"]?.hasSuffix(":0") == true, "\(body)")
        #expect(body["data-test-tooltip"]?.hasPrefix("redis → 198.18.0.0/15fromplatform/redistocidr:198.18.0.0/15verdictaudit: would be dropped") == true, "\(body)")
        #expect(body["data-test-tooltip"]?.contains("443/TCP ×3") == true)
        #expect(body["data-test-tooltip-after"] == "hidden")
        #expect(body["data-test-focus"] == "true 4" && body["data-test-focus-after"] == "false", "\(body)")
        #expect(body["data-test-collapsed"] == "cluster world|1")
        // Unticking forwarded leaves the audit arrows only; a port or a namespace hides the other arrows.
        let auditOnly = try #require(body["data-test-audit-only"]?.split(separator: " ").compactMap { Int($0) })
        #expect(auditOnly.count == 2 && auditOnly[0] > 0 && auditOnly[0] < linksBefore && auditOnly[1] == 0, "\(body)")
        let port = try #require(body["data-test-port"]?.split(separator: " ").compactMap { Int($0) })
        #expect(port.count == 2 && port[0] > 0 && port[0] < linksBefore && port[1] == 0, "\(body)")
        let namespace = try #require(body["data-test-namespace"]?.split(separator: " ").compactMap { Int($0) })
        #expect(namespace.count == 2 && namespace[0] > 0 && namespace[0] < linksBefore && namespace[1] == 0, "\(body)")
        #expect(body["data-test-links-after"] == String(linksBefore))
        #expect(body["data-test-search"] == "shop/recommendations|ns:shop cluster world|1", "\(body)")
        #expect(body["data-test-search-missing"] == "true")
        let offset = try #require(body["data-test-search-offset"].flatMap(Int.init))
        #expect(offset <= 2, "the found node is \(offset) px from the centre")
        // The arrow with the most bytes is the widest (1.2 + 6).
        #expect(body["data-test-width-by-bytes"] == "true 7.2", "\(body)")
    }

    @Test func strangeNamesDoNotBreakThePage() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("strange.html")
        try HTMLMapRenderer.render(MapRenderingTests.strangeMap, source: "<evil>\".jsonl").write(to: page, atomically: true, encoding: .utf8)
        let dom = try MapBrowser.dumpDOM(browser, page: page, profile: directory)
        let body = try #require(MapBrowser.openingTag("body", in: dom))
        // Two namespaces, collapsed.
        #expect(body.contains("data-ready=\"true\"") && body.contains("data-rendered-nodes=\"2\""), "\(body)")
        #expect(MapBrowser.count("<script", in: dom) == 2)
        #expect(!dom.contains("<img") && !dom.contains("<b>") && !dom.contains("<evil>"))
        #expect(MapBrowser.count("<g class=\"node ", in: dom) == 2)
    }

    @Test func emptyMapInChromium() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("empty.html")
        try HTMLMapRenderer.render(ServiceMapBuilder().build(), source: "empty.jsonl").write(to: page, atomically: true, encoding: .utf8)
        let body = try MapBrowser.run(browser, page: page, profile: directory, player: """
            document.body.setAttribute('data-test-empty', document.querySelector('.empty').textContent);
            """)
        #expect(body["data-ready"] == "true" && body["data-rendered-nodes"] == "0" && body["data-rendered-links"] == "0", "\(body)")
        #expect(body["data-test-empty"] == "No flow records in the input.")
    }

    @Test func demoScreenshot() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = try Self.demoPage(in: directory)
        let png = directory.appendingPathComponent("demo-map.png")
        let result = try runProgram(browser, MapBrowser.flags(profile: directory)
            + ["--hide-scrollbars", "--window-size=1400,900", "--screenshot=\(png.path)", page.absoluteString], timeout: 120)
        #expect(!result.timedOut, "Chromium did not finish within 120 s")
        #expect(result.status == 0, "\(result.stderr)")
        let data = try Data(contentsOf: png)
        // A PNG of the window's size, with more than a blank page in it.
        #expect(data.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]))
        func bigEndian(_ offset: Int) -> UInt32 { data[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) } }
        #expect(bigEndian(16) == 1400 && bigEndian(20) == 900)
        #expect(data.count > 100_000)
        if MapFixture.recording {
            try FileManager.default.createDirectory(at: Self.screenshot.deletingLastPathComponent(), withIntermediateDirectories: true)
            try? FileManager.default.removeItem(at: Self.screenshot)
            try FileManager.default.copyItem(at: png, to: Self.screenshot)
        }
    }
}

/// Headless Chromium, run with a private profile and a deadline.
enum MapBrowser {
    static var binary: URL? {
        MapFixture.which("chromium") ?? MapFixture.which("chromium-browser") ?? MapFixture.which("google-chrome")
    }

    /// `--no-sandbox` because tests may run as root (CI does); a profile of its own so runs
    /// neither share state nor touch the user's.
    static func flags(profile: URL) -> [String] {
        ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
         "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio",
         "--user-data-dir=\(profile.appendingPathComponent("chromium-profile").path)"]
    }

    /// The DOM after the page's script ran (`--dump-dom` prints it once the page has loaded).
    static func dumpDOM(_ browser: URL, page: URL, profile: URL) throws -> String {
        let result = try runProgram(browser, flags(profile: profile) + ["--dump-dom", page.absoluteString], timeout: 120)
        #expect(!result.timedOut, "Chromium did not finish within 120 s")
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    /// JavaScript for players: `MapBrowser.overlaps()` is `labels:pairs`, the number of map texts
    /// (`#map .label`: node titles and subtitles, group headings, arrow labels) on screen and how
    /// many pairs of them overlap, by their `getBoundingClientRect` boxes.
    static let playerSupport = """
        var MapBrowser = { overlaps: function () {
          var boxes = Array.prototype.map.call(document.querySelectorAll('#map .label'), function (e) { return e.getBoundingClientRect(); })
            .filter(function (r) { return r.width > 0 && r.height > 0; }), pairs = 0;
          for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
            var a = boxes[i], b = boxes[j];
            if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) pairs++;
          }
          return boxes.length + ':' + pairs;
        } };
        """

    /// Loads `page` with `player` (JavaScript) run after the map's script, in a 1400×900 window,
    /// and returns the attributes of `<body>` after it.
    static func run(_ browser: URL, page: URL, profile: URL, player: String) throws -> [String: String] {
        let html = try String(contentsOf: page, encoding: .utf8)
            .replacingOccurrences(of: "</body>", with: "<script>(function () {\n\(playerSupport)\n\(player)\n})();</script>\n</body>")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let result = try runProgram(browser, flags(profile: profile) + ["--window-size=1400,900", "--dump-dom", page.absoluteString], timeout: 180)
        #expect(!result.timedOut, "Chromium did not finish within 180 s")
        #expect(result.status == 0, "\(result.stderr)")
        guard let tag = openingTag("body", in: result.stdout) else { return [:] }
        return attributes(tag)
    }

    /// `name="value"` pairs of an opening tag, unescaped for `&quot;`, `&lt;`, `&gt;`, `&amp;`.
    static func attributes(_ tag: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = tag[...]
        while let equals = rest.range(of: "=\"") {
            let name = rest[..<equals.lowerBound].split(separator: " ").last.map(String.init) ?? ""
            rest = rest[equals.upperBound...]
            guard let end = rest.firstIndex(of: "\"") else { break }
            result[name] = String(rest[..<end]).replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&lt;", with: "<")
                .replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
            rest = rest[rest.index(after: end)...]
        }
        return result
    }

    static func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    static func openingTag(_ name: String, in text: String) -> String? {
        guard let start = text.range(of: "<\(name) "), let end = text.range(of: ">", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }

    /// The text from the tag that holds `attributes` to the first `terminator` after it.
    static func element(containing attributes: String, upTo terminator: String, in text: String) -> String? {
        guard let hit = text.range(of: attributes),
              let start = text.range(of: "<", options: .backwards, range: text.startIndex..<hit.lowerBound),
              let end = text.range(of: terminator, range: hit.upperBound..<text.endIndex)
        else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }
}
