/// An IPv4 or IPv6 address in 16 bytes, heap-free and cheap to hash and compare.
///
/// IPv4 addresses are stored IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2) so both
/// families share one key layout in the flow table, as Cilium's conntrack tuple does.
/// `high` holds bytes 0–7 and `low` bytes 8–15, each as a big-endian number, so the
/// natural `(high, low)` order is the numeric order of the address.
@frozen
public struct IPAddress: Hashable, Comparable, Sendable {
    public var high: UInt64
    public var low: UInt64

    @inlinable
    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// An IPv4 address from its 32-bit value in host order (`0x0a000001` is 10.0.0.1).
    @inlinable
    public init(ipv4 value: UInt32) {
        self.high = 0
        self.low = 0x0000_ffff_0000_0000 | UInt64(value)
    }

    /// The all-zero address (`::`); also what an unset field holds.
    @inlinable public static var zero: IPAddress { IPAddress(high: 0, low: 0) }

    /// True for IPv4-mapped addresses, i.e. addresses that came from an IPv4 header.
    @inlinable
    public var isIPv4: Bool { self.high == 0 && (self.low >> 32) == 0x0000_ffff }

    /// The IPv4 value in host order; meaningful only when `isIPv4`.
    @inlinable
    public var ipv4Value: UInt32 { UInt32(truncatingIfNeeded: self.low) }

    @inlinable
    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        lhs.high != rhs.high ? lhs.high < rhs.high : lhs.low < rhs.low
    }
}

extension IPAddress {
    /// Reads an IPv4 address (4 bytes) at `offset`, or `nil` past the end.
    @inlinable
    public static func ipv4(in bytes: PacketBytes, at offset: Int) -> IPAddress? {
        guard let value = bytes.bigEndian(at: offset, as: UInt32.self) else { return nil }
        return IPAddress(ipv4: value)
    }

    /// Reads an IPv6 address (16 bytes) at `offset`, or `nil` past the end.
    @inlinable
    public static func ipv6(in bytes: PacketBytes, at offset: Int) -> IPAddress? {
        guard let high = bytes.bigEndian(at: offset, as: UInt64.self),
              let low = bytes.bigEndian(at: offset &+ 8, as: UInt64.self) else { return nil }
        return IPAddress(high: high, low: low)
    }
}
