/// What an HTTP rule looks at in one request: the facts an HTTP/1.x parser gives.
public struct HTTPRequestFacts: Sendable {
    public var method: String
    /// The request target as Envoy's `:path` holds it: path and query, as on the request line
    /// (origin form). A parser that sees the absolute form (`GET http://h/p`) gives `/p` here
    /// and `h` as `host`, as Envoy does.
    public var path: String
    /// The `Host` header (Envoy's `:authority`), port included when the client sent one;
    /// `nil` when the request has none.
    public var host: String?
    /// Every header field in order, names as sent (compared case-insensitively).
    public var headers: [(name: String, value: String)]

    public init(method: String, path: String, host: String? = nil, headers: [(name: String, value: String)] = []) {
        self.method = method
        self.path = path
        self.host = host
        self.headers = headers
    }
}

/// One item of a port's `rules.http` (Cilium `PortRuleHTTP`, pkg/policy/api/http.go), as
/// Cilium hands it to Envoy (pkg/envoy `getHTTPRule`): every field present must match, an
/// absent field matches anything, so the empty rule `{}` allows every request.
///
/// - `method`, `path`, `host`: regular expressions matched against the whole value (Envoy
///   header matchers with `safe_regex`, RE2, a full match: `path: "/public"` does not allow
///   `/public/x` nor `/public?q=1`). `host` is matched against `:authority` (the Host header).
/// - `headers`: `"Name"` requires the header to be present, `"Name: value"` (split at the first
///   space, a trailing ":" removed from the name) requires that exact value.
/// - `headerMatches`: `{name, value}` requires the exact value, `{name}` presence. With a
///   `mismatch` action (LOG, ADD, DELETE, REPLACE) the rule matches whatever the header is:
///   Envoy only logs or rewrites it, and a passive observer sees the request as sent, so the
///   action has no effect on the verdict here. A `secret` names a Kubernetes Secret holding
///   the value, which flowmon cannot read: the header's presence is checked, not its value
///   (the loader says so in a notice).
public struct HTTPRule: Sendable, Hashable, CustomStringConvertible {
    public var method: HTTPRegex?
    public var path: HTTPRegex?
    public var host: HTTPRegex?
    /// From `headers`, as written.
    public var headers: [String]
    public var headerMatches: [HTTPHeaderMatch]

    public init(method: HTTPRegex? = nil, path: HTTPRegex? = nil, host: HTTPRegex? = nil, headers: [String] = [],
                headerMatches: [HTTPHeaderMatch] = []) {
        self.method = method
        self.path = path
        self.host = host
        self.headers = headers
        self.headerMatches = headerMatches
    }

    /// Whether the request satisfies every condition of this rule.
    public func allows(request: HTTPRequestFacts) -> Bool {
        if let method = self.method, !method.matches(request.method) { return false }
        if let path = self.path, !path.matches(request.path) { return false }
        if let host = self.host {
            guard let value = request.host, host.matches(value) else { return false }
        }
        for header in self.headers {
            let condition = Self.condition(header)
            guard Self.satisfies(request, name: condition.name, value: condition.value) else { return false }
        }
        for match in self.headerMatches where match.mismatch == .fail {
            let value = match.secret == nil && !(match.value ?? "").isEmpty ? match.value : nil
            guard Self.satisfies(request, name: match.name, value: value) else { return false }
        }
        return true
    }

    /// `"X-Key: true"` is name `X-Key`, value `true`; `"X-Key"` is presence only (pkg/envoy:
    /// split at the first space, the name's trailing ":" removed).
    static func condition(_ header: String) -> (name: Substring, value: Substring?) {
        guard let space = header.firstIndex(of: " ") else { return (header[...], nil) }
        var name = header[..<space]
        while name.last == ":" { name = name.dropLast() }
        return (name, header[header.index(after: space)...])
    }

    /// Present (names compared case-insensitively), and, when `value` is given, equal to it;
    /// the values of a repeated header are compared joined with ",", as Envoy's header
    /// matcher sees them.
    static func satisfies(_ request: HTTPRequestFacts, name: some StringProtocol, value: (some StringProtocol)?) -> Bool {
        let values = request.headers.filter { Self.equalFolded($0.name, name) }.map(\.value)
        guard !values.isEmpty else { return false }
        guard let value else { return true }
        return values.joined(separator: ",") == String(value)
    }

    static func equalFolded(_ a: some StringProtocol, _ b: some StringProtocol) -> Bool {
        a.utf8.count == b.utf8.count && zip(a.utf8, b.utf8).allSatisfy { x, y in
            x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
        }
    }

    public var description: String {
        var parts: [String] = []
        if let method = self.method { parts.append("method \(method.source)") }
        if let path = self.path { parts.append("path \(path.source)") }
        if let host = self.host { parts.append("host \(host.source)") }
        parts += self.headers.map { "header \($0)" }
        parts += self.headerMatches.map(\.description)
        return parts.isEmpty ? "http (any request)" : "http " + parts.joined(separator: ", ")
    }
}

/// `headerMatches` item (Cilium `HeaderMatch`).
public struct HTTPHeaderMatch: Sendable, Hashable, CustomStringConvertible {
    /// Cilium `MismatchAction`: empty (the default) fails the rule on a mismatch; the others
    /// let the request through and log or rewrite the header.
    public enum MismatchAction: String, Sendable, Hashable, CaseIterable {
        case fail = ""
        case log = "LOG"
        case add = "ADD"
        case delete = "DELETE"
        case replace = "REPLACE"
    }

    public var name: String
    public var value: String?
    /// `namespace/name` of the Secret holding the value (`secret.namespace` may be empty).
    public var secret: String?
    public var mismatch: MismatchAction

    public init(name: String, value: String? = nil, secret: String? = nil, mismatch: MismatchAction = .fail) {
        self.name = name
        self.value = value
        self.secret = secret
        self.mismatch = mismatch
    }

    public var description: String {
        var text = "headerMatch \(self.name)"
        if let value = self.value { text += "=\(value)" }
        if let secret = self.secret { text += " (secret \(secret))" }
        if self.mismatch != .fail { text += " mismatch \(self.mismatch.rawValue)" }
        return text
    }
}

/// A regular expression of an HTTP rule, compiled once when the policy loads and matched
/// against a whole value.
///
/// Swift's `Regex` (the standard library's engine; no Foundation): its syntax is a superset
/// of RE2's, which Envoy uses (Cilium validates with Go's `regexp`, also RE2), so the RE2
/// features policies use — classes, `[[:alpha:]]`, alternation, counted repetition, `(?i)` —
/// are there. What RE2 lacks (backreferences, lookaround, atomic groups, possessive
/// quantifiers) is rejected, as Cilium rejects it. Matching is on Unicode scalars, as RE2
/// matches code points.
///
/// One difference stays: Swift's engine backtracks where RE2 runs in linear time, so a
/// pattern with stacked unbounded repetitions (`a*a*a*a*a*a*a*a*` took 5 s against 25 `a`s
/// and a `b` here) can be slow on a long value. Patterns as policies write them (`/api/.*`,
/// `GET|HEAD`) are not; callers match off the packet path and may cap what they match.
public struct HTTPRegex: @unchecked Sendable, Hashable {
    public let source: String
    let regex: Regex<AnyRegexOutput>

    public init(_ source: String) throws(HTTPRegexError) {
        let translated: String
        switch Self.translate(source) {
        case .success(let text): translated = text
        case .failure(let construct):
            throw HTTPRegexError(source: source, message: "\(construct.name) is not RE2 syntax (Cilium and Envoy use RE2)")
        }
        do {
            self.regex = try Regex(translated).matchingSemantics(.unicodeScalar)
        } catch {
            throw HTTPRegexError(source: source, message: "\(error)")
        }
        self.source = source
    }

    /// Whether the whole of `value` matches.
    public func matches(_ value: String) -> Bool {
        ((try? self.regex.wholeMatch(in: value)) ?? nil) != nil
    }

    public static func == (a: HTTPRegex, b: HTTPRegex) -> Bool { a.source == b.source }
    public func hash(into hasher: inout Hasher) { hasher.combine(self.source) }

    struct UnsupportedConstruct: Error {
        var name: String
    }

    /// The source in Swift's syntax, or the first construct RE2 does not have. The one
    /// rewrite: a "]" first in a bracket expression (`[]a]`, `[^]a]`) is a member in RE2 and
    /// must be escaped for Swift.
    static func translate(_ source: String) -> Result<String, UnsupportedConstruct> {
        let bytes = Array(source.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + 2)
        var index = 0
        var inClass = false
        while index < bytes.count {
            let byte = bytes[index]
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if byte == UInt8(ascii: "\\") {
                if !inClass && (next >= UInt8(ascii: "1") && next <= UInt8(ascii: "9") || next == UInt8(ascii: "k") || next == UInt8(ascii: "g")) {
                    return .failure(UnsupportedConstruct(name: "a backreference"))
                }
                output += bytes[index..<min(index + 2, bytes.count)]
                index += 2
                continue
            }
            output.append(byte)
            index += 1
            if inClass {
                if byte == UInt8(ascii: "]") {
                    inClass = false
                } else if byte == UInt8(ascii: "["), next == UInt8(ascii: ":") {
                    // `[:alpha:]` inside a class: copied through to its ":]".
                    while index < bytes.count && !(bytes[index - 1] == UInt8(ascii: ":") && bytes[index] == UInt8(ascii: "]")) {
                        output.append(bytes[index])
                        index += 1
                    }
                    if index < bytes.count {
                        output.append(bytes[index])
                        index += 1
                    }
                }
            } else if byte == UInt8(ascii: "[") {
                inClass = true
                if index < bytes.count && bytes[index] == UInt8(ascii: "^") {
                    output.append(bytes[index])
                    index += 1
                }
                if index < bytes.count && bytes[index] == UInt8(ascii: "]") {
                    output += Array("\\]".utf8)
                    index += 1
                }
            } else if byte == UInt8(ascii: "("), next == UInt8(ascii: "?") {
                let rest = bytes[(index + 1)...].prefix(2)
                if rest.first == UInt8(ascii: "=") || rest.first == UInt8(ascii: "!") { return .failure(UnsupportedConstruct(name: "a lookahead")) }
                if rest.elementsEqual("<=".utf8) || rest.elementsEqual("<!".utf8) { return .failure(UnsupportedConstruct(name: "a lookbehind")) }
                if rest.first == UInt8(ascii: ">") { return .failure(UnsupportedConstruct(name: "an atomic group")) }
            } else if (byte == UInt8(ascii: "*") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "}"))
                        && next == UInt8(ascii: "+") {
                return .failure(UnsupportedConstruct(name: "a possessive quantifier"))
            }
        }
        return .success(String(decoding: output, as: UTF8.self))
    }
}

/// A regular expression of an HTTP rule that does not compile.
public struct HTTPRegexError: Error, Sendable, Equatable, CustomStringConvertible {
    public var source: String
    public var message: String
    public var description: String { "invalid regular expression '\(self.source)': \(self.message)" }
}
