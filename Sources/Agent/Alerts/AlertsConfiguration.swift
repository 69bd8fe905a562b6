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
///     port_scan: {enabled: true, ports: 15, hosts: 25, window: 5m, severity: 2}
///     syn_flood: {half_open: 200, sources: 20, window: 10}
///     icmp_sweep: {hosts: 25, window: 5m}
///     invalid_tcp_flags: {enabled: true}
///     policy_violation: {severity: 1}
///     spoofed_source: {pod_cidrs: [10.244.0.0/16], tunnel_identity: true}
///     world_egress: {sensitive: [{namespace: payments}, {selector: {matchLabels: {data: pci}}}]}
///     allowlist: [{cidr: 10.244.3.7/32}, {namespace: monitoring, selector: {matchLabels: {app: prometheus}}}]
package struct AlertsConfiguration: Sendable, Equatable {
    package var settings = DetectorSettings()
    /// Pod CIDRs for spoofing checks; nil: learned from the inventory (each pod address's /24 or /64).
    package var podCIDRs: [IPPrefix]?
    package var checksTunnelIdentity = false
    package var sensitive: [WorkloadSelector] = []
    package var allowedWorkloads: [WorkloadSelector] = []

    package init() {}

    /// What the detectors need from the inventory: pod CIDRs, sensitive and allow-listed identities.
    package func scope(endpoints: EndpointTable, inventory: Inventory) -> DetectionScope {
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
        return DetectionScope(
            podPrefixes: prefixes,
            sensitiveIdentities: self.sensitive.reduce(into: []) { $0.formUnion($1.identities(in: endpoints)) },
            allowedIdentities: self.allowedWorkloads.reduce(into: []) { $0.formUnion($1.identities(in: endpoints)) },
            checksTunnelIdentity: self.checksTunnelIdentity)
    }
}
