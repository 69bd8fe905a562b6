/// The L7 rules that apply to one policy-map entry (one endpoint, direction, remote identity,
/// protocol and port range): the union of the `toPorts` items of every rule that produced the
/// entry, as Cilium merges the L7 rules of one L4 filter (pkg/policy l4.go, rules of the
/// same selector and port appended; `wildcardL3L4Rule` adds an allow-all rule when the peer is
/// also allowed at L3/L4 without L7 rules — flowmon then gives the entry no rule set at all).
///
/// Rules of one kind are ORed: a request is allowed when any rule allows it. A kind with no
/// rules (`nil`) puts no condition on its protocol.
public struct L7RuleSet: Sendable, Hashable, CustomStringConvertible {
    /// `rules.http`; `[]` (written `http: []`) allows every request, like `[{}]`.
    public var http: [HTTPRule]?
    /// `rules.dns`.
    public var dns: [DNSRule]?
    /// `toPorts.serverNames`: the TLS SNI values allowed (Cilium: "if not empty, then TLS must
    /// be present and one of the provided SNIs must be indicated in the TLS handshake"); each
    /// is a pattern with `matchPattern`'s semantics (pkg/envoy: the SNI match pattern has the
    /// same semantics as the DNS one, `**.` prefix included).
    public var serverNames: [FQDNSelector]?
    /// Rule kinds read but not evaluated (`kafka`, `l7proto` NAME), for `policy explain`.
    public var unevaluated: [String]

    public init(http: [HTTPRule]? = nil, dns: [DNSRule]? = nil, serverNames: [FQDNSelector]? = nil,
                unevaluated: [String] = []) {
        self.http = http
        self.dns = dns
        self.serverNames = serverNames
        self.unevaluated = unevaluated
    }

    public var isEmpty: Bool {
        self.http == nil && self.dns == nil && self.serverNames == nil && self.unevaluated.isEmpty
    }

    /// Whether an HTTP request on this entry is allowed: by any HTTP rule, or by the absence
    /// of HTTP rules.
    public func allows(request: HTTPRequestFacts) -> Bool {
        guard let http = self.http, !http.isEmpty else { return true }
        return http.contains { $0.allows(request: request) }
    }

    /// Whether a DNS query for `queryName` is allowed (the DNS proxy refuses the others). An
    /// empty list allows every name: Cilium's DNS proxy joins the rules' expressions with "|",
    /// and no expression is the empty one, which matches everything.
    public func allowsDNS(queryName: String) -> Bool {
        guard let dns = self.dns, !dns.isEmpty else { return true }
        return dns.contains { $0.allows(queryName: queryName) }
    }

    /// Whether a TLS connection whose ClientHello names `serverName` is allowed; `nil` (no
    /// SNI in the ClientHello) is refused when server names are required.
    public func allowsServerName(_ serverName: String?) -> Bool {
        guard let names = self.serverNames, !names.isEmpty else { return true }
        guard let serverName else { return false }
        return names.contains { $0.matches(serverName) }
    }

    /// Adds `other`'s rules: the union, each kind's list keeping first-seen order, without
    /// repeats.
    public mutating func merge(_ other: L7RuleSet) {
        func union<T: Hashable>(_ a: [T]?, _ b: [T]?) -> [T]? {
            guard let b else { return a }
            guard let a else { return b }
            return a + b.filter { !a.contains($0) }
        }
        self.http = union(self.http, other.http)
        self.dns = union(self.dns, other.dns)
        self.serverNames = union(self.serverNames, other.serverNames)
        self.unevaluated = union(self.unevaluated, other.unevaluated) ?? []
    }

    /// One line per rule, for `policy explain`.
    public var lines: [String] {
        var lines: [String] = []
        if let http = self.http { lines += http.isEmpty ? ["http (any request)"] : http.map(\.description) }
        if let dns = self.dns { lines += dns.map(\.description) }
        if let names = self.serverNames { lines += names.map { "TLS server name \($0.canonical)" } }
        lines += self.unevaluated.map { "\($0) (read but not evaluated)" }
        return lines
    }

    public var description: String { self.lines.joined(separator: "; ") }
}

/// Every distinct L7 rule set of a compiled policy, indexed by `PolicyMapEntry.l7RuleSet`:
/// index 0 is "no L7 rules" (every request allowed at L7), and has no set.
public struct L7RuleTable: Sendable {
    public private(set) var sets: [L7RuleSet] = []
    private var index: [L7RuleSet: UInt32] = [:]

    public init() {}

    /// The set of a map entry's `l7RuleSet` number; `nil` for 0 (or a number not in the table).
    public subscript(number: UInt32) -> L7RuleSet? {
        number == 0 || Int(number) > self.sets.count ? nil : self.sets[Int(number) - 1]
    }

    /// The number of `set` (1...), added when new; 0 for an empty set.
    public mutating func number(of set: L7RuleSet) -> UInt32 {
        if set.isEmpty { return 0 }
        if let number = self.index[set] { return number }
        // A policy decision holds the number in 16 bits (`PolicyDecision.l7RuleSet`); past that,
        // a set's requests are not judged (not met in practice: one set per distinct rule list).
        guard self.sets.count < Int(UInt16.max) else { return 0 }
        self.sets.append(set)
        let number = UInt32(self.sets.count)
        self.index[set] = number
        return number
    }

    public var count: Int { self.sets.count }
}

/// The distinct `toFQDNs` selectors of all policies, in first-seen order (file load order,
/// then document and rule order), at most `capacity`: selector `i` is the remote of the map
/// entries compiled for it (`Identity.fqdnSelector(i)` in Datapath), and bit `i` of the mask
/// `mask(matching:)` gives for a name.
public struct FQDNSelectorTable: Sendable, Equatable {
    /// 64: one bit each in the per-address mask the judge consults.
    public static let capacity = 64

    public private(set) var selectors: [FQDNSelector] = []
    /// Selectors beyond `capacity`, in first-seen order: they select no address.
    public private(set) var dropped: [FQDNSelector] = []

    public init() {}

    public init(_ selectors: some Sequence<FQDNSelector>) {
        for selector in selectors { self.insert(selector) }
    }

    /// Adds `selector` if it is new; its index, or nil when the table is full.
    @discardableResult
    public mutating func insert(_ selector: FQDNSelector) -> Int? {
        if let index = self.selectors.firstIndex(of: selector) { return index }
        guard self.selectors.count < Self.capacity else {
            if !self.dropped.contains(selector) { self.dropped.append(selector) }
            return nil
        }
        self.selectors.append(selector)
        return self.selectors.count - 1
    }

    public func index(of selector: FQDNSelector) -> Int? { self.selectors.firstIndex(of: selector) }

    /// Bit `i` set when selector `i` matches `name` (a name learned from DNS).
    public func mask(matching name: String) -> UInt64 {
        let normalized = FQDNSelector.normalizedBytes(name)
        var mask: UInt64 = 0
        for (index, selector) in self.selectors.enumerated() where selector.matches(normalized: normalized) {
            mask |= 1 << UInt64(index)
        }
        return mask
    }

    public var count: Int { self.selectors.count }
}
