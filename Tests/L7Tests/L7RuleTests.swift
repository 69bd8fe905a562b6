import L7
import Testing

/// `HTTPRule`, `DNSRule` and `L7RuleSet`, with rows from Cilium's documentation examples
/// (Documentation/security/policy/language.rst "Layer 7 Examples" and the examples/policies/
/// files they include) and the rule semantics of pkg/policy/api/http.go and pkg/envoy.
@Suite struct L7RuleTests {
    static func request(_ method: String, _ path: String, host: String? = nil, _ headers: [(String, String)] = [])
        -> HTTPRequestFacts
    {
        HTTPRequestFacts(method: method, path: path, host: host, headers: headers.map { (name: $0.0, value: $0.1) })
    }

    static func http(method: String? = nil, path: String? = nil, host: String? = nil, headers: [String] = [],
                     headerMatches: [HTTPHeaderMatch] = []) throws -> HTTPRule {
        HTTPRule(method: try method.map(HTTPRegex.init), path: try path.map(HTTPRegex.init), host: try host.map(HTTPRegex.init),
                 headers: headers, headerMatches: headerMatches)
    }

    struct HTTPRow: Sendable, CustomTestStringConvertible {
        var name: String
        var rules: [HTTPRule]
        var allowed: [HTTPRequestFacts]
        var denied: [HTTPRequestFacts]
        var testDescription: String { self.name }
    }

    static let httpRows: [HTTPRow] = {
        do {
            return [
                // language.rst "HTTP" (examples/policies/l7/http/simple/l7.yaml): GET /public only.
                HTTPRow(name: "GET /public", rules: [try http(method: "GET", path: "/public")],
                        allowed: [request("GET", "/public")],
                        denied: [request("GET", "/private"), request("POST", "/public"), request("GET", "/public/x"),
                                 request("GET", "/public?q=1"), request("get", "/public"), request("XGET", "/public")]),
                // examples/policies/l7/http/http.yaml: a path regex with a method, and a header rule.
                HTTPRow(name: "GET /path1$ or PUT /path2$ with X-My-Header: true",
                        rules: [try http(method: "GET", path: "/path1$"),
                                try http(method: "PUT", path: "/path2$", headers: ["X-My-Header: true"])],
                        allowed: [request("GET", "/path1"), request("PUT", "/path2", [("x-my-header", "true")])],
                        denied: [request("PUT", "/path2"), request("PUT", "/path2", [("X-My-Header", "false")]),
                                 request("GET", "/path2"), request("DELETE", "/path1")]),
                // Getting started (examples/policies/getting-started/l7-policy.yaml): POST /v1/request-landing.
                HTTPRow(name: "POST /v1/request-landing", rules: [try http(method: "POST", path: "/v1/request-landing")],
                        allowed: [request("POST", "/v1/request-landing")],
                        denied: [request("PUT", "/v1/exhaust-port"), request("POST", "/v1/request-landing/x")]),
                // Regular expressions: alternation, classes, the whole value.
                HTTPRow(name: "method GET|HEAD, path /api/v[0-9]+/.*",
                        rules: [try http(method: "GET|HEAD", path: "/api/v[0-9]+/.*")],
                        allowed: [request("GET", "/api/v1/users"), request("HEAD", "/api/v12/")],
                        denied: [request("GETX", "/api/v1/users"), request("GET", "/api/vx/"), request("GET", "x/api/v1/")]),
                // host: the whole Host value (port included) against the regex.
                HTTPRow(name: "host api\\.example\\.com", rules: [try http(host: "api\\.example\\.com")],
                        allowed: [request("GET", "/", host: "api.example.com")],
                        denied: [request("GET", "/"), request("GET", "/", host: "api.example.com:8080"),
                                 request("GET", "/", host: "xapi.example.com")]),
                // headers: presence, and "Name: value" split at the first space.
                HTTPRow(name: "header presence and value",
                        rules: [try http(headers: ["X-Present", "X-Key: a b"])],
                        allowed: [request("GET", "/", [("x-present", ""), ("X-KEY", "a b")])],
                        denied: [request("GET", "/", [("X-Key", "a b")]), request("GET", "/", [("X-Present", "1"), ("X-Key", "a")])]),
                // headerMatches: value exact; presence without value; a mismatch action never denies;
                // a Secret (unreadable here) checks presence only.
                HTTPRow(name: "headerMatches",
                        rules: [try http(headerMatches: [
                            HTTPHeaderMatch(name: "X-Token", value: "abc"),
                            HTTPHeaderMatch(name: "X-Need"),
                            HTTPHeaderMatch(name: "X-Logged", value: "v", mismatch: .log),
                            HTTPHeaderMatch(name: "Authorization", value: "fallback", secret: "ns/token"),
                        ])],
                        allowed: [request("GET", "/", [("X-Token", "abc"), ("x-need", "1"), ("Authorization", "Bearer anything")])],
                        denied: [request("GET", "/", [("X-Token", "abd"), ("x-need", "1"), ("Authorization", "x")]),
                                 request("GET", "/", [("X-Token", "abc"), ("Authorization", "x")]),
                                 request("GET", "/", [("X-Token", "abc"), ("x-need", "1")])]),
                // The empty rule allows everything; rules are ORed.
                HTTPRow(name: "{} or anything", rules: [try http(method: "DELETE"), HTTPRule()],
                        allowed: [request("GET", "/"), request("DELETE", "/x")], denied: []),
            ]
        } catch {
            Issue.record("\(error)")
            return []
        }
    }()

    @Test(arguments: httpRows)
    func httpRules(_ row: HTTPRow) {
        let set = L7RuleSet(http: row.rules)
        for request in row.allowed { #expect(set.allows(request: request), "\(request.method) \(request.path)") }
        for request in row.denied { #expect(!set.allows(request: request), "\(request.method) \(request.path)") }
    }

    /// Repeated headers are compared joined with ",", as Envoy's header matcher sees them.
    @Test func repeatedHeaders() throws {
        let rule = try Self.http(headers: ["X-A: 1,2"])
        #expect(rule.allows(request: Self.request("GET", "/", [("X-A", "1"), ("x-a", "2")])))
        #expect(!rule.allows(request: Self.request("GET", "/", [("X-A", "1")])))
    }

    /// A regular expression that does not compile, or uses what RE2 lacks, is an error naming it.
    @Test(arguments: ["(", "[a-", "a{2,1}", "(?=x)", "(?<!x)y", "(a)\\1", "a*+", "(?>a)"])
    func invalidRegex(_ source: String) {
        #expect(throws: HTTPRegexError.self) { try HTTPRegex(source) }
    }

    @Test(arguments: ["GET", "/public/.*", "[[:alpha:]]+", "(?i)get", "a{2,3}", "[]a]", "\\(x\\)", "/a(?:b|c)", "(?P<n>x)"])
    func re2Regex(_ source: String) throws {
        _ = try HTTPRegex(source)
    }

    /// RE2 reads a "]" first in a bracket expression as a member; Swift needs it escaped.
    @Test func leadingBracketIsAMember() throws {
        #expect(try HTTPRegex("[]a]+").matches("]a]"))
        #expect(try HTTPRegex("[^]]+").matches("abc") && !(try HTTPRegex("[^]]+").matches("a]")))
        #expect(try HTTPRegex("[[:digit:]]+").matches("2026") && !(try HTTPRegex("[[:digit:]]+").matches("x")))
    }

    @Test func regexErrorSaysWhy() {
        do {
            _ = try HTTPRegex("(?=x)")
        } catch {
            #expect(error.description == "invalid regular expression '(?=x)': a lookahead is not RE2 syntax (Cilium and Envoy use RE2)")
        }
    }

    // MARK: DNS

    /// language.rst "DNS Policy and IP Discovery" (examples/policies/l7/dns/dns.yaml):
    /// `matchName: "cilium.io"`, `matchPattern: "*.cilium.io"`, `matchPattern: "*.api.cilium.io"`.
    @Test func dnsRulesFromTheExample() throws {
        let set = L7RuleSet(dns: [
            DNSRule(selector: try FQDNSelector(matchName: "cilium.io")),
            DNSRule(selector: try FQDNSelector(matchPattern: "*.cilium.io")),
            DNSRule(selector: try FQDNSelector(matchPattern: "*.api.cilium.io")),
        ])
        for name in ["cilium.io.", "sub.cilium.io", "www.api.cilium.io", "CILIUM.IO"] { #expect(set.allowsDNS(queryName: name), "\(name)") }
        for name in ["a.b.cilium.io", "cilium.io.evil.com", "ilium.io", ""] { #expect(!set.allowsDNS(queryName: name), "\(name)") }
        // dns-visibility.yaml: matchPattern "*" allows every name (and the root).
        let all = L7RuleSet(dns: [DNSRule(selector: try FQDNSelector(matchPattern: "*"))])
        #expect(all.allowsDNS(queryName: "anything.example") && all.allowsDNS(queryName: "."))
        // `{}` allows every name; no DNS rules puts no condition.
        #expect(L7RuleSet(dns: [DNSRule(selector: nil)]).allowsDNS(queryName: "x.y"))
        #expect(L7RuleSet(http: []).allowsDNS(queryName: "x.y"))
        #expect(L7RuleSet(dns: []).allowsDNS(queryName: "x.y"))
    }

    /// `serverNames`: patterns with matchPattern's semantics; no SNI fails when names are required.
    @Test func serverNames() throws {
        let set = L7RuleSet(serverNames: try ["one.one.one.one", "**.one.one"].map { try FQDNSelector(matchPattern: $0) })
        #expect(set.allowsServerName("one.one.one.one"))
        #expect(set.allowsServerName("a.b.one.one"))
        #expect(!set.allowsServerName("one.one"))
        #expect(!set.allowsServerName(nil))
        #expect(L7RuleSet().allowsServerName(nil))
    }

    /// Merging is the union, without repeats; the table numbers distinct sets from 1.
    @Test func mergeAndTable() throws {
        var a = L7RuleSet(http: [try Self.http(method: "GET")])
        a.merge(L7RuleSet(http: [try Self.http(method: "GET"), try Self.http(method: "PUT")], unevaluated: ["kafka"]))
        #expect(a.http?.count == 2)
        #expect(a.lines == ["http method GET", "http method PUT", "kafka (read but not evaluated)"])
        var table = L7RuleTable()
        #expect(table.number(of: L7RuleSet()) == 0)
        #expect(table.number(of: a) == 1)
        #expect(table.number(of: L7RuleSet(dns: [DNSRule(selector: nil)])) == 2)
        #expect(table.number(of: a) == 1)
        #expect(table[1] == a)
        #expect(table[0] == nil && table[3] == nil)
    }
}
