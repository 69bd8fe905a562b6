import CMallocCounter
@testable import L7
import Testing

/// How a head split across segments is gathered: in place when it ends in its first segment,
/// copied when it spans several, and not copied at all once its start line shows the parser
/// will refuse it (a body read as a head, as after a body longer than its framing said, which is
/// up to `headBytes` of bytes). The errors reported are the ones the whole head gives.
@Suite struct HTTPHeadGatheringTests {
    /// Segments of the client direction, in sequence from 1000: a request, then `junk` of
    /// `count` segments of `size` bytes (lines of "x", no empty line), then `last`.
    static func feed(_ connection: inout HTTPConnection, _ payloads: [[UInt8]], events: inout [HTTPEvent]) {
        var sequence: UInt32 = 1000
        for payload in payloads {
            payload.withUnsafeBytes { bytes in
                connection.feed(bytes, sequence: sequence, fromClient: true, time: 1) { events.append($0) }
            }
            sequence &+= UInt32(payload.count)
        }
    }

    static let request = Array("GET /a HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8)
    /// 700 bytes of lines that no request line starts: "\u{1}xx…x\n".
    static let junk = [0x01] + Array(repeating: UInt8(ascii: "x"), count: 698) + [0x0A]

    @Test func aHeadAcrossSegmentsIsGathered() {
        var connection = HTTPConnection()
        var events: [HTTPEvent] = []
        Self.feed(&connection, [Array("GET /a HTTP/1.1\r\nHo".utf8), Array("st: example.com\r\n".utf8), Array("\r\n".utf8)],
                  events: &events)
        #expect(events.count == 1)
        guard case .request(let request) = events.first else { return }
        #expect(request.target == "/a" && request.host == "example.com")
        #expect(connection.client.head.isEmpty && connection.client.refusal == nil)
    }

    @Test func aRefusedHeadIsCountedNotCopied() {
        var connection = HTTPConnection()
        var events: [HTTPEvent] = []
        Self.feed(&connection, [Self.request, Self.junk], events: &events)
        #expect(connection.client.refusal == .badRequestLine && connection.client.head.isEmpty)
        #expect(connection.client.uncopied == Self.junk.count)
        // 20 more segments (14,700 bytes, under the 16 KiB limit): nothing is allocated for them.
        let segments = (0..<20).map { _ in Self.junk }
        var sequence = UInt32(1000 + Self.request.count + Self.junk.count)
        let buffers = segments.map { segment in
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: segment.count, alignment: 1)
            buffer.copyBytes(from: segment)
            return UnsafeRawBufferPointer(buffer)
        }
        defer { buffers.forEach { $0.deallocate() } }
        var errors = 0
        if flowmon_malloc_counter_available() == 1 { flowmon_malloc_counter_start() }
        for index in 0..<buffers.count {
            connection.feed(buffers[index], sequence: sequence, fromClient: true, time: 2) { _ in errors += 1 }
            sequence &+= UInt32(buffers[index].count)
        }
        if flowmon_malloc_counter_available() == 1 {
            let allocations = Int(flowmon_malloc_counter_stop())
            #expect(allocations == 0, "\(allocations) allocations for 20 segments of a refused head")
        }
        #expect(errors == 0 && connection.client.uncopied == 21 * Self.junk.count)
    }

    /// The errors are the whole head's: over the limit first, or the start line's at its end.
    @Test func aRefusedHeadReportsWhatTheWholeHeadWould() {
        var tooLong = HTTPConnection()
        var events: [HTTPEvent] = []
        Self.feed(&tooLong, [Self.request] + (0..<30).map { _ in Self.junk }, events: &events)
        #expect(events.dropFirst() == [.error(.headerTooLong, fromClient: true)])

        var ended = HTTPConnection()
        events = []
        Self.feed(&ended, [Self.request, Self.junk, Self.junk, Array("\r\n".utf8)], events: &events)
        #expect(events.dropFirst() == [.error(.badRequestLine, fromClient: true)])

        // A start line the limits refuse, in a head that ends in a later segment.
        var long = HTTPConnection(limits: HTTPLimits(targetBytes: 8))
        events = []
        Self.feed(&long, [Array("GET /0123456789 HTTP/1.1\r\n".utf8), Array("Host: a\r\n\r\n".utf8)], events: &events)
        #expect(events == [.error(.uriTooLong, fromClient: true)])
    }
}
