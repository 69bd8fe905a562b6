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
    /// Whether the cluster's resolver addresses are known (the kube-dns Service's ClusterIP, or
    /// resolvers configured). When they are not, a query to an address a cluster may use
    /// inside (`isInternal`: it may be the kube-dns ClusterIP) is not judged.
    public let resolversKnown: Bool

    public init(podPrefixes: [IPPrefix] = [], sensitiveIdentities: Set<UInt32> = [], allowedIdentities: Set<UInt32> = [],
                checksTunnelIdentity: Bool = false, resolverPrefixes: [IPPrefix] = [], resolverIdentities: Set<UInt32> = [],
                resolversKnown: Bool = false) {
        self.podPrefixes = podPrefixes
        self.sensitiveIdentities = sensitiveIdentities
        self.allowedIdentities = allowedIdentities
        self.checksTunnelIdentity = checksTunnelIdentity
        self.resolverPrefixes = resolverPrefixes
        self.resolverIdentities = resolverIdentities
        self.resolversKnown = resolversKnown
    }

    /// Whether `address` (whose identity is `identity`) is one of the cluster's resolvers, or
    /// may be, when their addresses are not known (`resolversKnown`).
    public func isClusterResolver(_ address: IPAddress, identity: Identity) -> Bool {
        if !self.resolversKnown && Self.isInternal(address) { return true }
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

    /// Address space a cluster uses inside (pod, service and node networks): private-use IPv4
    /// (RFC 1918), shared address space (RFC 6598), loopback, link-local (RFC 3927), IPv6
    /// loopback, unique local (RFC 4193) and link-local (RFC 4291 §2.5.6).
    public static let internalPrefixes: [IPPrefix] = [
        IPPrefix(address: IPAddress(ipv4: 0x0a00_0000), length: 8), IPPrefix(address: IPAddress(ipv4: 0xac10_0000), length: 12),
        IPPrefix(address: IPAddress(ipv4: 0xc0a8_0000), length: 16), IPPrefix(address: IPAddress(ipv4: 0x6440_0000), length: 10),
        IPPrefix(address: IPAddress(ipv4: 0x7f00_0000), length: 8), IPPrefix(address: IPAddress(ipv4: 0xa9fe_0000), length: 16),
        IPPrefix(address: IPAddress(high: 0, low: 1), length: 128), IPPrefix(address: IPAddress(high: 0xfc00 << 48, low: 0), length: 7),
        IPPrefix(address: IPAddress(high: 0xfe80 << 48, low: 0), length: 10),
    ]

    public static func isInternal(_ address: IPAddress) -> Bool { Self.internalPrefixes.containsAddress(address) }
}
