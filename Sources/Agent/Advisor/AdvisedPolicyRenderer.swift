import Datapath
import FlowCore

/// A YAML value the renderer writes: scalars already in their YAML form, maps in order.
indirect enum AdvisedYAML {
    case scalar(String)
    case map([(String, AdvisedYAML)])
    case list([AdvisedYAML])

    /// Block-style lines at `indent`, lists at their key's indentation (as kubectl prints them).
    func lines(indent: Int = 0) -> [String] {
        let pad = String(repeating: " ", count: indent)
        switch self {
        case .scalar(let text):
            return [pad + text]
        case .map(let entries):
            var result: [String] = []
            for (key, value) in entries {
                switch value {
                case .scalar(let text): result.append(pad + Self.key(key) + ": " + text)
                case .map(let inner) where inner.isEmpty: result.append(pad + Self.key(key) + ": {}")
                case .list(let items) where items.isEmpty: result.append(pad + Self.key(key) + ": []")
                case .map: result.append(pad + Self.key(key) + ":"); result += value.lines(indent: indent + 2)
                case .list: result.append(pad + Self.key(key) + ":"); result += value.lines(indent: indent)
                }
            }
            return result
        case .list(let items):
            var result: [String] = []
            for item in items {
                switch item {
                case .scalar(let text): result.append(pad + "- " + text)
                case .map(let inner) where inner.isEmpty: result.append(pad + "- {}")
                case .map, .list:
                    let inner = item.lines(indent: indent + 2)
                    result.append(pad + "- " + inner[0].dropFirst(indent + 2))
                    result += inner.dropFirst()
                }
            }
            return result
        }
    }

    /// A double-quoted YAML string (JSON escapes are valid YAML escapes). Every character
    /// outside YAML's printable set (YAML 1.2 §5.1: C0 but tab and newline, DEL, C1 but NEL,
    /// U+FFFE, U+FFFF) is escaped, as are NEL, U+2028 and U+2029, line breaks to YAML 1.1.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            default:
                let value = scalar.value
                if value < 0x20 || (0x7f...0x9f).contains(value) || value == 0x2028 || value == 0x2029 || value >= 0xfffe && value <= 0xffff {
                    out += "\\u" + String(scalar.value, radix: 16).leftPadded(4)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// Keys are written plain when they are label keys or field names, quoted otherwise.
    static func key(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.first.map { $0 != UInt8(ascii: "-") && $0 != UInt8(ascii: ":") } == true
            && text.utf8.allSatisfy { b in
                (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || (b >= 0x30 && b <= 0x39)
                    || b == UInt8(ascii: ".") || b == UInt8(ascii: "-") || b == UInt8(ascii: "_") || b == UInt8(ascii: "/")
                    || b == UInt8(ascii: ":")
            } && !text.hasSuffix(":")
        return plain ? text : quoted(text)
    }
}

/// Writes one advised policy: a comment header saying which traffic produced it, then the
/// CiliumNetworkPolicy or NetworkPolicy.
struct AdvisedPolicyRenderer {
    let advisor: Advisor
    let subject: Int
    let name: String
    let selector: AdvisedSelector
    let use: SubjectUse
    let egress: [AdvisedRule]
    let ingress: [AdvisedRule]

    var workload: AdvisorWorkload { self.advisor.workloads[self.subject] }
    var pods: [Pod] { self.advisor.inputs.inventory.pods }

    // MARK: Header

    func header(notes: [String]) -> [String] {
        let workload = self.workload
        let local = self.advisor.inputs.endpoints.localNode
        let localPods = workload.pods.filter { local == nil || self.pods[$0].nodeName == local }.count
        var lines = [
            "Advised by 'flowmon policy advise' from \(self.advisor.options.input.isEmpty ? "observed traffic" : self.advisor.options.input):",
            "the least privilege that allows what this workload was seen doing. Review it before applying it.",
            "Workload: " + workload.descriptions.map { "\($0) in \(workload.namespace)" }.joined(separator: ", ")
                + " (\(workload.pods.count) pod\(workload.pods.count == 1 ? "" : "s"), \(localPods) on \(local.map { "node \($0)" } ?? "the nodes observed"))",
            "Selector: \(self.selector.text) selects "
                + (workload.alsoSelected.isEmpty ? "exactly these pods in the inventory"
                   : "also \(workload.alsoSelected.joined(separator: ", ")) (no stable label tells them apart)"),
        ]
        let connections = self.use.egress.connections + self.use.ingress.connections
        var observed = "Observed: \(connections) connection\(connections == 1 ? "" : "s") of its pods"
        if let seen = self.advisor.subjectSeen[self.subject] {
            observed += " over \(ObservedSpan.describe(nanoseconds: seen.nanoseconds))"
        }
        if !self.advisor.options.basis.isEmpty { observed += ", of \(self.advisor.options.basis)" }
        lines.append(observed + ".")
        for (title, direction, verb) in [("Egress", self.use.egress, "out"), ("Ingress", self.use.ingress, "in")] {
            let count = direction.connections
            guard count > 0 else {
                lines.append("\(title): no connection observed, so nothing is allowed \(verb).")
                continue
            }
            lines.append("\(title): \(count) connection\(count == 1 ? "" : "s"):")
            var entries = direction.peers.sorted { self.advisor.peerSortKey($0.key) < self.advisor.peerSortKey($1.key) }
                .map { "  " + self.describe($0.key, $0.value) }
            if direction.fromOwnNode.connections > 0 {
                entries.append("  this node (always allowed in, no rule needed): " + Self.describe(direction.fromOwnNode.ports))
            }
            let shown = 40
            lines += entries.prefix(shown)
            if entries.count > shown { lines.append("  ... and \(entries.count - shown) more peers") }
        }
        lines += notes
        return lines.map { $0.isEmpty ? "#" : "# " + $0 }
    }

    func describe(_ peer: AdvisorPeer, _ use: PeerUse) -> String {
        var text: String
        switch peer {
        case .workload(let index):
            let peerWorkload = self.advisor.workloads[index]
            text = "\(peerWorkload.namespace)/\(peerWorkload.name)"
        case .namespace(let namespace): text = "pods of namespace \(namespace) (no stable label to select them by)"
        case .host: text = "this node (host)"
        case .remoteNode: text = "other nodes (remote-node)"
        case .world: text = "world"
        case .cidr(let prefix):
            text = prefix.isHost ? prefix.address.text : prefix.description
        case .names(let names):
            text = names.joined(separator: ", ") + " (" + use.addresses.sorted().map(\.text).joined(separator: ", ") + ")"
        case .kubeDNS: text = "kube-dns (k8s-app=kube-dns in kube-system)"
        }
        if !use.nodeAddresses.isEmpty {
            text += " " + use.nodeAddresses.sorted().map(\.text).joined(separator: ", ")
        }
        if !use.unknownBackends.isEmpty {
            text += " (ClusterIP of service " + use.unknownBackends.sorted().joined(separator: ", ")
                + ", whose backends flowmon does not know: allowed as an address)"
        }
        // "via service" only for the connections sent to a ClusterIP (translated to the peer's
        // pods); the others went to the pods' own addresses.
        guard !use.viaService.isEmpty else { return text + ": " + Self.describe(use.ports) }
        let services = use.services.subtracting(use.unknownBackends).sorted().joined(separator: ", ")
        var direct = use.ports
        for (key, count) in use.viaService {
            direct[key, default: 0] -= count
            if direct[key] == 0 { direct[key] = nil }
        }
        text += " via service \(services): " + Self.describe(use.viaService)
        return direct.isEmpty ? text : text + "; direct to its pods: " + Self.describe(direct)
    }

    static func describe(_ ports: [PortKey: Int]) -> String {
        ports.sorted { $0.key < $1.key }.map { key, count in
            let what: String
            switch key.ipProtocol {
            case IPProtocolNumber.icmp: what = "ICMP type \(key.port)"
            case IPProtocolNumber.icmpv6: what = "ICMPv6 type \(key.port)"
            case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp:
                what = "\(IPProtocolNumber.eveName(key.ipProtocol)!) \(key.port)"
            default: what = IPProtocolNumber.eveName(key.ipProtocol).map { "\($0)" } ?? "protocol \(key.ipProtocol)"
            }
            return "\(what) (\(count))"
        }.joined(separator: ", ")
    }

    // MARK: Selectors

    func selectorYAML(_ selector: AdvisedSelector, extra: [(String, String)] = []) -> AdvisedYAML {
        var entries: [(String, AdvisedYAML)] = []
        let labels = (selector.labels.map { ($0.key, $0.value) } + extra)
        if !labels.isEmpty {
            entries.append(("matchLabels", .map(labels.map { ($0.0, .scalar(AdvisedYAML.quoted($0.1))) })))
        }
        if !selector.absentKeys.isEmpty {
            entries.append(("matchExpressions", .list(selector.absentKeys.map {
                .map([("key", .scalar(AdvisedYAML.quoted($0))), ("operator", .scalar("DoesNotExist"))])
            })))
        }
        return .map(entries)
    }

    static func protocolName(_ ipProtocol: UInt8) -> String {
        switch ipProtocol {
        case IPProtocolNumber.udp: "UDP"
        case IPProtocolNumber.sctp: "SCTP"
        default: "TCP"
        }
    }

    // MARK: Cilium

    func cilium() -> (yaml: String, ingressItems: Int, egressItems: Int)? {
        let workload = self.workload
        let ingressItems = self.ciliumItems(self.ingress, direction: .ingress)
        let egressItems = self.ciliumItems(self.egress, direction: .egress)
        let openEgress = !self.unknownServices.isEmpty
        var spec: [(String, AdvisedYAML)] = [
            ("endpointSelector", self.selectorYAML(self.selector)),
            ("ingress", .list(ingressItems.isEmpty ? [.map([])] : ingressItems)),
        ]
        if !openEgress { spec.append(("egress", .list(egressItems.isEmpty ? [.map([])] : egressItems))) }
        let document: AdvisedYAML = .map([
            ("apiVersion", .scalar("cilium.io/v2")),
            ("kind", .scalar("CiliumNetworkPolicy")),
            ("metadata", .map([("name", .scalar(self.name)), ("namespace", .scalar(workload.namespace))])),
            ("spec", .map(spec)),
        ])
        var notes = self.worldNotes() + self.nameNotes()
        if ingressItems.isEmpty { notes.append("'ingress: [{}]' selects the pods and allows nothing in.") }
        var trailer: [String] = []
        if openEgress {
            notes += self.unknownServiceNotes()
            trailer = self.commentedRules("egress", egressItems)
        } else if egressItems.isEmpty {
            notes.append("'egress: [{}]' selects the pods and allows nothing out.")
        }
        let text = (self.header(notes: notes) + document.lines() + trailer).joined(separator: "\n") + "\n"
        return (text, ingressItems.count, openEgress ? 0 : egressItems.count)
    }

    /// The directions the policy isolates, and so adds allowances to: a NetworkPolicy leaves out
    /// a direction that reaches nodes; both kinds leave egress open past a ClusterIP whose
    /// backends are not known (`unknownServices`).
    var isolates: (ingress: Bool, egress: Bool) {
        let unknown = !self.unknownServices.isEmpty
        guard self.advisor.options.format == .kubernetes else { return (true, !unknown) }
        let egressToNodes = self.egress.contains { $0.peers.contains(.host) || $0.peers.contains(.remoteNode) }
        let ingressFromNodes = self.ingress.contains { $0.peers.contains(.remoteNode) }
        return (!ingressFromNodes, !egressToNodes && !unknown)
    }

    /// Services the pods reached at a ClusterIP whose backends flowmon does not know (a service
    /// without a selector and without Endpoints in `--services`, such as default/kubernetes).
    /// Cilium translates such a connection before policy and judges it at the backends (the API
    /// server, for default/kubernetes), which no rule written from the ClusterIP allows: the
    /// advice leaves egress unrestricted rather than cut the pods off.
    var unknownServices: [String] {
        Array(Set(self.use.egress.peers.values.flatMap(\.unknownBackends))).sorted()
    }

    func unknownServiceNotes() -> [String] {
        [
            "Egress is not restricted: the pods reached \(self.unknownServices.joined(separator: ", ")) at the ClusterIP, whose backends",
            "flowmon does not know (no selector, no Endpoints in --services). Cilium judges such a connection at the backends",
            "(the API server, for default/kubernetes), which a rule naming the ClusterIP does not allow: restricting egress",
            "would cut the pods off. Give --services with the Endpoints ('kubectl get services,endpoints -A -o json') to",
            "advise egress; the egress rules advised without them are at the end of this file, as a comment.",
        ]
    }

    /// A direction's rules as a YAML comment, at the end of a file.
    func commentedRules(_ key: String, _ items: [AdvisedYAML], title: String = "Egress rules advised (see above):") -> [String] {
        ["#", "# " + title] + AdvisedYAML.map([(key, .list(items))]).lines(indent: 2).map { "#" + $0 }
    }

    func worldNotes() -> [String] {
        var notes: [String] = []
        for (direction, rules) in [("Egress", self.egress), ("Ingress", self.ingress)]
        where rules.contains(where: { $0.peers.contains(.world) }) {
            notes.append("\(direction): more than \(self.advisor.options.maxCIDRs) world addresses (--max-cidrs), so the rule allows "
                + (self.advisor.options.format == .cilium ? "the world entity" : "0.0.0.0/0 (::/0)") + " on the ports they used.")
        }
        return notes
    }

    /// What the header says of names: Cilium's DNS rule; the addresses a NetworkPolicy (or an
    /// invalid name) keeps as CIDRs, with the names they were looked up by.
    func nameNotes() -> [String] {
        var notes: [String] = []
        if let rule = self.egress.first(where: \.dnsProxy) {
            notes.append("toFQDNs allows the addresses DNS answers give for the names, as Cilium's DNS proxy sees them: the rule to")
            notes.append("kube-dns on 53 sends lookups through it (rules.dns). matchPattern \"*\" allows every lookup (the resolver's")
            notes.append("search-domain expansions and in-cluster names too); narrow it only knowing every name the pods look up.")
            if rule.peers.contains(.kubeDNS) {
                notes.append("No kube-dns pod (k8s-app: kube-dns) is in the inventory: the DNS rule selects Cilium's usual one; check it.")
            }
        }
        let resolved = self.use.egress.peers.compactMap { peer, use -> (IPPrefix, [String])? in
            guard case .cidr(let prefix) = peer, !use.names.isEmpty else { return nil }
            return (prefix, use.names.sorted())
        }.sorted { self.advisor.peerSortKey(.cidr($0.0)) < self.advisor.peerSortKey(.cidr($1.0)) }
        if !resolved.isEmpty {
            notes.append(self.advisor.options.format == .cilium
                ? "World addresses looked up by names toFQDNs cannot hold, so allowed as addresses:"
                : "World addresses looked up by name (a NetworkPolicy cannot name hosts; --format cilium writes toFQDNs):")
            for (prefix, names) in resolved.prefix(40) {
                notes.append("  \(prefix.isHost ? prefix.address.text : prefix.description) resolved as \(names.joined(separator: ", "))")
            }
            if resolved.count > 40 { notes.append("  ... and \(resolved.count - 40) more addresses") }
        }
        return notes
    }

    func ciliumItems(_ rules: [AdvisedRule], direction: TrafficDirection) -> [AdvisedYAML] {
        let prefix = direction == .ingress ? "from" : "to"
        var items: [AdvisedYAML] = []
        for rule in rules {
            let peers: (String, AdvisedYAML)
            switch self.advisor.category(rule.peers[0]) {
            case 0:
                peers = (prefix + "Endpoints", .list(rule.peers.map(self.ciliumEndpointSelector)))
            case 1:
                peers = (prefix + "Entities", .list(rule.peers.map { peer in
                    switch peer {
                    case .host: .scalar("host")
                    case .remoteNode: .scalar("remote-node")
                    default: .scalar("world")
                    }
                }))
            case 3:
                let names = Set(rule.peers.flatMap { peer -> [String] in if case .names(let names) = peer { names } else { [] } })
                peers = ("toFQDNs", .list(names.sorted().map { .map([("matchName", .scalar(AdvisedYAML.quoted($0)))]) }))
            default:
                peers = (prefix + "CIDR", .list(rule.peers.map { peer in
                    guard case .cidr(let prefix) = peer else { return .scalar("") }
                    return .scalar(prefix.description)
                }))
            }
            if rule.ports.anyProtocol || (!rule.ports.hasL4 && !rule.ports.hasICMP) {
                items.append(.map([peers]))
                continue
            }
            if rule.ports.hasL4 {
                var ports = rule.ports
                var chunks: [AdvisedYAML] = []
                if rule.dnsProxy {
                    // DNS on 53 through Cilium's DNS proxy; the peer's other ports as they are.
                    var dns = PortSpec()
                    for proto in [IPProtocolNumber.tcp, IPProtocolNumber.udp] {
                        dns.ranges[proto] = [53...53]
                        ports.ranges[proto]?.removeAll { $0 == 53...53 }
                        if ports.ranges[proto]?.isEmpty == true { ports.ranges[proto] = nil }
                    }
                    let any: AdvisedYAML = .map([("matchPattern", .scalar("\"*\""))])
                    chunks.append(.map([("ports", .list(Self.ciliumPorts(dns))), ("rules", .map([("dns", .list([any]))]))]))
                }
                let entries = Self.ciliumPorts(ports)
                // Cilium allows at most 40 ports in one toPorts item.
                chunks += stride(from: 0, to: entries.count, by: 40).map { AdvisedYAML.map([("ports", .list(Array(entries[$0..<min($0 + 40, entries.count)])))]) }
                items.append(.map([peers, ("toPorts", .list(chunks))]))
            }
            if rule.ports.hasICMP {
                // Cilium does not combine icmps with toPorts in one rule: a separate item.
                var fields: [AdvisedYAML] = []
                for (proto, types) in rule.ports.icmpTypes.sorted(by: { $0.key < $1.key }) {
                    for type in types {
                        fields.append(.map([("type", .scalar("\(type)")),
                                            ("family", .scalar(proto == IPProtocolNumber.icmp ? "IPv4" : "IPv6"))]))
                    }
                }
                let chunks = stride(from: 0, to: fields.count, by: 40).map { AdvisedYAML.map([("fields", .list(Array(fields[$0..<min($0 + 40, fields.count)])))]) }
                items.append(.map([peers, ("icmps", .list(chunks))]))
            }
        }
        return items
    }

    /// The `ports` entries of a `toPorts` item: TCP, UDP, SCTP, ranges with `endPort`, "0" for every port.
    static func ciliumPorts(_ spec: PortSpec) -> [AdvisedYAML] {
        var entries: [AdvisedYAML] = []
        for proto in Array(Set(spec.ranges.keys).union(spec.allPorts)).sorted(by: Self.protocolOrder) {
            if spec.allPorts.contains(proto) {
                entries.append(.map([("port", .scalar("\"0\"")), ("protocol", .scalar(Self.protocolName(proto)))]))
                continue
            }
            for range in spec.ranges[proto] ?? [] {
                var entry: [(String, AdvisedYAML)] = [("port", .scalar("\"\(range.lowerBound)\""))]
                if range.upperBound != range.lowerBound { entry.append(("endPort", .scalar("\(range.upperBound)"))) }
                entry.append(("protocol", .scalar(Self.protocolName(proto))))
                entries.append(.map(entry))
            }
        }
        return entries
    }

    /// TCP, UDP, SCTP.
    static func protocolOrder(_ a: UInt8, _ b: UInt8) -> Bool {
        func rank(_ p: UInt8) -> Int { p == IPProtocolNumber.tcp ? 0 : p == IPProtocolNumber.udp ? 1 : 2 }
        return rank(a) < rank(b)
    }

    func ciliumEndpointSelector(_ peer: AdvisorPeer) -> AdvisedYAML {
        switch peer {
        case .workload(let index):
            let peerWorkload = self.advisor.workloads[index]
            let namespace: [(String, String)] = peerWorkload.namespace == self.workload.namespace ? []
                : [("k8s:" + SecurityLabels.podNamespaceLabel, peerWorkload.namespace)]
            return self.selectorYAML(peerWorkload.selector ?? AdvisedSelector(), extra: namespace)
        case .namespace(let namespace):
            return self.selectorYAML(AdvisedSelector(), extra: [("k8s:" + SecurityLabels.podNamespaceLabel, namespace)])
        case .kubeDNS:
            return self.selectorYAML(AdvisedSelector(matchLabels: ["k8s-app": "kube-dns"]),
                                     extra: [("k8s:" + SecurityLabels.podNamespaceLabel, "kube-system")])
        default:
            return .map([])
        }
    }

    // MARK: Kubernetes

    func kubernetes() -> (yaml: String, ingressItems: Int, egressItems: Int)? {
        let workload = self.workload
        // NetworkPolicy names nodes only by ipBlock, which Cilium matches against nodes only with
        // policy-cidr-match-mode: nodes: a direction that reaches nodes is not isolated.
        let egressToNodes = !self.isolates.egress
        let ingressFromNodes = !self.isolates.ingress
        if egressToNodes && ingressFromNodes { return nil }
        let ingressItems = self.kubernetesItems(self.ingress, direction: .ingress)
        let egressItems = self.kubernetesItems(self.egress, direction: .egress)
        var types: [AdvisedYAML] = []
        if !ingressFromNodes { types.append(.scalar("Ingress")) }
        if !egressToNodes { types.append(.scalar("Egress")) }
        var spec: [(String, AdvisedYAML)] = [("podSelector", self.selectorYAML(self.selector)), ("policyTypes", .list(types))]
        if !ingressFromNodes && !ingressItems.isEmpty { spec.append(("ingress", .list(ingressItems))) }
        if !egressToNodes && !egressItems.isEmpty { spec.append(("egress", .list(egressItems))) }
        let document: AdvisedYAML = .map([
            ("apiVersion", .scalar("networking.k8s.io/v1")),
            ("kind", .scalar("NetworkPolicy")),
            ("metadata", .map([("name", .scalar(self.name)), ("namespace", .scalar(workload.namespace))])),
            ("spec", .map(spec)),
        ])
        var notes = self.worldNotes() + self.nameNotes()
        var trailer: [String] = []
        for (title, key, items, skipped) in [("Egress", "egress", egressItems, egressToNodes), ("Ingress", "ingress", ingressItems, ingressFromNodes)]
        where skipped {
            if key == "egress" && !self.unknownServices.isEmpty {
                notes += self.unknownServiceNotes()
            } else {
                notes.append("\(title) is not isolated: it reaches nodes, which a NetworkPolicy can name only by ipBlock, and Cilium")
                notes.append("(as flowmon) matches ipBlocks against node addresses only with policy-cidr-match-mode: nodes. Where ipBlocks")
                notes.append("do select nodes, add \(title) to policyTypes and uncomment the rules at the end of this file.")
            }
            trailer += self.commentedRules(key, items, title: "\(title) rules, node addresses as ipBlocks (see above):")
        }
        for (title, items, skipped) in [("Ingress", ingressItems, ingressFromNodes), ("Egress", egressItems, egressToNodes)]
        where items.isEmpty && !skipped {
            notes.append("\(title) is in policyTypes with no rule: nothing is allowed \(title == "Ingress" ? "in" : "out").")
        }
        let icmp = (self.egress + self.ingress).contains { $0.ports.anyProtocol }
        if icmp {
            notes.append("A NetworkPolicy cannot name ICMP or protocols other than TCP, UDP and SCTP: peers seen with them are")
            notes.append("allowed on every port and protocol.")
        }
        let text = (self.header(notes: notes) + document.lines() + trailer).joined(separator: "\n") + "\n"
        return (text, ingressFromNodes ? 0 : ingressItems.count, egressToNodes ? 0 : egressItems.count)
    }

    func kubernetesItems(_ rules: [AdvisedRule], direction: TrafficDirection) -> [AdvisedYAML] {
        var items: [AdvisedYAML] = []
        for rule in rules {
            var peers: [AdvisedYAML] = []
            for peer in rule.peers { peers += self.kubernetesPeers(peer, rule: rule, direction: direction) }
            var item: [(String, AdvisedYAML)] = [(direction == .ingress ? "from" : "to", .list(peers))]
            if !rule.ports.anyProtocol && rule.ports.hasL4 {
                var ports: [AdvisedYAML] = []
                for proto in Array(Set(rule.ports.ranges.keys).union(rule.ports.allPorts)).sorted(by: Self.protocolOrder) {
                    if rule.ports.allPorts.contains(proto) {
                        ports.append(.map([("protocol", .scalar(Self.protocolName(proto)))]))
                        continue
                    }
                    for range in rule.ports.ranges[proto] ?? [] {
                        var entry: [(String, AdvisedYAML)] = [("protocol", .scalar(Self.protocolName(proto))),
                                                               ("port", .scalar("\(range.lowerBound)"))]
                        if range.upperBound != range.lowerBound { entry.append(("endPort", .scalar("\(range.upperBound)"))) }
                        ports.append(.map(entry))
                    }
                }
                item.append(("ports", .list(ports)))
            }
            items.append(.map(item))
        }
        return items
    }

    func kubernetesPeers(_ peer: AdvisorPeer, rule: AdvisedRule, direction: TrafficDirection) -> [AdvisedYAML] {
        func namespaceSelector(_ namespace: String) -> AdvisedYAML {
            .map([("matchLabels", .map([(SecurityLabels.namespaceNameLabel, .scalar(AdvisedYAML.quoted(namespace)))]))])
        }
        func block(_ prefix: IPPrefix) -> AdvisedYAML {
            .map([("ipBlock", .map([("cidr", .scalar(prefix.description))]))])
        }
        switch peer {
        case .workload(let index):
            let peerWorkload = self.advisor.workloads[index]
            let pods = self.selectorYAML(peerWorkload.selector ?? AdvisedSelector())
            if peerWorkload.namespace == self.workload.namespace { return [.map([("podSelector", pods)])] }
            return [.map([("namespaceSelector", namespaceSelector(peerWorkload.namespace)), ("podSelector", pods)])]
        case .namespace(let namespace):
            if namespace == self.workload.namespace { return [.map([("podSelector", .map([]))])] }
            return [.map([("namespaceSelector", namespaceSelector(namespace))])]
        case .world:
            let use = self.collapsedWorld(direction)
            var blocks: [AdvisedYAML] = []
            if use.worldIPv4 || !use.worldIPv6 { blocks.append(block(IPPrefix(address: IPAddress(ipv4: 0), length: 0))) }
            if use.worldIPv6 { blocks.append(block(IPPrefix(address: .zero, length: 0))) }
            return blocks
        case .cidr(let prefix):
            return [block(prefix)]
        case .names, .kubeDNS:
            // Cilium only (`toFQDNs` and its DNS rule): the advisor writes a NetworkPolicy's world addresses as CIDRs.
            return []
        case .host, .remoteNode:
            let use = (direction == .egress ? self.use.egress : self.use.ingress).peers[peer] ?? PeerUse()
            let addresses = use.nodeAddresses.isEmpty ? self.advisor.nodeAddresses(peer) : Array(use.nodeAddresses)
            return addresses.sorted().map { block(IPPrefix(host: $0)) }
        }
    }

    /// The families of the world addresses a direction collapsed into the world peer.
    func collapsedWorld(_ direction: TrafficDirection) -> PeerUse {
        var use = PeerUse()
        for (peer, _) in (direction == .egress ? self.use.egress : self.use.ingress).peers {
            if case .cidr(let prefix) = peer {
                if prefix.isIPv4 { use.worldIPv4 = true } else { use.worldIPv6 = true }
            }
        }
        return use
    }
}
