import L7

/// The head of an HTTP/1.x request (RFC 9112 §2-§5) as the metrics server reads it: the
/// request line and the header fields, up to the empty line. The server answers GET and HEAD
/// only and never reads a body (it closes the connection after one response), so the head is
/// all it parses, with L7's parser (`HTTPRequest(head:limits:time:)`). Bounded: at most
/// `maximumBytes` before the empty line, 100 header fields, a target of at most 2,048 bytes.
package enum HTTPRequestHead: Equatable, Sendable {
    /// The empty line has not arrived yet (and the bytes so far are within the bound).
    case incomplete
    /// A well-formed head: the method as sent, the path of the target (without query or
    /// fragment; from an absolute-form target, the part after the authority).
    case request(method: String, path: String)
    /// A head to refuse with this status: 400 malformed, 431 too long, 505 not HTTP/1.x.
    case refused(status: Int)

    package static let maximumBytes = 8192
    static let maximumFields = 100
    static let maximumTargetBytes = 2048

    /// The metrics server's bounds for L7's request-head parser.
    static let limits = HTTPLimits(headBytes: Self.maximumBytes, fields: Self.maximumFields, targetBytes: Self.maximumTargetBytes)

    /// Parses what a client sent so far, with L7's HTTP/1.x request-head parser (the one flowmon
    /// reads captured requests with), then the server's own rules: a target it can route (origin,
    /// absolute or asterisk form) and exactly one Host field in an HTTP/1.1 request (RFC 9112 §3.2).
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPRequestHead {
        guard let head = HTTPHeadScanner.head(in: bytes, limit: Self.maximumBytes) else {
            return bytes.count >= Self.maximumBytes ? .refused(status: 431) : .incomplete
        }
        let request: HTTPRequest
        do {
            request = try HTTPRequest(head: UnsafeRawBufferPointer(rebasing: bytes[head]), limits: Self.limits, time: 0)
        } catch {
            switch error {
            case .headerTooLong, .tooManyHeaders: return .refused(status: 431)
            case .badVersion: return .refused(status: 505)
            default: return .refused(status: 400)
            }
        }
        let hosts = request.headers.count { $0.name.lowercased() == "host" }
        guard let path = request.path, request.version == "HTTP/1.0" || hosts == 1 else { return .refused(status: 400) }
        return .request(method: request.method, path: path)
    }
}
