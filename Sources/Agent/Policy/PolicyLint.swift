import Datapath
import FlowCore

/// The warnings of `flowmon policy check` about policies that load but probably do not do
/// what was meant, judged on the rules as the compiler normalizes them (so with Cilium's and
/// Kubernetes' semantics: namespace scoping, policyTypes defaulting, `- {}` selecting nothing):
/// - `policy.default-deny.no-allow`: a rule puts endpoints in default deny for a direction
///   and no rule (of any policy) allows anything in that direction to them — with an
///   inventory, for some selected pod; without one, for a rule whose endpoints could overlap;
/// - `policy.rule.shadowed`: an allow rule every peer and port of which a deny rule for the
///   same (or a wider set of) endpoints denies — Cilium's deny entries win over allow
///   entries, so the allow never takes effect;
/// - with an inventory (`--pods`): `policy.selector.empty` (an endpoint selector or a peer
///   selector selecting no pod), `policy.port.name.unknown` (a named port that none of the
///   pods it is resolved against declares: the selected pods for ingress, the peer pods for
///   egress, as Cilium resolves named ports at the destination);
/// - with namespaces (`--namespaces` or `--pods`): `policy.namespace.unknown`.
package enum PolicyLint {
    /// What is known of the cluster; nil parts were not given.
    package struct Cluster {
        /// `--pods` was given: selectors can be checked against the pods.
        package var hasPods: Bool
        /// The namespaces known (from `--namespaces` and the pods), nil when neither was given.
        package var namespaces: Set<String>?

        package init(hasPods: Bool, namespaces: Set<String>?) {
            self.hasPods = hasPods
            self.namespaces = namespaces
        }
    }

    package static func warnings(_ set: PolicySet, compiled: CompiledPolicies, cluster: Cluster) -> [PolicyFinding] {
        var compiler = PolicyCompiler(inventory: compiled.inventory)
        compiler.fqdnSelectors = compiled.fqdnSelectors
        var rules: [(rule: PolicyCompiler.NormalizedRule, source: PolicySource)] = []
        var enforcements: [(enforcement: PolicyCompiler.Enforcement, source: PolicySource)] = []
        for document in set.documents {
            var documentRules: [PolicyCompiler.NormalizedRule] = []
            var documentEnforcements: [PolicyCompiler.Enforcement] = []
            compiler.normalize(document, into: &documentRules, enforcements: &documentEnforcements)
            rules += documentRules.map { ($0, document.source) }
            enforcements += documentEnforcements.map { ($0, document.source) }
        }
        let documents = Dictionary(set.documents.map { ($0.source, $0) }, uniquingKeysWith: { first, _ in first })
        let lint = Lint(set: set, compiler: compiler, cluster: cluster, rules: rules, enforcements: enforcements,
                        documents: documents)
        var findings: [PolicyFinding] = []
        for document in set.documents {
            findings += lint.namespace(of: document)
        }
        findings += lint.defaultDenyWithoutAllow()
        findings += lint.shadowed()
        if cluster.hasPods {
            findings += lint.emptySelectors()
            findings += lint.unknownNamedPorts()
        }
        return findings
    }

    struct Lint {
        let set: PolicySet
        let compiler: PolicyCompiler
        let cluster: Cluster
        let rules: [(rule: PolicyCompiler.NormalizedRule, source: PolicySource)]
        let enforcements: [(enforcement: PolicyCompiler.Enforcement, source: PolicySource)]
        let documents: [PolicySource: PolicyDocument]
        /// The pods each subject selects, computed once per distinct selector.
        let selections = Selections()

        final class Selections {
            var pods: [SelectorMatcher: [Identity]] = [:]
        }

        func warning(_ code: String, _ source: PolicySource, _ field: String, _ message: String) -> PolicyFinding {
            PolicyFinding(warning: code, source, field: field, positions: self.set.positions[source] ?? PolicyPositions(),
                          message: message)
        }

        /// The pod identities (every pod is local: `policy check` names no node).
        var podIdentities: [Identity] { self.compiler.allIdentities.filter(self.compiler.inventory.localIdentities.contains) }

        func pods(_ matcher: SelectorMatcher) -> [Identity] {
            if let known = self.selections.pods[matcher] { return known }
            let pods = self.podIdentities.filter { identity in self.compiler.labels[identity].map(matcher.matches) ?? false }
            self.selections.pods[matcher] = pods
            return pods
        }

        static func place(_ source: PolicySource, _ path: String) -> String {
            "\(source.file) (document \(source.documentIndex)) \(path)"
        }

        // MARK: Namespaces

        /// The policy's own namespace, and namespaces named by `io.kubernetes.pod.namespace`
        /// (or `kubernetes.io/metadata.name`) requirements of its selectors, that the inventory lacks.
        func namespace(of document: PolicyDocument) -> [PolicyFinding] {
            guard let known = self.cluster.namespaces else { return [] }
            var findings: [PolicyFinding] = []
            if let namespace = document.namespace, !known.contains(namespace) {
                findings.append(self.warning("policy.namespace.unknown", document.source, "metadata.namespace",
                                             "namespace '\(namespace)' does not exist in the inventory: the policy selects nothing there"))
            }
            var reported: Set<String> = document.namespace.map { [$0] } ?? []
            for (rule, source) in self.rules where source == document.source {
                var matchers = rule.peers?.compactMap { peer -> SelectorMatcher? in
                    if case .selector(let matcher) = peer { return matcher }
                    return nil
                } ?? []
                matchers.append(rule.subject)
                for matcher in matchers {
                    for requirement in matcher.requirements
                    where requirement.operator == .in && (requirement.key == "io.kubernetes.pod.namespace"
                        || requirement.key == "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name") {
                        for name in requirement.values where !known.contains(name) && !reported.contains(name) {
                            reported.insert(name)
                            findings.append(self.warning("policy.namespace.unknown", source, rule.path,
                                                         "namespace '\(name)' does not exist in the inventory: this selector selects no pod there"))
                        }
                    }
                }
            }
            return findings
        }

        // MARK: Default deny without allow

        func defaultDenyWithoutAllow() -> [PolicyFinding] {
            var findings: [PolicyFinding] = []
            // The allow rules' subjects per direction (distinct: generated policy sets repeat them).
            var allowSubjects: [TrafficDirection: [SelectorMatcher]] = [:]
            for (rule, _) in self.rules where !rule.isDeny && !(allowSubjects[rule.direction] ?? []).contains(rule.subject) {
                allowSubjects[rule.direction, default: []].append(rule.subject)
            }
            for (enforcement, source) in self.enforcements {
                guard let document = self.documents[source] else { continue }
                for direction in [TrafficDirection.ingress, .egress] {
                    guard direction == .ingress ? enforcement.ingress : enforcement.egress else { continue }
                    let allows = allowSubjects[direction] ?? []
                    let name = direction == .ingress ? "ingress" : "egress"
                    let field: String
                    if document.kind == .networkPolicy {
                        field = self.set.positions[source]?.byPath["spec.policyTypes"] != nil ? "spec.policyTypes" : "spec.podSelector"
                    } else {
                        let section = enforcement.path + "." + name
                        field = self.set.positions[source]?.byPath[section] != nil ? section : section + "Deny"
                    }
                    if self.cluster.hasPods {
                        let selected = self.pods(enforcement.subject)
                        let bare = selected.filter { pod in
                            let labels = self.compiler.labels[pod]!
                            return !allows.contains { $0.matches(labels) }
                        }
                        guard !bare.isEmpty else { continue }
                        findings.append(self.warning("policy.default-deny.no-allow", source, field,
                                                     "puts \(bare.count) of the \(selected.count) pod identit\(selected.count == 1 ? "y" : "ies") it selects in default deny for \(name), and no rule of any policy allows them any \(name): all their \(name) traffic is dropped"))
                    } else if !allows.contains(where: { Self.overlap($0, enforcement.subject) }) {
                        findings.append(self.warning("policy.default-deny.no-allow", source, field,
                                                     "puts the endpoints it selects in default deny for \(name), and no rule of any policy allows any \(name) to endpoints it selects: all their \(name) traffic is dropped"))
                    }
                }
            }
            return findings
        }

        /// Whether two subjects may select a common endpoint, without an inventory: no
        /// requirement of one contradicts one of the other on the same key (an `In` with
        /// disjoint values, or `Exists` against `DoesNotExist`).
        static func overlap(_ a: SelectorMatcher, _ b: SelectorMatcher) -> Bool {
            for x in a.requirements {
                for y in b.requirements where x.key == y.key && (x.source == y.source || x.source == "any" || y.source == "any") {
                    switch (x.operator, y.operator) {
                    case (.in, .in): if Set(x.values).isDisjoint(with: y.values) { return false }
                    case (.in, .doesNotExist), (.doesNotExist, .in), (.exists, .doesNotExist), (.doesNotExist, .exists):
                        return false
                    case (.in, .notIn): if Set(x.values).isSubset(of: y.values) { return false }
                    case (.notIn, .in): if Set(y.values).isSubset(of: x.values) { return false }
                    default: break
                    }
                }
            }
            return true
        }

        // MARK: Shadowed allow rules

        func shadowed() -> [PolicyFinding] {
            let denies = self.rules.filter(\.rule.isDeny)
            guard !denies.isEmpty else { return [] }
            var findings: [PolicyFinding] = []
            for (allow, source) in self.rules where !allow.isDeny {
                guard let (deny, denySource) = denies.first(where: { deny, _ in
                    deny.direction == allow.direction && self.covers(deny.subject, allow.subject)
                        && Self.covers(deny.peers, allow.peers) && Self.covers(deny.ports, allow.ports)
                }) else { continue }
                let name = allow.direction == .ingress ? "ingress" : "egress"
                let place = denySource == source ? deny.path : Self.place(denySource, deny.path)
                findings.append(self.warning("policy.rule.shadowed", source, allow.path,
                                             "this \(name) allow rule never takes effect: the deny rule at \(place) (\(deny.policy.kind.rawValue) \(deny.policy.namespace.map { $0 + "/" } ?? "")\(deny.policy.name)) denies every peer and port it allows to the same endpoints, and deny wins"))
            }
            return findings
        }

        /// Whether the deny subject selects every endpoint the allow subject does: its
        /// requirements are a subset of the allow's (so it is as wide or wider); with an
        /// inventory, also when it selects every pod the allow selects (and that is some).
        func covers(_ deny: SelectorMatcher, _ allow: SelectorMatcher) -> Bool {
            if Set(deny.requirements).isSubset(of: allow.requirements) { return true }
            guard self.cluster.hasPods else { return false }
            let allowed = self.pods(allow)
            return !allowed.isEmpty && Set(allowed).isSubset(of: self.pods(deny))
        }

        static func covers(_ deny: [PolicyCompiler.Peer]?, _ allow: [PolicyCompiler.Peer]?) -> Bool {
            guard let deny else { return true }
            let denyAll = deny.contains { if case .identities(let ids) = $0 { return ids.contains(.unknown) } else { return false } }
            if denyAll { return true }
            guard let allow else { return false }
            return allow.allSatisfy { peer in deny.contains { Self.covers($0, peer) } }
        }

        static func covers(_ deny: PolicyCompiler.Peer, _ allow: PolicyCompiler.Peer) -> Bool {
            switch (deny, allow) {
            case (.selector(let d), .selector(let a)):
                return Set(d.requirements).isSubset(of: a.requirements)
            case (.identities(let d), .identities(let a)):
                return !a.isEmpty && Set(a).isSubset(of: d)
            case (.cidrs(let d), .cidrs(let a)):
                return a.allSatisfy { allowed in
                    d.contains { denied in
                        denied.cidr.prefix.contains(allowed.cidr.prefix)
                            && !denied.except.contains { $0.prefix.contains(allowed.cidr.prefix) || allowed.cidr.prefix.contains($0.prefix) }
                    }
                }
            default:
                return false
            }
        }

        static func covers(_ deny: [PolicyCompiler.PortSpec], _ allow: [PolicyCompiler.PortSpec]) -> Bool {
            if deny.isEmpty { return true }
            if allow.isEmpty { return false }
            return allow.allSatisfy { a in deny.contains { d in Self.covers(d, a) } }
        }

        static func covers(_ d: PolicyCompiler.PortSpec, _ a: PolicyCompiler.PortSpec) -> Bool {
            guard d.ipProtocol == 0 || d.ipProtocol == a.ipProtocol else { return false }
            switch (d.port, a.port) {
            case (nil, _), (.number(0)?, _): return true
            case (_, nil), (_, .number(0)?): return false
            case (.name(let x)?, .name(let y)?): return x == y
            case (.number(let low)?, .number(let port)?):
                let high = max(low, d.endPort ?? low)
                return low <= port && max(port, a.endPort ?? port) <= high
            default: return false
            }
        }

        // MARK: Selectors that select no pod

        func emptySelectors() -> [PolicyFinding] {
            var findings: [PolicyFinding] = []
            // A subject on reserved labels (`reserved:ingress`...) selects no pod by design.
            for (enforcement, source) in self.enforcements
            where !enforcement.subject.selectsReserved && self.pods(enforcement.subject).isEmpty {
                let document = self.documents[source]
                let field = document?.kind == .networkPolicy ? "spec.podSelector" : enforcement.path + ".endpointSelector"
                findings.append(self.warning("policy.selector.empty", source, field,
                                             "selects no pod of the inventory: the policy applies to nothing"))
            }
            for (rule, source) in self.rules {
                for peer in rule.peers ?? [] {
                    guard case .selector(let matcher) = peer, !matcher.selectsReserved, self.pods(matcher).isEmpty else { continue }
                    findings.append(self.warning("policy.selector.empty", source, rule.path,
                                                 "a peer selector (\(Self.describe(matcher))) selects no pod of the inventory"))
                }
            }
            return findings
        }

        static func describe(_ matcher: SelectorMatcher) -> String {
            matcher.requirements.map { requirement in
                let key = requirement.source == "any" ? requirement.key : "\(requirement.source):\(requirement.key)"
                switch requirement.operator {
                case .in where requirement.values.count == 1: return "\(key)=\(requirement.values[0])"
                case .exists: return key
                case .doesNotExist: return "!\(key)"
                default: return "\(key) \(requirement.operator.rawValue) (\(requirement.values.joined(separator: ",")))"
                }
            }.joined(separator: ", ")
        }

        // MARK: Named ports

        func unknownNamedPorts() -> [PolicyFinding] {
            var findings: [PolicyFinding] = []
            let named = self.compiler.inventory.namedPorts
            for (rule, source) in self.rules {
                let names = Set(rule.ports.compactMap { spec -> String? in
                    if case .name(let name)? = spec.port { return name }
                    return nil
                })
                guard !names.isEmpty else { continue }
                // Named ports resolve at the destination: the selected pods for ingress, the peers for egress.
                let owners: [Identity]
                if rule.direction == .ingress {
                    owners = self.pods(rule.subject)
                } else if let peers = rule.peers {
                    owners = Array(Set(peers.flatMap { self.compiler.resolve($0) })).filter { named[$0] != nil || self.compiler.inventory.localIdentities.contains($0) }
                } else {
                    owners = self.podIdentities
                }
                for name in names.sorted() where !owners.contains(where: { (named[$0] ?? []).contains { $0.name == name } }) {
                    let whose = rule.direction == .ingress ? "the pods the policy selects" : "the peer pods"
                    findings.append(self.warning("policy.port.name.unknown", source, rule.path,
                                                 "named port '\(name)' is declared by none of \(whose) (\(owners.count) pod identit\(owners.count == 1 ? "y" : "ies")): it allows nothing"))
                }
            }
            return findings
        }
    }
}
