import Datapath
import FlowCore
import L7

extension PolicyCompiler {
    /// Reduces one policy document to normalized rule items and default-deny markers.
    func normalize(_ document: PolicyDocument, into rules: inout [NormalizedRule],
                   enforcements: inout [Enforcement]) {
        let reference = PolicyReference(kind: document.kind, namespace: document.namespace, name: document.name)
        switch document.body {
        case .cilium(let ciliumRules):
            let namespace = document.kind == .ciliumNetworkPolicy ? (document.namespace ?? "default") : nil
            for rule in ciliumRules {
                let first = rules.count
                let enforcementCount = enforcements.count
                self.normalize(rule, namespace: namespace, policy: reference, into: &rules, enforcements: &enforcements)
                // The rule's path: `spec`, or `specs[i]` (rule.index 1... numbers the `specs` items).
                let path = rule.index == 0 ? "spec" : "specs[\(rule.index - 1)]"
                for index in first..<rules.count { rules[index].path = path + "." + rules[index].path }
                for index in enforcementCount..<enforcements.count { enforcements[index].path = path }
            }
        case .kubernetes(let spec):
            self.normalize(spec, namespace: document.namespace ?? "default", policy: reference, into: &rules,
                           enforcements: &enforcements)
        }
    }

    // MARK: Cilium

    /// A CNP rule (namespace set) or CCNP rule (namespace nil).
    func normalize(_ rule: CiliumRule, namespace: String?, policy: PolicyReference,
                   into rules: inout [NormalizedRule], enforcements: inout [Enforcement]) {
        // The subject: a CNP's endpointSelector always gets the policy's namespace. A
        // nodeSelector (CCNP host policy) selects nodes, which are not endpoints here.
        guard let selector = rule.endpointSelector else { return }
        var subject = SelectorMatcher(selector)
        if let namespace {
            subject = SelectorMatcher(requirements: subject.requirements.filter { $0.key != "io.kubernetes.pod.namespace" })
                .adding(SelectorMatcher.namespace(namespace))
        }

        let hasIngress = !(rule.ingress ?? []).isEmpty || !(rule.ingressDeny ?? []).isEmpty
        let hasEgress = !(rule.egress ?? []).isEmpty || !(rule.egressDeny ?? []).isEmpty
        enforcements.append(Enforcement(
            subject: subject,
            ingress: hasIngress && (rule.enableDefaultDenyIngress ?? true),
            egress: hasEgress && (rule.enableDefaultDenyEgress ?? true),
            policy: policy))

        for (items, isDeny) in [(rule.ingress ?? [], false), (rule.ingressDeny ?? [], true)] {
            for (index, item) in items.enumerated() {
                let peers = self.ciliumPeers(endpoints: item.fromEndpoints, cidrs: item.fromCIDR, cidrSets: item.fromCIDRSet,
                                             entities: item.fromEntities, nodes: item.fromNodes, namespace: namespace)
                let before = rules.count
                self.appendCilium(peers: peers, toPorts: item.toPorts, icmps: item.icmps, subject: subject, direction: .ingress,
                                  isDeny: isDeny, policy: policy, into: &rules)
                if rules.count > before { rules[before].path = "\(isDeny ? "ingressDeny" : "ingress")[\(index)]" }
            }
        }
        for (items, isDeny) in [(rule.egress ?? [], false), (rule.egressDeny ?? [], true)] {
            for (index, item) in items.enumerated() {
                var peers = self.ciliumPeers(endpoints: item.toEndpoints, cidrs: item.toCIDR, cidrSets: item.toCIDRSet,
                                             entities: item.toEntities, nodes: item.toNodes, namespace: namespace)
                if let fqdns = item.toFQDNs {
                    // Each selector's pseudo-identity; one beyond the table's capacity selects nothing.
                    let indices = fqdns.compactMap { self.fqdnSelectors.index(of: $0) }
                    peers = (peers ?? []) + [.identities(indices.map(Identity.fqdnSelector))]
                }
                let before = rules.count
                self.appendCilium(peers: peers, toPorts: item.toPorts, icmps: item.icmps, subject: subject, direction: .egress,
                                  isDeny: isDeny, policy: policy, into: &rules)
                if rules.count > before { rules[before].path = "\(isDeny ? "egressDeny" : "egress")[\(index)]" }
            }
        }
    }

    /// The L3 peers of one Cilium rule item: `nil` when no peer field is present (an L3 wildcard).
    func ciliumPeers(endpoints: [LabelSelector]?, cidrs: [CIDR]?, cidrSets: [CIDRRule]?, entities: [Entity]?,
                     nodes: [LabelSelector]?, namespace: String?) -> [Peer]? {
        if endpoints == nil && cidrs == nil && cidrSets == nil && entities == nil && nodes == nil { return nil }
        var peers: [Peer] = []
        for selector in endpoints ?? [] {
            var matcher = SelectorMatcher(selector)
            if matcher.selectsReserved {
                // Reserved labels (entities written as selectors) are never namespace-scoped.
            } else if let namespace {
                if !matcher.constrainsNamespace { matcher = matcher.adding(SelectorMatcher.namespace(namespace)) }
            } else if matcher.requirements.isEmpty {
                matcher = matcher.adding(SelectorMatcher.anyPod)  // CCNP `{}`: every Cilium-managed pod
            }
            peers.append(.selector(matcher))
        }
        if let cidrs, !cidrs.isEmpty { peers.append(.cidrs(cidrs.map { CIDRRule(cidr: $0) })) }
        if let cidrSets, !cidrSets.isEmpty { peers.append(.cidrs(cidrSets)) }
        for entity in entities ?? [] {
            // `all` is the wildcard selector (pkg/policy/api/entity.go: EntityAll), i.e. the
            // wildcard remote identity. It must stay a present peer: returning nil here made a
            // rule item `- toEntities: [all]` (no ports) look like the empty `- {}` item, which
            // selects nothing, so "allow all" compiled to nothing.
            peers.append(.identities(self.identities(of: entity)))
        }
        for selector in nodes ?? [] { peers.append(.identities(self.nodeIdentities(selector))) }
        return peers
    }

    func appendCilium(peers: [Peer]?, toPorts: [PortRule]?, icmps: [ICMPRule]?, subject: SelectorMatcher,
                      direction: TrafficDirection, isDeny: Bool, policy: PolicyReference,
                      into rules: inout [NormalizedRule]) {
        // A rule item with neither peers nor ports selects nothing (Cilium's "deny all" idiom `- {}`).
        if peers == nil && toPorts == nil && icmps == nil { return }
        var ports: [PortSpec] = []
        for rule in toPorts ?? [] {
            if rule.ports.isEmpty { ports.append(PortSpec(ipProtocol: 0, port: nil, endPort: nil, l7: rule.l7)) }
            for port in rule.ports {
                ports.append(PortSpec(ipProtocol: Self.protocolNumber(port.protocol), port: port.port, endPort: port.endPort,
                                      l7: rule.l7))
            }
        }
        for rule in icmps ?? [] {
            for field in rule.fields {
                ports.append(PortSpec(ipProtocol: field.family == .ipv4 ? IPProtocolNumber.icmp : IPProtocolNumber.icmpv6,
                                      port: .number(UInt16(field.type)), endPort: nil))
            }
        }
        rules.append(NormalizedRule(policy: policy, subject: subject, direction: direction, isDeny: isDeny, peers: peers,
                                    ports: ports))
    }

    static func protocolNumber(_ transport: TransportProtocol) -> UInt8 {
        switch transport {
        case .tcp: IPProtocolNumber.tcp
        case .udp: IPProtocolNumber.udp
        case .sctp: IPProtocolNumber.sctp
        case .vrrp: IPProtocolNumber.vrrp
        case .igmp: IPProtocolNumber.igmp
        case .any: 0
        }
    }

    // MARK: Kubernetes NetworkPolicy

    func normalize(_ spec: KubernetesNetworkPolicySpec, namespace: String, policy: PolicyReference,
                   into rules: inout [NormalizedRule], enforcements: inout [Enforcement]) {
        let subject = SelectorMatcher(spec.podSelector, defaultSource: "k8s").adding(SelectorMatcher.namespace(namespace))
        // policyTypes defaulting (networking/v1 types.go): Ingress always; Egress when an egress section exists.
        let types = spec.policyTypes ?? (spec.egress != nil ? [.ingress, .egress] : [.ingress])
        let isolatesIngress = types.contains(.ingress)
        let isolatesEgress = types.contains(.egress)
        enforcements.append(Enforcement(subject: subject, ingress: isolatesIngress, egress: isolatesEgress, policy: policy))

        if isolatesIngress {
            for (index, rule) in (spec.ingress ?? []).enumerated() {
                rules.append(NormalizedRule(policy: policy, subject: subject, direction: .ingress, isDeny: false,
                                            peers: self.kubernetesPeers(rule.from, namespace: namespace),
                                            ports: Self.kubernetesPorts(rule.ports), path: "spec.ingress[\(index)]"))
            }
        }
        if isolatesEgress {
            for (index, rule) in (spec.egress ?? []).enumerated() {
                rules.append(NormalizedRule(policy: policy, subject: subject, direction: .egress, isDeny: false,
                                            peers: self.kubernetesPeers(rule.to, namespace: namespace),
                                            ports: Self.kubernetesPorts(rule.ports), path: "spec.egress[\(index)]"))
            }
        }
    }

    /// `from`/`to`: absent or empty means every source/destination; a peer with both
    /// selectors means pods matching both; `namespaceSelector` alone means every pod of the
    /// matching namespaces; `podSelector` alone means pods of the policy's namespace.
    func kubernetesPeers(_ peers: [KubernetesPeer]?, namespace: String) -> [Peer]? {
        guard let peers, !peers.isEmpty else { return nil }
        return peers.map { peer in
            if let block = peer.ipBlock { return .cidrs([block]) }
            var matcher = SelectorMatcher(peer.podSelector ?? LabelSelector(), defaultSource: "k8s")
            if let namespaceSelector = peer.namespaceSelector {
                for requirement in SelectorMatcher(namespaceSelector, defaultSource: "k8s").requirements {
                    matcher = matcher.adding(SelectorMatcher.Requirement(
                        source: "k8s", key: "io.cilium.k8s.namespace.labels." + requirement.key,
                        operator: requirement.operator, values: requirement.values))
                }
                matcher = matcher.adding(SelectorMatcher.anyPod)
            } else {
                matcher = matcher.adding(SelectorMatcher.namespace(namespace))
            }
            return .selector(matcher)
        }
    }

    static func kubernetesPorts(_ ports: [KubernetesPort]?) -> [PortSpec] {
        (ports ?? []).map { PortSpec(ipProtocol: Self.protocolNumber($0.protocol), port: $0.port, endPort: $0.endPort) }
    }

    // MARK: Peers to identities

    /// The identities a peer selects, from every identity the inventory knows.
    func resolve(_ peer: Peer) -> [Identity] {
        switch peer {
        case .identities(let identities):
            return identities
        case .selector(let matcher):
            var result: [Identity] = []
            // Only the identities that can meet an `In` requirement (a label with its key and
            // one of its values), in identity order; every requirement is still checked.
            if let required = matcher.requirements.first(where: { $0.operator == .in }) {
                let byValue = self.labelIndex[required.key] ?? [:]
                var positions = required.values.flatMap { byValue[$0] ?? [] }
                if required.values.count > 1 { positions = Array(Set(positions)).sorted() }
                for position in positions where matcher.matches(self.allIdentityLabels[position]) {
                    result.append(self.allIdentities[position])
                }
                return result
            }
            for (identity, labels) in zip(self.allIdentities, self.allIdentityLabels) where matcher.matches(labels) {
                result.append(identity)
            }
            return result
        case .cidrs(let rules):
            var result: [Identity] = []
            for rule in rules {
                for (identity, prefix) in self.cidrIdentities
                where rule.cidr.prefix.contains(prefix) && !rule.except.contains(where: { $0.prefix.contains(prefix) }) {
                    result.append(identity)
                }
                // A /0 also covers every address without a narrower identity: world.
                if rule.cidr.prefix.length == 0 {
                    result += rule.cidr.isIPv4 ? [.world, .worldIPv4] : [.world, .worldIPv6]
                }
            }
            return result
        }
    }

    /// Cilium's entity → identity mapping (pkg/policy/api/entity.go). The `remote-node` and
    /// `kube-apiserver` entities are selectors on their reserved label, so they select every
    /// identity that carries it: `remote-node` also selects `kube-apiserver` (7), and
    /// `kube-apiserver` selects 7, the host when it runs the API server, and the CIDR
    /// identity of an API server outside the cluster (see `EndpointTable`).
    func identities(of entity: Entity) -> [Identity] {
        let cidrs = self.cidrIdentities
        switch entity {
        case .all: return [.unknown]
        case .none: return []
        case .host: return [.host]
        case .remoteNode: return self.remoteNodeCarriers
        case .`init`: return [.initializing]
        case .ingress: return [.ingress]
        case .unmanaged: return [.unmanaged]
        case .health: return [.health]
        case .kubeAPIServer: return self.apiServerCarriers
        case .world: return [.world, .worldIPv4, .worldIPv6] + cidrs.map(\.key)
        case .worldIPv4: return [.world, .worldIPv4] + cidrs.filter { $0.value.isIPv4 }.map(\.key)
        case .worldIPv6: return [.world, .worldIPv6] + cidrs.filter { !$0.value.isIPv4 }.map(\.key)
        case .cluster:
            return [.host, .remoteNode, .initializing, .ingress, .health, .unmanaged] + self.apiServerCarriers
                + self.podIdentities
        }
    }

    /// `fromNodes`/`toNodes`: the local node is `host`, every other node `remote-node`.
    func nodeIdentities(_ selector: LabelSelector) -> [Identity] {
        let matcher = SelectorMatcher(selector, defaultSource: "k8s")
        func matches(_ labels: [String: String]) -> Bool {
            matcher.matches(IdentityLabels(identity: .unknown, labels: labels.map { SecurityLabel(source: "k8s", key: $0.key, value: $0.value) }))
        }
        var result: [Identity] = []
        if let local = self.inventory.localNodeLabels, matches(local) { result.append(.host) }
        if self.inventory.remoteNodeLabels.contains(where: matches) { result.append(.remoteNode) }
        return result
    }
}
