import Datapath
import FlowCore

/// The agent's compiled tables: endpoints and identities (with CIDR identities for every CIDR
/// a policy names), the per-endpoint policy maps, and the ipcache. Built from a loaded
/// inventory and policy set; the one place this wiring lives (the CLI's `AgentState` and the
/// semantics tests both build through it).
package struct AgentTables: Sendable {
    package var endpoints: EndpointTable
    package var compiled: CompiledPolicies
    package var ipcache: IPCache
    /// ClusterIP service ports → backends (`--services`), consulted before policy.
    package var services = CompiledServices()
    /// What the inputs cannot tell (a policy selects the kube-apiserver entity, and no file
    /// gives the API server's addresses), each `FILE: message`.
    package var notices: [String] = []

    /// The API server's addresses are the endpoints of the `default/kubernetes` service in
    /// `services` (Cilium watches the same object); an address outside the cluster gets a
    /// CIDR identity (`/32`, `/128`) with the extra label `reserved:kube-apiserver`.
    package static func build(inventory: Inventory, policies: [PolicyDocument], nodeName: String?,
                             services: [Service] = [], servicesFile: String = "services",
                             clusterName: String = SecurityLabels.defaultClusterName)
        throws(AgentError) -> AgentTables
    {
        let apiServer = services.last { $0.isKubernetesAPI }?.endpointAddresses
        var endpoints = try EndpointTable.build(inventory: inventory, localNode: nodeName,
                                                apiServerAddresses: apiServer ?? [], clusterName: clusterName)
        let external = endpoints.externalAPIServerAddresses.map(IPPrefix.init(host:))
        let cidrs = Self.cidrs(in: policies) + external
        let cidrIdentities = endpoints.addCIDRIdentities(cidrs)
        for cidr in cidrIdentities where external.contains(cidr.prefix) {
            endpoints.addLabel(.reserved(Identity.kubeAPIServer), to: cidr.identity)
        }

        var localIdentities = Set<Identity>()
        var namedPorts: [Identity: Set<NamedPort>] = [:]
        for endpoint in endpoints.endpoints where endpoint.pod != nil && !endpoint.identity.isReserved
            && endpoint.identity != .unknown {
            if endpoint.isLocal { localIdentities.insert(endpoint.identity) }
            namedPorts[endpoint.identity, default: []].formUnion(endpoint.namedPorts)
        }
        var cidrPrefixes: [Identity: IPPrefix] = [:]
        for cidr in cidrIdentities { cidrPrefixes[cidr.identity] = cidr.prefix }
        let localNode = endpoints.localNode
        let compilerInventory = CompilerInventory(
            identityLabels: endpoints.identityLabels, localIdentities: localIdentities,
            namedPorts: namedPorts.mapValues { $0.sorted { ($0.name, $0.port) < ($1.name, $1.port) } },
            cidrIdentities: cidrPrefixes,
            localNodeLabels: inventory.nodes.first { $0.name == localNode }?.labels,
            remoteNodeLabels: inventory.nodes.filter { $0.name != localNode }.map(\.labels))
        var compiler = PolicyCompiler(inventory: compilerInventory)
        let compiled = compiler.compile(policies)
        var tables = AgentTables(endpoints: endpoints, compiled: compiled, ipcache: endpoints.ipCache(extraCIDRs: cidrs))
        if !services.isEmpty {
            tables.services = try CompiledServices.compile(services, endpoints: endpoints, ipcache: tables.ipcache,
                                                           file: servicesFile)
        }
        let selecting = policies.filter(Self.selectsKubeAPIServer)
        if apiServer == nil, let first = selecting.first {
            let others = selecting.count > 1 ? " (and \(selecting.count - 1) more)" : ""
            tables.notices.append("\(first.source.file): \(first.kind.rawValue) \(first.namespace.map { $0 + "/" } ?? "")\(first.name)\(others) selects the kube-apiserver entity, but no endpoints of the default/kubernetes service are known, so no address has that identity (pass --services the output of 'kubectl get services,endpoints -A -o json')")
        }
        return tables
    }

    /// Whether a Cilium policy names the `kube-apiserver` entity in a peer.
    static func selectsKubeAPIServer(_ document: PolicyDocument) -> Bool {
        guard case .cilium(let rules) = document.body else { return false }
        return rules.contains { rule in
            ((rule.ingress ?? []) + (rule.ingressDeny ?? [])).contains { $0.fromEntities?.contains(.kubeAPIServer) == true }
                || ((rule.egress ?? []) + (rule.egressDeny ?? [])).contains { $0.toEntities?.contains(.kubeAPIServer) == true }
        }
    }

    /// Every CIDR a policy names (peers and their exceptions), for CIDR identities.
    package static func cidrs(in documents: [PolicyDocument]) -> [IPPrefix] {
        var result: [IPPrefix] = []
        func add(_ cidr: CIDR) { result.append(cidr.prefix) }
        func add(_ rule: CIDRRule) {
            add(rule.cidr)
            rule.except.forEach(add)
        }
        for document in documents {
            switch document.body {
            case .cilium(let rules):
                for rule in rules {
                    for item in (rule.ingress ?? []) + (rule.ingressDeny ?? []) {
                        (item.fromCIDR ?? []).forEach(add)
                        (item.fromCIDRSet ?? []).forEach(add)
                    }
                    for item in (rule.egress ?? []) + (rule.egressDeny ?? []) {
                        (item.toCIDR ?? []).forEach(add)
                        (item.toCIDRSet ?? []).forEach(add)
                    }
                }
            case .kubernetes(let spec):
                for peer in (spec.ingress ?? []).flatMap({ $0.from ?? [] }) + (spec.egress ?? []).flatMap({ $0.to ?? [] }) {
                    if let block = peer.ipBlock { add(block) }
                }
            }
        }
        return result
    }

}
