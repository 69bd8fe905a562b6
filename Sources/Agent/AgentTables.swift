import Datapath
import FlowCore

/// The agent's compiled tables: endpoints and identities (with CIDR identities for every CIDR
/// a policy names), the per-endpoint policy maps, and the ipcache. Built from a loaded
/// inventory and policy set; the one place this wiring lives (the CLI's `AgentState` and the
/// semantics tests both build through it).
public struct AgentTables: Sendable {
    public var endpoints: EndpointTable
    public var compiled: CompiledPolicies
    public var ipcache: IPCache
    /// ClusterIP service ports → backends (`--services`), consulted before policy.
    public var services = CompiledServices()

    public static func build(inventory: Inventory, policies: [PolicyDocument], nodeName: String?,
                             services: [Service] = [], servicesFile: String = "services",
                             clusterName: String = SecurityLabels.defaultClusterName)
        throws(AgentError) -> AgentTables
    {
        var endpoints = try EndpointTable.build(inventory: inventory, localNode: nodeName, clusterName: clusterName)
        let cidrs = Self.cidrs(in: policies)
        let cidrIdentities = endpoints.addCIDRIdentities(cidrs)

        var localIdentities = Set<Identity>()
        var namedPorts: [Identity: Set<NamedPort>] = [:]
        for endpoint in endpoints.endpoints where endpoint.pod != nil && !endpoint.identity.isReserved
            && endpoint.identity != .unknown {
            if endpoint.isLocal { localIdentities.insert(endpoint.identity) }
            namedPorts[endpoint.identity, default: []].formUnion(endpoint.namedPorts)
        }
        var cidrPrefixes: [Identity: (IPAddress, UInt8)] = [:]
        for cidr in cidrIdentities { cidrPrefixes[cidr.identity] = (cidr.prefix, cidr.prefixLength) }
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
            tables.services = try CompiledServices.compile(services, endpoints: endpoints, file: servicesFile)
        }
        return tables
    }

    /// Every CIDR a policy names (peers and their exceptions), for CIDR identities.
    public static func cidrs(in documents: [PolicyDocument]) -> [(IPAddress, UInt8)] {
        var result: [(IPAddress, UInt8)] = []
        func add(_ cidr: CIDR) { result.append((cidr.address, cidr.prefixLength)) }
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
