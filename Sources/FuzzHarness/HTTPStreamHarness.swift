import L7

/// The `http1` fuzz target: the input is the segments of one captured connection as L7's
/// HTTP/1.x parser reads them on the capture's reading thread (`HTTPConnection.feed`).
///
/// Framing: byte 0 is a seed for the limits (small ones, so that every bound is reached); then
/// segments, each a control byte and a length byte followed by that many payload bytes (fewer
/// at the end). Control bit 7: from the server; bit 6: the segment's sequence number is moved
/// by (bits 0-3) - 8 bytes from the next expected one (a retransmission, an overlap or a gap).
/// Checked: every response is paired with a request reported before it; a response's length is
/// within its Content-Length; and, without moved segments, the same bytes in other segments (every
/// run of one direction's segments merged into one) report the same. A violated rule traps, as
/// a crash would. Returns true when a request was read.
package final class HTTPStreamHarness {
    struct Segment: Equatable {
        var fromClient: Bool
        var sequence: UInt32
        var bytes: [UInt8]
    }

    package init() {}

    package func run(_ data: UnsafeRawBufferPointer) -> Bool {
        guard !data.isEmpty else { return false }
        let seed = data[0]
        let limits = HTTPLimits(depth: 256 << Int(seed & 7), headBytes: 64 << Int(seed >> 3 & 3), fields: 4 + Int(seed >> 5),
                                targetBytes: 32 << Int(seed >> 6), pendingRequests: 1 + Int(seed >> 5))
        var segments: [Segment] = []
        var next: (client: UInt32, server: UInt32) = (1000, 900_000)
        var moved = false
        var offset = 1
        while offset + 2 <= data.count {
            let control = data[offset]
            let count = min(Int(data[offset + 1]), data.count - offset - 2)
            let bytes = Array(data[(offset + 2)..<(offset + 2 + count)])
            offset += 2 + count
            let fromClient = control & 0x80 == 0
            var sequence = fromClient ? next.client : next.server
            if control & 0x40 != 0 {
                sequence = sequence &+ UInt32(bitPattern: Int32(control & 0x0F) - 8)
                moved = true
            }
            if fromClient { next.client = sequence &+ UInt32(count) } else { next.server = sequence &+ UInt32(count) }
            segments.append(Segment(fromClient: fromClient, sequence: sequence, bytes: bytes))
        }
        let events = Self.events(segments, limits: limits)
        var requests = 0
        for event in events {
            switch event {
            case .request: requests += 1
            case .response(let response, let request):
                precondition(requests > 0 && !request.method.isEmpty, "a response without a request reported before it")
                precondition(response.length >= 0 && response.length <= response.contentLength ?? .max || response.status == 101,
                             "length \(response.length) beyond Content-Length \(String(describing: response.contentLength))")
                precondition((100...999).contains(response.status), "status \(response.status)")
            case .unanswered(let request): precondition(!request.method.isEmpty, "an unanswered request without method")
            case .error: break
            }
        }
        if !moved {
            // The same bytes, each run of one direction's segments as one segment.
            var merged: [Segment] = []
            for segment in segments {
                if let last = merged.last, last.fromClient == segment.fromClient {
                    merged[merged.count - 1].bytes += segment.bytes
                } else {
                    merged.append(segment)
                }
            }
            let again = Self.events(merged, limits: limits)
            precondition(again == events, "the same bytes in other segments reported otherwise: \(again) and \(events)")
        }
        return requests > 0
    }

    static func events(_ segments: [Segment], limits: HTTPLimits) -> [HTTPEvent] {
        var connection = HTTPConnection(limits: limits)
        var events: [HTTPEvent] = []
        for segment in segments {
            segment.bytes.withUnsafeBytes {
                connection.feed($0, sequence: segment.sequence, fromClient: segment.fromClient, time: 0) { events.append($0) }
            }
        }
        connection.end { events.append($0) }
        return events
    }
}
