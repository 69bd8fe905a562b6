/// One item of a port's `rules.dns` (Cilium `PortRuleDNS`): the DNS proxy answers a query
/// whose name the selector matches and refuses the others (Documentation/security/policy/
/// language.rst "DNS based"; the names learned from allowed answers feed `toFQDNs`).
/// `matchName` and `matchPattern` mean what they mean in `toFQDNs` (`FQDNSelector`).
public struct DNSRule: Sendable, Hashable, CustomStringConvertible {
    /// `nil` for the empty rule `{}`, which allows every name: Cilium writes its own L7
    /// wildcard as `PortRuleDNS{}` (pkg/policy `wildcardL3L4Rule`), and its DNS proxy reads a
    /// rule with neither field as match-all.
    public var selector: FQDNSelector?

    public init(selector: FQDNSelector?) { self.selector = selector }

    /// Whether a query for `queryName` (as on the wire or normalised: any case, trailing dot
    /// or not) is allowed by this rule.
    public func allows(queryName: String) -> Bool {
        self.selector?.matches(queryName) ?? true
    }

    public var description: String { self.selector.map { "dns \($0)" } ?? "dns (any name)" }
}
