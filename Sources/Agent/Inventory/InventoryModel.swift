import FlowCore

// The Kubernetes objects flowmon reads from `kubectl get ... -o json` output: only the
// fields that decide identity and policy, validated by the loader.

/// A pod (`kubectl get pods -A -o json`, core/v1 Pod).
public struct Pod: Sendable, Equatable {
    public var name: String
    public var namespace: String
    public var labels: [String: String]
    /// `status.podIPs[].ip`, or `status.podIP` when `podIPs` is absent; may be empty (pending pod).
    public var ips: [IPAddress]
    /// `status.hostIP` (and `hostIPs`), the node's address.
    public var hostIPs: [IPAddress]
    public var nodeName: String?
    /// `spec.hostNetwork`: the pod uses the node's addresses and identity.
    public var hostNetwork: Bool
    /// `spec.serviceAccountName` (Cilium label io.cilium.k8s.policy.serviceaccount).
    public var serviceAccount: String?
    /// Named container ports of every container (`spec.containers[].ports[]` with a name).
    public var namedPorts: [NamedPort]
    /// The controlling owner, climbed to the workload when the name shows it (ReplicaSet
    /// `web-7d4f9` of Deployment `web`), as Hubble's `workloads` shows it.
    public var workload: Workload?
    /// Where in the file it came from: `$.items[12]`.
    public var location: String

    public init(name: String, namespace: String, labels: [String: String] = [:], ips: [IPAddress] = [],
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

public struct NamedPort: Sendable, Equatable, Hashable {
    public var name: String
    public var port: UInt16
    /// IANA protocol number: 6, 17 or 132 (container port protocol, default TCP).
    public var ipProtocol: UInt8
    public init(name: String, port: UInt16, ipProtocol: UInt8) {
        self.name = name
        self.port = port
        self.ipProtocol = ipProtocol
    }
}

public struct Workload: Sendable, Equatable, Hashable {
    public var name: String
    /// Deployment, StatefulSet, DaemonSet, Job, CronJob, ReplicaSet, ...
    public var kind: String
    public init(name: String, kind: String) {
        self.name = name
        self.kind = kind
    }
}

/// A namespace (`kubectl get namespaces -o json`).
public struct Namespace: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public init(name: String, labels: [String: String] = [:]) {
        self.name = name
        self.labels = labels
    }
}

/// A node (`kubectl get nodes -o json`): its name, labels and InternalIP addresses.
public struct Node: Sendable, Equatable {
    public var name: String
    public var labels: [String: String]
    public var internalIPs: [IPAddress]
    public init(name: String, labels: [String: String] = [:], internalIPs: [IPAddress] = []) {
        self.name = name
        self.labels = labels
        self.internalIPs = internalIPs
    }
}
