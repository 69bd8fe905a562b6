import Foundation
import ServiceMap
import Testing

/// The demo's map in a real browser: headless Chromium (Debian's `chromium` package) loads the
/// page from a file, runs its script, and the DOM it dumps shows what was rendered (every node
/// with a box, no two overlapping, every arrow drawn, would-be-dropped ones red). A screenshot
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
        let dom = try MapBrowser.dumpDOM(browser, page: try Self.demoPage(in: directory), profile: directory)

        // The script ran to its end and recorded what the browser laid out.
        let body = try #require(MapBrowser.openingTag("body", in: dom))
        #expect(body.contains("data-ready=\"true\""), "\(body)")
        #expect(body.contains("data-nodes=\"13\"") && body.contains("data-edges=\"67\"") && body.contains("data-links=\"58\""))
        #expect(body.contains("data-rendered-nodes=\"13\""), "\(body)")
        #expect(body.contains("data-rendered-links=\"58\""), "\(body)")
        #expect(body.contains("data-node-overlaps=\"0\""), "\(body)")

        // Nodes and edges, by count and by name.
        #expect(MapBrowser.count("<g class=\"node ", in: dom) == 13)
        #expect(MapBrowser.count("<g class=\"link ", in: dom) == 58)
        #expect(MapBrowser.count(" data-edge=\"", in: dom) == 67)
        for node in ["platform/redis", "shop/recommendations", "world", "host", "kube-apiserver", "cidr:198.18.0.0/15"] {
            #expect(dom.contains("data-node=\"\(node)\""), "\(node)")
        }
        #expect(dom.contains(">redis</text>") && dom.contains(">198.18.0.0/15</text>"))
        for edge in ["platform/redis→cidr:198.18.0.0/15 443/TCP", "host→platform/redis 6379/TCP", "shop/recommendations→kube-apiserver 6443/TCP"] {
            #expect(dom.contains("data-edge=\"\(edge)\""), "\(edge)")
        }

        // A would-be-dropped arrow is rendered red (its computed stroke), an allowed one green,
        // and their labels' text the same.
        let dropped = try #require(MapBrowser.element(containing: "data-link=\"platform/redis→cidr:198.18.0.0/15\" data-verdict=\"would-be-dropped\"",
                                                      upTo: "</g>", in: dom))
        #expect(dropped.contains("data-rendered-stroke=\"rgb(224, 49, 49)\""), "\(dropped)")
        let allowed = try #require(MapBrowser.element(containing: "data-link=\"host→platform/redis\" data-verdict=\"allowed\"",
                                                      upTo: "</g>", in: dom))
        #expect(allowed.contains("data-rendered-stroke=\"rgb(47, 158, 68)\""), "\(allowed)")
        let droppedLabel = try #require(MapBrowser.element(containing: "data-edge=\"platform/redis→cidr:198.18.0.0/15 443/TCP\"", upTo: "</tspan>", in: dom))
        #expect(droppedLabel.contains("data-rendered-fill=\"rgb(201, 42, 42)\""), "\(droppedLabel)")
        #expect(MapBrowser.count("data-rendered-stroke=\"rgb(224, 49, 49)\"", in: dom) == 14)
        #expect(MapBrowser.count("data-rendered-stroke=\"rgb(47, 158, 68)\"", in: dom) == 44)
        // The script removed the SVG titles (it shows the details itself).
        #expect(MapBrowser.count("<title>", in: dom) == 1)
    }

    @Test func hoverClickAndToggleInChromium() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        // The page, with a script after the map's that plays a person: hover an edge label,
        // click a node, untick "allowed"; it writes what happened on <body>.
        let page = try Self.demoPage(in: directory)
        let player = """
            <script>
            (function () {
              var svg = document.getElementById('map'), tip = document.getElementById('tooltip'), body = document.body;
              var edge = svg.querySelector('tspan[data-edge="platform/redis→cidr:198.18.0.0/15 443/TCP"]');
              edge.dispatchEvent(new MouseEvent('mouseenter', { clientX: 200, clientY: 200 }));
              body.setAttribute('data-test-tooltip', tip.hidden ? 'hidden' : tip.textContent);
              edge.dispatchEvent(new MouseEvent('mouseleave'));
              body.setAttribute('data-test-tooltip-after', tip.hidden ? 'hidden' : 'shown');
              svg.querySelector('g.node[data-node="host"]').dispatchEvent(new MouseEvent('click', { bubbles: true }));
              body.setAttribute('data-test-focus', String(svg.classList.contains('focus')));
              body.setAttribute('data-test-lit-links', String(svg.querySelectorAll('g.link.lit').length));
              body.setAttribute('data-test-lit-nodes', String(svg.querySelectorAll('g.node.lit').length));
              svg.dispatchEvent(new MouseEvent('click', { bubbles: true }));
              body.setAttribute('data-test-focus-after', String(svg.classList.contains('focus')));
              document.getElementById('show-allowed').click();
              body.setAttribute('data-test-allowed-display', getComputedStyle(svg.querySelector('g.link.allowed')).display);
              body.setAttribute('data-test-dropped-display', getComputedStyle(svg.querySelector('g.link.would-be-dropped')).display);
            })();
            </script>
            """
        let html = try String(contentsOf: page, encoding: .utf8).replacingOccurrences(of: "</body>", with: player + "</body>")
        try html.write(to: page, atomically: true, encoding: .utf8)
        let dom = try MapBrowser.dumpDOM(browser, page: page, profile: directory)
        let body = try #require(MapBrowser.openingTag("body", in: dom))
        #expect(body.contains("data-ready=\"true\""), "\(body)")
        // Hovering a label shows that edge's details.
        #expect(body.contains("data-test-tooltip=\"redis → 198.18.0.0/15  443/TCP"), "\(body)")
        #expect(body.contains("would be dropped: AUDIT ×3"), "\(body)")
        #expect(body.contains("egress denied by CiliumNetworkPolicy platform/pci-no-internet"), "\(body)")
        #expect(body.contains("data-test-tooltip-after=\"hidden\""))
        // Clicking host lights its 4 arrows and its 4 peers and itself; the background clears it.
        #expect(body.contains("data-test-focus=\"true\"") && body.contains("data-test-focus-after=\"false\""), "\(body)")
        #expect(body.contains("data-test-lit-links=\"4\"") && body.contains("data-test-lit-nodes=\"5\""), "\(body)")
        // Unticking "allowed" hides the allowed arrows only.
        #expect(body.contains("data-test-allowed-display=\"none\"") && body.contains("data-test-dropped-display=\"inline\""), "\(body)")
    }

    @Test func strangeNamesDoNotBreakThePage() throws {
        let browser = try #require(MapBrowser.binary, "Chromium is not installed: scripts/ensure-deps --tests installs it")
        let directory = try MapFixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("strange.html")
        try HTMLMapRenderer.render(MapRenderingTests.strangeMap, source: "<evil>\".jsonl").write(to: page, atomically: true, encoding: .utf8)
        let dom = try MapBrowser.dumpDOM(browser, page: page, profile: directory)
        let body = try #require(MapBrowser.openingTag("body", in: dom))
        #expect(body.contains("data-ready=\"true\"") && body.contains("data-rendered-nodes=\"2\""), "\(body)")
        #expect(MapBrowser.count("<script", in: dom) == 2)
        #expect(!dom.contains("<img") && !dom.contains("<b>") && !dom.contains("<evil>"))
        #expect(MapBrowser.count("<g class=\"node ", in: dom) == 2)
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
