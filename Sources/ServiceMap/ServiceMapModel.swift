import FlowLog

/// A service map: who talks to whom, on which port, how often, and whether policy allows it.
/// Built from flow records by `ServiceMapBuilder`, drawn by `HTMLMapRenderer` and
/// `DOTMapRenderer`. Everything is sorted, so the same flows always give the same map.
public struct ServiceMap: Sendable, Equatable {
    /// Groups in drawing order: namespaces by name, then `cluster`, `world`, `addresses`.
    public var groups: [MapGroup]
    /// Nodes by group (in `groups` order), then by id.
    public var nodes: [MapNode]
    /// Edges by source id, destination id, protocol, port or ICMP type, verdict class.
    public var edges: [MapEdge]
    /// The edges bundled by source, destination and verdict class: what is drawn as one arrow
    /// (with one label line per edge). By source id, destination id, verdict class.
    public private(set) var links: [MapLink]
    /// Flow records the map was built from.
    public var flowCount: Int
    /// Whether any record carried a policy verdict (without one, every edge is "allowed").
    public var hasVerdicts: Bool
    /// Whether any record carried endpoints (an inventory was given).
    public var hasEndpoints: Bool

    public init(groups: [MapGroup], nodes: [MapNode], edges: [MapEdge], flowCount: Int, hasVerdicts: Bool,
                hasEndpoints: Bool) {
        self.groups = groups
        self.nodes = nodes
        self.edges = edges
        self.links = MapLink.bundle(edges)
        self.flowCount = flowCount
        self.hasVerdicts = hasVerdicts
        self.hasEndpoints = hasEndpoints
    }

    /// Connections whose verdict class is "would be dropped".
    public var wouldBeDroppedConnections: Int {
        self.edges.filter { $0.verdictClass == .wouldBeDropped }.reduce(0) { $0 + $1.connections }
    }
}

/// A box of nodes: a namespace, or one of the places that are not namespaces.
public struct MapGroup: Sendable, Hashable, Comparable {
    public enum Kind: Int, Sendable, Hashable, Comparable {
        /// A Kubernetes namespace: its pods' workloads.
        case namespace = 0
        /// Nodes and reserved identities: `host`, `remote-node`, `kube-apiserver`, `health`, ...
        case cluster = 1
        /// Outside the cluster: `world` and CIDR identities.
        case world = 2
        /// Addresses that the records say nothing about (no inventory was given).
        case addresses = 3

        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public var kind: Kind
    /// The namespace's name; for the other kinds `cluster`, `world`, `addresses`.
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    public static let cluster = MapGroup(kind: .cluster, name: "cluster")
    public static let world = MapGroup(kind: .world, name: "world")
    public static let addresses = MapGroup(kind: .addresses, name: "addresses")

    /// A stable id, distinct for every group: `ns:shop`, `cluster`, `world`, `addresses`
    /// (namespace names cannot contain ':').
    public var id: String { self.kind == .namespace ? "ns:\(self.name)" : self.name }

    /// The heading drawn on the group's box.
    public var title: String {
        switch self.kind {
        case .namespace: "namespace \(self.name)"
        case .cluster: "cluster (nodes, reserved identities)"
        case .world: "world (outside the cluster)"
        case .addresses: "addresses without inventory"
        }
    }

    public static func < (a: Self, b: Self) -> Bool { (a.kind, a.name) < (b.kind, b.name) }
}

/// What a node stands for.
public enum MapNodeKind: String, Sendable, Hashable {
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
public struct MapNode: Sendable, Equatable {
    /// Unique and stable: `namespace/workload` (or `namespace/pod`) for pods, `world`,
    /// `cidr:198.18.0.0/15`, `host`, `remote-node`, `kube-apiserver`, `reserved:health`,
    /// `identity:1234`, or the address itself (`203.0.113.7`).
    public var id: String
    public var kind: MapNodeKind
    public var group: MapGroup
    /// The name drawn in the box (`redis`, `world`, `198.18.0.0/15`, `10.244.0.7`).
    public var title: String
    /// The second line: the workload kind (`Deployment`), `Pod`, `world`, `CIDR` ...
    public var subtitle: String
    /// Pods seen (`namespace/pod`), sorted.
    public var pods: [String]
    /// Security identities seen, sorted.
    public var identities: [UInt32]
    /// Every label of the node's endpoints, sorted.
    public var labels: [String]
    /// Addresses seen, sorted (the first `ServiceMapBuilder.maximumListed`; `addressCount` has all).
    public var addresses: [String]
    public var addressCount: Int
    /// ClusterIP services (`namespace/name`) through which connections reached this node, sorted.
    public var services: [String]
    /// Connections (and their bytes, both ways) this node started, and those it answered.
    public var connectionsOut: Int
    public var connectionsIn: Int
    public var bytesOut: UInt64
    public var bytesIn: UInt64

    public init(id: String, kind: MapNodeKind, group: MapGroup, title: String, subtitle: String, pods: [String] = [],
                identities: [UInt32] = [], labels: [String] = [], addresses: [String] = [], addressCount: Int = 0,
                services: [String] = [], connectionsOut: Int = 0, connectionsIn: Int = 0, bytesOut: UInt64 = 0, bytesIn: UInt64 = 0) {
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
        self.connectionsOut = connectionsOut
        self.connectionsIn = connectionsIn
        self.bytesOut = bytesOut
        self.bytesIn = bytesIn
    }
}

/// Whether policy lets the connections of an edge through.
public enum VerdictClass: String, Sendable, Hashable, Comparable {
    /// `FORWARDED`, or no policy verdict at all.
    case allowed
    /// `AUDIT` (policy would drop it) or `DROPPED` (`--verdict-as-enforced`).
    case wouldBeDropped = "would-be-dropped"

    public init(_ verdict: FlowLogRecord.Verdict?) {
        self = (verdict?.wouldDrop ?? false) ? .wouldBeDropped : .allowed
    }

    public var title: String { self == .allowed ? "allowed" : "would be dropped" }

    public static func < (a: Self, b: Self) -> Bool { a == .allowed && b != .allowed }
}

/// The service a connection was for: protocol and destination port, or ICMP type.
public struct MapService: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var proto: String
    public var port: UInt16?
    public var icmpType: UInt8?

    public init(proto: String, port: UInt16? = nil, icmpType: UInt8? = nil) {
        self.proto = proto
        self.port = port
        self.icmpType = icmpType
    }

    public init(_ record: FlowLogRecord) {
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
    public var description: String {
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

    public static func < (a: Self, b: Self) -> Bool {
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
public struct MapEdge: Sendable, Equatable {
    public var source: String
    public var destination: String
    public var service: MapService
    public var verdictClass: VerdictClass
    public var connections: Int
    /// Packets and bytes, both ways.
    public var packets: UInt64
    public var bytes: UInt64
    /// Connections by verdict: `FORWARDED`, `AUDIT`, `DROPPED`, or `none` (no policy verdict).
    public var verdicts: [String: Int]
    /// The policies behind the verdicts, sorted: `egress allowed by CiliumNetworkPolicy shop/web`.
    public var policies: [String]
    /// Why connections would be dropped, with the side: `EGRESS POLICY_DENIED`, sorted.
    public var dropReasons: [String]
    /// Pods (or, for other nodes, addresses) at each end, sorted; the first `maximumListed`.
    public var sourceEndpoints: [String]
    public var destinationEndpoints: [String]
    public var sourceEndpointCount: Int
    public var destinationEndpointCount: Int
    /// The ClusterIP services (`namespace/name`) the connections were sent to, sorted.
    public var kubernetesServices: [String]
    /// Connections by Zeek `conn_state`.
    public var connStates: [String: Int]
    /// First start and last end of the connections, as written in the records.
    public var firstSeen: String
    public var lastSeen: String

    /// `src→dst 8080/TCP`: the edge's name (with `verdictClass`, its identity).
    public var key: String { "\(self.source)→\(self.destination) \(self.service)" }

    /// `8080/TCP ×12`.
    public var label: String { "\(self.service) ×\(self.connections)" }
}

/// The edges from one node to another in one verdict class, drawn as one arrow.
public struct MapLink: Sendable, Equatable {
    public var source: String
    public var destination: String
    public var verdictClass: VerdictClass
    /// Indices into `ServiceMap.edges`: the busiest first, then in service order.
    public var edges: [Int]
    public var connections: Int
    public var bytes: UInt64

    /// `src→dst`
    public var key: String { "\(self.source)→\(self.destination)" }

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
