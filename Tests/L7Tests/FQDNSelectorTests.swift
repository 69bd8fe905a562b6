import L7
import Testing

/// `FQDNSelector` against Cilium's own cases. The rows transcribe the accept/reject lists of
/// `TestAnchoredMatchPatternMatching` in cilium/cilium pkg/fqdn/matchpattern/matchpattern_test.go
/// (the version with the `**.` cases, Cilium 1.19), in Cilium's form: names fully qualified
/// with their trailing dot. Left out, each for a stated reason:
/// - reject rows whose name has no trailing dot (`cilium.io` for `*`, `sub.cilium.io` for
///   `**.cilium.io.`, `cilium.io` for `*.**.io.`): Cilium rejects them only because they are not
///   fully qualified; flowmon compares names without the dot (`matches` takes either form), so
///   `cilium.io` is `cilium.io.`;
/// - the pattern `.`: Cilium's CRD pattern rejects it as a matchPattern (a loader error here);
/// - rows for `**` in the middle of a pattern (`*.**.cilium.io.`, `1.**.*io.`,
///   `subdomain.**.*ili*.io.`, `1.**.cilium.io.`, `*.1.**.cilium.io.` accepting more than one
///   label there): that test file matches `**.` anywhere as several labels, but the current
///   matchpattern.go (`escapeRegexpCharacters`) and the documentation give the multi-label
///   meaning only to a `**.` prefix; elsewhere `**` is one `*`. The rows below hold the
///   current code's answers for those patterns instead, with the reason.
@Suite struct FQDNSelectorTests {
    struct Row: Sendable, CustomTestStringConvertible {
        var pattern: String
        var accept: [String]
        var reject: [String]
        var testDescription: String { self.pattern }
    }

    static let ciliumRows: [Row] = [
        Row(pattern: "cilium.io.", accept: ["cilium.io."],
            reject: ["", "anysub.cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."]),
        Row(pattern: "*.cilium.io.", accept: ["anysub.cilium.io."],
            reject: ["", "cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."]),
        Row(pattern: "*.ci*.io.", accept: ["anysub.cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io."],
            reject: ["", "ci.io", "cilium.io.", "service.namesace.svc.cluster.local."]),
        Row(pattern: "*",
            accept: [".", "io.", "cilium.io.", "svc.cluster.local.", "service.namesace.svc.cluster.local.", "_foobar._tcp.cilium.io."],
            reject: ["", ".io.", ".cilium.io.", ".svc.cluster.local."]),
        Row(pattern: "_foobar._tcp.cilium.io.", accept: ["_foobar._tcp.cilium.io."],
            reject: ["", "_tcp.cilium.io.", "cilium.io."]),
        Row(pattern: "*.*.cilium.io.", accept: ["_foobar._tcp.cilium.io."], reject: [""]),
        Row(pattern: "**.cilium.io.",
            accept: ["anysub.cilium.io.", "_foobar._tcp.cilium.io.", "sub11.sub22.sub33._foobar._tcp.cilium.io."],
            reject: ["", "cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io.", "1._foobar_tcp.cilium.trio."]),
        Row(pattern: "**.ci*.io.",
            accept: ["anysub.cilium.io.", "anysub.ci.io.", "1.anysub.ciliumandmore.io.", "service.namesace.svc.ciuster.io."],
            reject: ["", "cilium.io.", "service.namesace.svc..ciblaster.io."]),
        Row(pattern: "**.*.io.",
            accept: ["anysub.cilium.io.", "anysub.ci.io.", "anysub.ciliumandmore.io.", "service.namesace.svc.ciuster.io."],
            reject: ["", "io.", "..cilium.io.", "cilium.io.", "service..namesace.svc.cluster.io."]),
        Row(pattern: "**",
            accept: [".", "io.", "cilium.io.", "svc.cluster.local.", "service.namesace.svc.cluster.local.", "_foobar._tcp.cilium.io."],
            reject: ["", "..io.", "..cilium.io.", ".svc.cluster..local.", "cilium..io"]),
        Row(pattern: "**.",
            accept: ["io.", "cilium.io.", "svc.cluster.local.", "service.namesace.svc.cluster.local.", "_foobar._tcp.cilium.io."],
            reject: ["", ".cilium.io.", "..cilium.io.", ".svc.cluster..local."]),
    ]

    /// `**` away from the front is one `*` in the current code (matchpattern.go collapses a
    /// star run to `[-a-zA-Z0-9_]*`), so it stays inside one label.
    static let middleDoubleStarRows: [Row] = [
        Row(pattern: "*.**.cilium.io.", accept: ["_foobar._tcp.cilium.io."],
            reject: ["", "_tcp.cilium.io.", "_foobar.._tcp.cilium.io.", "2._foobar._tcp.cilium.io."]),
        Row(pattern: "*.**.io.", accept: ["anysub.cilium.io.", "anysub.ci.io."],
            reject: ["", "..cilium.io.", "io.", "service.namesace.svc.ciuster.io."]),
        Row(pattern: "1.**.cilium.io.", accept: ["1._foobar.cilium.io."],
            reject: ["", "1._foobar._tcp.cilium.io.", "_foobar._tcp.cilium.io."]),
    ]

    /// The documentation's examples (language.rst "DNS based"; pkg/policy/api/fqdn.go).
    static let documentationRows: [Row] = [
        Row(pattern: "*.cilium.io", accept: ["sub.cilium.io", "www.cilium.io", "blog.cilium.io"],
            reject: ["cilium.io", "sub.sub.cilium.io", "google.com"]),
        Row(pattern: "part*ial.com", accept: ["partial.com", "part-extra-ial.com"], reject: ["part.ial.com", "partia.com"]),
        Row(pattern: "sub*.cilium.io", accept: ["sub.cilium.io", "subdomain.cilium.io"],
            reject: ["www.cilium.io", "blog.cilium.io", "cilium.io", "google.com"]),
        Row(pattern: "**.cilium.io", accept: ["app.cilium.io", "test.app.cilium.io"], reject: ["cilium.io"]),
        // Case and the trailing dot do not matter, on either side.
        Row(pattern: "API.Example.COM.", accept: ["api.example.com", "API.EXAMPLE.COM.", "api.example.com."],
            reject: ["api.example.co", "xapi.example.com"]),
        // A label holding a character outside [-a-zA-Z0-9_] matches no wildcard.
        Row(pattern: "*", accept: ["a-b_c.d"], reject: ["a b.c", "a*b.c", "é.com", "a/b"]),
        Row(pattern: "*.example.com", accept: [], reject: ["a b.example.com", "a\u{0}.example.com"]),
    ]

    @Test(arguments: ciliumRows + middleDoubleStarRows + documentationRows)
    func matchPattern(_ row: Row) throws {
        let selector = try FQDNSelector(matchPattern: row.pattern)
        for name in row.accept { #expect(selector.matches(name), "\(row.pattern) should match '\(name)'") }
        for name in row.reject { #expect(!selector.matches(name), "\(row.pattern) should not match '\(name)'") }
    }

    /// matchName: literal, case-insensitive, trailing dot optional; never a wildcard.
    @Test(arguments: [
        ("cilium.io", ["cilium.io", "cilium.io.", "CILIUM.IO"], ["www.cilium.io", "cilium.io.com", "", "."]),
        ("my-remote-service.com.", ["my-remote-service.com"], ["my-remote-service.co"]),
        ("_http._tcp.cilium.io", ["_http._tcp.cilium.io."], ["http.tcp.cilium.io"]),
    ] as [(String, [String], [String])])
    func matchName(name: String, accept: [String], reject: [String]) throws {
        let selector = try FQDNSelector(matchName: name)
        for candidate in accept { #expect(selector.matches(candidate), "\(name) should match '\(candidate)'") }
        for candidate in reject { #expect(!selector.matches(candidate), "\(name) should not match '\(candidate)'") }
    }

    /// Cilium's `TestMatchPatternSanitize` and the star-only wildcards of `isDNSWildcard`:
    /// equivalent patterns have one canonical form (the selector table's key).
    @Test(arguments: [
        ("*", "*"), ("**", "*"), ("*.", "*"), ("**.", "*"), ("***", "*"),
        ("*.com", "*.com"), ("*.com.", "*.com"), ("**.cilium.io", "**.cilium.io"), ("***.cilium.io", "**.cilium.io"),
        ("a**b.io", "a*b.io"), ("*.**.io", "*.*.io"), ("Cilium.IO.", "cilium.io"),
    ])
    func canonicalForms(pattern: String, canonical: String) throws {
        #expect(try FQDNSelector(matchPattern: pattern).canonical == canonical)
    }

    /// What Cilium rejects: the CRD patterns `^([-a-zA-Z0-9_]+[.]?)+$` (matchName) and
    /// `^([-a-zA-Z0-9_*]+[.]?)+$` (matchPattern), and 255 characters at most. Cilium's
    /// `TestFQDNNameRegex` (pkg/k8s/apis/cilium.io/client) gives the good and bad samples.
    @Test(arguments: [
        (FQDNSelector.Kind.matchName, "cilium.io", nil),
        (.matchName, "cilium.io.", nil),
        (.matchName, "www.xn--e28h.com", nil),
        (.matchName, "_tcp.cilium.io", nil),
        (.matchName, "foo._tcp.cilium.io", nil),
        (.matchName, "%%", FQDNSelectorError.Problem.invalidCharacters),
        (.matchName, "", .empty),
        (.matchName, "😀.com", .invalidCharacters),
        (.matchName, "*.cilium.io", .invalidCharacters),
        (.matchName, ".cilium.io", .emptyLabel),
        (.matchName, "cilium..io", .emptyLabel),
        (.matchName, ".", .emptyLabel),
        (.matchName, String(repeating: "a", count: 256), .tooLong),
        (.matchPattern, "*.cilium.io", nil),
        (.matchPattern, "*.cilium.io.*", nil),
        (.matchPattern, "*.cilium.io.*.", nil),
        (.matchPattern, "*._tcp.*", nil),
        (.matchPattern, "_http._tcp.*", nil),
        (.matchPattern, "**.cilium.io", nil),
        (.matchPattern, "%$*.*", .invalidCharacters),
        (.matchPattern, "", .empty),
        (.matchPattern, "[a-z]*.io", .invalidCharacters),
        (.matchPattern, "*.cilium.io,", .invalidCharacters),
        (.matchPattern, ".", .emptyLabel),
        (.matchPattern, "*..io", .emptyLabel),
        (.matchPattern, String(repeating: "*", count: 256), .tooLong),
    ] as [(FQDNSelector.Kind, String, FQDNSelectorError.Problem?)])
    func validation(kind: FQDNSelector.Kind, text: String, problem: FQDNSelectorError.Problem?) {
        do {
            _ = kind == .matchName ? try FQDNSelector(matchName: text) : try FQDNSelector(matchPattern: text)
            #expect(problem == nil, "'\(text)' should be rejected")
        } catch {
            #expect(error.problem == problem, "\(error)")
            #expect(error.field == kind)
        }
    }

    @Test func errorMessagesNameTheFieldAndText() {
        #expect(throws: FQDNSelectorError.self) { try FQDNSelector(matchPattern: "a b") }
        do {
            _ = try FQDNSelector(matchPattern: "a b")
        } catch {
            #expect(error.description == "invalid characters in matchPattern 'a b': only 0-9, a-z, A-Z, '.', '-', '_' and '*' are allowed")
        }
        do {
            _ = try FQDNSelector(matchName: "a..b")
        } catch {
            #expect(error.description == "matchName 'a..b' has an empty label (a leading '.' or '..'); Cilium's CRD requires ^([-a-zA-Z0-9_]+[.]?)+$")
        }
    }

    /// Equal canonical forms are one selector; the table numbers them in first-seen order and
    /// keeps at most 64, the rest listed as dropped.
    @Test func selectorTable() throws {
        var table = FQDNSelectorTable()
        #expect(table.insert(try FQDNSelector(matchName: "a.example")) == 0)
        #expect(table.insert(try FQDNSelector(matchPattern: "*.example")) == 1)
        #expect(table.insert(try FQDNSelector(matchName: "A.Example.")) == 0)
        #expect(table.insert(try FQDNSelector(matchPattern: "**")) == 2)
        #expect(table.insert(try FQDNSelector(matchPattern: "*.")) == 2)
        #expect(table.mask(matching: "a.example") == 0b111)
        #expect(table.mask(matching: "b.example.") == 0b110)
        #expect(table.mask(matching: "x.b.example") == 0b100)
        #expect(table.mask(matching: "") == 0)
        for index in 3..<64 { #expect(table.insert(try FQDNSelector(matchName: "n\(index).example")) == index) }
        #expect(table.mask(matching: "n63.example") == (1 << 63) | UInt64(0b110))
        #expect(table.insert(try FQDNSelector(matchName: "n64.example")) == nil)
        #expect(table.count == 64)
        #expect(table.dropped.map(\.description) == ["matchName: n64.example"])
    }

    /// Every prefix and every one-byte change of some names: no trap, and the answer agrees
    /// with a plain reference (the name lowercased and split into labels).
    @Test func matchingNeverTrapsOnOddNames() throws {
        let selectors = try ["*", "**.a.b", "*.a*.b", "a.b"].map { try FQDNSelector(matchPattern: $0) }
        let names = ["x.a.b", "..", ".", "a.b..", "\u{0}", "x.\u{FFFD}.a.b", String(repeating: "x.", count: 200) + "a.b"]
        for name in names {
            for length in 0...name.utf8.count {
                let prefix = String(decoding: Array(name.utf8.prefix(length)), as: UTF8.self)
                for selector in selectors { _ = selector.matches(prefix) }
            }
        }
        #expect(try FQDNSelector(matchPattern: "**.a.b").matches(String(repeating: "x.", count: 200) + "a.b"))
    }
}
