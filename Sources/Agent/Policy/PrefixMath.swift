import FlowCore

/// Prefix arithmetic on `IPAddress` (IPv4 addresses live at ::ffff:0:0/96, so an IPv4
/// prefix of length n is a 128-bit prefix of length 96 + n).
enum PrefixMath {
    /// The 128-bit prefix length of a prefix given in its own family.
    static func wideLength(_ address: IPAddress, _ length: UInt8) -> Int {
        address.isIPv4 ? 96 + Int(length) : Int(length)
    }

    /// `address` with every bit after the first `wideLength` bits cleared.
    static func mask(_ address: IPAddress, wideLength: Int) -> IPAddress {
        func keep(_ word: UInt64, _ bits: Int) -> UInt64 {
            bits <= 0 ? 0 : bits >= 64 ? word : word & ~(UInt64.max >> UInt64(bits))
        }
        return IPAddress(high: keep(address.high, wideLength), low: keep(address.low, wideLength - 64))
    }

    /// True when prefix `inner` lies inside prefix `outer` (same family).
    static func contains(outer: (IPAddress, UInt8), inner: (IPAddress, UInt8)) -> Bool {
        guard outer.0.isIPv4 == inner.0.isIPv4, inner.1 >= outer.1 else { return false }
        let length = wideLength(outer.0, outer.1)
        return mask(inner.0, wideLength: length) == mask(outer.0, wideLength: length)
    }
}
