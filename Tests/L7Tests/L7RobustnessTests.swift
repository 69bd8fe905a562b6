import CMallocCounter
import L7
import Testing

/// What every parser of L7 promises on any input: every prefix of every fixture parses or fails
/// cleanly (never traps), and the protocol checks cost no allocation on another protocol's bytes.
@Suite struct L7RobustnessTests {
    /// Each direction of each HTTP fixture, cut after every byte and fed as one segment (and
    /// the request heads to `HTTPRequest(head:)`), then ended.
    @Test func everyPrefixOfEveryHTTPFixture() {
        for (_, segments) in HTTPFixtures.all {
            for fromClient in [true, false] {
                let stream = segments.filter { $0.fromClient == fromClient }.flatMap(\.payload)
                // Bodies past 3 KB are more of the same: prefixes within the heads and the first bodies.
                for cut in 0...min(stream.count, 3000) {
                    var connection = HTTPConnection()
                    var events = 0
                    if !fromClient {
                        Array("GET / HTTP/1.1\r\n\r\n".utf8).withUnsafeBytes { connection.feed($0, sequence: 0, fromClient: true, time: 0) { _ in events += 1 } }
                    }
                    Array(stream[..<cut]).withUnsafeBytes { connection.feed($0, sequence: 1, fromClient: fromClient, time: 1) { _ in events += 1 } }
                    connection.end { _ in events += 1 }
                    if fromClient {
                        _ = Array(stream[..<cut]).withUnsafeBytes { try? HTTPRequest(head: $0, time: 0) }
                        _ = Array(stream[..<cut]).withUnsafeBytes { try? HTTPResponse(head: $0, time: 0) }
                    }
                }
            }
        }
    }

    @Test func everyPrefixOfEveryTLSFixture() {
        for fixture in [TLSFixtures.tls13, TLSFixtures.tls12] {
            for cut in 0...fixture.count {
                var reader = TLSClientHelloReader()
                _ = Array(fixture[..<cut]).withUnsafeBytes { reader.feed($0, sequence: 0) }
                // And the same bytes as an HTTP connection's: refused without a trap.
                var connection = HTTPConnection()
                Array(fixture[..<cut]).withUnsafeBytes { connection.feed($0, sequence: 0, fromClient: true, time: 0) { _ in } }
            }
        }
    }

    /// The cheap checks allocate nothing on payloads that are not theirs (the capture's reading
    /// thread runs them on every connection's first payload).
    @Test(.enabled(if: flowmon_malloc_counter_available() == 1, "a sanitizer build: the sanitizer owns malloc"))
    func theProtocolChecksAllocateNothing() {
        let others: [[UInt8]] = [Array("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n".utf8), Array("HTTP/1.1 200 OK\r\n".utf8),
                                 [0x00, 0x1C, 0x12, 0x34, 0x01, 0x00], TLSFixtures.tls13, Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8), []]
        // The payloads as raw buffers, made before counting.
        let buffers = (others + [HTTPFixtures.ncPipelined[0].payload]).map { payload in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: payload.count, alignment: 1)
            buffer.copyBytes(from: payload)
            return UnsafeRawBufferPointer(buffer)
        }
        defer { buffers.forEach { $0.deallocate() } }
        func run() -> Int {
            var matches = 0
            // By index: `for … in` over values allocates in a debug build.
            for index in 0..<(buffers.count - 1) where HTTPConnection.looksLikeRequest(buffers[index]) { matches += 1 }
            if TLSClientHello.looksLikeClientHello(buffers[buffers.count - 1]) { matches += 1 }
            return matches
        }
        _ = run()
        flowmon_malloc_counter_start()
        var matches = 0
        for _ in 0..<100 { matches += run() }
        let allocations = Int(flowmon_malloc_counter_stop())
        #expect(matches == 0 && allocations == 0, "\(allocations) allocations")
    }
}
