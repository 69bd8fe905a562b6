import Agent
import ArgumentParser
import FlowMonitor

/// The cluster's pods, namespaces and nodes: part of `AgentOptions`, and all `policy check` takes.
struct InventoryOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Pods of the cluster: the output of 'kubectl get pods -A -o json'. Tags flows with pod names, labels and Cilium-style identities. In 'capture', '-' (standard input) or a FIFO is read as the stream of 'kubectl get pods -A --watch --output-watch-events -o json' and followed; a file is watched and reloaded when it changes.", valueName: "file"))
    var pods: String?

    @Option(help: ArgumentHelp("Namespaces: 'kubectl get namespaces -o json' (namespace labels, for namespaceSelector).", valueName: "file"))
    var namespaces: String?

    @Option(help: ArgumentHelp("Nodes: 'kubectl get nodes -o json' (node addresses are host or remote-node). Without it, node addresses come from the pods' hostIP.", valueName: "file"))
    var nodes: String?

    @Option(help: ArgumentHelp("The cluster's identity numbers: 'kubectl get ciliumidentities -o json' and/or 'kubectl get ciliumendpoints -A -o json' (or both in one file). Label sets found there take the cluster's number; others get a number derived from their labels that the cluster does not use. Repeatable.", valueName: "file"))
    var identities: [String] = []
}

extension AgentConfiguration {
    /// This configuration with `--identities`.
    func with(identities: [String]) -> AgentConfiguration {
        var configuration = self
        configuration.identities = identities
        return configuration
    }
}

/// Inventory and policy options shared by `replay`, `capture`, `map`, `policy explain` and
/// `policy advise`.
struct AgentOptions: ParsableArguments {
    @OptionGroup var inventory: InventoryOptions

    @Option(help: ArgumentHelp("Services: 'kubectl get services,endpoints -A -o json' (or 'kubectl get services -A -o json'). A connection to a ClusterIP service port is judged as sent to the service's backend pods (their identity and the target port), as after Cilium's load balancer; flow records name the service. The endpoints of default/kubernetes are the API server's addresses (the kube-apiserver entity).", valueName: "file"))
    var services: String?

    @Option(help: ArgumentHelp("The node the capture was taken on (its pods are the local endpoints whose policies are evaluated). Default: the only node in the inventory; with several and none named, every pod counts as local.", valueName: "name"))
    var nodeName: String?

    @Option(name: .customLong("policies"), help: ArgumentHelp("CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy files, or directories of .yaml/.yml/.json files. Repeatable.", valueName: "path"))
    var policyPaths: [String] = []

    @Flag(help: "Print connections that policy would drop as DROPPED instead of AUDIT (flowmon observes; it never drops).")
    var verdictAsEnforced = false

    @Option(help: ArgumentHelp("The cluster's name, as Cilium's cluster-name: the pods' io.cilium.k8s.policy.cluster label and the cluster_name of the endpoints in --hubble lines (what 'hubble observe --cluster' matches).", valueName: "name"))
    var clusterName = SecurityLabels.defaultClusterName

    func validate() throws {
        if let problem = SecurityLabels.clusterNameProblem(self.clusterName) {
            throw ValidationError("--cluster-name: \(problem)")
        }
    }

    var configuration: AgentConfiguration {
        AgentConfiguration(pods: self.inventory.pods, namespaces: self.inventory.namespaces, nodes: self.inventory.nodes,
                           nodeName: self.nodeName, policyPaths: self.policyPaths, verdictAsEnforced: self.verdictAsEnforced,
                           services: self.services, clusterName: self.clusterName)
            .with(identities: self.inventory.identities)
    }

    /// For `capture`, which follows its inputs: `--pods -` or a FIFO is a watch stream.
    var followedConfiguration: AgentConfiguration {
        var configuration = self.configuration
        configuration.podsAreStreamed = configuration.pods.map(PodWatchStream.isStream) ?? false
        return configuration
    }

    /// Loads the inventory and policies, printing warnings and notices; nil when none were given.
    func load(_ configuration: AgentConfiguration? = nil) throws -> AgentState? {
        let configuration = configuration ?? self.configuration
        guard !configuration.isEmpty else { return nil }
        do {
            let state = try AgentState.load(configuration)
            for message in state.messages { Diagnostics.line("flowmon: \(message)") }
            return state
        } catch {
            Diagnostics.error(error)
            throw ExitCode.failure
        }
    }
}
