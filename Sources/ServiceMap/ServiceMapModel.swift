import FlowLog

/// A service map: who talks to whom, on which port, how often, and whether policy allows it.
/// Built from flow records by `ServiceMapBuilder`, drawn by `HTMLMapRenderer` and
/// `DOTMapRenderer`. Everything is sorted, so the same flows always give the same map.
package struct ServiceMap: Sendable, Equatable {
    /// Groups in drawing order: namespaces by name, then `cluster`, `world`, `addresses`.
    package var groups: [MapGroup]
    /// Nodes by group (in `groups` order), then by id.
    package var nodes: [MapNode]
    /// Edges by source id, destination id, protocol, port or ICMP type, verdict class.
    package var edges: [MapEdge]
    /// The edges bundled by source, destination and verdict class: what is drawn as one arrow
    /// (with one label line per edge). By source id, destination id, verdict class.
    package private(set) var links: [MapLink]
    /// Flow records the map was built from.
    package var flowCount: Int
    /// Whether any record carried a policy verdict (without one, every edge is "allowed").
    package var hasVerdicts: Bool
    /// Whether any record carried endpoints (an inventory was given).
    package var hasEndpoints: Bool

    package init(groups: [MapGroup], nodes: [MapNode], edges: [MapEdge], flowCount: Int, hasVerdicts: Bool,
                hasEndpoints: Bool) {
        self.groups = groups
        self.nodes = nodes
        self.edges = edges
        self.links = MapLink.bundle(edges)
        self.flowCount = flowCount
        self.hasVerdicts = hasVerdicts
        self.hasEndpoints = hasEndpoints
    }

    /// The colour of a link: the worst verdict of its edges.
    package func verdict(of link: MapLink) -> EdgeVerdict {
        let verdicts = link.edges.map { self.edges[$0].verdict }
        return verdicts.contains(.dropped) ? .dropped : verdicts.contains(.audit) ? .audit : .forwarded
    }

    /// Connections whose verdict class is "would be dropped".
    package var wouldBeDroppedConnections: Int {
        self.edges.filter { $0.verdictClass == .wouldBeDropped }.reduce(0) { $0 + $1.connections }
    }
}

/// A box of nodes: a namespace, or one of the places that are not namespaces.
package struct MapGroup: Sendable, Hashable, Comparable {
    package enum Kind: Int, Sendable, Hashable, Comparable {
        /// A Kubernetes namespace: its pods' workloads.
        case namespace = 0
        /// Nodes and reserved identities: `host`, `remote-node`, `kube-apiserver`, `health`, ...
        case cluster = 1
        /// Outside the cluster: `world` and CIDR identities.
        case world = 2
        /// Addresses that the records say nothing about (no inventory was given).
        case addresses = 3

        package static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    package var kind: Kind
    /// The namespace's name; for the other kinds `cluster`, `world`, `addresses`.
    package var name: String

    package init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    package static let cluster = MapGroup(kind: .cluster, name: "cluster")
    package static let world = MapGroup(kind: .world, name: "world")
    package static let addresses = MapGroup(kind: .addresses, name: "addresses")

    /// A stable id, distinct for every group: `ns:shop`, `cluster`, `world`, `addresses`
    /// (namespace names cannot contain ':').
    package var id: String { self.kind == .namespace ? "ns:\(self.name)" : self.name }

    /// The heading drawn on the group's box.
    package var title: String {
        switch self.kind {
        case .namespace: "namespace \(self.name)"
        case .cluster: "cluster (nodes, reserved identities)"
        case .world: "world (outside the cluster)"
        case .addresses: "addresses without inventory"
        }
    }

    package static func < (a: Self, b: Self) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// What a node stands for.
package enum MapNodeKind: String, Sendable, Hashable {
    /// Pods of one workload (`workloads[0]` of their endpoint: Deployment, StatefulSet, ...).
    case workload
    /// A pod without a workload.
    case pod
    /// A ClusterIP service whose backends' workload the records do not show.
    case service
    /// `reserved:world`, `world-ipv4`, `world-ipv6` without a CIDR label.
    case world
    /// A CIDR identity (`cidr:198.18.0.0/15` with its world label).
    case cidr
    /// World addresses the initiator had looked up by name, by the first name (`fqdn:api.example.test`).
    case fqdn
    case host
    case remoteNode = "remote-node"
    case kubeAPIServer = "kube-apiserver"
    /// Another reserved identity (`health`, `ingress`, `init`, `unmanaged`, `unknown`).
    case reserved
    /// An identity with labels but no pod and no reserved or CIDR label.
    case identity
    /// An address with no endpoint in the records (no inventory).
    case address
}

/// One box on the map.
package struct MapNode: Sendable, Equatable {
    /// Unique and stable: `namespace/workload` (or `namespace/pod`) for pods, `world`,
    /// `cidr:198.18.0.0/15`, `fqdn:api.example.test`, `host`, `remote-node`, `kube-apiserver`, `reserved:health`,
    /// `identity:1234`, or the address itself (`203.0.113.7`).
    package var id: String
    package var kind: MapNodeKind
    package var group: MapGroup
    /// The name drawn in the box (`redis`, `world`, `198.18.0.0/15`, `10.244.0.7`).
    package var title: String
    /// The second line: the workload kind (`Deployment`), `Pod`, `world`, `CIDR` ...
    package var subtitle: String
    /// Pods seen (`namespace/pod`), sorted.
    package var pods: [String]
    /// Security identities seen, sorted.
    package var identities: [UInt32]
    /// Every label of the node's endpoints, sorted.
    package var labels: [String]
    /// Addresses seen, sorted (the first `ServiceMapBuilder.maximumListed`; `addressCount` has all).
    package var addresses: [String]
    package var addressCount: Int
    /// ClusterIP services (`namespace/name`) through which connections reached this node, sorted.
    package var services: [String]
    /// For an FQDN node, every name its connections carried (`dest_names`), sorted.
    package var names: [String]
    /// Connections (and their bytes, both ways) this node started, and those it answered.
    package var connectionsOut: Int
    package var connectionsIn: Int
    package var bytesOut: UInt64
    package var bytesIn: UInt64

    package init(id: String, kind: MapNodeKind, group: MapGroup, title: String, subtitle: String, pods: [String] = [],
                identities: [UInt32] = [], labels: [String] = [], addresses: [String] = [], addressCount: Int = 0,
                services: [String] = [], names: [String] = [], connectionsOut: Int = 0, connectionsIn: Int = 0, bytesOut: UInt64 = 0, bytesIn: UInt64 = 0) {
        self.id = id
        self.kind = kind
        self.group = group
        self.title = title
        self.subtitle = subtitle
        self.pods = pods
        self.identities = identities
        self.labels = labels
        self.addresses = addresses
        self.addressCount = addressCount
        self.services = services
        self.names = names
        self.connectionsOut = connectionsOut
        self.connectionsIn = connectionsIn
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
    }
}

/// Whether policy lets the connections of an edge through.
package enum VerdictClass: String, Sendable, Hashable, Comparable {
    /// `FORWARDED`, or no policy verdict at all.
    case allowed
    /// `AUDIT` (policy would drop it) or `DROPPED` (`--verdict-as-enforced`).
    case wouldBeDropped = "would-be-dropped"

    package init(_ verdict: FlowLogRecord.Verdict?) {
        self = (verdict?.wouldDrop ?? false) ? .wouldBeDropped : .allowed
    }

    package var title: String { self == .allowed ? "allowed" : "would be dropped" }

    package static func < (a: Self, b: Self) -> Bool { a == .allowed && b != .allowed }
}

/// The verdict an edge is coloured by on the map (three colours, one legend): `dropped` when any of
/// its connections was DROPPED (enforced policy, or `--verdict-as-enforced`), `audit` when policy
/// would drop them but audit mode let them through (AUDIT), else `forwarded` (FORWARDED, or no
/// policy verdict at all).
package enum EdgeVerdict: String, Sendable, Hashable, CaseIterable {
    case forwarded
    case audit
    case dropped

    /// The line colour (HTML page and DOT file) and the darker one its text is written in.
    package var color: String {
        switch self {
        case .forwarded: "#2f9e44"
        case .audit: "#e8590c"
        case .dropped: "#e03131"
        }
    }

    package var textColor: String {
        switch self {
        case .forwarded: "#2b8a3e"
        case .audit: "#d9480f"
        case .dropped: "#c92a2a"
        }
    }

    /// What the legend calls it.
    package var title: String {
        switch self {
        case .forwarded: "forwarded"
        case .audit: "audit: would be dropped"
        case .dropped: "dropped"
        }
    }
}

/// The service a connection was for: protocol and destination port, or ICMP type.
package struct MapService: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var proto: String
    package var port: UInt16?
    package var icmpType: UInt8?

    package init(proto: String, port: UInt16? = nil, icmpType: UInt8? = nil) {
        self.proto = proto
        self.port = port
        self.icmpType = icmpType
    }

    package init(_ record: FlowLogRecord) {
        self.proto = record.proto
        if record.isICMP {
            self.port = nil
            self.icmpType = record.icmpType
        } else {
            self.port = record.destinationPort
            self.icmpType = nil
        }
    }

    /// `8080/TCP`, `53/UDP`, `ICMP echo`, `IPv6-ICMP type 200`, `GRE`.
    package var description: String {
        if let port { return "\(port)/\(self.proto)" }
        if let icmpType {
            if let name = Self.icmpName(proto: self.proto, type: icmpType) { return "\(self.proto) \(name)" }
            return "\(self.proto) type \(icmpType)"
        }
        return self.proto
    }

    static func icmpName(proto: String, type: UInt8) -> String? {
        ICMPNames.name(type: type, ipv6: proto != "ICMP")
    }

    package static func < (a: Self, b: Self) -> Bool {
        if a.proto != b.proto { return a.proto < b.proto }
        let portA: Int = a.port.map { Int($0) } ?? -1
        let portB: Int = b.port.map { Int($0) } ?? -1
        if portA != portB { return portA < portB }
        let typeA: Int = a.icmpType.map { Int($0) } ?? -1
        let typeB: Int = b.icmpType.map { Int($0) } ?? -1
        return typeA < typeB
    }
}

/// One arrow: the connections from one node to another for one service, in one verdict class.
package struct MapEdge: Sendable, Equatable {
    package var source: String
    package var destination: String
    package var service: MapService
    package var verdictClass: VerdictClass
    package var connections: Int
    /// Packets and bytes, both ways.
    package var packets: UInt64
    package var bytes: UInt64
    /// Connections by verdict: `FORWARDED`, `AUDIT`, `DROPPED`, or `none` (no policy verdict).
    package var verdicts: [String: Int]
    /// The policies behind the verdicts, sorted: `egress allowed by CiliumNetworkPolicy shop/web`.
    package var policies: [String]
    /// Why connections would be dropped, with the side: `EGRESS POLICY_DENIED`, sorted.
    package var dropReasons: [String]
    /// Pods (or, for other nodes, addresses) at each end, sorted; the first `maximumListed`.
    package var sourceEndpoints: [String]
    package var destinationEndpoints: [String]
    package var sourceEndpointCount: Int
    package var destinationEndpointCount: Int
    /// The ClusterIP services (`namespace/name`) the connections were sent to, sorted.
    package var kubernetesServices: [String]
    /// Connections by Zeek `conn_state`.
    package var connStates: [String: Int]
    /// Connections by application protocol (`app_proto`: dns, http, tls); those without one are not counted.
    package var applicationProtocols: [String: Int]
    /// First start and last end of the connections, as written in the records.
    package var firstSeen: String
    package var lastSeen: String

    /// `dropped` if any connection was DROPPED, else `audit` in the would-be-dropped class, else `forwarded`.
    package var verdict: EdgeVerdict {
        if self.verdictClass == .allowed { return .forwarded }
        return (self.verdicts["DROPPED"] ?? 0) > 0 ? .dropped : .audit
    }

    /// `src→dst 8080/TCP`: the edge's name (with `verdictClass`, its identity).
    package var key: String { "\(self.source)→\(self.destination) \(self.service)" }

    /// `8080/TCP ×12`.
    package var label: String { "\(self.service) ×\(self.connections)" }
}

/// The edges from one node to another in one verdict class, drawn as one arrow.
package struct MapLink: Sendable, Equatable {
    package var source: String
    package var destination: String
    package var verdictClass: VerdictClass
    /// Indices into `ServiceMap.edges`: the busiest first, then in service order.
    package var edges: [Int]
    package var connections: Int
    package var bytes: UInt64

    /// `src→dst`
    package var key: String { "\(self.source)→\(self.destination)" }

    static func bundle(_ edges: [MapEdge]) -> [MapLink] {
        struct Key: Hashable {
            var source: String
            var destination: String
            var verdictClass: VerdictClass
        }
        var index: [Key: Int] = [:]
        var links: [MapLink] = []
        for (position, edge) in edges.enumerated() {
            let key = Key(source: edge.source, destination: edge.destination, verdictClass: edge.verdictClass)
            if let existing = index[key] {
                links[existing].edges.append(position)
                links[existing].connections += edge.connections
                links[existing].bytes &+= edge.bytes
            } else {
                index[key] = links.count
                links.append(MapLink(source: edge.source, destination: edge.destination, verdictClass: edge.verdictClass,
                                     edges: [position], connections: edge.connections, bytes: edge.bytes))
            }
        }
        for i in links.indices {
            // Stable: equal counts keep the edges' (service) order.
            links[i].edges = links[i].edges.enumerated().sorted { a, b in
                (edges[a.element].connections, b.offset) > (edges[b.element].connections, a.offset)
            }.map(\.element)
        }
        return links.sorted { a, b in
            (a.source, a.destination) < (b.source, b.destination)
                || ((a.source, a.destination) == (b.source, b.destination) && a.verdictClass < b.verdictClass)
        }
    }
}
