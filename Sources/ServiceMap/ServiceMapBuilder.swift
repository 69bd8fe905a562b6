import FlowLog

/// Folds flow records into a `ServiceMap`, one record at a time (memory grows with the
/// number of nodes, edges and distinct pods and addresses, not with the number of records).
///
/// Nodes: a pod's workload (`workloads[0]`) in its namespace, else the pod itself; an endpoint
/// without a pod by its identity's labels: `kube-apiserver`, `host`, `remote-node` (in that
/// order of precedence), `world` (world, world-ipv4 and world-ipv6 are one node) or one node per
/// CIDR identity (its longest `cidr:` prefix), another reserved identity by its name. A record
/// without endpoints (no inventory) gives one node per address.
///
/// A responder in the world (`world` or a CIDR identity) whose connections carry `dest_names`
/// (the names the initiator had looked up for the address, from the DNS answers it received;
/// Hubble's `destination_names`, docs/l7.md) is the node of the first name instead
/// (`fqdn:api.example.test`): every address answered for that name is one node, the peer a
/// `toFQDNs` rule names. World responders without names stay `world` or their CIDR; a named
/// responder in the cluster, or without an endpoint (no inventory), stays where it was.
///
/// An endpoint with a workload identity but no pod — the backends of a ClusterIP service
/// (`destination_service`, from a run with `--services`) — joins the workload whose pods carry
/// that identity, when exactly one does in the records; otherwise it is the service's own node
/// (`namespace/service`), or without a service `identity:N`. The service's name is kept on the
/// node and the edge.
///
/// Edges: initiator's node → responder's node, per service (protocol and destination port, or
/// ICMP type) and verdict class (`allowed`: FORWARDED or no verdict; `would be dropped`: AUDIT
/// or DROPPED). A pair with connections of both classes gives two edges.
package struct ServiceMapBuilder {
    /// How many pods, addresses or endpoints a node or edge lists (the counts are exact).
    package static let maximumListed = 50

    struct NodeAccumulator {
        var placement: Placement
        var pods: Set<String> = []
        var identities: Set<UInt32> = []
        var labels: Set<String> = []
        var addresses: Set<String> = []
        var services: Set<String> = []
        /// The DNS names the connections to an FQDN node carried (`dest_names`).
        var names: Set<String> = []
        var connectionsOut = 0
        var connectionsIn = 0
        var bytesOut: UInt64 = 0
        var bytesIn: UInt64 = 0

        mutating func merge(_ other: NodeAccumulator) {
            self.pods.formUnion(other.pods)
            self.identities.formUnion(other.identities)
            self.labels.formUnion(other.labels)
            self.addresses.formUnion(other.addresses)
            self.services.formUnion(other.services)
            self.names.formUnion(other.names)
            self.connectionsOut += other.connectionsOut
            self.connectionsIn += other.connectionsIn
            self.bytesOut &+= other.bytesOut
            self.bytesIn &+= other.bytesIn
        }
    }

    struct EdgeKey: Hashable {
        var source: String
        var destination: String
        var service: MapService
        var verdictClass: VerdictClass
    }

    struct EdgeAccumulator {
        var connections = 0
        var packets: UInt64 = 0
        var bytes: UInt64 = 0
        var verdicts: [String: Int] = [:]
        var policies: Set<String> = []
        var dropReasons: Set<String> = []
        var sourceEndpoints: Set<String> = []
        var destinationEndpoints: Set<String> = []
        var kubernetesServices: Set<String> = []
        var connStates: [String: Int] = [:]
        /// Connections by application protocol (`app_proto`: dns, http, tls).
        var applicationProtocols: [String: Int] = [:]
        var firstSeen: String?
        var lastSeen: String?

        mutating func merge(_ other: EdgeAccumulator) {
            self.connections += other.connections
            self.packets &+= other.packets
            self.bytes &+= other.bytes
            self.verdicts.merge(other.verdicts, uniquingKeysWith: +)
            self.policies.formUnion(other.policies)
            self.dropReasons.formUnion(other.dropReasons)
            self.sourceEndpoints.formUnion(other.sourceEndpoints)
            self.destinationEndpoints.formUnion(other.destinationEndpoints)
            self.kubernetesServices.formUnion(other.kubernetesServices)
            self.connStates.merge(other.connStates, uniquingKeysWith: +)
            self.applicationProtocols.merge(other.applicationProtocols, uniquingKeysWith: +)
            if let first = other.firstSeen, self.firstSeen.map({ first < $0 }) ?? true { self.firstSeen = first }
            if let last = other.lastSeen, self.lastSeen.map({ last > $0 }) ?? true { self.lastSeen = last }
        }
    }

    /// An endpoint whose node is decided in `build()`, once every pod's identity is known.
    struct Deferred: Hashable {
        var identity: UInt32
        var service: FlowLogRecord.ServiceReference?
        /// The namespace in the identity's labels (`k8s:io.kubernetes.pod.namespace=...`).
        var namespace: String?

        /// A key no real node id can be (it starts with a control character).
        var key: String { "\u{1}\(self.identity)\u{1}\(self.service?.description ?? "")\u{1}\(self.namespace ?? "")" }

        /// The node when no single workload has the identity.
        var fallback: Placement {
            if let service {
                return Placement(id: service.description, kind: .service, group: MapGroup(kind: .namespace, name: service.namespace),
                                 title: service.name, subtitle: "Service")
            }
            return Placement(id: "identity:\(self.identity)", kind: .identity,
                             group: self.namespace.map { MapGroup(kind: .namespace, name: $0) } ?? .cluster,
                             title: "identity \(self.identity)", subtitle: "identity")
        }
    }

    private var nodes: [String: NodeAccumulator] = [:]
    private var edges: [EdgeKey: EdgeAccumulator] = [:]
    /// The workload (or pod) nodes each identity was seen on, for deferred endpoints.
    private var nodesByIdentity: [UInt32: Set<String>] = [:]
    private var deferred: [String: Deferred] = [:]
    package private(set) var flowCount = 0
    private var hasVerdicts = false
    private var hasEndpoints = false

    package init() {}

    /// Adds one connection.
    package mutating func add(_ record: FlowLogRecord) {
        self.flowCount += 1
        if record.policy != nil { self.hasVerdicts = true }
        if record.source != nil || record.destination != nil { self.hasEndpoints = true }
        let bytes = record.bytes
        let source = self.addEndpoint(record.source, service: nil, address: record.sourceIP, names: [], initiator: true,
                                      bytes: bytes)
        let destination = self.addEndpoint(record.destination, service: record.destinationService,
                                           address: record.destinationIP, names: record.destinationNames ?? [],
                                           initiator: false, bytes: bytes)

        let key = EdgeKey(source: source.id, destination: destination.id, service: MapService(record),
                          verdictClass: VerdictClass(record.verdict))
        var edge = self.edges.removeValue(forKey: key) ?? EdgeAccumulator()
        edge.connections += 1
        edge.packets &+= record.packets
        edge.bytes &+= bytes
        edge.verdicts[record.verdict?.rawValue ?? "none", default: 0] += 1
        if let policy = record.policy {
            for named in policy.namedPolicies {
                let side = named.direction == .egress ? "egress" : "ingress"
                edge.policies.insert("\(side) \(named.denied ? "denied" : "allowed") by \(named.policy)")
            }
            if policy.verdict.wouldDrop {
                let reason = [policy.direction?.rawValue, policy.dropReason].compactMap { $0 }.joined(separator: " ")
                edge.dropReasons.insert(reason.isEmpty ? policy.verdict.rawValue : reason)
            }
        }
        edge.sourceEndpoints.insert(source.endpointName)
        edge.destinationEndpoints.insert(destination.endpointName)
        if let service = record.destinationService { edge.kubernetesServices.insert(service.description) }
        if let state = record.connState { edge.connStates[state, default: 0] += 1 }
        if let application = record.applicationProtocol { edge.applicationProtocols[application, default: 0] += 1 }
        let start = record.start ?? record.timestamp
        let end = record.end ?? record.timestamp
        if edge.firstSeen.map({ start < $0 }) ?? true { edge.firstSeen = start }
        if edge.lastSeen.map({ end > $0 }) ?? true { edge.lastSeen = end }
        self.edges[key] = edge
    }

    /// Adds every record of a sequence.
    package mutating func add(contentsOf records: some Sequence<FlowLogRecord>) {
        for record in records { self.add(record) }
    }

    /// The map, sorted.
    package func build() -> ServiceMap {
        // Deferred endpoints join the one workload with their identity, or get a node of their own.
        var nodes = self.nodes
        var rename: [String: String] = [:]
        for (key, endpoint) in self.deferred {
            guard var node = nodes.removeValue(forKey: key) else { continue }
            let candidates = self.nodesByIdentity[endpoint.identity] ?? []
            let target = candidates.count == 1 ? candidates.first! : endpoint.fallback.id
            rename[key] = target
            if var existing = nodes[target] {
                existing.merge(node)
                nodes[target] = existing
            } else {
                node.placement = endpoint.fallback
                nodes[target] = node
            }
        }
        var edges = self.edges
        if !rename.isEmpty {
            edges = [:]
            for (key, edge) in self.edges {
                var renamed = key
                renamed.source = rename[key.source] ?? key.source
                renamed.destination = rename[key.destination] ?? key.destination
                if var existing = edges[renamed] {
                    existing.merge(edge)
                    edges[renamed] = existing
                } else {
                    edges[renamed] = edge
                }
            }
        }

        func listed<T: Comparable>(_ values: Set<T>) -> [T] { Array(values.sorted().prefix(Self.maximumListed)) }
        let mapNodes = nodes.map { id, node in
            MapNode(id: id, kind: node.placement.kind, group: node.placement.group, title: node.placement.title,
                    subtitle: node.placement.subtitle, pods: node.pods.sorted(), identities: node.identities.sorted(),
                    labels: node.labels.sorted(), addresses: listed(node.addresses), addressCount: node.addresses.count,
                    services: node.services.sorted(), names: node.names.sorted(),
                    connectionsOut: node.connectionsOut, connectionsIn: node.connectionsIn,
                    bytesOut: node.bytesOut, bytesIn: node.bytesIn)
        }.sorted { ($0.group, $0.id) < ($1.group, $1.id) }
        let mapEdges = edges.map { key, edge in
            MapEdge(source: key.source, destination: key.destination, service: key.service,
                    verdictClass: key.verdictClass, connections: edge.connections, packets: edge.packets,
                    bytes: edge.bytes, verdicts: edge.verdicts, policies: edge.policies.sorted(),
                    dropReasons: edge.dropReasons.sorted(),
                    sourceEndpoints: listed(edge.sourceEndpoints), destinationEndpoints: listed(edge.destinationEndpoints),
                    sourceEndpointCount: edge.sourceEndpoints.count,
                    destinationEndpointCount: edge.destinationEndpoints.count,
                    kubernetesServices: edge.kubernetesServices.sorted(),
                    connStates: edge.connStates, applicationProtocols: edge.applicationProtocols, firstSeen: edge.firstSeen ?? "", lastSeen: edge.lastSeen ?? "")
        }.sorted { a, b in
            (a.source, a.destination, a.service) < (b.source, b.destination, b.service)
                || ((a.source, a.destination, a.service) == (b.source, b.destination, b.service) && a.verdictClass < b.verdictClass)
        }
        let groups = Set(mapNodes.map(\.group)).sorted()
        return ServiceMap(groups: groups, nodes: mapNodes, edges: mapEdges, flowCount: self.flowCount,
                          hasVerdicts: self.hasVerdicts, hasEndpoints: self.hasEndpoints)
    }

    // MARK: - Nodes

    /// Where an endpoint goes on the map.
    package struct Placement: Sendable, Equatable {
        package var id: String
        package var kind: MapNodeKind
        package var group: MapGroup
        package var title: String
        package var subtitle: String
    }

    /// The node an endpoint (or, without one, an address) belongs to, as far as the endpoint
    /// alone tells: a pod-less endpoint with a workload identity is `identity:N` here (the
    /// builder joins it to its workload when the records show one).
    package static func placement(of endpoint: FlowLogRecord.Endpoint?, address: String) -> Placement {
        guard let endpoint else {
            return Placement(id: address, kind: .address, group: .addresses, title: address, subtitle: "address")
        }
        if let placement = Self.podPlacement(endpoint) ?? Self.reservedPlacement(endpoint) { return placement }
        return Deferred(identity: endpoint.identity, service: nil, namespace: Self.labelNamespace(endpoint)).fallback
    }

    static func podPlacement(_ endpoint: FlowLogRecord.Endpoint) -> Placement? {
        guard let pod = endpoint.podName else { return nil }
        let namespace = endpoint.namespace ?? ""
        let group = MapGroup(kind: .namespace, name: namespace)
        if let workload = endpoint.workloads.first {
            return Placement(id: "\(namespace)/\(workload.name)", kind: .workload, group: group,
                             title: workload.name, subtitle: workload.kind)
        }
        return Placement(id: "\(namespace)/\(pod)", kind: .pod, group: group, title: pod, subtitle: "Pod")
    }

    /// Reserved and CIDR identities; nil for a workload identity.
    static func reservedPlacement(_ endpoint: FlowLogRecord.Endpoint) -> Placement? {
        let reserved = endpoint.reservedNames
        if reserved.contains("kube-apiserver") {
            return Placement(id: "kube-apiserver", kind: .kubeAPIServer, group: .cluster, title: "kube-apiserver",
                             subtitle: "reserved:kube-apiserver")
        }
        if reserved.contains("host") {
            return Placement(id: "host", kind: .host, group: .cluster, title: "host", subtitle: "this node")
        }
        if reserved.contains("remote-node") {
            return Placement(id: "remote-node", kind: .remoteNode, group: .cluster, title: "remote-node",
                             subtitle: "other nodes")
        }
        if let prefix = Self.mostSpecific(endpoint.cidrPrefixes) {
            return Placement(id: "cidr:\(prefix)", kind: .cidr, group: .world, title: prefix, subtitle: "CIDR")
        }
        if endpoint.isWorld {
            return Placement(id: "world", kind: .world, group: .world, title: "world", subtitle: "world")
        }
        if let name = reserved.first {
            return Placement(id: "reserved:\(name)", kind: .reserved, group: .cluster, title: name, subtitle: "reserved")
        }
        return nil
    }

    /// The node of a world responder the initiator knew by name: its first name's.
    static func fqdnPlacement(_ name: String) -> Placement {
        Placement(id: "fqdn:\(name)", kind: .fqdn, group: .world, title: name, subtitle: "FQDN")
    }

    static func labelNamespace(_ endpoint: FlowLogRecord.Endpoint) -> String? {
        endpoint.namespace ?? endpoint.labels(after: "k8s:io.kubernetes.pod.namespace=").first
    }

    /// The longest of some `cidr:` label prefixes (`10.1.0.0/16` before `10.0.0.0/8`); among
    /// equally long ones, the first in text order.
    static func mostSpecific(_ prefixes: [String]) -> String? {
        func length(_ prefix: String) -> Int {
            prefix.split(separator: "/").last.flatMap { Int($0) } ?? 0
        }
        return prefixes.min { a, b in (-length(a), a) < (-length(b), b) }
    }

    struct Resolved {
        var id: String
        /// `namespace/pod` for a pod, else the address: what edges list at their ends.
        var endpointName: String
    }

    private mutating func addEndpoint(_ endpoint: FlowLogRecord.Endpoint?, service: FlowLogRecord.ServiceReference?,
                                      address: String, names: [String], initiator: Bool, bytes: UInt64) -> Resolved {
        let placement: Placement
        var endpointName = address
        if let endpoint, endpoint.podName == nil, Self.reservedPlacement(endpoint) == nil {
            let deferred = Deferred(identity: endpoint.identity, service: service, namespace: Self.labelNamespace(endpoint))
            placement = Placement(id: deferred.key, kind: .identity, group: .cluster, title: "", subtitle: "")
            self.deferred[deferred.key] = deferred
            if let service { endpointName = "service \(service) (\(address))" }
        } else if let endpoint, let name = names.first, let world = Self.reservedPlacement(endpoint),
                  world.group == .world {
            placement = Self.fqdnPlacement(name)
        } else {
            placement = Self.placement(of: endpoint, address: address)
        }
        var node = self.nodes.removeValue(forKey: placement.id) ?? NodeAccumulator(placement: placement)
        if let endpoint {
            // An endpoint's labels are its identity's: add them once per identity.
            if node.identities.insert(endpoint.identity).inserted {
                node.labels.formUnion(endpoint.labels)
                if endpoint.podName != nil { self.nodesByIdentity[endpoint.identity, default: []].insert(placement.id) }
            }
            if let pod = endpoint.podName {
                endpointName = "\(endpoint.namespace ?? "")/\(pod)"
                node.pods.insert(endpointName)
            }
        }
        if placement.kind == .fqdn { node.names.formUnion(names) }
        if let service {
            node.services.insert(service.description)
        } else {
            node.addresses.insert(address)
        }
        if initiator {
            node.connectionsOut += 1
            node.bytesOut &+= bytes
        } else {
            node.connectionsIn += 1
            node.bytesIn &+= bytes
        }
        self.nodes[placement.id] = node
        return Resolved(id: placement.id, endpointName: endpointName)
    }
}
