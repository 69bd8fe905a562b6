import FlowCore

/// What the detectors know of the cluster, per identity/policy generation (SIGHUP rebuilds it):
/// the pod CIDRs, the identities of sensitive workloads and of allow-listed sources.
public final class DetectionScope: Sendable {
    /// Prefixes that hold pod addresses (learned from the inventory, or configured).
    public let podPrefixes: [IPPrefix]
    public let sensitiveIdentities: Set<UInt32>
    public let allowedIdentities: Set<UInt32>
    /// Compare a VXLAN/Geneve VNI with the inner source's identity (Cilium's overlay carries it).
    public let checksTunnelIdentity: Bool

    public init(podPrefixes: [IPPrefix] = [], sensitiveIdentities: Set<UInt32> = [], allowedIdentities: Set<UInt32> = [],
                checksTunnelIdentity: Bool = false) {
        self.podPrefixes = podPrefixes
        self.sensitiveIdentities = sensitiveIdentities
        self.allowedIdentities = allowedIdentities
        self.checksTunnelIdentity = checksTunnelIdentity
    }

    public static let empty = DetectionScope()

    @inline(__always)
    public func isInPodCIDR(_ address: IPAddress) -> Bool {
        self.podPrefixes.containsAddress(address)
    }
}
