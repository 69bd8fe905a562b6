import Datapath
import FlowCore
import L7

// FQDN selectors and L7 rules in the compiled maps.

extension PolicyCompiler {
    /// The policies and L7 rules one map entry collects from the rule items that produce it.
    struct MergedEntry {
        /// The contributing policies' numbers (`compile` numbers them in `PolicyReference`
        /// order), ascending and distinct: small, so an array beats hashing references.
        var policies: [Int] = []
        /// The union of the contributors' L7 rules.
        var l7: L7RuleSet?
        /// A contributor allows the key without L7 rules, so every request is allowed at L7
        /// (Cilium's L4 filter gets an allow-all rule for that selector).
        var l7Wildcard = false

        mutating func add(_ policy: Int, l7: L7RuleSet?) {
            Self.insert(policy, into: &self.policies)
            guard let l7 else {
                self.l7Wildcard = true
                return
            }
            if self.l7 == nil { self.l7 = l7 } else { self.l7!.merge(l7) }
        }

        static func insert(_ policy: Int, into policies: inout [Int]) {
            var index = policies.count
            while index > 0 && policies[index - 1] > policy { index -= 1 }
            if index == 0 || policies[index - 1] != policy { policies.insert(policy, at: index) }
        }
    }

    /// Cilium's `wildcardL3L4Rules` (pkg/policy/rules.go) on the merged entries of one
    /// endpoint: the L7 rules of an allow entry also admit at L7 whatever another allow entry
    /// of the same direction admits at L3/L4 for the same peer (or for every peer) on a
    /// protocol and port range covering it. So:
    /// - an entry whose peer is also allowed there without L7 rules allows every request;
    /// - an entry for one peer takes in the L7 rules of the any-peer entry covering it (the
    ///   proxy evaluates the rules of every selector that selects the peer);
    /// - an any-peer entry with L7 rules gets, for each peer allowed there without L7 rules
    ///   and with no entry of its own on that key, an allow-all entry (which a lookup for that
    ///   peer prefers: the exact identity wins a tie).
    static func wildcardL7(_ merged: inout [EntryKey: MergedEntry]) {
        // Only allow entries with L7 rules change (most endpoints have none).
        guard merged.contains(where: { !$0.key.isDeny && $0.value.l7 != nil && !$0.value.l7Wildcard }) else { return }
        let allows = merged.filter { !$0.key.isDeny }.sorted { $0.key < $1.key }
        var added: [EntryKey: MergedEntry] = [:]
        for (key, entry) in allows where entry.l7 != nil && !entry.l7Wildcard {
            var updated = entry
            for (other, otherEntry) in allows where other != key && other.direction == key.direction && other.covers(key) {
                if other.remote == key.remote {
                    if otherEntry.l7Wildcard || otherEntry.l7 == nil { updated.l7Wildcard = true }
                } else if other.remote == .unknown {
                    if otherEntry.l7Wildcard || otherEntry.l7 == nil {
                        updated.l7Wildcard = true
                    } else if let rules = otherEntry.l7 {
                        updated.l7!.merge(rules)
                    }
                } else if key.remote == .unknown && (otherEntry.l7Wildcard || otherEntry.l7 == nil) {
                    var own = key
                    own.remote = other.remote
                    if merged[own] == nil {
                        var allowAll = added[own] ?? MergedEntry(policies: entry.policies, l7: nil, l7Wildcard: true)
                        for policy in otherEntry.policies { MergedEntry.insert(policy, into: &allowAll.policies) }
                        added[own] = allowAll
                    }
                }
            }
            merged[key] = updated
        }
        merged.merge(added) { current, _ in current }
    }

    /// The distinct `toFQDNs` selectors of `documents`, in first-seen order: the order the
    /// compiler numbers them (`FQDNSelectorTable`) and the loader counts them in.
    package static func fqdnSelectors(in documents: [PolicyDocument]) -> [FQDNSelector] {
        var seen = Set<FQDNSelector>()
        var result: [FQDNSelector] = []
        for document in documents {
            guard case .cilium(let rules) = document.body else { continue }
            for rule in rules {
                for item in rule.egress ?? [] {
                    for selector in item.toFQDNs ?? [] where seen.insert(selector).inserted {
                        result.append(selector)
                    }
                }
            }
        }
        return result
    }
}

extension PolicyCompiler.EntryKey {
    /// Whether every (protocol, port) this key matches is matched by `self` too.
    func covers(_ other: PolicyCompiler.EntryKey) -> Bool {
        (self.ipProtocol == 0 || self.ipProtocol == other.ipProtocol)
            && (!self.hasPort || (other.hasPort && self.portLow <= other.portLow && other.portHigh <= self.portHigh))
    }
}
