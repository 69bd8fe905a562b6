import Agent
import Datapath
import L7
import FlowCore
import Output

/// Where the agent's inputs come from (`--pods`, `--namespaces`, `--nodes`, `--node-name`,
/// `--policies`).
package struct AgentConfiguration: Sendable {
    package var pods: String?
    package var namespaces: String?
    package var nodes: String?
    package var nodeName: String?
    package var policyPaths: [String]
    package var verdictAsEnforced: Bool
    /// `kubectl get services,endpoints -A -o json` (`--services`): connections to ClusterIPs are
    /// judged as sent to the backends; the endpoints of `default/kubernetes` are the API server's.
    package var services: String?
    /// Whether a policy file that fails to load is left out (its error in
    /// `AgentState.policies.errors`) instead of stopping the load, and field positions are
    /// kept for warnings (`flowmon policy check`).
    package var skipsBadPolicyFiles: Bool
    /// Cilium's `cluster-name` (`--cluster-name`): the pods' `io.cilium.k8s.policy.cluster`
    /// label and the Hubble endpoints' `cluster_name`.
    package var clusterName: String
    /// Whether `pods` is a watch stream (`-` or a FIFO, `PodWatchStream`) a live capture
    /// follows: its pods are given to `AgentState.load` rather than read from `pods`.
    package var podsAreStreamed = false
    /// The cluster's identity numbers: `kubectl get ciliumidentities` and/or
    /// `kubectl get ciliumendpoints -A` as JSON (`--identities`, `ClusterIdentities`).
    package var identities: [String] = []
    /// Whether the policies will judge connections (every command but `policy check`, which
    /// only reads them): without pods none would select an endpoint, which is then warned about.
    package var judgesConnections = true

    package init(pods: String? = nil, namespaces: String? = nil, nodes: String? = nil, nodeName: String? = nil,
                policyPaths: [String] = [], verdictAsEnforced: Bool = false, services: String? = nil,
                skipsBadPolicyFiles: Bool = false, clusterName: String = SecurityLabels.defaultClusterName) {
        self.skipsBadPolicyFiles = skipsBadPolicyFiles
        self.services = services
        self.clusterName = clusterName
        self.pods = pods
        self.namespaces = namespaces
        self.nodes = nodes
        self.nodeName = nodeName
        self.policyPaths = policyPaths
        self.verdictAsEnforced = verdictAsEnforced
    }

    package var isEmpty: Bool {
        self.pods == nil && self.namespaces == nil && self.nodes == nil && self.policyPaths.isEmpty && self.services == nil
            && self.identities.isEmpty
    }
}

/// The agent side, loaded once before any packet is read: inventory → identities →
/// policies → CIDR identities → compiled per-endpoint maps and the ipcache, plus the names
/// the output needs, rendered once. Bad input stops here with a precise error.
package struct AgentState: Sendable {
    package var inventory: Inventory
    package var endpoints: EndpointTable
    package var policies: PolicySet
    package var compiled: CompiledPolicies
    package var ipcache: IPCache
    /// Warnings and notices to show the user (duplicate IPs, skipped documents, ...).
    package var messages: [String]
    package var verdictAsEnforced: Bool
    /// Service translation (`--services`); empty without it.
    package var services = CompiledServices()
    /// The Services as loaded (`--services`), for the detectors' cluster resolvers.
    package var loadedServices: [Service] = []

    /// `streamedPods`: the pods of the watch stream so far, when `podsAreStreamed`.
    package static func load(_ configuration: AgentConfiguration, streamedPods: [Pod] = []) throws(AgentError) -> AgentState {
        let stream = configuration.podsAreStreamed ? configuration.pods : nil
        var inventory = try InventoryLoader.load(pods: stream == nil ? configuration.pods : nil, namespaces: configuration.namespaces,
                                                 nodes: configuration.nodes, identities: configuration.identities,
                                                 streamedPods: stream.map { ($0 == "-" ? "standard input" : $0, streamedPods) })
        // The node a stream is followed on exists before the stream lists a pod of it.
        if stream != nil, let node = configuration.nodeName, !inventory.nodes.contains(where: { $0.name == node }) {
            inventory.nodes.append(Node(name: node))
        }
        let policies = configuration.policyPaths.isEmpty ? PolicySet()
            : configuration.skipsBadPolicyFiles ? PolicyLoader.loadEach(paths: configuration.policyPaths, recordingPositions: true)
            : try PolicyLoader.load(paths: configuration.policyPaths)
        let services = try configuration.services.map { path throws(AgentError) in try ServiceLoader.load(path: path) } ?? []
        let tables = try AgentTables.build(inventory: inventory, policies: policies.documents,
                                           nodeName: configuration.nodeName, services: services,
                                           servicesFile: configuration.services ?? "services",
                                           clusterName: configuration.clusterName)
        let endpoints = tables.endpoints
        let compiled = tables.compiled

        var messages = inventory.warnings.map { "warning: \($0)" } + endpoints.warnings.map { "warning: \($0)" }
        messages += tables.services.warnings.map { "warning: \($0)" }
        messages += inventory.notices.map { "notice: \($0)" }
        messages += tables.notices.map { "notice: \($0)" }
        messages += policies.notices.map { "notice: \($0)" }
        if configuration.judgesConnections && configuration.pods == nil && !policies.documents.isEmpty {
            messages.append("warning: --policies without --pods: no pod is known, so no policy selects an endpoint")
        }
        var state = AgentState(inventory: inventory, endpoints: endpoints, policies: policies, compiled: compiled,
                               ipcache: tables.ipcache, messages: messages,
                               verdictAsEnforced: configuration.verdictAsEnforced)
        state.services = tables.services
        state.loadedServices = services
        return state
    }

    /// Names for the output, rendered once. The `--hubble` lines get their own rendering:
    /// endpoints with `cluster_name` (the value of the `io.cilium.k8s.policy.cluster` label,
    /// which only pod identities carry, so reserved and CIDR identities have none) and
    /// policies with `labels` and `revision` (`policyRevision`: 1 for the policies loaded at
    /// start, one more per reload, as Cilium's policy repository revision grows with each
    /// change).
    package func annotations(policyRevision: UInt64 = 1) -> FlowAnnotations {
        /// The value of the `k8s:` security label `key` among `labels`.
        func k8sLabel(_ key: String, in labels: [String]) -> String? {
            let prefix = SecurityLabels.sourceK8s + ":" + key + "="
            return labels.first { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) }
        }
        func endpointJSON(hubble: Bool) -> [[UInt8]] {
            self.endpoints.endpoints.map { endpoint in
                FlowAnnotations.endpointJSON(identity: endpoint.identity.rawValue,
                                             clusterName: hubble ? k8sLabel(SecurityLabels.clusterLabel, in: endpoint.labels) : nil,
                                             namespace: endpoint.namespace, podName: endpoint.podName,
                                             labels: endpoint.labels, workload: endpoint.workload.map { ($0.name, $0.kind) })
            }
        }
        // Identities seen without one endpoint (a Service's backends, judged together): a pod
        // identity still names its namespace, from the label every pod identity carries.
        func identityJSON(hubble: Bool) -> [UInt32: [UInt8]] {
            var rendered: [UInt32: [UInt8]] = [:]
            for (identity, labels) in self.endpoints.identities {
                rendered[identity.rawValue] = FlowAnnotations.endpointJSON(
                    identity: identity.rawValue, clusterName: hubble ? k8sLabel(SecurityLabels.clusterLabel, in: labels) : nil,
                    namespace: k8sLabel(SecurityLabels.podNamespaceLabel, in: labels),
                    podName: nil, labels: labels.sorted(), workload: nil)
            }
            return rendered
        }
        func sets(revision: UInt64?) -> [[UInt8]] {
            self.compiled.policySets.map { set in
                FlowAnnotations.policiesJSON(set.map { ($0.name, $0.namespace, $0.kind.rawValue) }, revision: revision)
            }
        }
        let services = self.services.references.map { FlowAnnotations.serviceJSON(name: $0.name, namespace: $0.namespace) }
        let hubble = FlowAnnotations.HubbleNames(endpoints: endpointJSON(hubble: true), identities: identityJSON(hubble: true),
                                                 policySets: sets(revision: policyRevision), revision: policyRevision)
        return FlowAnnotations(endpoints: endpointJSON(hubble: false), identities: identityJSON(hubble: false),
                               policySets: sets(revision: nil), verdictAsEnforced: self.verdictAsEnforced,
                               services: services, hubble: hubble, nodeName: self.endpoints.localNode ?? "",
                               l7Rules: self.compiled.l7Rules)
    }

    /// The generation for the datapath and the output; `alerts` gives the detectors their view
    /// of the cluster (pod CIDRs, sensitive and allow-listed workloads). `policyRevision`
    /// numbers the policies in Hubble lines (see `annotations`).
    package func context(alerts: AlertsConfiguration? = nil, policyRevision: UInt64 = 1) -> PolicyContext {
        var context = PolicyContext(snapshot: self.snapshot, annotations: self.annotations(policyRevision: policyRevision),
                                    detection: alerts?.scope(endpoints: self.endpoints, inventory: self.inventory,
                                                                  services: self.loadedServices) ?? .empty)
        let selectors = self.compiled.fqdnSelectors
        context.fqdnSelectors = { name in selectors.mask(matching: name) }
        context.dnsRulePorts = self.dnsRulePorts
        return context
    }

    /// The ports of the policy entries with `rules.dns`: their payload is DNS whatever the
    /// port (Cilium redirects them to its DNS proxy). At most 64 ports per entry are taken (a
    /// range wider than that is a mistake a `policy check` reports).
    var dnsRulePorts: [UInt16] {
        var ports = Set<UInt16>()
        // Entries without L7 rules (number 0) have none: most endpoints' entries are not looked at.
        guard self.compiled.l7Rules.count > 0 else { return [] }
        for policy in self.compiled.table.policies {
            for direction in [TrafficDirection.egress, .ingress] {
                for entry in policy.entries(direction) where self.compiled.l7Rules[entry.l7RuleSet]?.dns != nil && entry.hasPort {
                    for port in entry.portLow...min(entry.portHigh, entry.portLow &+ 63) { ports.insert(port) }
                }
            }
        }
        return ports.sorted()
    }

    /// The numeric tables policy is judged from: the ipcache, the services and the policy maps.
    package var snapshot: PolicySnapshot {
        PolicySnapshot(ipcache: self.ipcache, services: self.services.table, policies: self.compiled.table)
    }
}
