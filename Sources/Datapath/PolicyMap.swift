/// Which way traffic crosses the endpoint whose policy is consulted.
public enum TrafficDirection: UInt8, Sendable {
    case ingress = 0
    case egress = 1

    /// Hubble's `TrafficDirection` name.
    public var name: StaticString { self == .ingress ? "INGRESS" : "EGRESS" }
}

/// How specific the map entry that decided a verdict was: Hubble's `policy_match_type`
/// numbers (cilium api/v1/flow: 1 L3-Only, 2 L3-L4, 3 L4-Only, 4 all, 5 L3-Proto, 6 Proto-Only).
public enum PolicyMatchType: UInt8, Sendable, CaseIterable {
    case none = 0
    case l3Only = 1
    case l3l4 = 2
    case l4Only = 3
    case all = 4
    case l3Proto = 5
    case protoOnly = 6

    public var name: StaticString {
        switch self {
        case .none: "none"
        case .l3Only: "L3-Only"
        case .l3l4: "L3-L4"
        case .l4Only: "L4-Only"
        case .all: "all"
        case .l3Proto: "L3-Proto"
        case .protoOnly: "Proto-Only"
        }
    }
}

/// One compiled policy-map entry, the datapath's view of a rule: remote identity (0 = any),
/// protocol (0 = any), destination port range (ICMP: the type), allow or deny, and which
/// policies produced it (an index into the agent's table of policy sets). The key mirrors
/// Cilium's `struct policy_key {sec_label, egress, protocol, dport}` with the port prefix
/// written as an inclusive range.
public struct PolicyMapEntry: Sendable, Equatable {
    public var remote: Identity
    public var ipProtocol: UInt8
    public var portLow: UInt16
    public var portHigh: UInt16
    /// False: every port (the `dport` wildcard).
    public var hasPort: Bool
    public var isDeny: Bool
    public var policySet: UInt32
    /// The L7 rules an allow entry carries (an index into the agent's L7 rule table); 0 =
    /// none, every request allowed at L7. An entry with rules is still an allow at L3/L4:
    /// Cilium redirects its traffic to the proxy, which judges each request.
    public var l7RuleSet: UInt32

    public init(remote: Identity, ipProtocol: UInt8, portLow: UInt16 = 0, portHigh: UInt16 = 0, hasPort: Bool,
                isDeny: Bool, policySet: UInt32, l7RuleSet: UInt32 = 0) {
        self.remote = remote
        self.ipProtocol = ipProtocol
        self.portLow = portLow
        self.portHigh = portHigh
        self.hasPort = hasPort
        self.isDeny = isDeny
        self.policySet = policySet
        self.l7RuleSet = l7RuleSet
    }

    /// The length of the datapath key prefix that matches `port` (bpf/lib/policy.h: 8 bits of
    /// protocol, then up to 16 bits of `dport`): 0 for an any-protocol entry, 8 for a
    /// protocol-only entry, 8 + n for a port entry, where a range is stored as the minimal
    /// set of aligned prefixes and n is the length of the one that holds `port` (16 for an
    /// exact port or ICMP type).
    func prefixLength(port: UInt16) -> Int {
        if self.ipProtocol == 0 { return 0 }
        if !self.hasPort { return 8 }
        var bits = 16
        while bits > 0 {
            let size = UInt32(1) << UInt32(17 - bits)  // the next larger block
            let start = UInt32(port) & ~(size - 1)
            guard start >= UInt32(self.portLow) && start + size - 1 <= UInt32(self.portHigh) else { break }
            bits -= 1
        }
        return 8 + bits
    }

    @inlinable
    func matches(ipProtocol: UInt8, port: UInt16) -> Bool {
        (self.ipProtocol == 0 || self.ipProtocol == ipProtocol)
            && (!self.hasPort || (port >= self.portLow && port <= self.portHigh))
    }

    public var matchType: PolicyMatchType {
        let anyRemote = self.remote == .unknown
        if self.ipProtocol == 0 { return anyRemote ? .all : .l3Only }
        if !self.hasPort { return anyRemote ? .protoOnly : .l3Proto }
        return anyRemote ? .l4Only : .l3l4
    }
}

/// The outcome of one policy lookup.
public struct PolicyDecision: Sendable, Equatable {
    public enum Outcome: UInt8, Sendable {
        /// No policy selects the endpoint in this direction: nothing is enforced.
        case notEnforced = 0
        /// An allow entry matched.
        case allowed
        /// Enforced and nothing allowed it: Cilium's DROP_POLICY (`POLICY_DENIED`, 133).
        case denied
        /// A deny entry matched: Cilium's DROP_POLICY_DENY (`POLICY_DENY`, 181).
        case deniedExplicitly
        /// Traffic from the endpoint's own node (Cilium's allow-localhost default, and the
        /// NetworkPolicy rule that the node may always reach its pods): an L3-only allow
        /// entry for the `host` identity that Cilium adds to every endpoint's policy map
        /// (`localHostKey` in pkg/policy/mapstate.go, `--allow-localhost=auto`), labelled
        /// `hostRuleLabel`; its match type is L3-Only.
        case allowedFromHost
    }

    public var outcome: Outcome
    public var matchType: PolicyMatchType
    /// The L7 rules of the allow entry that decided (agent's `L7RuleTable`; 0 = none): Cilium
    /// redirects such a connection to its proxy, which judges each request by them. (16 bits,
    /// declared before `policySet`: in the two bytes of padding, so the decision stays 8 bytes,
    /// two of them in every flow entry; the rule table holds at most 65,535 sets.)
    public var l7RuleSet: UInt16
    /// Index of the policies responsible (agent table); 0 = none.
    public var policySet: UInt32

    public init(outcome: Outcome, matchType: PolicyMatchType = .none, policySet: UInt32 = 0, l7RuleSet: UInt16 = 0) {
        self.outcome = outcome
        self.matchType = matchType
        self.policySet = policySet
        self.l7RuleSet = l7RuleSet
    }

    /// The label of Cilium's built-in allow from the local host, the only label of the rule
    /// Hubble lists in `ingress_allowed_by` (pkg/policy/mapstate.go: `LabelKeyPolicyDerivedFrom`
    /// = `io.cilium.policy.derived-from`, `LabelAllowLocalHostIngress`, source reserved).
    public static let hostRuleLabel: StaticString = "reserved:io.cilium.policy.derived-from=allow-localhost-ingress"
    /// The rule's name in flowmon's own records: the label's value.
    public static let hostRuleName: StaticString = "allow-localhost-ingress"

    public var isAllowed: Bool { self.outcome == .allowed || self.outcome == .notEnforced || self.outcome == .allowedFromHost }
}

/// The compiled policy of one endpoint identity in both directions: entries grouped by
/// remote identity so a lookup reads two short lists (exact identity, then wildcard).
public struct EndpointPolicy: Sendable {
    public var ingressEnforced: Bool
    public var egressEnforced: Bool
    var ingress: [UInt32: [PolicyMapEntry]]
    var egress: [UInt32: [PolicyMapEntry]]

    public init(ingressEnforced: Bool, egressEnforced: Bool, entries: [(TrafficDirection, PolicyMapEntry)]) {
        self.ingressEnforced = ingressEnforced
        self.egressEnforced = egressEnforced
        var ingress: [UInt32: [PolicyMapEntry]] = [:]
        var egress: [UInt32: [PolicyMapEntry]] = [:]
        for (direction, entry) in entries {
            if direction == .ingress {
                ingress[entry.remote.rawValue, default: []].append(entry)
            } else {
                egress[entry.remote.rawValue, default: []].append(entry)
            }
        }
        self.ingress = ingress
        self.egress = egress
    }

    /// Every entry, for tools (`policy explain`), in a stable order.
    public func entries(_ direction: TrafficDirection) -> [PolicyMapEntry] {
        let table = direction == .ingress ? self.ingress : self.egress
        return table.keys.sorted().flatMap { table[$0] ?? [] }
    }

    /// Decides traffic to (ingress) or from (egress) this endpoint, in the order of Cilium's
    /// `__policy_can_access` (bpf/lib/policy.h): a deny entry for the remote identity or for
    /// any identity that covers the protocol and port wins over every allow (deny beats allow
    /// across all policy kinds); otherwise the most specific allow entry decides (longer
    /// protocol/port prefix first, the exact identity on a tie); otherwise, if the direction
    /// is enforced, the default deny (`POLICY_DENIED`). No allocation. With the decision, the
    /// map entry that decided (for `policy explain`). `selectors`: the `toFQDNs` selectors whose
    /// names resolved to the remote address (bit i: `Identity.fqdnSelector(i)`); their entries
    /// are read as the remote identity's own, as Cilium's would be under the address's
    /// FQDN-labelled identity.
    public func lookup(_ direction: TrafficDirection, remote: Identity, ipProtocol: UInt8, port: UInt16,
                       selectors: UInt64 = 0) -> (decision: PolicyDecision, entry: PolicyMapEntry?)
    {
        let enforced = direction == .ingress ? self.ingressEnforced : self.egressEnforced
        if direction == .ingress && remote == .host {
            return (enforced ? PolicyDecision(outcome: .allowedFromHost, matchType: .l3Only)
                : PolicyDecision(outcome: .notEnforced), nil)
        }
        let table = direction == .ingress ? self.ingress : self.egress
        var bestAllow: PolicyMapEntry?
        var bestDeny: PolicyMapEntry?
        // The exact identity's list is read first, so it keeps a tie (see `consider`).
        Self.consider(table[remote.rawValue], ipProtocol: ipProtocol, port: port, allow: &bestAllow, deny: &bestDeny)
        var remaining = selectors
        while remaining != 0 {
            let index = remaining.trailingZeroBitCount
            remaining &= remaining &- 1
            Self.consider(table[Identity.fqdnSelector(index).rawValue], ipProtocol: ipProtocol, port: port,
                          allow: &bestAllow, deny: &bestDeny)
        }
        if remote != .unknown {
            Self.consider(table[Identity.unknown.rawValue], ipProtocol: ipProtocol, port: port, allow: &bestAllow,
                          deny: &bestDeny)
        }
        if let deny = bestDeny {
            return (PolicyDecision(outcome: .deniedExplicitly, matchType: deny.matchType, policySet: deny.policySet), deny)
        }
        // Deny entries apply whether or not the direction is in default deny: a policy with
        // `enableDefaultDeny: false` and deny rules denies without isolating the endpoint
        // (cilium pkg/policy/api/rule.go EnableDefaultDeny; Documentation/security/policy/deny.rst).
        guard enforced else { return (PolicyDecision(outcome: .notEnforced), nil) }
        if let allow = bestAllow {
            return (PolicyDecision(outcome: .allowed, matchType: allow.matchType, policySet: allow.policySet,
                                   l7RuleSet: UInt16(truncatingIfNeeded: allow.l7RuleSet)), allow)
        }
        return (PolicyDecision(outcome: .denied), nil)
    }

    /// Keeps the most specific matching allow and deny entries of `list`. Precedence is the
    /// length of the matching key prefix (protocol, then port prefix: a port inside a range
    /// matches a shorter prefix than an exact port), not the entry kind: an L4-only entry on
    /// the exact port beats an L3-L4 entry whose range holds the port (bpf/lib/policy.h: the
    /// longer prefix wins; the L3 entry only on a tie, which strict `>` keeps for the list
    /// read first). A static function with `inout` results, not a closure: captured
    /// variables are boxed on the heap in unoptimized builds.
    static func consider(_ list: [PolicyMapEntry]?, ipProtocol: UInt8, port: UInt16, allow: inout PolicyMapEntry?,
                         deny: inout PolicyMapEntry?) {
        guard let list else { return }
        var index = 0
        while index < list.count {
            let entry = list[index]
            index += 1
            guard entry.matches(ipProtocol: ipProtocol, port: port) else { continue }
            if entry.isDeny {
                if deny == nil || entry.prefixLength(port: port) > deny!.prefixLength(port: port) { deny = entry }
            } else if allow == nil || entry.prefixLength(port: port) > allow!.prefixLength(port: port) {
                allow = entry
            }
        }
    }
}

/// Every local endpoint identity's compiled policy; what the datapath consults for a new flow.
public struct PolicyTable: Sendable {
    var endpoints: [UInt32: EndpointPolicy]

    public init(endpoints: [Identity: EndpointPolicy] = [:]) {
        var table: [UInt32: EndpointPolicy] = [:]
        for (identity, policy) in endpoints { table[identity.rawValue] = policy }
        self.endpoints = table
    }

    /// The policy of an endpoint identity; an identity no policy selects enforces nothing.
    public func policy(for identity: Identity) -> EndpointPolicy? { self.endpoints[identity.rawValue] }

    public var isEmpty: Bool { self.endpoints.isEmpty }

    /// Every endpoint's policy, for the agent's own summaries (`rules.dns` ports).
    public var policies: some Sequence<EndpointPolicy> { self.endpoints.values }
}
