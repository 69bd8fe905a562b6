import L7
import Testing

/// The HTTP/1.x connection parser over real connections (HTTPFixtures: each names its capture
/// and frames), then the same bytes cut, lost, repeated and bounded.
@Suite struct HTTPConnectionTests {
    /// Feeds the segments in order, then ends the connection; returns what it reported.
    static func events(_ segments: [Segment], limits: HTTPLimits = HTTPLimits()) -> [HTTPEvent] {
        var connection = HTTPConnection(limits: limits)
        var events: [HTTPEvent] = []
        for segment in segments {
            segment.payload.withUnsafeBytes {
                connection.feed($0, sequence: segment.sequence, fromClient: segment.fromClient, time: segment.time) { events.append($0) }
            }
        }
        connection.end { events.append($0) }
        return events
    }

    static func exchanges(_ events: [HTTPEvent]) -> [(HTTPResponse, HTTPRequest)] {
        events.compactMap { if case .response(let response, let request) = $0 { (response, request) } else { nil } }
    }

    static func requests(_ events: [HTTPEvent]) -> [HTTPRequest] {
        events.compactMap { if case .request(let request) = $0 { request } else { nil } }
    }

    /// The errors reported, but retransmissions (real captures have some, and TCP keep-alives
    /// resend a byte already seen).
    static func errors(_ events: [HTTPEvent]) -> [HTTPParseError] {
        events.compactMap { if case .error(let error, _) = $0, error != .retransmission { error } else { nil } }
    }

    static func retransmissions(_ events: [HTTPEvent]) -> Int {
        events.count { if case .error(.retransmission, _) = $0 { true } else { false } }
    }

    /// The same segments cut into pieces of `size` bytes (sequence numbers and times kept).
    static func resegmented(_ segments: [Segment], size: Int) -> [Segment] {
        segments.flatMap { segment in
            stride(from: 0, to: segment.payload.count, by: size).map { start in
                var piece = segment
                piece.sequence = segment.sequence &+ UInt32(start)
                piece.payload = Array(segment.payload[start..<min(start + size, segment.payload.count)])
                return piece
            }
        }
    }

    @Test func curlGetAndItsResponse() throws {
        let segments = HTTPFixtures.bigEndianCurl
        let events = Self.events(segments)
        #expect(Self.errors(events).isEmpty)
        let request = try #require(Self.requests(events).first)
        #expect(request.method == "GET" && request.target == "/" && request.version == "HTTP/1.1")
        #expect(request.host == "127.0.0.1:8000" && request.userAgent == "curl/7.81.0" && request.contentType == nil)
        #expect(request.headers.map(\.name) == ["Host", "User-Agent", "Accept"])
        #expect(request.time == segments[0].time && request.path == "/")
        let (response, paired) = try #require(Self.exchanges(events).first)
        #expect(paired == request)
        // SimpleHTTP/0.6 answers HTTP/1.0 with "Content-type" (tshark: 1256 bytes of text/html).
        #expect(response.version == "HTTP/1.0" && response.status == 200 && response.reason == "OK")
        #expect(response.contentType == "text/html" && response.contentLength == 1256 && response.length == 1256)
        #expect(response.complete && response.time == segments[1].time && response.time - request.time == 670_002)
        #expect(events.count == 2)
    }

    @Test func aRequestWithoutResponseIsUnansweredAtTheEnd() throws {
        let events = Self.events(HTTPFixtures.sll2Curl)
        let request = try #require(Self.requests(events).first)
        #expect(request.target == "/testing" && request.host == "192.168.1.21" && request.userAgent == "curl/8.5.0")
        #expect(events == [.request(request), .unanswered(request)])
    }

    @Test func keepAliveWithAChunkedResponse() {
        let events = Self.events(HTTPFixtures.konquerorKeepAlive)
        #expect(Self.errors(events).isEmpty)
        let exchanges = Self.exchanges(events)
        // tshark: 2056 bytes (Content-Length), 1451 de-chunked (1384 + 5 + 62), 8010 (Content-Length).
        #expect(exchanges.map(\.1.target) == ["/", "/header.shtml", "/images/logo.jpg"])
        #expect(exchanges.map(\.0.length) == [2056, 1451, 8010])
        #expect(exchanges.map(\.0.contentLength) == [2056, nil, 8010])
        #expect(exchanges.map(\.0.contentType) == ["text/html; charset=ISO-8859-1", "text/html; charset=ISO-8859-1", "image/jpeg"])
        #expect(exchanges.allSatisfy { $0.0.complete && $0.0.time > $0.1.time })
        #expect(Self.requests(events).map(\.host) == Array(repeating: "www.uk6x.com", count: 3))
    }

    @Test func aPostBodyIsSkippedAndTheNextRequestRead() {
        let events = Self.events(HTTPFixtures.firefoxOCSP)
        #expect(Self.errors(events).isEmpty)
        let requests = Self.requests(events)
        #expect(requests.map(\.method) == ["POST", "POST"] && requests.map(\.contentLength) == [75, 75])
        #expect(requests.map(\.contentType) == ["application/ocsp-request", "application/ocsp-request"])
        #expect(requests.map(\.host) == ["clients1.google.com", "clients1.google.com"])
        #expect(Self.exchanges(events).map(\.0.length) == [463, 463])
        #expect(Self.exchanges(events).map(\.0.contentType) == ["application/ocsp-response", "application/ocsp-response"])
    }

    @Test func notModifiedAndNoContentHaveNoBody() {
        let notModified = Self.exchanges(Self.events(HTTPFixtures.firefox304s))
        #expect(notModified.map(\.0.status) == [304, 304, 304, 304] && notModified.allSatisfy { $0.0.complete && $0.0.length == 0 })
        #expect(notModified.map(\.1.target) == ["/dmp/exposebox-categories-cache.js?c=17", "/dmp/exposebox-categories-cache.js?c=17",
                                                 "/widget/exposebox.js", "/widget/exposebox-layout.js?v=1.45"])
        let noContent = Self.exchanges(Self.events(HTTPFixtures.firefox204))
        #expect(noContent.map(\.0.status) == [204] && noContent.first?.0.complete == true)
        #expect(noContent.first?.1.host == "b.scorecardresearch.com")
    }

    @Test func aHeadResponseHasNoBodyWhateverItsContentLength() throws {
        let events = Self.events(HTTPFixtures.curlHead)
        let (response, request) = try #require(Self.exchanges(events).first)
        #expect(request.method == "HEAD" && request.target == "/head-me")
        #expect(response.status == 200 && response.contentLength == 14 && response.length == 0 && response.complete)
        #expect(events.count == 2)
    }

    @Test func anInterimResponseIsNotTheAnswer() throws {
        let events = Self.events(HTTPFixtures.curlExpect100)
        #expect(Self.errors(events).isEmpty)
        let request = try #require(Self.requests(events).first)
        #expect(request.headers.value(of: "expect") == "100-continue" && request.contentLength == 16)
        #expect(request.contentType == "application/x-www-form-urlencoded")
        let exchanges = Self.exchanges(events)
        #expect(exchanges.map(\.0.status) == [201] && exchanges.first?.0.length == 13 && exchanges.first?.1 == request)
    }

    @Test func pipelinedRequestsPairInOrder() {
        let events = Self.events(HTTPFixtures.ncPipelined)
        #expect(Self.errors(events).isEmpty)
        // The four requests came in one segment: all reported before the first response.
        #expect(events.prefix(4).map { if case .request(let r) = $0 { r.target } else { "-" } } == ["/one", "/chunked", "/three", "/empty"])
        let exchanges = Self.exchanges(events)
        #expect(exchanges.map(\.1.target) == ["/one", "/chunked", "/three", "/empty"])
        #expect(exchanges.map(\.0.status) == [200, 200, 200, 204])
        // "path /one\n"; 5 + 7 bytes of chunks (extension and trailer skipped); HEAD; 204.
        #expect(exchanges.map(\.0.length) == [10, 12, 0, 0])
        #expect(exchanges.allSatisfy(\.0.complete) && events.count == 8)
    }

    /// Every fixture cut into 1-, 2-, 7- and 100-byte segments reports the same.
    @Test(arguments: [1, 2, 7, 100]) func headsAndBodiesSplitAnywhere(_ size: Int) {
        for (name, segments) in HTTPFixtures.all {
            #expect(Self.events(Self.resegmented(segments, size: size)) == Self.events(segments), "\(name) in \(size)-byte segments")
        }
    }

    @Test func retransmittedBytesAreSkipped() {
        for (name, segments) in HTTPFixtures.all {
            let twice = segments.flatMap { [$0, $0] }
            let events = Self.events(twice)
            #expect(events.filter { $0 != .error(.retransmission, fromClient: true) && $0 != .error(.retransmission, fromClient: false) }
                    == Self.events(segments).filter { $0 != .error(.retransmission, fromClient: true) && $0 != .error(.retransmission, fromClient: false) },
                    "\(name)")
            #expect(Self.retransmissions(events) == segments.count + Self.retransmissions(Self.events(segments)), "\(name)")
            // A segment that repeats some bytes and brings new ones: the new ones are read.
            let overlapping = Self.resegmented(segments, size: 50).enumerated().map { index, piece in
                guard index > 0, piece.payload.count == 50 else { return piece }
                var wider = piece
                wider.sequence = piece.sequence &- 10
                let previous = Self.resegmented(segments, size: 50)[index - 1]
                guard previous.fromClient == piece.fromClient, previous.sequence &+ 50 == piece.sequence else { return piece }
                wider.payload = Array(previous.payload.suffix(10)) + piece.payload
                return wider
            }
            let withoutErrors = { (events: [HTTPEvent]) in events.filter { if case .error = $0 { false } else { true } } }
            #expect(withoutErrors(Self.events(overlapping)) == withoutErrors(Self.events(segments)), "\(name)")
        }
    }

    @Test func aGapStopsTheDirection() {
        let segments = HTTPFixtures.konquerorKeepAlive
        // Frame 7 (the rest of the first response's body) lost.
        let lost = segments.filter { $0.frame != 7 }
        #expect(segments.count == lost.count + 1)
        let events = Self.events(lost)
        #expect(events.contains(.error(.gap, fromClient: false)))
        let exchanges = Self.exchanges(events)
        #expect(exchanges.count == 1 && exchanges.first?.0.complete == false && exchanges.first?.1.target == "/")
        // The client direction goes on: its requests are still read (for policy); the one sent
        // before the server direction stopped is unanswered, the one after not queued.
        #expect(Self.requests(events).count == 3)
        #expect(events.compactMap { if case .unanswered(let request) = $0 { request.target } else { nil } } == ["/header.shtml"])
        // Out of order: frame 36 before frame 34.
        var swapped = segments
        swapped.swapAt(7, 8)
        #expect(swapped[7].frame == 36 && swapped[8].frame == 34)
        #expect(Self.errors(Self.events(swapped)).contains(.gap))
    }

    @Test func theLimitsHold() {
        let depth = Self.events(HTTPFixtures.konquerorKeepAlive, limits: HTTPLimits(depth: 3000))
        #expect(depth.contains(.error(.depthReached, fromClient: false)))
        #expect(Self.exchanges(depth).map(\.0.complete) == [true, false])
        let head = Self.events(HTTPFixtures.konquerorKeepAlive, limits: HTTPLimits(headBytes: 200))
        #expect(Self.errors(head) == [.headerTooLong, .headerTooLong] && Self.requests(head).isEmpty)
        let fields = Self.events(HTTPFixtures.konquerorKeepAlive, limits: HTTPLimits(fields: 4))
        #expect(Self.errors(fields).first == .tooManyHeaders)
        let pipeline = Self.events(HTTPFixtures.ncPipelined, limits: HTTPLimits(pendingRequests: 2))
        #expect(Self.errors(pipeline) == [.pipelineOverflow] && Self.requests(pipeline).count == 2)
        #expect(Self.exchanges(pipeline).isEmpty && !pipeline.contains { if case .response = $0 { true } else { false } })
        let target = Self.events(HTTPFixtures.threeStreamsYahoo, limits: HTTPLimits(targetBytes: 20))
        #expect(Self.errors(target) == [.uriTooLong])
    }

    static func feed(_ client: String, _ server: String) -> [HTTPEvent] {
        var segments: [Segment] = []
        if !client.isEmpty { segments.append(Segment(1, true, 1000, 1, "")) ; segments[0].payload = Array(client.utf8) }
        if !server.isEmpty { var s = Segment(2, false, 5000, 2, ""); s.payload = Array(server.utf8); segments.append(s) }
        return Self.events(segments)
    }

    @Test(arguments: [
        ("GET /\r\n\r\n", "", HTTPParseError.badRequestLine),
        ("GET  / HTTP/1.1\r\n\r\n", "", .badRequestLine),
        ("GET * HTTP/1.1\r\n\r\n", "", .badRequestLine),
        ("CONNECT /x HTTP/1.1\r\n\r\n", "", .badRequestLine),
        ("GET / HTTP/2.0\r\n\r\n", "", .badVersion),
        ("GET / HTTP/1.1\r\nX : y\r\n\r\n", "", .badHeader),
        ("GET / HTTP/1.1\r\nX: y\r\n z\r\n\r\n", "", .badHeader),
        ("POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", "", .badContentLength),
        ("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", "", .badContentLength),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", "", .badTransferEncoding),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "", .badChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", "", .badChunk),
        ("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000\r\n", "", .badChunk),
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 20 OK\r\n\r\n", .badStatusLine),
        ("GET / HTTP/1.1\r\n\r\n", "SSH-2.0-OpenSSH_9.2\r\n\r\n", .badStatusLine),
        ("GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", .badContentLength),
        ("", "HTTP/1.1 200 OK\r\n\r\n", .responseWithoutRequest),
    ])
    func malformedMessagesStopTheirDirection(_ client: String, _ server: String, _ error: HTTPParseError) {
        #expect(Self.errors(Self.feed(client, server)) == [error], "\(client.debugDescription) \(server.debugDescription)")
    }

    @Test func framingEdgeCases() throws {
        // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3 rule 3); a trailer section is read.
        let chunked = Self.feed("GET / HTTP/1.1\r\nHost: x\r\n\r\n",
                                "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n0\r\nA: b\r\n\r\n")
        #expect(Self.exchanges(chunked).map(\.0.length) == [4] && Self.exchanges(chunked).first?.0.complete == true)
        // No Content-Length: read until the server closes (rule 8).
        let untilClose = Self.feed("GET / HTTP/1.0\r\n\r\n", "HTTP/1.0 200 OK\r\n\r\nabcdef")
        #expect(Self.exchanges(untilClose).map(\.0.length) == [6] && Self.exchanges(untilClose).first?.0.complete == true)
        // 101 Switching Protocols: what follows is not HTTP.
        let upgrade = Self.feed("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n\u{81}\u{5}hello",
                                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\u{81}\u{2}hi")
        #expect(Self.errors(upgrade).isEmpty && Self.exchanges(upgrade).map(\.0.status) == [101])
        // Leading empty lines and bare LF line ends (RFC 9112 §2.2).
        let lenient = Self.feed("\r\n\nGET /a HTTP/1.1\nHost: x\n\n", "HTTP/1.1 200\nContent-Length: 0\n\n")
        #expect(Self.errors(lenient).isEmpty && Self.exchanges(lenient).map(\.0.reason) == [""])
        let request = try #require(Self.requests(lenient).first)
        #expect(request.target == "/a" && request.path == "/a")
    }

    @Test func pathsOfTheTargetForms() {
        let paths = ["/a/b?c#d", "http://h:80/x/y?z", "https://h", "*", "h:443"].map {
            HTTPRequest(method: "GET", target: $0, version: "HTTP/1.1", headers: [], time: 0).path
        }
        #expect(paths == ["/a/b", "/x/y", "/", "*", nil])
    }

    @Test func requestsAreRecognisedByTheirMethod() {
        for (name, segments) in HTTPFixtures.all {
            #expect(segments[0].payload.withUnsafeBytes { HTTPConnection.looksLikeRequest($0) }, "\(name)")
        }
        for text in ["", "GET", "GET/ HTTP/1.1", "get / HTTP/1.1", "HTTP/1.1 200 OK\r\n", "SSH-2.0-OpenSSH_9.2\r\n", "PRI * HTTP/2.0\r\n"] {
            #expect(!Array(text.utf8).withUnsafeBytes { HTTPConnection.looksLikeRequest($0) }, "\(text.debugDescription)")
        }
        #expect(!TLSFixtures.tls13.withUnsafeBytes { HTTPConnection.looksLikeRequest($0) })
    }

    @Test func errorNamesAreStableAndDistinct() {
        let names = HTTPParseError.allCases.map { "\($0.name)" }
        #expect(Set(names).count == names.count && names.allSatisfy { $0.hasPrefix("http.") })
        #expect(names.contains("http.bad_request_line") && names.contains("http.header_too_long") && names.contains("http.bad_chunk"))
    }
}
