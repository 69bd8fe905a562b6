import Agent
import FlowMonitor

/// The `loaders` fuzz target: byte 0 (modulo 6) picks what the rest is, and the rest is read
/// as that file (from a memfd) by the CLI's loaders, beside the policy-probes cluster for the
/// other files (`Captures/policy-probes/*.json`, `Policies/conformance`, node `node-1`), or for
/// services the demo cluster (`Captures/demo/demo-cluster.pods.json`, `Policies/demo`):
///
/// | byte 0 | the input is | read as | by |
/// |---|---|---|---|
/// | 0 | policies (YAML or JSON, several documents, `List`s) | `--policies` | `PolicyLoader.load(paths:)` |
/// | 1 | `kubectl get pods -A -o json` | `--pods` | `InventoryLoader.load` |
/// | 2 | an alerts configuration (YAML) | `--alerts-config` | `AlertsConfigLoader.load(path:)` |
/// | 3 | `kubectl get namespaces -o json` | `--namespaces` | `InventoryLoader.load` |
/// | 4 | `kubectl get nodes -o json` | `--nodes` | `InventoryLoader.load` |
/// | 5 | `kubectl get services,endpoints -A -o json` | `--services` | `ServiceLoader.load(path:)` |
///
/// What loads goes on as in `AgentState.load` and `context`: identities, compiled policies and
/// ipcache (`AgentTables.build`), then the rendered names and the detectors' scope. The cluster's
/// other files are loaded once, not for every input. An error is rendered as the CLI prints it.
package final class LoadersHarness {
    package enum Role: UInt8, CaseIterable, Sendable {
        case policies, pods, alertsConfig, namespaces, nodes, services
    }

    let input = InputFile(name: "flowmon-fuzz-loaders")
    let pods: String
    let namespaces: String
    let nodes: String
    let cluster: AgentState
    /// The demo cluster, for services (its pods are the backends).
    let demo: AgentState
    let alerts: AlertsConfiguration

    package init(repository: String) throws(AgentError) {
        let probes = repository + "/Captures/policy-probes/policy-probes."
        self.pods = probes + "pods.json"
        self.namespaces = probes + "namespaces.json"
        self.nodes = probes + "nodes.json"
        self.cluster = try AgentState.load(AgentConfiguration(
            pods: self.pods, namespaces: self.namespaces, nodes: self.nodes, nodeName: "node-1",
            policyPaths: [repository + "/Policies/conformance"]))
        self.demo = try AgentState.load(AgentConfiguration(
            pods: repository + "/Captures/demo/demo-cluster.pods.json", nodeName: "kind-worker-0",
            policyPaths: [repository + "/Policies/demo"]))
        self.alerts = try AlertsConfigLoader.load(path: repository + "/Captures/alerts/alerts.config.yaml")
    }

    /// Runs one input; true when it loaded without an error.
    @discardableResult
    package func run(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let selector = bytes.first else { return false }
        let role = Role(rawValue: selector % UInt8(Role.allCases.count))!
        self.input.replace(with: UnsafeRawBufferPointer(rebasing: bytes.dropFirst()))
        let path = self.input.path
        do {
            switch role {
            case .policies:
                try self.build(inventory: self.cluster.inventory, policies: try PolicyLoader.load(paths: [path]), nodeName: "node-1")
            case .pods:
                // No node name: with several nodes in the input, every pod is local.
                try self.build(inventory: try InventoryLoader.load(pods: path, namespaces: self.namespaces, nodes: self.nodes),
                               policies: self.cluster.policies, nodeName: nil)
            case .namespaces:
                try self.build(inventory: try InventoryLoader.load(pods: self.pods, namespaces: path, nodes: self.nodes),
                               policies: self.cluster.policies, nodeName: "node-1")
            case .nodes:
                try self.build(inventory: try InventoryLoader.load(pods: self.pods, namespaces: self.namespaces, nodes: path),
                               policies: self.cluster.policies, nodeName: "node-1")
            case .alertsConfig:
                _ = self.cluster.context(alerts: try AlertsConfigLoader.load(path: path))
            case .services:
                try self.build(inventory: self.demo.inventory, policies: self.demo.policies, nodeName: "kind-worker-0",
                               services: try ServiceLoader.load(path: path), servicesFile: path, base: self.demo)
            }
        } catch {
            _ = error.description
            return false
        }
        return true
    }

    /// The rest of `AgentState.load`, then `context` (names rendered, detectors' scope).
    func build(inventory: Inventory, policies: PolicySet, nodeName: String?, services: [Service] = [],
               servicesFile: String = "services", base: AgentState? = nil) throws(AgentError) {
        let tables = try AgentTables.build(inventory: inventory, policies: policies.documents, nodeName: nodeName,
                                           services: services, servicesFile: servicesFile)
        var state = base ?? self.cluster
        state.inventory = inventory
        state.policies = policies
        state.endpoints = tables.endpoints
        state.compiled = tables.compiled
        state.ipcache = tables.ipcache
        state.services = tables.services
        _ = tables.services.warnings
        _ = state.context(alerts: self.alerts)
    }
}
