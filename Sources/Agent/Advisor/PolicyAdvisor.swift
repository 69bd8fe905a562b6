import Datapath
import FlowCore
import L7

/// Which policy kind the advisor writes.
package enum AdvisedFormat: String, Sendable, CaseIterable {
    /// CiliumNetworkPolicy: peers by labels, entities (`host`, `remote-node`, `world`), CIDRs, ICMP types.
    case cilium
    /// NetworkPolicy (networking.k8s.io/v1) with `policyTypes` Ingress and Egress.
    case kubernetes
}

package struct AdvisorOptions: Sendable {
    package var format: AdvisedFormat
    /// Most world addresses one direction of a policy lists one by one; with more, the rule
    /// names the `world` entity (Cilium) or `0.0.0.0/0`/`::/0` (NetworkPolicy) instead.
    package var maxCIDRs: Int
    /// Most distinct ports of one protocol one peer gets; with more, every port of the protocol.
    package var maxPorts: Int
    /// The input, named in each file's header.
    package var input: String
    /// How much traffic the input held (`120 connections from ... to ... (1.2 s)`), for each
    /// file's header; empty to say nothing.
    package var basis: String
    /// Advise system components too (`SystemComponents`); otherwise they are skipped.
    package var includeSystem: Bool
    /// A workload whose pods were seen for less (first to last moment one of their connections
    /// was seen) gets no policy. Zero: no minimum. Only applies when the advisor is given when
    /// connections were seen.
    package var minObservation: Duration

    package init(format: AdvisedFormat, maxCIDRs: Int = 8, maxPorts: Int = 16, input: String = "", basis: String = "",
                 includeSystem: Bool = false, minObservation: Duration = .zero) {
        self.format = format
        self.maxCIDRs = maxCIDRs
        self.maxPorts = maxPorts
        self.input = input
        self.basis = basis
        self.includeSystem = includeSystem
        self.minObservation = minObservation
    }
}

/// What the advisor reads from the agent: the inventory, the endpoints and identities, and the
/// ipcache and service table the datapath judges connections with (no policy maps: the advice
/// does not depend on the policies loaded), and the existing policies to compare it with.
package struct AdvisorInputs: Sendable {
    package var inventory: Inventory
    package var endpoints: EndpointTable
    package let snapshot: PolicySnapshot
    package let services: CompiledServices
    /// The existing policies (`--policies`) as the datapath judges with them, and the mask of
    /// their `toFQDNs` selectors a name matches; nil when none were given.
    package var existing: PolicySnapshot?
    package var existingFQDNMask: @Sendable (String) -> UInt64

    package init(inventory: Inventory, endpoints: EndpointTable, ipcache: IPCache, services: CompiledServices = CompiledServices(),
                 existing: PolicySnapshot? = nil, existingFQDNMask: @escaping @Sendable (String) -> UInt64 = { _ in 0 }) {
        self.inventory = inventory
        self.endpoints = endpoints
        self.snapshot = PolicySnapshot(ipcache: ipcache, services: services.table)
        self.services = services
        self.existing = existing
        self.existingFQDNMask = existingFQDNMask
    }
}

/// One advised policy: its file and YAML text.
package struct AdvisedPolicy: Sendable {
    /// `<namespace>.<name>.yaml`.
    package var fileName: String
    package var kind: PolicyKind
    package var namespace: String
    package var name: String
    /// `Deployment recommendations`, ... (the workloads it covers).
    package var workloads: [String]
    package var ingressRules: Int
    package var egressRules: Int
    package var yaml: String
    /// Connections of its pods observed, and how long they were seen for (nil: not known).
    package var connections: Int
    package var seen: ObservedSpan?
    /// Connections it allows that the existing policies deny.
    package var newlyAllowed: Int = 0
}

/// A workload with observed connections that got no policy, and why.
package struct SkippedWorkload: Sendable, Equatable {
    package var namespace: String
    package var name: String
    package var reason: String

    package init(namespace: String, name: String, reason: String) {
        self.namespace = namespace
        self.name = name
        self.reason = reason
    }
}

/// Connections of the same initiator workload (or address) to the same responder on the same
/// protocol and port, that the existing policies deny.
package struct DeniedConnections: Sendable, Equatable {
    package var source: String
    package var destination: String
    package var ipProtocol: UInt8
    package var port: UInt16
    package var connections: Int
    /// `egress`, `ingress` or `egress and ingress`: where the existing policies deny them.
    package var deniedAt: String
    /// Newly allowed: the advised files that allow them. Staying denied: why.
    package var files: [String]
    package var reason: String

    /// `shop/recommendations -> payments/users TCP 5432 (3 connections, denied at egress)`.
    package var text: String {
        let what: String
        switch self.ipProtocol {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp:
            what = "\(IPProtocolNumber.eveName(self.ipProtocol)!) \(self.port)"
        case IPProtocolNumber.icmp: what = "ICMP type \(self.port)"
        case IPProtocolNumber.icmpv6: what = "ICMPv6 type \(self.port)"
        default: what = IPProtocolNumber.eveName(self.ipProtocol).map { "\($0)" } ?? "protocol \(self.ipProtocol)"
        }
        return "\(self.source) -> \(self.destination) \(what) (\(self.connections) connection\(self.connections == 1 ? "" : "s"), denied at \(self.deniedAt))"
    }
}

/// The advice next to the existing policies (`--policies`).
package struct ExistingPolicyComparison: Sendable {
    /// Observed connections the existing policies deny.
    package var denied: Int
    /// Denied connections the advice would allow, by group, and those that stay denied.
    package var newlyAllowed: [DeniedConnections]
    package var stayDenied: [DeniedConnections]
}

package struct PolicyAdvice: Sendable {
    /// Sorted by file name.
    package var policies: [AdvisedPolicy]
    /// Problems worth telling (a workload no selector can name, a selector that also selects other pods).
    package var warnings: [String]
    /// Connections read, and how many had a local workload on one end.
    package var connections: Int
    package var connectionsAdvised: Int
    /// Workloads with observed connections left without a policy (system components, too
    /// short an observation), sorted.
    package var skipped: [SkippedWorkload] = []
    /// When the connections were seen (nil: not known).
    package var seen: ObservedSpan?
    /// nil without existing policies.
    package var existing: ExistingPolicyComparison?
}

/// Proposes least-privilege policies from observed connections: one policy per workload with
/// pods on this node, allowing exactly the peers and ports it was seen using, as flowmon's own
/// datapath judges them (the same ipcache lookups and service translation as a replay, so the
/// advised policies replayed over the same traffic drop nothing).
///
/// - Subjects: local, non-host-network pods (Cilium enforces no policy on host-network pods),
///   grouped into workloads by `AdvisorWorkloads`; a workload gets a policy when at least one
///   observed connection starts or ends at one of its local pods, and the policy isolates it in
///   both directions (a direction with no observed connection allows nothing).
/// - Egress at the initiator's workload, ingress at the responder's; replies are never rules
///   (policy is stateful). A connection to a ClusterIP is judged at its backends' identity and
///   target port, and its ingress side at those backends' workloads on this node.
/// - Peers: pods by their workload's selector (with the namespace when it is another one);
///   nodes as the `host`/`remote-node` entities (Cilium; NetworkPolicy, see below); world
///   addresses as /32 or /128 CIDRs, merged where they make up a whole prefix, or the `world`
///   entity / `0.0.0.0/0` past `maxCIDRs`. Ingress from the pod's own node is always allowed,
///   so it gets no rule. DNS to (or at) kube-dns pods (`k8s-app: kube-dns`) on 53 is allowed on
///   UDP and TCP both.
/// - Names (Cilium): egress to a world address the subject had looked up when the connection
///   started (the question names of the answers, as Cilium's DNS proxy records them:
///   `ExtractMsgDetails` maps the name asked, not the CNAME targets, to the addresses) is a
///   `toFQDNs` `matchName` peer instead of a CIDR. Cilium learns names only from the lookups
///   its DNS proxy handles, so the subject's egress rule to kube-dns on 53 gets
///   `rules.dns: [{matchPattern: "*"}]` (every lookup allowed and seen: the resolver's
///   search-domain expansions, in-cluster names and lookups that led to no connection too).
///   A NetworkPolicy cannot name hosts: the addresses stay ipBlocks, their names in the header.
/// - Ports per protocol, contiguous ports as ranges, every port past `maxPorts`; ICMP types as
///   Cilium `icmps`. A NetworkPolicy cannot name ICMP or other protocols: such a peer is allowed
///   on every port and protocol.
/// - Merged: peers with the same ports share one rule item.
/// - NetworkPolicy and nodes: a NetworkPolicy can name nodes only by `ipBlock`, which Cilium
///   (and flowmon) match against node addresses only with `policy-cidr-match-mode: nodes`. A
///   direction that must reach nodes (egress to any node, ingress from another node) is
///   therefore left out of `policyTypes`, and its rules, node `ipBlock`s included, are written
///   as a comment to enable where ipBlocks select nodes.
/// - Safety: system components (`SystemComponents`) get no policy unless `includeSystem`, nor
///   does a workload seen for less than `minObservation`; each is listed in `skipped`. A
///   workload that reached a ClusterIP whose backends are not known keeps egress unrestricted
///   (Cilium judges the connection at the backends, which a rule naming the ClusterIP does not
///   allow). With existing policies, the connections they deny are sorted into those the advice
///   newly allows (the direction that denies them is decided by an advised policy: policies
///   add allowances) and those that stay denied (a deny rule, which wins over any allow, or a
///   direction whose workload gets no policy).
package enum PolicyAdvisor {
    /// `timing`: when each connection was seen (empty: not known, and `minObservation` does not apply).
    package static func advise(_ observations: [ObservedConnection: Int], timing: [ObservedConnection: ObservedSpan] = [:],
                              inputs: AdvisorInputs, options: AdvisorOptions) -> PolicyAdvice {
        var advisor = Advisor(inputs: inputs, options: options)
        return advisor.run(observations, timing: timing)
    }

    /// Whether a direction's lookup denies (no allow, or a deny rule).
    package static func denies(_ lookup: Judgement.Lookup) -> Bool {
        lookup.decision.outcome == .denied || lookup.decision.outcome == .deniedExplicitly
    }
}

// MARK: - The advisor

enum AdvisorPeer: Hashable {
    case workload(Int)
    /// Pods of a namespace that no stable label selects: every pod of the namespace.
    case namespace(String)
    case host
    case remoteNode
    case world
    case cidr(IPPrefix)
    /// World addresses the subject looked up by these names (sorted, `FQDNSelector`'s
    /// canonical form): a Cilium `toFQDNs` peer.
    case names([String])
    /// Cilium's usual selector of the cluster's DNS server (`k8s-app: kube-dns` in
    /// kube-system), for the DNS rule `toFQDNs` needs when the inventory has no kube-dns pod.
    case kubeDNS
}

struct PortKey: Hashable, Comparable {
    var ipProtocol: UInt8
    var port: UInt16
    static func < (a: PortKey, b: PortKey) -> Bool { (a.ipProtocol, a.port) < (b.ipProtocol, b.port) }
}

struct PeerUse {
    var ports: [PortKey: Int] = [:]
    /// Services the connections were sent to (`ns/name`), and those whose backends flowmon does not know.
    var services: Set<String> = []
    var unknownBackends: Set<String> = []
    /// The connections that were sent to a service's ClusterIP (and translated to its
    /// backends); the others went to the peer's own addresses.
    var viaService: [PortKey: Int] = [:]
    /// Node addresses reached (for NetworkPolicy ipBlocks).
    var nodeAddresses: Set<IPAddress> = []
    /// For the collapsed world peer: the families of its addresses.
    var worldIPv4 = false
    var worldIPv6 = false
    /// For a CIDR peer: the names the subject had looked up for it (a NetworkPolicy's header
    /// lists them); for a names peer: the addresses they resolved to.
    var names: Set<String> = []
    var addresses: Set<IPAddress> = []
    var connections: Int { self.ports.values.reduce(0, +) }

    mutating func merge(_ other: PeerUse) {
        self.ports.merge(other.ports, uniquingKeysWith: +)
        self.services.formUnion(other.services)
        self.unknownBackends.formUnion(other.unknownBackends)
        self.viaService.merge(other.viaService, uniquingKeysWith: +)
        self.nodeAddresses.formUnion(other.nodeAddresses)
        self.worldIPv4 = self.worldIPv4 || other.worldIPv4
        self.worldIPv6 = self.worldIPv6 || other.worldIPv6
        self.names.formUnion(other.names)
        self.addresses.formUnion(other.addresses)
    }
}

struct DirectionUse {
    var peers: [AdvisorPeer: PeerUse] = [:]
    /// Ingress from the pod's own node: always allowed, listed in the header only.
    var fromOwnNode = PeerUse()
    var connections: Int { self.peers.values.reduce(0) { $0 + $1.connections } + self.fromOwnNode.connections }
}

struct SubjectUse {
    var egress = DirectionUse()
    var ingress = DirectionUse()
}

/// Ports of one rule item.
struct PortSpec: Hashable {
    var anyProtocol = false
    /// Protocol → inclusive port ranges (sorted); `allPorts` holds protocols allowed on every port.
    var ranges: [UInt8: [ClosedRange<UInt16>]] = [:]
    var allPorts: Set<UInt8> = []
    /// 1 or 58 → ICMP types, sorted.
    var icmpTypes: [UInt8: [UInt8]] = [:]

    var hasL4: Bool { !self.ranges.isEmpty || !self.allPorts.isEmpty }
    var hasICMP: Bool { !self.icmpTypes.isEmpty }

    /// A stable order for rule items.
    var sortKey: String {
        if self.anyProtocol { return "0" }
        var parts: [String] = []
        for proto in Array(Set(self.ranges.keys).union(self.allPorts)).sorted() {
            if self.allPorts.contains(proto) { parts.append("\(proto):*") }
            for range in self.ranges[proto] ?? [] { parts.append("\(proto):" + String(range.lowerBound).leftPadded(5)) }
        }
        for (proto, types) in self.icmpTypes.sorted(by: { $0.key < $1.key }) {
            parts.append(contentsOf: types.map { "i\(proto):" + String($0).leftPadded(3) })
        }
        return "1" + parts.joined(separator: ",")
    }
}

/// A rule item of one direction: peers of one kind sharing the same ports.
struct AdvisedRule {
    var peers: [AdvisorPeer]
    var ports: PortSpec
    /// The kube-dns rule of a subject with `toFQDNs` rules: its port 53 carries `rules.dns`.
    var dnsProxy = false
}

struct Advisor {
    let inputs: AdvisorInputs
    let options: AdvisorOptions
    let workloads: [AdvisorWorkload]
    let workloadOfPod: [Int: Int]
    /// Endpoint index → index into the inventory's pods.
    var podOfEndpoint: [UInt32: Int] = [:]
    /// Pod endpoints by identity, in endpoint order.
    var endpointsOfIdentity: [Identity: [UInt32]] = [:]
    var warnings: [String] = []
    var warnedPods: Set<Int> = []
    /// When each subject's pods were seen (connections of either direction).
    var subjectSeen: [Int: ObservedSpan] = [:]

    init(inputs: AdvisorInputs, options: AdvisorOptions) {
        self.inputs = inputs
        self.options = options
        let built = AdvisorWorkloads.build(inputs.inventory.pods)
        self.workloads = built.workloads
        self.workloadOfPod = built.workloadOfPod
        var podIndex: [String: Int] = [:]
        for (index, pod) in inputs.inventory.pods.enumerated() where podIndex[pod.namespace + "/" + pod.name] == nil {
            podIndex[pod.namespace + "/" + pod.name] = index
        }
        for (offset, endpoint) in inputs.endpoints.endpoints.enumerated() where endpoint.pod != nil {
            if let pod = endpoint.pod, let index = podIndex[pod.namespace + "/" + pod.name] {
                self.podOfEndpoint[UInt32(offset)] = index
                self.endpointsOfIdentity[endpoint.identity, default: []].append(UInt32(offset))
            }
        }
    }

    static func isICMP(_ ipProtocol: UInt8) -> Bool {
        ipProtocol == IPProtocolNumber.icmp || ipProtocol == IPProtocolNumber.icmpv6
    }

    /// A connection the existing policies deny, with the subjects whose policies would decide it.
    struct Denial {
        var connection: ObservedConnection
        var count: Int
        var judgement: Judgement
        var egressSubject: Int?
        var ingressSubjects: [Int]
    }

    mutating func run(_ observations: [ObservedConnection: Int], timing: [ObservedConnection: ObservedSpan]) -> PolicyAdvice {
        var subjects: [Int: SubjectUse] = [:]
        var total = 0
        var advised = 0
        var seen: ObservedSpan?
        var denials: [Denial] = []
        var deniedTotal = 0
        for (connection, count) in observations.sorted(by: { $0.key < $1.key }) {
            total += count
            let span = timing[connection]
            if let span { seen = seen.map { var s = $0; s.include(span); return s } ?? span }
            func note(_ subject: Int) {
                guard let span else { return }
                self.subjectSeen[subject] = self.subjectSeen[subject].map { var s = $0; s.include(span); return s } ?? span
            }
            let judgement = self.inputs.snapshot.judge(source: connection.source, destination: connection.destination,
                                                       port: connection.port, ipProtocol: connection.ipProtocol)
            let source = judgement.source
            let destination = judgement.destination
            let translated = judgement.isTranslated
            let serviceName = self.inputs.services.reference(judgement.service).map { "\($0.namespace)/\($0.name)" }
            let key = PortKey(ipProtocol: connection.ipProtocol, port: judgement.port)
            var involved = false

            // Egress at the initiator's workload.
            if source.isLocalEndpoint, let subject = self.localWorkload(endpoint: source.endpoint) {
                var peers = translated ? self.peers(ofIdentity: destination.identity)
                    : self.peers(of: destination, address: connection.destination)
                // A world address the initiator looked up by name: Cilium names it by the name.
                let names = Self.fqdnNames(connection.names)
                if self.options.format == .cilium, !names.isEmpty, peers.count == 1, case .cidr = peers[0] {
                    peers = [.names(names)]
                }
                for peer in peers {
                    var use = subjects[subject, default: SubjectUse()].egress.peers[peer, default: PeerUse()]
                    use.ports[key, default: 0] += count
                    switch peer {
                    case .cidr: use.names.formUnion(connection.names.map { (try? FQDNSelector(matchName: $0).canonical) ?? $0 })
                    case .names: use.addresses.insert(connection.destination)
                    default: break
                    }
                    if let serviceName {
                        use.services.insert(serviceName)
                        if translated { use.viaService[key, default: 0] += count } else { use.unknownBackends.insert(serviceName) }
                    }
                    if peer == .host || peer == .remoteNode {
                        use.nodeAddresses.formUnion(translated ? self.nodeAddresses(peer) : [connection.destination])
                    }
                    subjects[subject, default: SubjectUse()].egress.peers[peer] = use
                }
                note(subject)
                involved = true
            }
            // Ingress at the responder's workload(s).
            var targets: [Int] = []
            if destination.isLocalEndpoint {
                targets = translated ? self.localWorkloads(ofIdentity: destination.identity)
                    : self.localWorkload(endpoint: destination.endpoint).map { [$0] } ?? []
                let peers = self.peers(of: source, address: connection.source)
                for subject in targets {
                    for peer in peers {
                        if peer == .host {
                            subjects[subject, default: SubjectUse()].ingress.fromOwnNode.ports[key, default: 0] += count
                            continue
                        }
                        var use = subjects[subject, default: SubjectUse()].ingress.peers[peer, default: PeerUse()]
                        use.ports[key, default: 0] += count
                        if let serviceName {
                            use.services.insert(serviceName)
                            if translated { use.viaService[key, default: 0] += count }
                        }
                        if peer == .remoteNode { use.nodeAddresses.insert(connection.source) }
                        subjects[subject, default: SubjectUse()].ingress.peers[peer] = use
                    }
                    note(subject)
                    involved = true
                }
            }
            if involved { advised += count }
            // What the existing policies say of it: judged as a replay with them would.
            if let existing = self.inputs.existing {
                let mask = connection.names.reduce(UInt64(0)) { $0 | self.inputs.existingFQDNMask($1) }
                let before = existing.judge(source: connection.source, destination: connection.destination, port: connection.port,
                                            ipProtocol: connection.ipProtocol, destinationSelectors: mask)
                if PolicyAdvisor.denies(before.egress) || PolicyAdvisor.denies(before.ingress) {
                    let egressSubject = source.isLocalEndpoint ? self.localWorkload(endpoint: source.endpoint) : nil
                    denials.append(Denial(connection: connection, count: count, judgement: before, egressSubject: egressSubject,
                                          ingressSubjects: targets))
                    deniedTotal += count
                }
            }
        }

        var policies: [AdvisedPolicy] = []
        var usedNames: Set<String> = []
        var skipped: [SkippedWorkload] = []
        /// Why a subject got no policy.
        var skipReasons: [Int: String] = [:]
        var fileOfSubject: [Int: String] = [:]
        var isolated: [Int: (ingress: Bool, egress: Bool)] = [:]
        for subject in subjects.keys.sorted(by: { self.workloadSortKey($0) < self.workloadSortKey($1) }) {
            let workload = self.workloads[subject]
            guard let selector = workload.selector else { continue }
            if let reason = self.skipReason(subject, timed: !timing.isEmpty) {
                skipped.append(SkippedWorkload(namespace: workload.namespace, name: workload.name, reason: reason))
                skipReasons[subject] = reason
                continue
            }
            var name = Self.policyName(workload.name)
            var suffix = 2
            while usedNames.contains(workload.namespace + "/" + name) {
                name = Self.policyName(workload.name + "-\(suffix)")
                suffix += 1
            }
            usedNames.insert(workload.namespace + "/" + name)
            if !workload.alsoSelected.isEmpty {
                self.warnings.append("\(workload.namespace)/\(name): the selector \(selector.text) also selects \(workload.alsoSelected.joined(separator: ", ")) (no stable label tells them apart)")
            }
            let use = subjects[subject]!
            let egress = self.rules(use.egress, subject: subject, direction: .egress)
            if self.options.format == .cilium, egress.contains(where: { $0.dnsProxy && $0.peers.contains(.kubeDNS) }) {
                self.warnings.append("\(workload.namespace)/\(name): no kube-dns pod (k8s-app: kube-dns) in the inventory, so the DNS rule its toFQDNs rules need selects k8s-app=kube-dns in kube-system: check it selects the cluster's DNS server")
            }
            let ingress = self.rules(use.ingress, subject: subject, direction: .ingress)
            let renderer = AdvisedPolicyRenderer(advisor: self, subject: subject, name: name, selector: selector, use: use,
                                                 egress: egress, ingress: ingress)
            guard let rendered = self.options.format == .cilium ? renderer.cilium() : renderer.kubernetes() else {
                self.warnings.append("\(workload.namespace)/\(name): not written: a NetworkPolicy would have to reach nodes in both directions, which it can only do by ipBlock (see --format cilium)")
                skipReasons[subject] = "no NetworkPolicy can reach nodes in both directions (see --format cilium)"
                continue
            }
            if self.options.format == .cilium, !renderer.unknownServices.isEmpty {
                self.warnings.append("\(workload.namespace)/\(name): egress left unrestricted: it reached \(renderer.unknownServices.joined(separator: ", ")) at the ClusterIP, whose backends flowmon does not know (give --services with their Endpoints)")
            }
            let fileName = "\(workload.namespace).\(name).yaml"
            fileOfSubject[subject] = fileName
            isolated[subject] = renderer.isolates
            policies.append(AdvisedPolicy(
                fileName: fileName,
                kind: self.options.format == .cilium ? .ciliumNetworkPolicy : .networkPolicy,
                namespace: workload.namespace, name: name, workloads: workload.descriptions,
                ingressRules: rendered.ingressItems, egressRules: rendered.egressItems, yaml: rendered.yaml,
                connections: use.egress.connections + use.ingress.connections, seen: self.subjectSeen[subject]))
        }
        policies.sort { $0.fileName < $1.fileName }
        var advice = PolicyAdvice(policies: policies, warnings: self.warnings, connections: total, connectionsAdvised: advised,
                                  skipped: skipped.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }, seen: seen)
        if self.inputs.existing != nil {
            advice.existing = self.compare(denials, denied: deniedTotal, files: fileOfSubject, isolated: isolated,
                                           skipReasons: skipReasons)
            Self.annotate(&advice)
        }
        return advice
    }

    /// Why a subject gets no policy: a system component (unless `includeSystem`), or seen for
    /// less than `minObservation` (when the advisor knows when connections were seen).
    func skipReason(_ subject: Int, timed: Bool) -> String? {
        let workload = self.workloads[subject]
        if !self.options.includeSystem,
           let reason = workload.pods.lazy.compactMap({ SystemComponents.reason(self.inputs.inventory.pods[$0]) }).first {
            return "system component (\(reason)): not advised without --include-system"
        }
        let minimum = self.options.minObservation.flowmonNanoseconds
        if timed && minimum > 0 {
            let seen = self.subjectSeen[subject]?.nanoseconds ?? 0
            if seen < minimum {
                return "seen for \(ObservedSpan.describe(nanoseconds: seen)), less than --min-observation \(ObservedSpan.describe(nanoseconds: minimum)): too little traffic to lock it down"
            }
        }
        return nil
    }

    // MARK: Existing policies

    /// The denied connections by group: newly allowed when every direction that denies them is
    /// decided by an advised policy (policies add allowances; Cilium's deny rules win over any
    /// allow, so an explicit deny stays), staying denied otherwise.
    func compare(_ denials: [Denial], denied: Int, files: [Int: String], isolated: [Int: (ingress: Bool, egress: Bool)],
                 skipReasons: [Int: String]) -> ExistingPolicyComparison {
        var groups: [String: DeniedConnections] = [:]
        var order: [String] = []
        for denial in denials {
            var deniedAt: [String] = []
            var allowedBy: [String] = []
            var reasons: [String] = []
            for (direction, lookup, subjects, role) in [("egress", denial.judgement.egress, denial.egressSubject.map { [$0] } ?? [], "initiator"),
                                                        ("ingress", denial.judgement.ingress, denial.ingressSubjects, "responder")]
            where PolicyAdvisor.denies(lookup) {
                deniedAt.append(direction)
                if lookup.decision.outcome == .deniedExplicitly {
                    reasons.append("an \(direction)Deny rule of the existing policies, which no allow overrides")
                    continue
                }
                if subjects.isEmpty {
                    reasons.append("no policy is advised for the \(role) (no workload with a stable label)")
                }
                for subject in subjects {
                    let workload = self.workloads[subject]
                    if let file = files[subject] {
                        let isolates = isolated[subject].map { direction == "egress" ? $0.egress : $0.ingress } ?? false
                        if !isolates {
                            reasons.append("\(file) leaves \(direction) not isolated (see its header), so it allows nothing there")
                        } else if !allowedBy.contains(file) {
                            allowedBy.append(file)
                        }
                    } else {
                        reasons.append("\(workload.namespace)/\(workload.name): \(skipReasons[subject] ?? "no policy advised")")
                    }
                }
            }
            let judgement = denial.judgement
            let source = self.label(judgement.source, address: denial.connection.source)
            var destination = self.label(judgement.destination, address: denial.connection.destination)
            if judgement.isTranslated, let service = self.inputs.services.reference(judgement.service) {
                destination = "\(destination) via service \(service.namespace)/\(service.name)"
            }
            var group = DeniedConnections(source: source, destination: destination, ipProtocol: denial.connection.ipProtocol,
                                          port: judgement.port, connections: denial.count,
                                          deniedAt: deniedAt.joined(separator: " and "),
                                          files: reasons.isEmpty ? allowedBy : [], reason: reasons.joined(separator: "; "))
            let key = [group.source, group.destination, "\(group.ipProtocol)", "\(group.port)", group.deniedAt,
                       group.files.joined(separator: ","), group.reason].joined(separator: "\u{0}")
            if let existing = groups[key] {
                group.connections += existing.connections
            } else {
                order.append(key)
            }
            groups[key] = group
        }
        let all = order.map { groups[$0]! }
        return ExistingPolicyComparison(denied: denied, newlyAllowed: all.filter { $0.reason.isEmpty },
                                        stayDenied: all.filter { !$0.reason.isEmpty })
    }

    /// Marks in each advised file (after its first two header lines) the connections it would
    /// newly allow, and counts them.
    static func annotate(_ advice: inout PolicyAdvice) {
        guard let comparison = advice.existing else { return }
        for index in advice.policies.indices {
            let file = advice.policies[index].fileName
            let groups = comparison.newlyAllowed.filter { $0.files.contains(file) }
            guard !groups.isEmpty else { continue }
            let count = groups.reduce(0) { $0 + $1.connections }
            advice.policies[index].newlyAllowed = count
            var lines = ["# WARNING: allows \(count) observed connection\(count == 1 ? "" : "s") that the existing policies (--policies) deny:"]
            lines += groups.prefix(40).map { "#   " + $0.text }
            if groups.count > 40 { lines.append("#   ... and \(groups.count - 40) more groups") }
            var yaml = advice.policies[index].yaml.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            yaml.insert(contentsOf: lines, at: min(2, yaml.count))
            advice.policies[index].yaml = yaml.joined(separator: "\n")
        }
    }

    /// How a message names one end of a connection: a pod's workload (`ns/name`), this node, a
    /// node's address, or the address.
    func label(_ value: IPCacheValue, address: IPAddress) -> String {
        if value.endpoint != 0, Int(value.endpoint) < self.inputs.endpoints.endpoints.count {
            if let pod = self.podOfEndpoint[value.endpoint] {
                let p = self.inputs.inventory.pods[pod]
                if !p.hostNetwork, let workload = self.workloadOfPod[pod] {
                    return "\(self.workloads[workload].namespace)/\(self.workloads[workload].name)"
                }
                return "\(p.namespace)/\(p.name)"
            }
            return self.inputs.endpoints.endpoints[Int(value.endpoint)].identity == .host ? "this node (\(address.text))" : "node \(address.text)"
        }
        switch self.peers(ofIdentity: value.identity) {
        case [.host]: return "this node (\(address.text))"
        case [.remoteNode]: return "node \(address.text)"
        case [.world]: return address.text
        case let peers where !peers.isEmpty:
            return peers.compactMap { peer -> String? in
                switch peer {
                case .workload(let index): "\(self.workloads[index].namespace)/\(self.workloads[index].name)"
                case .namespace(let namespace): "pods of \(namespace)"
                default: nil
                }
            }.joined(separator: ", ")
        default: return address.text
        }
    }

    func workloadSortKey(_ index: Int) -> String {
        self.workloads[index].namespace + "/" + self.workloads[index].name
    }

    /// `<workload>-advised`, kept a valid object name.
    static func policyName(_ workload: String) -> String {
        var name = String(workload.lowercased().map { ($0.isLetter && $0.isASCII) || ($0.isNumber && $0.isASCII) || $0 == "." || $0 == "-" ? $0 : "-" })
        while name.hasPrefix("-") || name.hasPrefix(".") { name.removeFirst() }
        if name.isEmpty { name = "workload" }
        name = String(name.prefix(240))
        while name.hasSuffix("-") || name.hasSuffix(".") { name.removeLast() }
        return name + "-advised"
    }

    // MARK: Endpoints to workloads and peers

    /// The workload of a local pod endpoint that can carry a policy (not host-network, with a selector).
    mutating func localWorkload(endpoint: UInt32) -> Int? {
        guard let pod = self.podOfEndpoint[endpoint], let workload = self.workloadOfPod[pod] else { return nil }
        if self.workloads[workload].selector == nil {
            if !self.warnedPods.contains(pod) {
                self.warnedPods.insert(pod)
                let p = self.inputs.inventory.pods[pod]
                self.warnings.append("\(p.namespace)/\(p.name): no stable label selects it, so no policy is advised for it")
            }
            return nil
        }
        return workload
    }

    /// The local workloads with pods of an identity (the backends of a translated connection).
    mutating func localWorkloads(ofIdentity identity: Identity) -> [Int] {
        var result: [Int] = []
        for endpoint in self.endpointsOfIdentity[identity] ?? [] where self.inputs.endpoints.endpoints[Int(endpoint)].isLocal {
            if let workload = self.localWorkload(endpoint: endpoint), !result.contains(workload) { result.append(workload) }
        }
        return result
    }

    /// How a policy names the other end of a connection.
    func peers(of value: IPCacheValue, address: IPAddress) -> [AdvisorPeer] {
        if value.endpoint != 0, Int(value.endpoint) < self.inputs.endpoints.endpoints.count {
            let endpoint = self.inputs.endpoints.endpoints[Int(value.endpoint)]
            if let pod = self.podOfEndpoint[value.endpoint], !self.inputs.inventory.pods[pod].hostNetwork {
                return [self.peer(ofPod: pod)]
            }
            return [endpoint.identity == .host ? .host : .remoteNode]
        }
        return self.peers(ofIdentity: value.identity, address: address)
    }

    /// Peers of an identity with no endpoint: a translated service's backends, or world.
    func peers(ofIdentity identity: Identity, address: IPAddress? = nil) -> [AdvisorPeer] {
        if identity == .host { return [.host] }
        // The API server on a remote node (identity 7) carries `reserved:remote-node` too, so the
        // `remote-node` entity selects it (see `IdentityAllocator.reservedLabels`).
        if identity == .remoteNode || identity == .kubeAPIServer { return [.remoteNode] }
        if identity.isWorld || identity.isLocalScope || identity == .unknown || identity.isReserved {
            guard let address else { return [.world] }
            return [.cidr(IPPrefix(host: address))]
        }
        var result: [AdvisorPeer] = []
        for endpoint in self.endpointsOfIdentity[identity] ?? [] {
            if let pod = self.podOfEndpoint[endpoint], !self.inputs.inventory.pods[pod].hostNetwork {
                let peer = self.peer(ofPod: pod)
                if !result.contains(peer) { result.append(peer) }
            }
        }
        return result
    }

    func peer(ofPod pod: Int) -> AdvisorPeer {
        if let workload = self.workloadOfPod[pod], self.workloads[workload].selector != nil { return .workload(workload) }
        return .namespace(self.inputs.inventory.pods[pod].namespace)
    }

    /// Node addresses of the host (local node) or of every other node.
    func nodeAddresses(_ peer: AdvisorPeer) -> [IPAddress] {
        let local = self.inputs.endpoints.localNode
        return self.inputs.inventory.nodes.filter { peer == .host ? $0.name == local : $0.name != local }.flatMap(\.internalIPs)
    }

    /// The names of a connection a `toFQDNs` `matchName` can hold (Cilium's CRD pattern
    /// `^([-a-zA-Z0-9_]+[.]?)+$`, at most 255 characters), canonical, sorted.
    static func fqdnNames(_ names: [String]) -> [String] {
        Array(Set(names.compactMap { try? FQDNSelector(matchName: $0).canonical })).sorted()
    }

    /// The peers an egress rule with `rules.dns` goes to when a subject has `toFQDNs` rules:
    /// the kube-dns workloads it was seen using, else those of the inventory, else Cilium's
    /// usual selector of them.
    func dnsServers(_ peers: [AdvisorPeer: PeerUse]) -> [AdvisorPeer] {
        let used = peers.keys.filter { if case .workload(let index) = $0 { self.isKubeDNS(index) } else { false } }
        if !used.isEmpty { return used }
        let known = self.workloads.indices.filter { self.workloads[$0].selector != nil && self.isKubeDNS($0) }
        return known.isEmpty ? [.kubeDNS] : known.map { .workload($0) }
    }

    /// Whether a peer or subject workload is kube-dns (`k8s-app: kube-dns`).
    func isKubeDNS(_ workload: Int) -> Bool {
        self.workloads[workload].pods.contains { self.inputs.inventory.pods[$0].labels["k8s-app"] == "kube-dns" }
    }

    // MARK: Rules

    /// The rule items of one direction of a subject.
    func rules(_ use: DirectionUse, subject: Int, direction: TrafficDirection) -> [AdvisedRule] {
        var peers = use.peers
        // Many world addresses: the world entity (or 0.0.0.0/0) with every port they used.
        let cidrs = peers.keys.filter { if case .cidr = $0 { true } else { false } }
        if cidrs.count > self.options.maxCIDRs {
            var world = peers[.world] ?? PeerUse()
            for cidr in cidrs {
                world.merge(peers.removeValue(forKey: cidr)!)
                if case .cidr(let prefix) = cidr {
                    if prefix.isIPv4 { world.worldIPv4 = true } else { world.worldIPv6 = true }
                }
            }
            peers[.world] = world
        }
        // `toFQDNs` selects only addresses Cilium's DNS proxy saw answered, and the proxy sees
        // the lookups a `rules.dns` sends it: DNS to kube-dns gets one (merged into the rule
        // the subject's own DNS traffic produced).
        var dnsServers: Set<AdvisorPeer> = []
        if direction == .egress, peers.keys.contains(where: { if case .names = $0 { true } else { false } }) {
            dnsServers = Set(self.dnsServers(peers))
            for server in dnsServers {
                peers[server, default: PeerUse()].ports[PortKey(ipProtocol: IPProtocolNumber.udp, port: 53), default: 0] += 0
            }
            // A connection to an address several names resolved to is allowed by any of them:
            // each name gets the ports of every connection it named, so names share rules.
            for case (.names(let names), let use) in peers where names.count > 1 {
                peers[.names(names)] = nil
                for name in names { peers[.names([name]), default: PeerUse()].merge(use) }
            }
        }
        var groups: [String: (category: Int, spec: PortSpec, peers: [AdvisorPeer], dnsProxy: Bool)] = [:]
        for (peer, peerUse) in peers {
            var dns = direction == .ingress && self.isKubeDNS(subject)
            if direction == .egress, case .workload(let workload) = peer { dns = self.isKubeDNS(workload) }
            if peer == .kubeDNS { dns = true }
            let spec = self.portSpec(peerUse.ports, dns: dns)
            let category = self.category(peer)
            let dnsProxy = dnsServers.contains(peer)
            let key = "\(category)|\(spec.sortKey)" + (dnsProxy ? "|dns" : "")
            groups[key, default: (category, spec, [], dnsProxy)].peers.append(peer)
        }
        var result: [AdvisedRule] = []
        for (_, group) in groups {
            var members = group.peers.sorted { self.peerSortKey($0) < self.peerSortKey($1) }
            if group.category == 2 { members = Self.aggregate(members) }
            result.append(AdvisedRule(peers: members, ports: group.spec, dnsProxy: group.dnsProxy))
        }
        return result.sorted {
            (self.category($0.peers[0]), self.peerSortKey($0.peers[0]), $0.ports.sortKey)
                < (self.category($1.peers[0]), self.peerSortKey($1.peers[0]), $1.ports.sortKey)
        }
    }

    /// Cilium keeps peer kinds in separate rule items: endpoints 0, entities 1, CIDRs 2, names
    /// 3 (`toFQDNs` combines with no other peer kind). In a NetworkPolicy all peers mix, but
    /// the same grouping keeps the order readable.
    func category(_ peer: AdvisorPeer) -> Int {
        switch peer {
        case .workload, .namespace, .kubeDNS: 0
        case .host, .remoteNode, .world: 1
        case .cidr: 2
        case .names: 3
        }
    }

    func peerSortKey(_ peer: AdvisorPeer) -> String {
        switch peer {
        case .workload(let index): "0" + self.workloadSortKey(index)
        case .namespace(let namespace): "1" + namespace
        case .kubeDNS: "1kube-system\u{1}"
        case .names(let names): "6" + names.joined(separator: ",")
        case .host: "2"
        case .remoteNode: "3"
        case .world: "4"
        case .cidr(let prefix):
            // Addresses in numeric order: family, then the 128-bit value.
            "5" + (prefix.isIPv4 ? "4" : "6") + String(prefix.address.high, radix: 16).leftPadded(16)
                + String(prefix.address.low, radix: 16).leftPadded(16) + String(prefix.length)
        }
    }

    /// Ports used → a rule's ports. NetworkPolicy cannot name ICMP or other protocols, and
    /// Cilium only TCP, UDP, SCTP and ICMP: such a peer is allowed on every protocol.
    func portSpec(_ ports: [PortKey: Int], dns: Bool) -> PortSpec {
        var spec = PortSpec()
        var byProtocol: [UInt8: Set<UInt16>] = [:]
        for key in ports.keys {
            if IPProtocolNumber.carriesPorts(key.ipProtocol) {
                byProtocol[key.ipProtocol, default: []].insert(key.port)
            } else if Self.isICMP(key.ipProtocol) && self.options.format == .cilium {
                spec.icmpTypes[key.ipProtocol, default: []].append(UInt8(truncatingIfNeeded: key.port))
            } else {
                return PortSpec(anyProtocol: true)
            }
        }
        if dns && (byProtocol[IPProtocolNumber.udp]?.contains(53) == true || byProtocol[IPProtocolNumber.tcp]?.contains(53) == true) {
            byProtocol[IPProtocolNumber.udp, default: []].insert(53)
            byProtocol[IPProtocolNumber.tcp, default: []].insert(53)
        }
        for (proto, set) in byProtocol {
            if set.count > self.options.maxPorts || set.contains(0) {
                spec.allPorts.insert(proto)
                continue
            }
            var ranges: [ClosedRange<UInt16>] = []
            for port in set.sorted() {
                if let last = ranges.last, last.upperBound &+ 1 == port, last.upperBound != .max {
                    ranges[ranges.count - 1] = last.lowerBound...port
                } else {
                    ranges.append(port...port)
                }
            }
            spec.ranges[proto] = ranges
        }
        for proto in spec.icmpTypes.keys { spec.icmpTypes[proto] = Array(Set(spec.icmpTypes[proto]!)).sorted() }
        return spec
    }

    /// Merges CIDR peers that make up a whole larger prefix (two halves of a /31, ...), exactly.
    static func aggregate(_ peers: [AdvisorPeer]) -> [AdvisorPeer] {
        var prefixes = peers.compactMap { if case .cidr(let prefix) = $0 { prefix } else { nil } }
        var merged = true
        while merged {
            merged = false
            outer: for i in prefixes.indices where prefixes[i].length > 0 {
                let parent = IPPrefix(address: prefixes[i].address, length: prefixes[i].length - 1).masked
                for j in prefixes.indices where j != i && prefixes[j].length == prefixes[i].length
                    && prefixes[j].address != prefixes[i].address && parent.contains(prefixes[j]) {
                    prefixes.remove(at: max(i, j))
                    prefixes.remove(at: min(i, j))
                    prefixes.append(parent)
                    merged = true
                    break outer
                }
            }
        }
        return prefixes.sorted { ($0.isIPv4 ? 0 : 1, $0.address, $0.length) < ($1.isIPv4 ? 0 : 1, $1.address, $1.length) }.map { .cidr($0) }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        self.count >= width ? self : String(repeating: "0", count: width - self.count) + self
    }
}
