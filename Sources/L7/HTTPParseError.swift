/// Why flowmon stopped reading (or skipped part of) one direction of an HTTP/1.x connection, by
/// a stable dotted name (docs/l7.md lists them). Every case but `retransmission` stops the
/// parsing of its direction (or of the connection): bytes are never guessed.
public enum HTTPParseError: Error, Sendable, Equatable, CaseIterable {
    /// The request line is not `method SP request-target SP HTTP-version` (RFC 9112 §3), or its
    /// target is not of a form its method allows (§3.2).
    case badRequestLine
    /// The status line is not `HTTP-version SP 3DIGIT [SP reason-phrase]` (RFC 9112 §4).
    case badStatusLine
    /// A well-formed HTTP-version whose major version is not 1 (RFC 9110 §2.5).
    case badVersion
    /// A request-target longer than `HTTPLimits.targetBytes`.
    case uriTooLong
    /// A field line that is not `token ":" OWS value OWS` (RFC 9112 §5): no colon, whitespace
    /// before the colon, a control byte in the value, or obsolete line folding (§5.2).
    case badHeader
    /// No empty line within `HTTPLimits.headBytes` bytes (head or trailer section).
    case headerTooLong
    /// More field lines than `HTTPLimits.fields`.
    case tooManyHeaders
    /// Content-Length not a decimal number, or several that differ (RFC 9112 §6.3 rule 5).
    case badContentLength
    /// A request whose Transfer-Encoding does not end with `chunked` (RFC 9112 §6.3 rule 4).
    case badTransferEncoding
    /// A chunk-size line that is not hexadecimal, too large or too long, or chunk data not
    /// followed by CRLF (RFC 9112 §7.1).
    case badChunk
    /// A response while no request waits for one (the client direction stopped, or none sent).
    case responseWithoutRequest
    /// More pipelined requests waiting for their responses than `HTTPLimits.pendingRequests`.
    case pipelineOverflow
    /// A segment starting after the next expected byte: bytes lost by the capture, or
    /// reordered (in capture order the two cannot be told apart).
    case gap
    /// Bytes already seen, sent again: skipped (parsing goes on).
    case retransmission
    /// The direction carried more than `HTTPLimits.depth` bytes (Suricata's
    /// `stream.reassembly.depth`): the rest is not read.
    case depthReached

    /// The stable dotted name (`http.bad_request_line`, ...).
    public var name: StaticString {
        switch self {
        case .badRequestLine: "http.bad_request_line"
        case .badStatusLine: "http.bad_status_line"
        case .badVersion: "http.bad_version"
        case .uriTooLong: "http.uri_too_long"
        case .badHeader: "http.bad_header"
        case .headerTooLong: "http.header_too_long"
        case .tooManyHeaders: "http.too_many_headers"
        case .badContentLength: "http.bad_content_length"
        case .badTransferEncoding: "http.bad_transfer_encoding"
        case .badChunk: "http.bad_chunk"
        case .responseWithoutRequest: "http.response_without_request"
        case .pipelineOverflow: "http.pipeline_overflow"
        case .gap: "http.gap"
        case .retransmission: "http.retransmission"
        case .depthReached: "http.depth_reached"
        }
    }
}

/// The bounds of the HTTP/1.x parser, per connection direction.
public struct HTTPLimits: Sendable, Equatable {
    /// Bytes read per direction; the rest is not parsed (Suricata's default
    /// `stream.reassembly.depth`, 1 MiB).
    public var depth: Int
    /// Bytes of one message head (start line, field lines, empty line) or trailer section.
    public var headBytes: Int
    /// Field lines of one head.
    public var fields: Int
    /// Bytes of one request-target.
    public var targetBytes: Int
    /// Requests waiting for their responses (pipelining, RFC 9112 §9.3.2).
    public var pendingRequests: Int

    public init(depth: Int = 1 << 20, headBytes: Int = 16384, fields: Int = 100, targetBytes: Int = 8192, pendingRequests: Int = 32) {
        self.depth = depth
        self.headBytes = headBytes
        self.fields = fields
        self.targetBytes = targetBytes
        self.pendingRequests = pendingRequests
    }
}
