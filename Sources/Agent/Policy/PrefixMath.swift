import FlowCore

/// Prefix containment for CIDR peers.
enum PrefixMath {
    /// True when prefix `inner` lies inside prefix `outer` (same family; lengths in their family).
    static func contains(outer: (IPAddress, UInt8), inner: (IPAddress, UInt8)) -> Bool {
        guard outer.0.isIPv4 == inner.0.isIPv4, inner.1 >= outer.1 else { return false }
        return IPAddressText.masked(inner.0, length: outer.1) == IPAddressText.masked(outer.0, length: outer.1)
    }
}
