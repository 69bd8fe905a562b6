import Datapath
import Detection
import FlowCore
import Yams

/// Workloads picked by namespace and/or labels, as an alerts configuration names them
/// (`{namespace: payments, selector: {matchLabels: {data: pci}}}`); both given means both
/// must hold, as in a Kubernetes peer with namespace and pod selectors.
package struct WorkloadSelector: Sendable, Equatable {
    package var namespace: String?
    package var selector: LabelSelector?

    /// The identities whose labels it selects.
    func identities(in endpoints: EndpointTable) -> Set<UInt32> {
        var matcher = self.selector.map { SelectorMatcher($0, defaultSource: "any") } ?? SelectorMatcher(requirements: [])
        if let namespace = self.namespace { matcher = matcher.adding(SelectorMatcher.namespace(namespace)) }
        var result: Set<UInt32> = []
        for (identity, labels) in endpoints.identityLabels where identity.rawValue >= Identity.firstAllocated.rawValue {
            if matcher.matches(IdentityLabels(identity: identity, labels: labels)) { result.insert(identity.rawValue) }
        }
        return result
    }
}

/// The alerts configuration (`--alerts-config FILE`, YAML): which detectors run, their
/// thresholds, windows and severities, the sensitive workloads, and allow-listed sources.
/// Every key is optional; the defaults are `DetectorSettings()`'s.
///
///     aggregation_window: 60          # seconds (or "60s", "5m", "1h")
///     fold_policy_violations: {enabled: true, hold: 32s, max_held: 8192}
///     rate_limit: {count: 100, window: 60}   # count 0: no limit
///     port_scan: {enabled: true, ports: 15, hosts: 25, window: 5m, severity: 2}
///     syn_flood: {half_open: 200, sources: 20, window: 10}
///     icmp_sweep: {hosts: 25, window: 5m}
///     invalid_tcp_flags: {enabled: true}
///     policy_violation: {severity: 1}
///     spoofed_source: {pod_cidrs: [10.244.0.0/16], tunnel_identity: true}
///     world_egress: {sensitive: [{namespace: payments}, {selector: {matchLabels: {data: pci}}}]}
///     allowlist: [{cidr: 10.244.3.7/32}, {namespace: monitoring, selector: {matchLabels: {app: prometheus}}}]
///     dns_external_resolver: {resolvers: [{cidr: 10.96.0.10}, {namespace: dns, selector: {matchLabels: {app: unbound}}}]}
///     dns_tunneling: {name_length: 120, label_length: 52, entropy: 4.0, entropy_length: 24, names: 10, window: 60}
///     dns_nxdomain_burst: {names: 20, window: 60, cluster_domain: cluster.local, ignore_suffixes: [ec2.internal]}
package struct AlertsConfiguration: Sendable, Equatable {
    package var settings = DetectorSettings()
    /// Pod CIDRs for spoofing checks; nil: learned from the inventory (each pod address's /24 or /64).
    package var podCIDRs: [IPPrefix]?
    package var checksTunnelIdentity = false
    package var sensitive: [WorkloadSelector] = []
    package var allowedWorkloads: [WorkloadSelector] = []
    /// The cluster's resolvers besides the defaults: addresses and workloads (`dns_external_resolver.resolvers`).
    package var resolverPrefixes: [IPPrefix] = []
    package var resolverWorkloads: [WorkloadSelector] = []
    /// Whether the defaults are resolvers too (`dns_external_resolver.cluster_defaults`):
    /// `clusterDNSDefaults`.
    package var includesDefaultResolvers = true

    package init() {}

    /// NodeLocal DNSCache's link-local listen address (the `__PILLAR__LOCAL__DNS__` the
    /// Kubernetes docs' nodelocaldns.yaml suggests).
    static let nodeLocalDNS = IPPrefix(host: IPAddress(ipv4: 0xa9fe_140a))

    /// The cluster's resolvers by default: NodeLocal DNSCache's address, the ClusterIPs of
    /// kube-system's DNS Service (named `kube-dns`, as CoreDNS keeps it for compatibility, or
    /// selecting `k8s-app: kube-dns`; from `--services`), and the addresses of the kube-system
    /// pods labelled `k8s-app=kube-dns` (CoreDNS's deployment; from `--pods`).
    /// `serviceKnown`: a kube-dns ClusterIP is among them.
    static func clusterDNSDefaults(inventory: Inventory, services: [Service]) -> (prefixes: [IPPrefix], serviceKnown: Bool) {
        var prefixes = [Self.nodeLocalDNS]
        for service in services where service.namespace == "kube-system"
            && (service.name == "kube-dns" || service.selector?["k8s-app"] == "kube-dns") {
            prefixes += service.clusterIPs.map { IPPrefix(host: $0) }
        }
        let serviceKnown = prefixes.count > 1
        for pod in inventory.pods where pod.namespace == "kube-system" && pod.labels["k8s-app"] == "kube-dns" {
            prefixes += pod.ips.map { IPPrefix(host: $0) }
        }
        return (prefixes, serviceKnown)
    }

    /// What the detectors need from the inventory: pod CIDRs, sensitive and allow-listed
    /// identities, the cluster's resolvers.
    package func scope(endpoints: EndpointTable, inventory: Inventory, services: [Service] = []) -> DetectionScope {
        var prefixes = self.podCIDRs ?? []
        if self.podCIDRs == nil {
            var seen: Set<IPAddress> = []
            for pod in inventory.pods where !pod.hostNetwork {
                for address in pod.ips {
                    let base = IPPrefix(address: address, length: address.isIPv4 ? 24 : 64).masked
                    if seen.insert(base.address).inserted { prefixes.append(base) }
                }
            }
        }
        let defaults = self.includesDefaultResolvers ? Self.clusterDNSDefaults(inventory: inventory, services: services) : nil
        return DetectionScope(
            podPrefixes: prefixes,
            sensitiveIdentities: self.sensitive.reduce(into: []) { $0.formUnion($1.identities(in: endpoints)) },
            allowedIdentities: self.allowedWorkloads.reduce(into: []) { $0.formUnion($1.identities(in: endpoints)) },
            checksTunnelIdentity: self.checksTunnelIdentity,
            resolverPrefixes: self.resolverPrefixes + (defaults?.prefixes ?? []),
            resolverIdentities: self.resolverWorkloads.reduce(into: []) { $0.formUnion($1.identities(in: endpoints)) },
            resolversKnown: defaults?.serviceKnown == true || !self.resolverPrefixes.isEmpty || !self.resolverWorkloads.isEmpty)
    }
}
