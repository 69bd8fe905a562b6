import FlowLog

/// What a person sees on hovering a node or an edge: a heading, facts, and lists (pods,
/// labels, policies). Shared by the HTML page (tooltip and SVG `<title>`) and the DOT file
/// (`tooltip`), so both say the same.
package struct MapDetails: Sendable, Equatable {
    package var heading: String
    /// `("verdict", "would be dropped: AUDIT ×3")`
    package var facts: [(String, String)]
    /// `("pods (3)", ["shop/web-1", ...])`; a list that was cut ends with `… and N more`.
    package var lists: [(String, [String])]

    package static func == (a: Self, b: Self) -> Bool {
        a.heading == b.heading && a.facts.elementsEqual(b.facts, by: ==) && a.lists.elementsEqual(b.lists, by: ==)
    }

    /// Plain text, one fact or list per line (lists joined by commas).
    package var plainText: String {
        var lines = [self.heading]
        lines += self.facts.map { "\($0.0): \($0.1)" }
        lines += self.lists.map { "\($0.0): \($0.1.joined(separator: ", "))" }
        return lines.joined(separator: "\n")
    }

    /// How many items of a list are shown.
    package static let listLimit = 12

    static func list(_ title: String, _ items: [String], total: Int? = nil) -> (String, [String])? {
        let total = total ?? items.count
        guard total > 0 else { return nil }
        var shown = Array(items.prefix(Self.listLimit))
        if total > shown.count { shown.append("… and \(total - shown.count) more") }
        return ("\(title) (\(total))", shown)
    }

    package init(heading: String, facts: [(String, String)], lists: [(String, [String])]) {
        self.heading = heading
        self.facts = facts
        self.lists = lists
    }

    package init(node: MapNode) {
        self.heading = node.id
        var facts: [(String, String)] = []
        switch node.kind {
        case .workload, .pod: facts.append(("kind", "\(node.subtitle) in namespace \(node.group.name)"))
        case .service: facts.append(("kind", "Service in namespace \(node.group.name) (its backends' workload is not in the records)"))
        case .world: facts.append(("kind", "world: addresses outside the cluster that no CIDR policy names"))
        case .cidr: facts.append(("kind", "CIDR identity (world) \(node.title)"))
        case .fqdn: facts.append(("kind", "world addresses the initiators had looked up as \(node.title) (dest_names)"))
        case .host: facts.append(("kind", "the node the capture was taken on (reserved:host)"))
        case .remoteNode: facts.append(("kind", "other nodes of the cluster (reserved:remote-node)"))
        case .kubeAPIServer: facts.append(("kind", "the Kubernetes API server (reserved:kube-apiserver)"))
        case .reserved: facts.append(("kind", "reserved identity \(node.title)"))
        case .identity: facts.append(("kind", "security identity without a pod"))
        case .address: facts.append(("kind", "an address the flow records name no endpoint for"))
        }
        if !node.identities.isEmpty {
            facts.append(("identit\(node.identities.count == 1 ? "y" : "ies")", node.identities.map(String.init).joined(separator: ", ")))
        }
        facts.append(("connections out", "\(node.connectionsOut) (\(Self.bytes(node.bytesOut)))"))
        facts.append(("connections in", "\(node.connectionsIn) (\(Self.bytes(node.bytesIn)))"))
        self.facts = facts
        self.lists = [
            Self.list("pods", node.pods),
            Self.list("labels", node.labels),
            Self.list("addresses", node.addresses, total: node.addressCount),
            Self.list("names", node.names),
            Self.list("reached through services", node.services),
        ].compactMap { $0 }
    }

    package init(edge: MapEdge, source: MapNode?, destination: MapNode?) {
        self.heading = "\(source?.title ?? edge.source) → \(destination?.title ?? edge.destination)  \(edge.service)"
        var facts: [(String, String)] = [
            ("from", edge.source), ("to", edge.destination), ("service", edge.service.description),
        ]
        if !edge.kubernetesServices.isEmpty { facts.append(("through", edge.kubernetesServices.map { "service \($0)" }.joined(separator: ", "))) }
        facts.append(("verdict", "\(edge.verdictClass.title): \(Self.verdictCounts(edge.verdicts))"))
        if !edge.applicationProtocols.isEmpty { facts.append(("application", Self.counts(edge.applicationProtocols))) }
        if !edge.dropReasons.isEmpty { facts.append(("drop reason", edge.dropReasons.joined(separator: ", "))) }
        facts.append(("connections", String(edge.connections)))
        facts.append(("packets", String(edge.packets)))
        facts.append(("bytes", Self.bytes(edge.bytes)))
        if !edge.connStates.isEmpty {
            facts.append(("conn_state", Self.counts(edge.connStates)))
        }
        if !edge.firstSeen.isEmpty { facts.append(("first seen", edge.firstSeen)) }
        if !edge.lastSeen.isEmpty { facts.append(("last seen", edge.lastSeen)) }
        self.facts = facts
        self.lists = [
            Self.list("policies", edge.policies),
            Self.list("source endpoints", edge.sourceEndpoints, total: edge.sourceEndpointCount),
            Self.list("destination endpoints", edge.destinationEndpoints, total: edge.destinationEndpointCount),
        ].compactMap { $0 }
    }

    /// A link: every service from one node to another in one verdict class.
    package init(link: MapLink, in map: ServiceMap, source: MapNode?, destination: MapNode?) {
        let edges = link.edges.map { map.edges[$0] }
        self.heading = "\(source?.title ?? link.source) → \(destination?.title ?? link.destination)"
        var verdicts: [String: Int] = [:]
        var applications: [String: Int] = [:]
        var packets: UInt64 = 0
        for edge in edges {
            verdicts.merge(edge.verdicts, uniquingKeysWith: +)
            applications.merge(edge.applicationProtocols, uniquingKeysWith: +)
            packets &+= edge.packets
        }
        var facts: [(String, String)] = [("from", link.source), ("to", link.destination),
                                         ("verdict", "\(link.verdictClass.title): \(Self.verdictCounts(verdicts))")]
        if !applications.isEmpty { facts.append(("application", Self.counts(applications))) }
        let services = Set(edges.flatMap(\.kubernetesServices)).sorted()
        if !services.isEmpty { facts.append(("through", services.map { "service \($0)" }.joined(separator: ", "))) }
        let reasons = Set(edges.flatMap(\.dropReasons)).sorted()
        if !reasons.isEmpty { facts.append(("drop reason", reasons.joined(separator: ", "))) }
        facts.append(("connections", String(link.connections)))
        facts.append(("packets", String(packets)))
        facts.append(("bytes", Self.bytes(link.bytes)))
        self.facts = facts
        self.lists = [
            Self.list("services", edges.map { "\($0.label) (\(Self.bytes($0.bytes)))" }),
            Self.list("policies", Set(edges.flatMap(\.policies)).sorted()),
        ].compactMap { $0 }
    }

    /// `http ×4, tls ×1`, by name.
    static func counts(_ counts: [String: Int]) -> String {
        counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")
    }

    /// `FORWARDED ×3, AUDIT ×1, no policy verdict ×2` (`none`: no verdict), in the verdicts' order.
    static func verdictCounts(_ verdicts: [String: Int]) -> String {
        (FlowLogRecord.Verdict.allCases.map(\.rawValue) + ["none"]).compactMap { name in
            verdicts[name].map { name == "none" ? "no policy verdict ×\($0)" : "\(name) ×\($0)" }
        }.joined(separator: ", ")
    }

    /// `512 B`, `12.3 kB`, `4.1 MB` (powers of 1000).
    package static func bytes(_ count: UInt64) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var value = Double(count)
        var unit = 0
        while value >= 999.95 && unit < units.count - 1 {
            value /= 1000
            unit += 1
        }
        return unit == 0 ? "\(count) B" : "\(MapText.format(value)) \(units[unit])"
    }
}
