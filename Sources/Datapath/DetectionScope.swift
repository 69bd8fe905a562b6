import FlowCore

/// What the detectors know of the cluster, per identity/policy generation (SIGHUP rebuilds it):
/// the pod CIDRs, the identities of sensitive workloads and of allow-listed sources, and the
/// cluster's DNS resolvers.
public final class DetectionScope: Sendable {
    /// Prefixes that hold pod addresses (learned from the inventory, or configured).
    public let podPrefixes: [IPPrefix]
    public let sensitiveIdentities: Set<UInt32>
    public let allowedIdentities: Set<UInt32>
    /// Compare a VXLAN/Geneve VNI with the inner source's identity (Cilium's overlay carries it).
    public let checksTunnelIdentity: Bool
    /// The cluster's resolvers: addresses (kube-dns Service IPs, NodeLocal DNSCache's link-local
    /// address, configured CIDRs) and identities (the kube-dns pods, configured workloads).
    public let resolverPrefixes: [IPPrefix]
    public let resolverIdentities: Set<UInt32>

    public init(podPrefixes: [IPPrefix] = [], sensitiveIdentities: Set<UInt32> = [], allowedIdentities: Set<UInt32> = [],
                checksTunnelIdentity: Bool = false, resolverPrefixes: [IPPrefix] = [], resolverIdentities: Set<UInt32> = []) {
        self.podPrefixes = podPrefixes
        self.sensitiveIdentities = sensitiveIdentities
        self.allowedIdentities = allowedIdentities
        self.checksTunnelIdentity = checksTunnelIdentity
        self.resolverPrefixes = resolverPrefixes
        self.resolverIdentities = resolverIdentities
    }

    /// Whether `address` (whose identity is `identity`) is one of the cluster's resolvers.
    public func isClusterResolver(_ address: IPAddress, identity: Identity) -> Bool {
        if identity.rawValue >= Identity.firstAllocated.rawValue && self.resolverIdentities.contains(identity.rawValue) {
            return true
        }
        return self.resolverPrefixes.containsAddress(address)
    }

    public static let empty = DetectionScope()

    @inline(__always)
    public func isInPodCIDR(_ address: IPAddress) -> Bool {
        self.podPrefixes.containsAddress(address)
    }
}
