/// A header field as sent (RFC 9112 §5): the name as the sender spelled it, the value without
/// its surrounding whitespace.
public struct HTTPHeader: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An HTTP/1.x request head (RFC 9112 §3, §5), as a passive observer reads it.
public struct HTTPRequest: Sendable, Equatable {
    /// The method token as sent (RFC 9110 §9), e.g. "GET".
    public var method: String
    /// The request-target as sent (Suricata's `url`): origin form `/p?q`, absolute form
    /// `http://h/p`, authority form `h:443` (CONNECT) or `*` (OPTIONS).
    public var target: String
    /// The protocol version, e.g. "HTTP/1.1" (Suricata's `protocol`).
    public var version: String
    /// The field lines in order (at most `HTTPLimits.fields`).
    public var headers: [HTTPHeader]
    /// When the first byte of the request line was captured (nanoseconds, the capture's clock).
    public var time: Int64

    public init(method: String, target: String, version: String, headers: [HTTPHeader], time: Int64) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.time = time
    }

    /// Host as sent, with its port if any (Suricata's `hostname` is without it, `http_port` the port).
    public var host: String? { self.headers.value(of: "host") }
    public var userAgent: String? { self.headers.value(of: "user-agent") }
    public var contentType: String? { self.headers.value(of: "content-type") }
    /// The body length Content-Length declares (nil without one, or with a chunked body).
    public var contentLength: Int? { try? self.headers.framing(isRequest: true).contentLength }

    /// The path of the target, without query or fragment: of an origin-form target, of an
    /// absolute-form one (after the authority; "/" when it has no path), "*" for the asterisk
    /// form; nil for the authority form (RFC 9112 §3.2).
    public var path: String? {
        let target = Array(self.target.utf8)
        if target == [0x2A] { return "*" }
        var start = 0
        if target.first != 0x2F {
            guard target.withUnsafeBytes({ HTTPHeadParser.isAbsolute($0) }), let colon = target.firstIndex(of: 0x3A) else { return nil }
            guard let slash = target[(colon + 3)...].firstIndex(of: 0x2F) else { return "/" }
            start = slash
        }
        let end = target[start...].firstIndex { $0 == 0x3F || $0 == 0x23 } ?? target.count
        return String(decoding: target[start..<end], as: UTF8.self)
    }
}

/// An HTTP/1.x response (RFC 9112 §4), with what its body showed.
public struct HTTPResponse: Sendable, Equatable {
    /// The protocol version, e.g. "HTTP/1.1".
    public var version: String
    /// The status code (100-999).
    public var status: Int
    /// The reason phrase as sent (may be empty).
    public var reason: String
    public var headers: [HTTPHeader]
    /// When the first byte of the status line was captured.
    public var time: Int64
    /// Body bytes seen (Suricata's `length`): of a chunked body, the chunk data without the
    /// chunk framing; as transferred (still compressed with Content-Encoding).
    public var length: Int = 0
    /// Whether the body ended as its framing says (Content-Length reached, last chunk, the
    /// server's close; no body for HEAD, 1xx, 204, 304); false when the connection ended or
    /// parsing stopped first.
    public var complete = false

    public init(version: String, status: Int, reason: String, headers: [HTTPHeader], time: Int64) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
        self.time = time
    }

    public var contentType: String? { self.headers.value(of: "content-type") }
    /// The body length Content-Length declares (nil without one, or with a chunked body).
    public var contentLength: Int? { try? self.headers.framing(isRequest: false).contentLength }
}

/// What the connection's parser reports, in capture order.
public enum HTTPEvent: Sendable, Equatable {
    /// A request head was read (its body, if any, follows).
    case request(HTTPRequest)
    /// A response ended (or the connection ended during it), paired with its request: the
    /// oldest one waiting (RFC 9112 §9.3.2). The latency is `response.time - request.time`.
    case response(HTTPResponse, request: HTTPRequest)
    /// The connection ended with this request unanswered.
    case unanswered(HTTPRequest)
    /// A direction stopped being parsed (or, for `retransmission`, skipped bytes).
    case error(HTTPParseError, fromClient: Bool)
}

extension HTTPHeader {
    /// Whether the name is `lowercasedName` in any ASCII case (field names are tokens, ASCII:
    /// RFC 9110 §5.1, §5.6.2), compared in place rather than through a lowercased copy.
    public func hasName(_ lowercasedName: String) -> Bool {
        guard self.name.utf8.count == lowercasedName.utf8.count else { return false }
        // Native strings are contiguous: compared as bytes.
        let contiguous = self.name.utf8.withContiguousStorageIfAvailable { name in
            lowercasedName.utf8.withContiguousStorageIfAvailable { expected in
                for index in 0..<name.count where HTTPHeadParser.lowercased(name[index]) != expected[index] { return false }
                return true
            }
        }
        if let contiguous = contiguous ?? nil { return contiguous }
        for (byte, expected) in zip(self.name.utf8, lowercasedName.utf8) where HTTPHeadParser.lowercased(byte) != expected {
            return false
        }
        return true
    }
}

extension [HTTPHeader] {
    /// The value of the first field of this name (case-insensitive, RFC 9110 §5.1).
    public func value(of lowercasedName: String) -> String? {
        self.first { $0.hasName(lowercasedName) }?.value
    }

    /// How the body is delimited (RFC 9112 §6.3): Transfer-Encoding then Content-Length.
    func framing(isRequest: Bool) throws(HTTPParseError) -> (chunked: Bool, otherCoding: Bool, contentLength: Int?) {
        var codings: [Substring] = []
        var lengths: [Substring] = []
        for field in self {
            if field.hasName("transfer-encoding") {
                codings += field.value.split(separator: ",").map { $0.trimmingOWS() }
            } else if field.hasName("content-length") {
                lengths += field.value.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingOWS() }
            }
        }
        if let last = codings.last {
            if last.lowercased() == "chunked" { return (true, false, nil) }
            if isRequest { throw .badTransferEncoding }
            return (false, true, nil)
        }
        guard let first = lengths.first else { return (false, false, nil) }
        guard lengths.allSatisfy({ $0 == first }), !first.isEmpty, first.utf8.count <= 18,
              first.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(first)
        else { throw .badContentLength }
        return (false, false, value)
    }
}

extension Substring {
    /// Without leading and trailing SP and HTAB (OWS, RFC 9110 §5.6.3).
    func trimmingOWS() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
