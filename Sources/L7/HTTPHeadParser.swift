/// The byte rules of an HTTP/1.x message head (RFC 9112 §2-§5): the start line and the field
/// lines of a complete head, as `HTTPHeadScanner.head(in:limit:)` delimits it.
enum HTTPHeadParser {
    /// The lines of a head (without their CRLF or LF), the empty line excluded; the first
    /// `limit` of them.
    static func lines(_ head: UnsafeRawBufferPointer, limit: Int = .max) -> [UnsafeRawBufferPointer] {
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        for index in 0..<head.count where head[index] == 0x0A {
            var end = index
            if end > start && head[end - 1] == 0x0D { end -= 1 }
            if end > start {
                lines.append(UnsafeRawBufferPointer(rebasing: head[start..<end]))
                if lines.count >= limit { break }
            }
            start = index + 1
        }
        return lines
    }

    /// The field lines after the start line (RFC 9112 §5): `token ":" OWS value OWS`; a line
    /// starting with whitespace (obsolete folding, §5.2), whitespace before the colon (§5.1)
    /// or a control byte other than HTAB in the value is refused.
    static func fields(_ lines: ArraySlice<UnsafeRawBufferPointer>, limits: HTTPLimits) throws(HTTPParseError) -> [HTTPHeader] {
        guard lines.count <= limits.fields else { throw .tooManyHeaders }
        var headers: [HTTPHeader] = []
        headers.reserveCapacity(lines.count)
        for line in lines {
            guard let colon = line.firstIndex(of: 0x3A), colon > 0, line[..<colon].allSatisfy(Self.isTokenByte) else { throw .badHeader }
            var start = colon + 1
            var end = line.count
            while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
            while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
            let value = UnsafeRawBufferPointer(rebasing: line[start..<end])
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .badHeader }
            headers.append(HTTPHeader(name: Self.string(UnsafeRawBufferPointer(rebasing: line[..<colon])), value: Self.string(value)))
        }
        return headers
    }

    /// `HTTP/DIGIT.DIGIT` (RFC 9112 §2.3): the text when the major version is 1; `badVersion`
    /// for another well-formed version; nil when it is not a version.
    static func version(_ bytes: UnsafeRawBufferPointer) throws(HTTPParseError) -> String? {
        guard bytes.count == 8, bytes.starts(with: "HTTP/".utf8), bytes[6] == 0x2E,
              Self.isDigit(bytes[5]), Self.isDigit(bytes[7]) else { return nil }
        guard bytes[5] == 0x31 else { throw .badVersion }
        return Self.string(bytes)
    }

    /// `method SP request-target SP HTTP-version` (RFC 9112 §3), single spaces. The target is
    /// visible ASCII and of a form its method allows (§3.2): origin or absolute form, the
    /// authority form for CONNECT only, `*` for OPTIONS only.
    static func requestLine(_ line: UnsafeRawBufferPointer, limits: HTTPLimits) throws(HTTPParseError) -> (method: String, target: String, version: String) {
        let parts = line.split(separator: 0x20, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].count <= 32, parts[0].allSatisfy(Self.isTokenByte),
              !parts[1].isEmpty else { throw .badRequestLine }
        let method = UnsafeRawBufferPointer(rebasing: parts[0])
        let target = UnsafeRawBufferPointer(rebasing: parts[1])
        guard let version = try Self.version(UnsafeRawBufferPointer(rebasing: parts[2])) else { throw .badRequestLine }
        guard target.count <= limits.targetBytes else { throw .uriTooLong }
        guard target.allSatisfy({ (0x21...0x7E).contains($0) }) else { throw .badRequestLine }
        let isConnect = method.elementsEqual("CONNECT".utf8)
        let form: Bool
        if target.count == 1 && target[0] == 0x2A {
            form = method.elementsEqual("OPTIONS".utf8)
        } else if isConnect {
            form = !target.contains(0x2F) && target.contains(0x3A)
        } else if target[0] == 0x2F {
            form = true
        } else {
            form = Self.isAbsolute(target)
        }
        guard form else { throw .badRequestLine }
        return (Self.string(method), Self.string(target), version)
    }

    /// `HTTP-version SP status-code [SP reason-phrase]` (RFC 9112 §4); the space after the code
    /// may be missing when the reason is empty (as some servers send).
    static func statusLine(_ line: UnsafeRawBufferPointer) throws(HTTPParseError) -> (version: String, status: Int, reason: String) {
        guard line.count >= 12, line[8] == 0x20 else { throw .badStatusLine }
        guard let version = try Self.version(UnsafeRawBufferPointer(rebasing: line[..<8])) else { throw .badStatusLine }
        let code = line[9..<12]
        guard code.allSatisfy(Self.isDigit), code.first != 0x30 else { throw .badStatusLine }
        let status = code.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        guard line.count == 12 || line[12] == 0x20 else { throw .badStatusLine }
        let reason = line.count > 13 ? UnsafeRawBufferPointer(rebasing: line[13...]) : UnsafeRawBufferPointer(start: nil, count: 0)
        guard reason.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw .badStatusLine }
        return (version, status, Self.string(reason))
    }

    /// `scheme "://"` (RFC 3986 §3.1: a letter, then letters, digits, "+", "-", ".").
    static func isAbsolute(_ target: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < target.count, target[index] != 0x3A {
            let byte = target[index]
            let letter = (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            guard letter || (index > 0 && (Self.isDigit(byte) || byte == 0x2B || byte == 0x2D || byte == 0x2E)) else { return false }
            index += 1
        }
        return index > 0 && index + 2 < target.count && target[index + 1] == 0x2F && target[index + 2] == 0x2F
    }

    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    /// An ASCII letter in lowercase; other bytes as they are.
    @inline(__always)
    static func lowercased(_ byte: UInt8) -> UInt8 { byte &- UInt8(ascii: "A") < 26 ? byte | 0x20 : byte }

    /// tchar (RFC 9110 §5.6.2).
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
             UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
             UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    static func string(_ bytes: UnsafeRawBufferPointer) -> String { String(decoding: bytes, as: UTF8.self) }
}

extension HTTPRequest {
    /// Parses a complete request head: the bytes from the request line through the empty line
    /// (`HTTPHeadScanner.head(in:limit:)`).
    public init(head: UnsafeRawBufferPointer, limits: HTTPLimits = HTTPLimits(), time: Int64) throws(HTTPParseError) {
        let lines = HTTPHeadParser.lines(head)
        guard let first = lines.first else { throw .badRequestLine }
        let line = try HTTPHeadParser.requestLine(first, limits: limits)
        let headers = try HTTPHeadParser.fields(lines.dropFirst(), limits: limits)
        self.init(method: line.method, target: line.target, version: line.version, headers: headers, time: time)
    }
}

extension HTTPResponse {
    /// Parses a complete response head: the bytes from the status line through the empty line.
    public init(head: UnsafeRawBufferPointer, limits: HTTPLimits = HTTPLimits(), time: Int64) throws(HTTPParseError) {
        let lines = HTTPHeadParser.lines(head)
        guard let first = lines.first else { throw .badStatusLine }
        let line = try HTTPHeadParser.statusLine(first)
        let headers = try HTTPHeadParser.fields(lines.dropFirst(), limits: limits)
        self.init(version: line.version, status: line.status, reason: line.reason, headers: headers, time: time)
    }
}
