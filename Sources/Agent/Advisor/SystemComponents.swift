/// Which workloads `flowmon policy advise` leaves alone unless asked (`--include-system`): the
/// cluster's own components, which a policy advised from a short or partial view of their
/// traffic can break for everyone (coredns locked out of its upstream resolvers or the API
/// server stops name resolution in the whole cluster; a CNI agent or kube-proxy cut off from
/// the API server stops programming the datapath).
///
/// The rule, checked on every pod of a workload (one match makes the workload a system
/// component):
/// - its namespace is one Kubernetes reserves for itself (`kube-system`, `kube-public`,
///   `kube-node-lease`) or one a CNI's manifests install into (`kube-flannel`,
///   `calico-system`, `calico-apiserver`, `tigera-operator`, `cilium`);
/// - or a label that names applications (`app.kubernetes.io/name`, `app`, `k8s-app`, `name`)
///   names a well-known component: DNS (coredns, kube-dns, node-local-dns), the CNI and
///   service proxy (cilium and its operator, envoy and Hubble; calico; flannel; kindnet; weave;
///   antrea; kube-router; multus; kube-proxy), monitoring and node agents (prometheus,
///   alertmanager, node-exporter, kube-state-metrics, the Prometheus operator and adapter,
///   metrics-server, fluent-bit, fluentd);
/// - or `app.kubernetes.io/part-of` is one of cilium, calico, flannel, kube-prometheus;
/// - or `component` names a control-plane component (kube-apiserver, etcd,
///   kube-controller-manager, kube-scheduler) or `tier: control-plane`.
package enum SystemComponents {
    package static let namespaces: Set<String> = [
        "kube-system", "kube-public", "kube-node-lease", "kube-flannel", "calico-system", "calico-apiserver", "tigera-operator",
        "cilium",
    ]
    package static let nameKeys = ["app.kubernetes.io/name", "app", "k8s-app", "name"]
    /// Application names of DNS, CNI, proxy and monitoring components, with what they are.
    package static let names: [String: String] = {
        var names: [String: String] = [:]
        for name in ["coredns", "kube-dns", "node-local-dns"] { names[name] = "cluster DNS" }
        for name in ["cilium", "cilium-agent", "cilium-operator", "cilium-envoy", "hubble-relay", "hubble-ui", "calico-node",
                     "calico-kube-controllers", "calico-typha", "calico-apiserver", "flannel", "kube-flannel", "kindnet",
                     "weave-net", "antrea-agent", "antrea-controller", "kube-router", "multus", "kube-proxy"] {
            names[name] = "CNI or service proxy"
        }
        for name in ["prometheus", "alertmanager", "node-exporter", "prometheus-node-exporter", "kube-state-metrics",
                     "prometheus-operator", "prometheus-adapter", "metrics-server", "fluent-bit", "fluentd"] {
            names[name] = "monitoring"
        }
        return names
    }()
    package static let partOf: Set<String> = ["cilium", "calico", "flannel", "kube-prometheus"]
    package static let controlPlane: Set<String> = ["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"]

    /// Why a pod is a system component (`namespace kube-system`, `k8s-app=kube-dns: cluster
    /// DNS`, ...), or nil.
    package static func reason(_ pod: Pod) -> String? {
        if Self.namespaces.contains(pod.namespace) { return "namespace \(pod.namespace)" }
        for key in Self.nameKeys {
            if let value = pod.labels[key], let what = Self.names[value] { return "\(key)=\(value): \(what)" }
        }
        if let value = pod.labels["app.kubernetes.io/part-of"], Self.partOf.contains(value) {
            return "app.kubernetes.io/part-of=\(value)"
        }
        if let value = pod.labels["component"], Self.controlPlane.contains(value) { return "component=\(value): control plane" }
        if pod.labels["tier"] == "control-plane" { return "tier=control-plane" }
        return nil
    }
}
