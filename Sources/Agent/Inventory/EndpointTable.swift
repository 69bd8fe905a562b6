import Datapath
import FlowCore

/// An endpoint flowmon can name in a flow: a pod, or a node (the host or a remote node).
package struct Endpoint: Sendable {
    package var identity: Identity
    package var namespace: String?
    package var podName: String?
    /// The identity's labels in Hubble's form (`k8s:app=web`), sorted; `["reserved:host"]` etc.
    package var labels: [String]
    package var workload: Workload?
    /// On the local node (the node the capture comes from).
    package var isLocal: Bool
    package var namedPorts: [NamedPort]
    package var pod: Pod?
    /// The node the endpoint runs on (for a node endpoint, the node itself).
    package var nodeName: String?
    /// The addresses the ipcache maps to this endpoint.
    package var ips: [IPAddress]

    package init(identity: Identity, namespace: String? = nil, podName: String? = nil, labels: [String] = [],
                workload: Workload? = nil, isLocal: Bool = false, namedPorts: [NamedPort] = [], pod: Pod? = nil,
                nodeName: String? = nil, ips: [IPAddress] = []) {
        self.identity = identity
        self.namespace = namespace
        self.podName = podName
        self.labels = labels
        self.workload = workload
        self.isLocal = isLocal
        self.namedPorts = namedPorts
        self.pod = pod
        self.nodeName = nodeName
        self.ips = ips
    }

    /// Index 0 of every endpoint list: "no endpoint".
    package static let none = Endpoint(identity: .unknown)
}

/// The agent's view of the cluster: endpoints, identities and their labels, and the
/// prefixes the datapath's ipcache is built from.
///
/// **Endpoints** (`endpoints`, indexed by `IPCacheValue.endpoint`): index 0 is `Endpoint.none`;
/// then every pod in file order (host-network pods too, with the host or remote-node
/// identity, though their addresses resolve to their node's endpoint); then one endpoint
/// per node, in inventory order, with the `reserved:host` or `reserved:remote-node` labels.
///
/// **Identities**: pods get one identity per distinct security label set
/// (`SecurityLabels.forPod`): the cluster's number when `--identities` gives one
/// (`clusterNumbers`), else `IdentityAllocator`'s; host-network pods take
/// `host` (1) on the local node and `remote-node` (6) elsewhere; nodes likewise.
///
/// **Local node**: `localNode` names the node the capture was taken on. `build` takes it
/// from `--node-name`, or else the only node the inventory knows; with several nodes and
/// no `--node-name` there is none, and then every pod and every node counts as local (so
/// all node addresses resolve to `host`, and no address to `remote-node`).
///
/// **API server** (`apiServerAddresses`: the endpoints of `default/kubernetes`), as Cilium's
/// ipcache labels them `reserved:kube-apiserver` (pkg/ipcache/metadata.go; cilium#29432 lists
/// the cases): an address of the local node stays `host` (1), and the host identity gains the
/// label `reserved:kube-apiserver`; an address of a remote node gets the identity
/// `kube-apiserver` (7, labels `reserved:kube-apiserver` and `reserved:remote-node`) and no
/// endpoint (the node's other addresses keep `remote-node`); an address that is neither a
/// pod's nor a node's (a managed control plane) is left in `externalAPIServerAddresses`, for
/// a CIDR identity with the label (`AgentTables`). A pod's address keeps the pod's identity.
///
/// **World**: when the pods have both IPv4 and IPv6 addresses the cluster is taken as dual
/// stack and `0.0.0.0/0` → `world-ipv4` (9), `::/0` → `world-ipv6` (10), as Cilium does;
/// otherwise both map to `world` (2).
package struct EndpointTable: Sendable {
    package var endpoints: [Endpoint]
    /// Every identity in use, with its labels in Hubble's form, sorted: the pods' identities,
    /// and all reserved identities 1-10 (`reserved:host`, `reserved:world`, `reserved:world-ipv4`...).
    /// CIDR identities are added by `addCIDRIdentities`.
    package var identities: [Identity: [String]]
    /// The same labels, structured.
    package var identityLabels: [Identity: [SecurityLabel]]
    package var localNode: String?
    /// Both IPv4 and IPv6 pod addresses were seen (see above).
    package var isDualStack: Bool
    /// `namespace/name` → endpoint index.
    package var podEndpoints: [String: UInt32]
    /// Node name → endpoint index.
    package var nodeEndpoints: [String: UInt32]
    /// Conflicts found while building (an address claimed by a pod and a node, by two nodes).
    package var warnings: [String]
    /// The pod, node and world entries; `ipCacheEntries` adds CIDR entries to these.
    package var baseEntries: [IPCacheEntry]
    /// API server addresses that are no pod's or node's (see above), in the order given.
    package var externalAPIServerAddresses: [IPAddress] = []

    /// The labels of an identity as `(source, key, value)` tuples (empty if unknown).
    package func labelTuples(of identity: Identity) -> [(source: String, key: String, value: String)] {
        (self.identityLabels[identity] ?? []).map(\.tuple)
    }

    /// The endpoint of a pod, by namespace and name.
    package func endpoint(namespace: String, pod: String) -> Endpoint? {
        self.podEndpoints[namespace + "/" + pod].map { self.endpoints[Int($0)] }
    }

    /// The cluster's numbers for the pods' label sets (`--identities`): a label set a
    /// CiliumIdentity or a CiliumEndpoint's labels name takes that number; otherwise, a pod whose
    /// CiliumEndpoint (same namespace/name, else one of its addresses) names an identity gives
    /// its label set that number (the cluster may select labels differently), unless another
    /// label set already has it, which is a warning. Pods in file order; the first one decides.
    static func clusterNumbers(_ inventory: Inventory, podLabels: [[SecurityLabel]?],
                               warnings: inout [String]) -> [String: Identity] {
        let cluster = inventory.clusterIdentities
        guard !cluster.numbers.isEmpty else { return [:] }
        var pinned: [String: Identity] = [:]
        var owners: [Identity: String] = [:]
        for labels in podLabels.compactMap({ $0 }) {
            let canonical = SecurityLabels.canonical(labels)
            guard pinned[canonical] == nil, let number = cluster.byLabels[canonical] else { continue }
            // A CiliumEndpoint may list other labels for a number than its CiliumIdentity: one
            // number names one label set.
            if let owner = owners[number] {
                warnings.append("--identities: identity \(number.rawValue) names the labels \(owner) and \(canonical); numbering \(canonical) apart")
                continue
            }
            pinned[canonical] = number
            owners[number] = canonical
        }
        for (pod, labels) in zip(inventory.pods, podLabels) {
            guard let labels else { continue }
            let canonical = SecurityLabels.canonical(labels)
            guard pinned[canonical] == nil,
                  let number = cluster.byEndpoint[pod.namespace + "/" + pod.name]
                    ?? pod.ips.lazy.compactMap({ cluster.byAddress[$0] }).first else { continue }
            if let owner = owners[number] {
                warnings.append("--identities: pod \(pod.namespace)/\(pod.name): its CiliumEndpoint has identity \(number.rawValue), which the cluster gives the labels \(owner); its labels \(canonical) are numbered apart")
                continue
            }
            pinned[canonical] = number
            owners[number] = canonical
        }
        return pinned
    }

    package static func build(inventory: Inventory, localNode requested: String?, apiServerAddresses: [IPAddress] = [],
                             clusterName: String = SecurityLabels.defaultClusterName) throws(AgentError) -> EndpointTable {
        let nodeNames = Self.nodeNames(inventory)
        let localNode: String?
        if let requested {
            guard nodeNames.contains(requested) else {
                let known = nodeNames.isEmpty ? "the inventory names no nodes" : "known nodes: " + nodeNames.joined(separator: ", ")
                throw AgentError(file: "--node-name", message: "no node or pod has the node name \"\(requested)\" (\(known))")
            }
            localNode = requested
        } else {
            localNode = nodeNames.count == 1 ? nodeNames[0] : nil
        }
        func isLocal(_ node: String?) -> Bool {
            guard let localNode else { return true }
            return node == localNode
        }

        // Security labels and identities of the pods.
        var namespaceLabels: [String: [String: String]] = [:]
        for namespace in inventory.namespaces where namespaceLabels[namespace.name] == nil {
            namespaceLabels[namespace.name] = namespace.labels
        }
        var podLabels: [[SecurityLabel]?] = []
        podLabels.reserveCapacity(inventory.pods.count)
        for pod in inventory.pods {
            if pod.hostNetwork {
                podLabels.append(nil)
            } else {
                let labels = namespaceLabels[pod.namespace] ?? [SecurityLabels.namespaceNameLabel: pod.namespace]
                podLabels.append(SecurityLabels.forPod(pod, namespaceLabels: labels, clusterName: clusterName))
            }
        }
        var warnings: [String] = []
        let numbers = try IdentityAllocator.allocate(labelSets: podLabels.compactMap { $0 },
                                                     pinned: Self.clusterNumbers(inventory, podLabels: podLabels, warnings: &warnings),
                                                     taken: inventory.clusterIdentities.numbers)

        var table = EndpointTable(endpoints: [.none], identities: [:], identityLabels: [:], localNode: localNode,
                                  isDualStack: false, podEndpoints: [:], nodeEndpoints: [:],
                                  warnings: inventory.clusterIdentities.warnings + warnings, baseEntries: [])
        for identity in Identity.allReserved {
            table.record(identity, labels: IdentityAllocator.reservedLabels(identity))
        }
        let apiServer = Set(apiServerAddresses)
        let podAddresses = Set(inventory.pods.filter { !$0.hostNetwork }.flatMap(\.ips))
        if inventory.nodes.contains(where: { node in
            isLocal(node.name) && node.internalIPs.contains { apiServer.contains($0) && !podAddresses.contains($0) }
        }) {
            table.addLabel(.reserved(Identity.kubeAPIServer), to: .host)
        }
        var sawIPv4 = false, sawIPv6 = false
        for (pod, labels) in zip(inventory.pods, podLabels) {
            let local = isLocal(pod.nodeName)
            let identity: Identity
            let printed: [String]
            if let labels {
                identity = numbers[SecurityLabels.canonical(labels)]!
                table.record(identity, labels: labels)
                printed = table.identities[identity]!
                for ip in pod.ips {
                    if ip.isIPv4 { sawIPv4 = true } else { sawIPv6 = true }
                }
            } else {
                identity = local ? .host : .remoteNode
                printed = table.identities[identity]!
            }
            let index = UInt32(table.endpoints.count)
            table.endpoints.append(Endpoint(identity: identity, namespace: pod.namespace, podName: pod.name, labels: printed,
                                            workload: pod.workload, isLocal: local, namedPorts: pod.namedPorts, pod: pod,
                                            nodeName: pod.nodeName, ips: pod.hostNetwork ? [] : pod.ips))
            let key = pod.namespace + "/" + pod.name
            if table.podEndpoints[key] == nil { table.podEndpoints[key] = index }
        }
        table.isDualStack = sawIPv4 && sawIPv6

        // Pod addresses first: they win over a node claiming the same address.
        var claimed: [IPAddress: String] = [:]
        for (offset, endpoint) in table.endpoints.enumerated() where offset > 0 {
            for ip in endpoint.ips where claimed[ip] == nil {
                claimed[ip] = (endpoint.namespace ?? "") + "/" + (endpoint.podName ?? "")
                table.baseEntries.append(IPCacheEntry(
                    prefix: IPPrefix(host: ip),
                    value: IPCacheValue(identity: endpoint.identity, endpoint: UInt32(offset), isLocalEndpoint: endpoint.isLocal)))
            }
        }
        for node in inventory.nodes where table.nodeEndpoints[node.name] == nil {
            let local = isLocal(node.name)
            let identity: Identity = local ? .host : .remoteNode
            let index = UInt32(table.endpoints.count)
            var ips: [IPAddress] = []
            for ip in node.internalIPs {
                if let owner = claimed[ip] {
                    table.warnings.append("inventory: node \(node.name): \(ip.text) is claimed by \(owner) and node \(node.name); using \(owner)")
                    continue
                }
                claimed[ip] = "node " + node.name
                if !local && apiServer.contains(ip) {
                    table.baseEntries.append(IPCacheEntry(prefix: IPPrefix(host: ip),
                                                          value: IPCacheValue(identity: .kubeAPIServer)))
                    continue
                }
                ips.append(ip)
                table.baseEntries.append(IPCacheEntry(
                    prefix: IPPrefix(host: ip),
                    value: IPCacheValue(identity: identity, endpoint: index, isLocalEndpoint: local)))
            }
            table.endpoints.append(Endpoint(identity: identity, labels: table.identities[identity]!, isLocal: local,
                                            nodeName: node.name, ips: ips))
            table.nodeEndpoints[node.name] = index
        }

        for ip in apiServerAddresses where claimed[ip] == nil && !table.externalAPIServerAddresses.contains(ip) {
            table.externalAPIServerAddresses.append(ip)
        }

        // World.
        let v4World: Identity = table.isDualStack ? .worldIPv4 : .world
        let v6World: Identity = table.isDualStack ? .worldIPv6 : .world
        table.baseEntries.append(IPCacheEntry(prefix: IPPrefix(address: IPAddress(ipv4: 0), length: 0), value: IPCacheValue(identity: v4World)))
        table.baseEntries.append(IPCacheEntry(prefix: IPPrefix(address: .zero, length: 0), value: IPCacheValue(identity: v6World)))
        return table
    }

    /// Local-scope identities for CIDRs named by policies (see `IdentityAllocator.allocateCIDRs`),
    /// numbered the same way `ipCacheEntries(extraCIDRs:)` numbers them.
    package func cidrIdentities(_ cidrs: [IPPrefix]) -> [CIDRIdentity] {
        IdentityAllocator.allocateCIDRs(cidrs, dualStack: self.isDualStack)
    }

    /// Records the CIDR identities of `cidrs` in `identities` and `identityLabels`, and returns them.
    @discardableResult
    package mutating func addCIDRIdentities(_ cidrs: [IPPrefix]) -> [CIDRIdentity] {
        let allocated = self.cidrIdentities(cidrs)
        for cidr in allocated { self.record(cidr.identity, labels: cidr.labels) }
        return allocated
    }

    /// The ipcache's prefixes: pod addresses (/32, /128) → the pod's identity and endpoint
    /// (`isLocalEndpoint` for pods on the local node); node addresses → `host` or
    /// `remote-node` and the node's endpoint; each extra CIDR → its local-scope CIDR identity
    /// (no endpoint); `0.0.0.0/0` and `::/0` → world. An extra CIDR that is exactly a pod or
    /// node address, or a /0, is left out: the existing entry keeps that prefix (Cilium's
    /// CIDR selectors do not select cluster endpoints, and `0.0.0.0/0` is world).
    package func ipCacheEntries(extraCIDRs: [IPPrefix]) -> [IPCacheEntry] {
        var entries = self.baseEntries
        guard !extraCIDRs.isEmpty else { return entries }
        var taken = Set<IPAddress>()
        for entry in entries where entry.prefix.isHost { taken.insert(entry.prefix.address) }
        for cidr in self.cidrIdentities(extraCIDRs) where !(cidr.prefix.isHost && taken.contains(cidr.prefix.address)) {
            entries.append(IPCacheEntry(prefix: cidr.prefix,
                                        value: IPCacheValue(identity: cidr.identity)))
        }
        return entries
    }

    /// The datapath ipcache built from `ipCacheEntries(extraCIDRs:)`.
    package func ipCache(extraCIDRs: [IPPrefix] = []) -> IPCache {
        IPCache(self.ipCacheEntries(extraCIDRs: extraCIDRs))
    }

    /// Adds a label to an identity's labels (kept sorted), as Cilium merges the labels of
    /// every source of a prefix (`reserved:kube-apiserver` on the host or a CIDR identity).
    package mutating func addLabel(_ label: SecurityLabel, to identity: Identity) {
        var labels = self.identityLabels[identity] ?? []
        guard !labels.contains(label) else { return }
        labels.append(label)
        labels.sort()
        self.identityLabels[identity] = labels
        self.identities[identity] = labels.map(\.description)
    }

    private mutating func record(_ identity: Identity, labels: [SecurityLabel]) {
        guard self.identityLabels[identity] == nil else { return }
        self.identityLabels[identity] = labels
        self.identities[identity] = labels.map(\.description)
    }

    /// Node names in inventory order: the nodes (file and implied), then any pod's
    /// `nodeName` not among them.
    private static func nodeNames(_ inventory: Inventory) -> [String] {
        var seen = Set<String>()
        var names: [String] = []
        for name in inventory.nodes.map(\.name) + inventory.pods.compactMap(\.nodeName) where !seen.contains(name) {
            seen.insert(name)
            names.append(name)
        }
        return names
    }
}
