/// The head of an HTTP/1.x request (RFC 9112 §2-§5) as the metrics server reads it: the
/// request line and the header fields, up to the empty line. The server answers GET and HEAD
/// only and never reads a body (it closes the connection after one response), so the head is
/// all it parses. Byte rules, bounded: at most `maximumBytes` before the empty line, 100 header
/// fields, a target of at most 2,048 bytes.
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

    /// Parses what a client sent so far.
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> HTTPRequestHead {
        var lines: [UnsafeRawBufferPointer] = []
        var start = 0
        var ended = false
        var index = 0
        while index < bytes.count && index < Self.maximumBytes {
            if bytes[index] == 0x0A {
                // A line ends with CRLF; a bare LF is accepted too (RFC 9112 §2.2).
                var end = index
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                start = index + 1
                if line.isEmpty {
                    // Empty lines before the request line are ignored (RFC 9112 §2.2).
                    if !lines.isEmpty {
                        ended = true
                        break
                    }
                } else {
                    lines.append(line)
                    if lines.count > Self.maximumFields + 1 { return .refused(status: 431) }
                }
            }
            index += 1
        }
        guard ended else { return bytes.count >= Self.maximumBytes ? .refused(status: 431) : .incomplete }
        guard let (method, path) = Self.requestLine(lines[0]) else { return .refused(status: Self.versionRefusal(lines[0])) }
        var hosts = 0
        for field in lines.dropFirst() {
            guard let isHost = Self.field(field) else { return .refused(status: 400) }
            if isHost { hosts += 1 }
        }
        // HTTP/1.1 requires exactly one Host field (RFC 9112 §3.2).
        if Self.isVersion11(lines[0]) && hosts != 1 { return .refused(status: 400) }
        return .request(method: method, path: path)
    }

    /// `method SP request-target SP HTTP-version` (RFC 9112 §3): method a token, target
    /// visible ASCII, version HTTP/1.0 or HTTP/1.1.
    static func requestLine(_ line: UnsafeRawBufferPointer) -> (String, String)? {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[0].isEmpty, parts[0].count <= 16, parts[0].allSatisfy(Self.isTokenByte),
              !parts[1].isEmpty, parts[1].count <= Self.maximumTargetBytes, parts[1].allSatisfy({ (0x21...0x7E).contains($0) }),
              Array(parts[2]) == Array("HTTP/1.1".utf8) || Array(parts[2]) == Array("HTTP/1.0".utf8),
              let path = Self.path(Array(parts[1]))
        else { return nil }
        return (String(decoding: parts[0], as: UTF8.self), path)
    }

    /// 505 for a well-formed request line of another HTTP version, else 400.
    static func versionRefusal(_ line: UnsafeRawBufferPointer) -> Int {
        let parts = line.split(separator: 0x20, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return 400 }
        let version = Array(parts[2])
        let isHTTP = version.count == 8 && version.starts(with: Array("HTTP/".utf8)) && version[6] == 0x2E
            && (0x30...0x39).contains(version[5]) && (0x30...0x39).contains(version[7])
        return isHTTP && version[5] != 0x31 ? 505 : 400
    }

    static func isVersion11(_ line: UnsafeRawBufferPointer) -> Bool { line.count >= 8 && line.suffix(8).elementsEqual("HTTP/1.1".utf8) }

    /// The path of an origin-form (`/p?q`), absolute-form (`http://h/p`) or asterisk-form
    /// target (RFC 9112 §3.2); nil for anything else.
    static func path(_ target: [UInt8]) -> String? {
        var path = target[...]
        if target == [0x2A] { return "*" }
        if target.first != 0x2F {
            let lower = target.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
            let scheme: [UInt8]
            if lower.starts(with: Array("http://".utf8)) {
                scheme = Array("http://".utf8)
            } else if lower.starts(with: Array("https://".utf8)) {
                scheme = Array("https://".utf8)
            } else {
                return nil
            }
            let afterScheme = target[scheme.count...]
            guard let slash = afterScheme.firstIndex(of: 0x2F) else { return "/" }
            path = target[slash...]
        }
        let end = path.firstIndex { $0 == 0x3F || $0 == 0x23 } ?? path.endIndex
        return String(decoding: path[..<end], as: UTF8.self)
    }

    /// `name: value` (RFC 9112 §5): name a token; value without control bytes but HTAB. A line
    /// starting with whitespace (obsolete folding) is refused. Returns whether it is `Host`.
    static func field(_ line: UnsafeRawBufferPointer) -> Bool? {
        guard let colon = line.firstIndex(of: 0x3A), colon > 0 else { return nil }
        let name = line[..<colon]
        guard name.allSatisfy(Self.isTokenByte) else { return nil }
        guard line[(colon + 1)...].allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { return nil }
        return name.count == 4 && name.map { $0 | 0x20 }.elementsEqual("host".utf8)
    }

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
}
