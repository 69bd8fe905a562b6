import FlowCore

// The Kubernetes objects flowmon reads from `kubectl get ... -o json` output: only the
// fields that decide identity and policy, validated by the loader.

/// A pod (`kubectl get pods -A -o json`, core/v1 Pod).
package struct Pod: Sendable, Equatable {
    package var name: String
    package var namespace: String
    package var labels: [String: String]
    /// `status.podIPs[].ip`, or `status.podIP` when `podIPs` is absent; may be empty (pending pod).
    package var ips: [IPAddress]
    /// `status.hostIP` (and `hostIPs`), the node's address.
    package var hostIPs: [IPAddress]
    package var nodeName: String?
    /// `spec.hostNetwork`: the pod uses the node's addresses and identity.
    package var hostNetwork: Bool
    /// `spec.serviceAccountName` (Cilium label io.cilium.k8s.policy.serviceaccount).
    package var serviceAccount: String?
    /// Named container ports of every container (`spec.containers[].ports[]` with a name).
    package var namedPorts: [NamedPort]
    /// The controlling owner, climbed to the workload when the name shows it (ReplicaSet
    /// `web-7d4f9` of Deployment `web`), as Hubble's `workloads` shows it.
    package var workload: Workload?
    /// Where in the file it came from: `$.items[12]`.
    package var location: String

    package init(name: String, namespace: String, labels: [String: String] = [:], ips: [IPAddress] = [],
                hostIPs: [IPAddress] = [], nodeName: String? = nil, hostNetwork: Bool = false,
                serviceAccount: String? = nil, namedPorts: [NamedPort] = [], workload: Workload? = nil,
                location: String = "") {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.ips = ips
        self.hostIPs = hostIPs
        self.nodeName = nodeName
        self.hostNetwork = hostNetwork
        self.serviceAccount = serviceAccount
        self.namedPorts = namedPorts
        self.workload = workload
        self.location = location
    }
}

package struct NamedPort: Sendable, Equatable, Hashable {
    package var name: String
    package var port: UInt16
    /// IANA protocol number: 6, 17 or 132 (container port protocol, default TCP).
    package var ipProtocol: UInt8
    package init(name: String, port: UInt16, ipProtocol: UInt8) {
        self.name = name
        self.port = port
        self.ipProtocol = ipProtocol
    }
}

package struct Workload: Sendable, Equatable, Hashable {
    package var name: String
    /// Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, ...
    package var kind: String
    package init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}

/// A namespace (`kubectl get namespaces -o json`).
package struct Namespace: Sendable, Equatable {
    package var name: String
    package var labels: [String: String]
    package init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

/// A node (`kubectl get nodes -o json`): its name, labels and InternalIP addresses.
package struct Node: Sendable, Equatable {
    package var name: String
    package var labels: [String: String]
    package var internalIPs: [IPAddress]
    package init(name: String, labels: [String: String] = [:], internalIPs: [IPAddress] = []) {
        self.name = name
        self.labels = labels
        self.internalIPs = internalIPs
    }
}
