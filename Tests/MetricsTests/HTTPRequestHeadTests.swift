import Metrics
import Testing

/// The request-head parser of the metrics server (RFC 9112): what it accepts, what it refuses
/// and with which status, and that it never reads past its bound.
@Suite struct HTTPRequestHeadTests {
    static func parse(_ text: String) -> HTTPRequestHead {
        Array(text.utf8).withUnsafeBytes { HTTPRequestHead.parse($0) }
    }

    @Test func aScrapeIsARequestForItsPath() {
        // What Prometheus 2.x sends.
        let scrape = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\nUser-Agent: Prometheus/2.42.0\r\n"
            + "Accept: application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
            + "Accept-Encoding: gzip\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"
        #expect(Self.parse(scrape) == .request(method: "GET", path: "/metrics"))
        #expect(Self.parse("GET /healthz?verbose=1 HTTP/1.0\r\n\r\n") == .request(method: "GET", path: "/healthz"))
        #expect(Self.parse("HEAD /metrics#x HTTP/1.0\r\n\r\n") == .request(method: "HEAD", path: "/metrics"))
        // Absolute form (a proxy's), bare LF line ends and leading empty lines (RFC 9112 §2.2, §3.2.2).
        #expect(Self.parse("GET http://node:9100/metrics HTTP/1.1\r\nHost: node\r\n\r\n") == .request(method: "GET", path: "/metrics"))
        #expect(Self.parse("\r\nGET /metrics HTTP/1.0\n\n") == .request(method: "GET", path: "/metrics"))
        #expect(Self.parse("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc") == .request(method: "POST", path: "/metrics"))
        // A higher minor version is read as HTTP/1.1 (RFC 9110 §2.5), Host required.
        #expect(Self.parse("GET /metrics HTTP/1.2\r\nHost: x\r\n\r\n") == .request(method: "GET", path: "/metrics"))
        #expect(Self.parse("GET /metrics HTTP/1.2\r\n\r\n") == .refused(status: 400))
        #expect(Self.parse("OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n") == .request(method: "OPTIONS", path: "*"))
    }

    @Test func aHeadWithoutItsEmptyLineIsIncomplete() {
        #expect(Self.parse("") == .incomplete)
        #expect(Self.parse("GET /metrics HTTP/1.1\r\nHost: x\r\n") == .incomplete)
        #expect(Self.parse("GET /metr") == .incomplete)
        #expect(Self.parse("\r\n\r\n") == .incomplete)
    }

    @Test(arguments: [
        ("GET /metrics\r\n\r\n", 400),  // HTTP/0.9
        ("GET  /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 400),  // two spaces
        ("GET /metrics HTTP/1.1\r\n\r\n", 400),  // HTTP/1.1 without Host
        ("GET /metrics HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),  // two Hosts
        ("GET metrics HTTP/1.0\r\n\r\n", 400),  // not a target form
        ("G@T /metrics HTTP/1.0\r\n\r\n", 400),  // not a token
        ("GET /metrics HTTP/1.0\r\nNo colon\r\n\r\n", 400),
        ("GET /metrics HTTP/1.0\r\nX: a\r\n folded\r\n\r\n", 400),  // obsolete line folding
        ("GET /metrics HTTP/1.0\r\nBad Name: a\r\n\r\n", 400),
        ("GET /metrics HTTP/1.0\r\nX: a\u{0}b\r\n\r\n", 400),  // a control byte in a value
        ("GET /me\u{7F}trics HTTP/1.0\r\n\r\n", 400),
        ("GET /metrics HTTP/2.0\r\n\r\n", 505),
        ("GET /metrics HTTP/0.9\r\n\r\n", 505),
        ("GET /metrics HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),  // the asterisk form is for OPTIONS only (RFC 9112 §3.2.4)
        ("GET node:9100 HTTP/1.1\r\nHost: x\r\n\r\n", 400),  // the authority form is for CONNECT only (§3.2.3)
    ])
    func malformedHeadsAreRefused(_ head: String, _ status: Int) {
        #expect(Self.parse(head) == .refused(status: status), "\(head.debugDescription)")
    }

    @Test func theHeadIsBounded() {
        let long = "GET /metrics HTTP/1.0\r\nX: " + String(repeating: "a", count: HTTPRequestHead.maximumBytes) + "\r\n\r\n"
        #expect(Self.parse(long) == .refused(status: 431))
        // No empty line within the bound: refused without waiting for more.
        #expect(Self.parse(String(repeating: "a", count: HTTPRequestHead.maximumBytes)) == .refused(status: 431))
        let fields = (0..<101).map { "X-\($0): y\r\n" }.joined()
        #expect(Self.parse("GET / HTTP/1.0\r\n" + fields + "\r\n") == .refused(status: 431))
        let target = "/" + String(repeating: "m", count: 2048)
        #expect(Self.parse("GET \(target) HTTP/1.0\r\n\r\n") == .refused(status: 400))
    }

    /// A head cut anywhere before its empty line is incomplete; the whole one is the same
    /// request however it arrives.
    @Test func everyPrefixOfAHeadIsIncomplete() {
        let head = Array("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        for cut in 0..<head.count - 1 {
            #expect(Array(head[..<cut]).withUnsafeBytes { HTTPRequestHead.parse($0) } == .incomplete, "cut at \(cut)")
        }
        #expect(head.withUnsafeBytes { HTTPRequestHead.parse($0) } == .request(method: "GET", path: "/metrics"))
    }
}
