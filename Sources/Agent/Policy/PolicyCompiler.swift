import Datapath
import FlowCore
import L7

/// What the compiler needs to know about identities; built by the pipeline from the
/// endpoint table (agent side, strings allowed).
package struct CompilerInventory: Sendable {
    /// Every identity's security labels (pods, reserved, CIDR identities).
    package var identityLabels: [Identity: [SecurityLabel]]
    /// Identities of the endpoints whose policy is compiled (pods on this node).
    package var localIdentities: Set<Identity>
    /// Named container ports per pod identity (union over the pods that share it).
    package var namedPorts: [Identity: [NamedPort]]
    /// The prefix of each CIDR identity (length in its own family).
    package var cidrIdentities: [Identity: IPPrefix]
    /// Labels of the local node and of the other nodes, for `fromNodes`/`toNodes`.
    package var localNodeLabels: [String: String]?
    package var remoteNodeLabels: [[String: String]]

    package init(identityLabels: [Identity: [SecurityLabel]], localIdentities: Set<Identity>,
                namedPorts: [Identity: [NamedPort]] = [:], cidrIdentities: [Identity: IPPrefix] = [:],
                localNodeLabels: [String: String]? = nil, remoteNodeLabels: [[String: String]] = []) {
        self.identityLabels = identityLabels
        self.localIdentities = localIdentities
        self.namedPorts = namedPorts
        self.cidrIdentities = cidrIdentities
        self.localNodeLabels = localNodeLabels
        self.remoteNodeLabels = remoteNodeLabels
    }
}

/// A policy named in verdicts (`ingress_allowed_by` etc.): Hubble's `Policy{name, namespace, kind}`.
package struct PolicyReference: Sendable, Hashable, Comparable {
    package var kind: PolicyKind
    package var namespace: String?
    package var name: String

    package init(kind: PolicyKind, namespace: String?, name: String) {
        self.kind = kind
        self.namespace = namespace
        self.name = name
    }

    package static func < (a: PolicyReference, b: PolicyReference) -> Bool {
        (a.kind.rawValue, a.namespace ?? "", a.name) < (b.kind.rawValue, b.namespace ?? "", b.name)
    }
}

/// The compiled result: the datapath's policy table and the names behind its policy sets.
package struct CompiledPolicies: Sendable {
    package var table: PolicyTable
    /// Index 0 is the empty set; `PolicyMapEntry.policySet` indexes this.
    package var policySets: [[PolicyReference]]
    /// What the policies were compiled against (`PolicyLint` evaluates selectors with it).
    package var inventory: CompilerInventory
    /// The local endpoint identities each policy selects, for `policy check`.
    package var selectedIdentities: [PolicyReference: Set<Identity>]
    /// The `toFQDNs` selectors, index i standing for the remote `Identity.fqdnSelector(i)`.
    package var fqdnSelectors = FQDNSelectorTable()
    /// Per local endpoint identity, the policies that put it in default deny, per direction
    /// (sorted): what `policy explain` names when a verdict comes from default deny.
    package var defaultDeny: [Identity: DefaultDeny] = [:]

    package struct DefaultDeny: Sendable, Equatable {
        package var ingress: [PolicyReference] = []
        package var egress: [PolicyReference] = []

        package func policies(_ direction: TrafficDirection) -> [PolicyReference] {
            direction == .egress ? self.egress : self.ingress
        }
    }
    /// `PolicyMapEntry.l7RuleSet` indexes this.
    package var l7Rules = L7RuleTable()
}

/// Compiles CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and Kubernetes NetworkPolicy
/// into per-endpoint policy maps keyed like Cilium's datapath (remote identity, protocol,
/// port, direction), once, when policies or the inventory are loaded — never per packet.
///
/// Semantics follow Cilium (pkg/policy, pkg/k8s/apis/cilium.io/utils) and the Kubernetes
/// NetworkPolicy API, as summarised in reference-semantics.md §1c and §2:
/// - a CNP's selectors are scoped to its namespace; a CCNP's are not, and its `[{}]` peer
///   means every pod; reserved-label selectors are never scoped;
/// - peers AND ports within one rule item; items and policies OR;
/// - an absent peer with `toPorts`/`icmps` is an L3 wildcard; `fromEndpoints: []` selects
///   nothing; a rule item with nothing at all selects nothing (the "deny all" idiom);
/// - default deny applies per direction once a rule selecting the endpoint has rules (or
///   deny rules) in that direction, unless `enableDefaultDeny` says false; a NetworkPolicy
///   isolates the directions of its (defaulted) `policyTypes`;
/// - CIDR peers select CIDR identities (addresses outside the cluster), `except` removed;
/// - `toFQDNs` peers select one pseudo-identity per distinct selector (`Identity.fqdnSelector`,
///   numbered in `CompiledPolicies.fqdnSelectors`), which the judge consults for addresses
///   whose learned names match;
/// - an allow entry carries the L7 rules of its `toPorts` items (`l7RuleSet`, numbered in
///   `CompiledPolicies.l7Rules`), merged across rules and wildcarded as Cilium does
///   (`wildcardL7`);
/// - deny entries beat allow entries (decided at lookup by `EndpointPolicy.lookup`).
package struct PolicyCompiler {
    let inventory: CompilerInventory
    let labels: [Identity: IdentityLabels]
    let allIdentities: [Identity]
    /// The labels of `allIdentities`, in the same order (selectors scan them all).
    let allIdentityLabels: [IdentityLabels]
    /// Label key → value → positions in `allIdentities` of the identities with that label
    /// (ascending): a selector with an `In` requirement only looks at those.
    let labelIndex: [String: [String: [Int]]]
    /// The CIDR identities in identity order.
    let cidrIdentities: [(key: Identity, value: IPPrefix)]
    /// The pod identities, and those carrying `reserved:remote-node` and
    /// `reserved:kube-apiserver`, in identity order: what the `cluster`, `remote-node` and
    /// `kube-apiserver` entities expand to, found once rather than per rule item.
    let podIdentities: [Identity]
    let remoteNodeCarriers: [Identity]
    let apiServerCarriers: [Identity]
    var selectorCache: [SelectorMatcher: [Identity]] = [:]
    /// The `toFQDNs` selectors of the documents being compiled (set by `compile`).
    var fqdnSelectors = FQDNSelectorTable()

    package init(inventory: CompilerInventory) {
        self.inventory = inventory
        var labels: [Identity: IdentityLabels] = [:]
        for (identity, securityLabels) in inventory.identityLabels {
            var parsed = securityLabels
            // Kubernetes (≥ 1.21) labels every namespace with its name; make sure selectors on it work
            // even when no namespaces file was given.
            if let namespace = parsed.first(where: { $0.source == "k8s" && $0.key == "io.kubernetes.pod.namespace" })?.value,
               !parsed.contains(where: { $0.key == "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name" }) {
                parsed.append(SecurityLabel(source: "k8s", key: "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name",
                                            value: namespace))
            }
            labels[identity] = IdentityLabels(identity: identity, labels: parsed)
        }
        self.labels = labels
        self.allIdentities = labels.keys.sorted()
        self.allIdentityLabels = self.allIdentities.map { labels[$0]! }
        var labelIndex: [String: [String: [Int]]] = [:]
        for (position, identityLabels) in self.allIdentityLabels.enumerated() {
            for (key, list) in identityLabels.byKey {
                for label in list where labelIndex[key, default: [:]][label.value, default: []].last != position {
                    labelIndex[key, default: [:]][label.value, default: []].append(position)
                }
            }
        }
        self.labelIndex = labelIndex
        self.cidrIdentities = inventory.cidrIdentities.sorted { $0.key < $1.key }
        let identities = zip(self.allIdentities, self.allIdentityLabels)
        func carrying(_ reserved: Identity) -> [Identity] {
            let label = SecurityLabel.reserved(reserved)
            return identities.filter { !$1.values(of: label.key, source: label.source).isEmpty }.map(\.0)
        }
        self.podIdentities = identities.filter { $1.isPod }.map(\.0)
        self.remoteNodeCarriers = carrying(.remoteNode)
        self.apiServerCarriers = carrying(.kubeAPIServer)
    }

    // MARK: Normalized rules

    /// One rule item of one policy in one direction, reduced to identities and ports.
    struct NormalizedRule {
        var policy: PolicyReference
        var subject: SelectorMatcher
        var direction: TrafficDirection
        var isDeny: Bool
        /// `nil`: any remote identity (L3 wildcard).
        var peers: [Peer]?
        /// Empty: every protocol and port.
        var ports: [PortSpec]
        /// The rule item in its document (`spec.ingress[0]`), for `policy check`.
        var path: String = ""
    }

    enum Peer {
        case selector(SelectorMatcher)
        case identities([Identity])
        case cidrs([CIDRRule])
    }

    struct PortSpec {
        var ipProtocol: UInt8  // 0 = any
        var port: PortProtocol.Port?  // nil = every port
        var endPort: UInt16?
        /// The L7 rules (and TLS server names) of the `toPorts` item; nil = none.
        var l7: L7RuleSet? = nil
    }

    /// Whether a document's rules put an endpoint in default-deny, per direction.
    struct Enforcement {
        var subject: SelectorMatcher
        var ingress: Bool
        var egress: Bool
        var policy: PolicyReference
        /// The rule in its document (`spec`, `specs[1]`), for `policy check`.
        var path: String = "spec"
    }

    // MARK: Compile

    package mutating func compile(_ documents: [PolicyDocument]) -> CompiledPolicies {
        self.fqdnSelectors = FQDNSelectorTable(Self.fqdnSelectors(in: documents))
        var rules: [NormalizedRule] = []
        var enforcements: [Enforcement] = []
        for document in documents {
            self.normalize(document, into: &rules, enforcements: &enforcements)
        }

        // The policies numbered in their order, so a set of numbers sorted is the set of
        // references sorted.
        let policyOrder = Set(rules.map(\.policy)).sorted()
        let policyNumbers = Dictionary(uniqueKeysWithValues: policyOrder.enumerated().map { ($1, $0) })
        let rulePolicies = rules.map { policyNumbers[$0.policy]! }
        var setIndex: [[Int]: UInt32] = [[]: 0]
        var policySets: [[PolicyReference]] = [[]]
        // Most entries come from one policy: their sets' numbers are kept by policy, unhashed.
        var singleSetIDs = [UInt32?](repeating: nil, count: policyOrder.count)
        func setID(_ policies: [Int]) -> UInt32 {
            if policies.count == 1, let id = singleSetIDs[policies[0]] { return id }
            var id = UInt32(policySets.count)
            if let known = setIndex[policies] {
                id = known
            } else {
                policySets.append(policies.map { policyOrder[$0] })
                setIndex[policies] = id
            }
            if policies.count == 1 { singleSetIDs[policies[0]] = id }
            return id
        }

        // Each rule's remote identities, each distinct selector resolved once (Cilium's
        // SelectorCache does the same: a selector is evaluated against the identities once, not
        // per rule or endpoint; generated policy sets repeat the same peers in many rules).
        var selectorCache: [SelectorMatcher: [Identity]] = [:]
        func remotes(_ peer: Peer) -> [Identity] {
            guard case .selector(let matcher) = peer else { return self.resolve(peer) }
            if let cached = selectorCache[matcher] { return cached }
            let identities = self.resolve(peer)
            selectorCache[matcher] = identities
            return identities
        }
        let remotesByRule: [[Identity]?] = rules.map { rule in
            rule.peers.map { peers in
                // One peer's identities are usually ascending and distinct already.
                if peers.count == 1 {
                    let identities = remotes(peers[0])
                    if zip(identities, identities.dropFirst()).allSatisfy({ $0 < $1 }) { return identities }
                }
                var distinct: [Identity] = []
                for identity in peers.flatMap(remotes).sorted() where distinct.last != identity { distinct.append(identity) }
                return distinct
            }
        }

        // The subjects (a rule's or an enforcement's endpoint selector; a policy's rules share
        // one), each distinct one resolved once through the label index like a peer, rather
        // than every rule matched against every local endpoint: per endpoint, which subjects
        // select it.
        let local = self.inventory.localIdentities.sorted()
        let localPositions = Dictionary(uniqueKeysWithValues: local.enumerated().map { ($1, $0) })
        var subjectNumbers: [SelectorMatcher: Int] = [:]
        var subjectsSelecting = [[Bool]](repeating: [], count: local.count)
        func subjectNumber(_ subject: SelectorMatcher) -> Int {
            if let number = subjectNumbers[subject] { return number }
            let number = subjectNumbers.count
            subjectNumbers[subject] = number
            for position in subjectsSelecting.indices { subjectsSelecting[position].append(false) }
            for identity in remotes(.selector(subject)) {
                if let position = localPositions[identity] { subjectsSelecting[position][number] = true }
            }
            return number
        }
        let ruleSubjects = rules.map { subjectNumber($0.subject) }
        let enforcementSubjects = enforcements.map { subjectNumber($0.subject) }
        // Each rule's protocol/port keys per `toPorts` item, computed once; nil where a named
        // port resolves against the destination (the endpoint or the remote).
        let ruleKeys: [[[(UInt8, UInt16, UInt16, Bool)]?]] = rules.map { rule in
            rule.ports.isEmpty ? [self.keys([], namedPortsOf: nil)]
                : rule.ports.map { spec in
                    if case .name? = spec.port { return nil }
                    return self.keys([spec], namedPortsOf: nil)
                }
        }
        // And the L7 rules each item's entries carry (none for deny rules).
        let ruleL7: [[L7RuleSet?]] = rules.map { rule in
            rule.ports.isEmpty ? [nil] : rule.ports.map { rule.isDeny ? nil : $0.l7 }
        }

        var selected: [PolicyReference: Set<Identity>] = [:]
        var defaultDeny: [Identity: CompiledPolicies.DefaultDeny] = [:]
        var endpoints: [Identity: EndpointPolicy] = [:]
        var l7Rules = L7RuleTable()
        for (position, endpoint) in local.enumerated() {
            guard self.labels[endpoint] != nil else { continue }
            let selecting = subjectsSelecting[position]
            var ingressEnforced = false
            var egressEnforced = false
            var denying = CompiledPolicies.DefaultDeny()
            for (index, enforcement) in enforcements.enumerated() where selecting[enforcementSubjects[index]] {
                ingressEnforced = ingressEnforced || enforcement.ingress
                egressEnforced = egressEnforced || enforcement.egress
                selected[enforcement.policy, default: []].insert(endpoint)
                if enforcement.ingress && !denying.ingress.contains(enforcement.policy) { denying.ingress.append(enforcement.policy) }
                if enforcement.egress && !denying.egress.contains(enforcement.policy) { denying.egress.append(enforcement.policy) }
            }
            if ingressEnforced || egressEnforced {
                defaultDeny[endpoint] = .init(ingress: denying.ingress.sorted(), egress: denying.egress.sorted())
            }
            // (direction, remote, proto, portLow, portHigh, hasPort, deny) -> policies, L7 rules:
            // the contributions are collected, sorted by key (ties in contribution order) and
            // merged, cheaper than hashing the thousands of keys an endpoint can have.
            var contributions: [(key: EntryKey, order: Int)] = []
            var contributed: [(policy: Int, l7: L7RuleSet?)] = []
            var selectedPolicies = [Bool](repeating: false, count: policyOrder.count)
            for ruleIndex in rules.indices where selecting[ruleSubjects[ruleIndex]] {
                selectedPolicies[rulePolicies[ruleIndex]] = true
                let (direction, isDeny) = (rules[ruleIndex].direction, rules[ruleIndex].isDeny)
                for remote in remotesByRule[ruleIndex] ?? [Identity.unknown] {
                    for specIndex in ruleKeys[ruleIndex].indices {
                        // Named ports name the destination's container ports: the endpoint's own for
                        // ingress, the remote's for egress (all pods' when the remote is a wildcard).
                        let keys = ruleKeys[ruleIndex][specIndex]
                            ?? self.keys([rules[ruleIndex].ports[specIndex]],
                                         namedPortsOf: direction == .ingress ? endpoint : (remote == .unknown ? nil : remote))
                        for key in keys {
                            let entryKey = EntryKey(direction: direction, remote: remote, ipProtocol: key.0,
                                                    portLow: key.1, portHigh: key.2, hasPort: key.3, isDeny: isDeny)
                            contributions.append((entryKey, contributed.count))
                            contributed.append((rulePolicies[ruleIndex], ruleL7[ruleIndex][specIndex]))
                        }
                    }
                }
            }
            for (policy, isSelected) in selectedPolicies.enumerated() where isSelected {
                selected[policyOrder[policy], default: []].insert(endpoint)
            }
            guard ingressEnforced || egressEnforced || !contributions.isEmpty else { continue }
            contributions.sort { ($0.key.orderHigh, $0.key.orderLow, $0.order) < ($1.key.orderHigh, $1.key.orderLow, $1.order) }
            var merged: [(key: EntryKey, value: MergedEntry)] = []
            for (key, order) in contributions {
                if merged.last?.key != key { merged.append((key, MergedEntry())) }
                merged[merged.count - 1].value.add(contributed[order].policy, l7: contributed[order].l7)
            }
            if merged.contains(where: { !$0.key.isDeny && $0.value.l7 != nil && !$0.value.l7Wildcard }) {
                var byKey = Dictionary(uniqueKeysWithValues: merged.map { ($0.key, $0.value) })
                Self.wildcardL7(&byKey)
                merged = byKey.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
            }
            let entries = merged.map { key, value in
                (key.direction, PolicyMapEntry(remote: key.remote, ipProtocol: key.ipProtocol, portLow: key.portLow,
                                               portHigh: key.portHigh, hasPort: key.hasPort, isDeny: key.isDeny,
                                               policySet: setID(value.policies),
                                               l7RuleSet: value.l7Wildcard ? 0 : l7Rules.number(of: value.l7 ?? L7RuleSet())))
            }
            endpoints[endpoint] = EndpointPolicy(ingressEnforced: ingressEnforced, egressEnforced: egressEnforced,
                                                 entries: entries)
        }
        return CompiledPolicies(table: PolicyTable(endpoints: endpoints), policySets: policySets, inventory: self.inventory,
                                selectedIdentities: selected, fqdnSelectors: self.fqdnSelectors, defaultDeny: defaultDeny,
                                l7Rules: l7Rules)
    }

    struct EntryKey: Hashable, Comparable {
        var direction: TrafficDirection
        var remote: Identity
        var ipProtocol: UInt8
        var portLow: UInt16
        var portHigh: UInt16
        var hasPort: Bool
        var isDeny: Bool

        /// Direction, remote, protocol, port range, then whether it has a port and is a deny.
        static func < (a: EntryKey, b: EntryKey) -> Bool {
            let (aHigh, bHigh) = (a.orderHigh, b.orderHigh)
            return aHigh < bHigh || (aHigh == bHigh && a.orderLow < b.orderLow)
        }

        /// The fields in comparison order, packed: direction (8 bits), remote (32), protocol (8), portLow (16).
        var orderHigh: UInt64 {
            UInt64(self.direction.rawValue) << 56 | UInt64(self.remote.rawValue) << 24 | UInt64(self.ipProtocol) << 16
                | UInt64(self.portLow)
        }

        /// portHigh (16 bits), hasPort, isDeny.
        var orderLow: UInt32 {
            UInt32(self.portHigh) << 2 | (self.hasPort ? 2 : 0) | (self.isDeny ? 1 : 0)
        }
    }

    /// Protocol/port keys for a rule's ports. Named ports resolve against the destination
    /// endpoint's container ports (the endpoint itself for ingress, the remote for egress);
    /// a name that does not resolve allows nothing, as in Cilium.
    func keys(_ ports: [PortSpec], namedPortsOf owner: Identity?) -> [(UInt8, UInt16, UInt16, Bool)]
    {
        if ports.isEmpty { return [(0, 0, 0, false)] }
        var keys: [(UInt8, UInt16, UInt16, Bool)] = []
        for spec in ports {
            let protocols: [UInt8] = spec.ipProtocol == 0 ? [6, 17, 132] : [spec.ipProtocol]
            switch spec.port {
            case nil, .number(0)?:
                keys += protocols.map { ($0, 0, 0, false) }
            case .number(let port)?:
                keys += protocols.map { ($0, port, max(port, spec.endPort ?? port), true) }
            case .name(let name)?:
                let candidates = owner.map { self.inventory.namedPorts[$0] ?? [] }
                    ?? self.inventory.namedPorts.keys.sorted().flatMap { self.inventory.namedPorts[$0] ?? [] }
                for named in candidates where named.name == name && protocols.contains(named.ipProtocol) {
                    keys.append((named.ipProtocol, named.port, named.port, true))
                }
            }
        }
        return keys
    }
}
