/// An address prefix (`10.244.0.0/16`, `fd00::/64`): an address and a length counted in
/// the address's own family (0-32 for IPv4, 0-128 for IPv6). The address may carry host
/// bits; `masked` clears them. Every prefix in flowmon (policy CIDRs, ipcache entries,
/// CIDR identities, detector scopes) is this one type or built from it.
@frozen
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var length: UInt8

    @inlinable
    public init(address: IPAddress, length: UInt8) {
        self.address = address
        self.length = length
    }

    /// One address: a /32 or a /128.
    @inlinable
    public init(host address: IPAddress) { self.init(address: address, length: address.isIPv4 ? 32 : 128) }

    @inlinable public var isIPv4: Bool { self.address.isIPv4 }

    /// Whether the prefix is one address (/32, /128).
    @inlinable public var isHost: Bool { self.length == (self.isIPv4 ? 32 : 128) }

    /// The length over the 128-bit form, where an IPv4 prefix sits under `::ffff:0:0/96`.
    @inlinable
    public var bits: UInt8 { self.isIPv4 ? 96 &+ min(self.length, 32) : min(self.length, 128) }

    /// The prefix with its host bits cleared.
    @inlinable
    public var masked: IPPrefix { IPPrefix(address: self.address.masked(bits: self.bits), length: self.length) }

    /// True when `candidate` lies in the prefix, compared over the 128-bit form: an IPv4
    /// prefix holds only IPv4 addresses; an IPv6 prefix covering `::ffff:0:0/96` holds the
    /// IPv4 addresses there too. Allocation-free.
    @inlinable @inline(__always)
    public func contains(_ candidate: IPAddress) -> Bool {
        let bits = self.bits
        return candidate.masked(bits: bits) == self.address.masked(bits: bits)
    }

    /// True when `inner` lies inside this prefix: same family, at least as long, and equal
    /// under this prefix's mask.
    public func contains(_ inner: IPPrefix) -> Bool {
        self.isIPv4 == inner.isIPv4 && inner.length >= self.length && self.contains(inner.address)
    }

    /// `10.0.0.0/8`, `fd00::/64` (the address as stored; mask first for the network).
    public var description: String { self.address.text + "/" + String(self.length) }

    /// Why a prefix's text was refused; `message` names the text and the fault.
    public struct ParseError: Error, Sendable, Equatable {
        public var message: String
        public init(_ message: String) { self.message = message }
    }

    /// Parses `a.b.c.d/n` and IPv6 `x:y::z/n` the way Go's `netip.ParsePrefix` does (no
    /// leading zeros in IPv4 octets or in the prefix length, no zones); host bits are kept
    /// (see `masked`). The family comes from the syntax, and IPv4-mapped IPv6 text is
    /// refused. `allowBareAddress`: a lone address is a /32 or /128 (Cilium's `fromCIDR`).
    public static func parse(_ text: String, allowBareAddress: Bool) -> Result<IPPrefix, ParseError> {
        let addressText: Substring
        var lengthText: Substring?
        if let slash = text.firstIndex(of: "/") {
            addressText = text[..<slash]
            lengthText = text[text.index(after: slash)...]
        } else {
            guard allowBareAddress else { return .failure(.init("invalid CIDR '\(text)': missing '/prefix-length'")) }
            addressText = Substring(text)
        }
        let isIPv4 = !addressText.contains(":")
        guard let address = IPAddress(text: String(addressText)) else {
            return .failure(.init("invalid CIDR '\(text)': '\(addressText)' is not an IPv4 or IPv6 address"))
        }
        let maxLength = isIPv4 ? 32 : 128
        var length = maxLength
        if let lengthText {
            guard !lengthText.isEmpty, lengthText.utf8.count <= 3,
                  lengthText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                  lengthText == "0" || lengthText.first != "0", let value = Int(lengthText) else {
                return .failure(.init("invalid CIDR '\(text)': prefix length '\(lengthText)' is not a number"))
            }
            guard value <= maxLength else {
                return .failure(.init("invalid CIDR '\(text)': prefix length \(value) is out of range 0-\(maxLength)"))
            }
            length = value
        }
        if !isIPv4 && address.isIPv4 {
            return .failure(.init("invalid CIDR '\(text)': IPv4-mapped IPv6 addresses are not supported; write the IPv4 form"))
        }
        return .success(IPPrefix(address: address, length: UInt8(length)))
    }
}

extension IPAddress {
    /// The address with all but the first `bits` (0-128) of its 128-bit form cleared.
    @inlinable @inline(__always)
    public func masked(bits: UInt8) -> IPAddress {
        let bits = UInt64(bits)
        return IPAddress(high: self.high & ~(UInt64.max >> min(bits, 64)),
                         low: self.low & ~(UInt64.max >> (bits > 64 ? bits &- 64 : 0)))
    }
}

extension Array where Element == IPPrefix {
    /// Whether any prefix holds `address`.
    @inline(__always)
    public func containsAddress(_ address: IPAddress) -> Bool {
        // An index loop: iterating the array itself allocates in unoptimized builds.
        for index in 0..<self.count where self[index].contains(address) { return true }
        return false
    }
}
