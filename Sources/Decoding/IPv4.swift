import FlowCore

/// An IPv4 header (RFC 791 §3.1), read in place from captured bytes.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |Version|  IHL  |Type of Service|          Total Length         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |         Identification        |Flags|      Fragment Offset    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Time to Live |    Protocol   |         Header Checksum       |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                       Source Address                          |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                    Destination Address                        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                    Options                    |    Padding    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Flags (3 bits): reserved, DF, MF. The fixed 20 bytes are checked once in the failable
/// initializer; the fixed-offset getters rely on it. Options and payload go back through
/// the checked `PacketBytes` API.
///
/// Lengths: the payload is clipped to Total Length (drops Ethernet padding). A capture
/// shorter than Total Length is snaplen, not an error. Total Length 0 means the length
/// comes from the frame: Linux BIG TCP (and TSO on the sending host) hands the capture
/// IPv4 packets over 64 KiB with Total Length 0, as tcpdump assumes too. A snaplen can
/// hide how long such a frame was, so the frame size is not required to exceed 64 KiB.
public struct IPv4Header {
    public static let minimumLength = 20
    /// The declared transport length used when Total Length is 0 (larger than any capture).
    @usableFromInline static let unknownLength = Int(Int32.max)

    @usableFromInline
    internal let bytes: PacketBytes

    /// Returns `nil` if fewer than 20 bytes were captured. Fields are not validated here.
    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { self.bytes.uncheckedByte(at: 0) >> 4 }
    /// Header length in bytes (IHL × 4).
    @inlinable public var headerLength: Int { Int(self.bytes.uncheckedByte(at: 0) & 0x0F) &* 4 }
    @inlinable public var totalLength: Int { Int(self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self)) }
    @inlinable public var identification: UInt16 { self.bytes.uncheckedBigEndian(at: 4, as: UInt16.self) }
    @inlinable public var moreFragments: Bool { self.bytes.uncheckedByte(at: 6) & 0x20 != 0 }
    /// Fragment offset in 8-byte units.
    @inlinable public var fragmentOffset: UInt16 { self.bytes.uncheckedBigEndian(at: 6, as: UInt16.self) & 0x1FFF }
    @inlinable public var ttl: UInt8 { self.bytes.uncheckedByte(at: 8) }
    @inlinable public var ipProtocol: UInt8 { self.bytes.uncheckedByte(at: 9) }
    @inlinable public var source: IPAddress { IPAddress(ipv4: self.bytes.uncheckedBigEndian(at: 12, as: UInt32.self)) }
    @inlinable public var destination: IPAddress {
        IPAddress(ipv4: self.bytes.uncheckedBigEndian(at: 16, as: UInt32.self))
    }

    /// Total Length, or the captured length when it is 0 (BIG TCP / TSO).
    @inlinable public var effectiveTotalLength: Int { self.totalLength == 0 ? self.bytes.count : self.totalLength }

    /// The first field that contradicts RFC 791, in Suricata's order, or `nil`. Checks
    /// that need the options (`validateOptions`) come after the network fields are read.
    @inlinable
    public func validate() -> DecodeAnomaly? {
        if self.version != 4 { return .ipv4WrongVersion }
        if self.headerLength < Self.minimumLength { return .ipv4HeaderLengthTooSmall }
        if self.totalLength != 0, self.totalLength < self.headerLength { return .ipv4TotalLengthBelowHeaderLength }
        if self.headerLength > self.bytes.count { return .ipv4Truncated }
        return nil
    }

    /// Walks the options (RFC 791 §3.1 "Options"): End of Option List (0) ends them, No
    /// Operation (1) is one octet, every other option has a length octet that counts the
    /// type and length octets and must fit in the header and meet the option's minimum
    /// (route options 3, timestamp 4, stream ID and router alert 4, CIPSO 6, security 3 per
    /// RFC 1108). Requires `validate()` to have passed, so the whole header is captured.
    @inlinable
    public func validateOptions() -> DecodeAnomaly? {
        let end = self.headerLength
        var offset = Self.minimumLength
        while offset < end {
            guard let type = self.bytes.byte(at: offset) else { return .ipv4Truncated }
            if type == 0 { return nil }
            if type == 1 {
                offset &+= 1
                continue
            }
            guard offset &+ 1 < end, let length = self.bytes.byte(at: offset &+ 1) else {
                return .ipv4OptionInvalidLength
            }
            let minimum: UInt8
            switch type {
            case 7, 131, 137, 130: minimum = 3  // record route, LSRR, SSRR, security (RFC 1108)
            case 68, 136, 148: minimum = 4  // timestamp, stream ID, router alert
            case 134: minimum = 6  // CIPSO
            default: minimum = 2
            }
            if length < minimum || Int(length) > end &- offset { return .ipv4OptionInvalidLength }
            offset &+= Int(length)
        }
        return nil
    }

    /// Bytes after the header and options, clipped to the effective Total Length.
    @inlinable
    public var payload: PacketBytes? {
        self.bytes.prefix(self.effectiveTotalLength).dropFirst(self.headerLength)
    }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        guard let header = IPv4Header(bytes) else { return .stop(.ipv4Truncated) }
        if let anomaly = header.validate() { return .stop(anomaly) }

        summary.ipVersion = 4
        summary.source = header.source
        summary.destination = header.destination
        summary.ipProtocol = header.ipProtocol
        summary.ttl = header.ttl
        context.networkSinceTunnel = true

        let offset = header.fragmentOffset
        let more = header.moreFragments
        summary.fragmentID = UInt32(header.identification)
        summary.fragmentOffset = offset
        summary.moreFragments = more
        summary.isFragment = offset != 0 || more

        if header.headerLength > Self.minimumLength, let anomaly = header.validateOptions() {
            return .stop(anomaly)
        }
        guard let payload = header.payload else { return .stop(.ipv4Truncated) }
        // With Total Length 0 the length is unknown (BIG TCP): the capture is the only
        // bound, so a transport header it cuts is a truncation, never "too small".
        context.declaredTransportLength =
            header.totalLength == 0 ? Self.unknownLength : header.totalLength &- header.headerLength
        summary.payloadLength = payload.count

        if offset != 0 { return .done }  // later fragments carry no transport header
        return IPNextHeader.step(header.ipProtocol, payload)
    }
}

/// Dispatch on an IP protocol number (IPv4 Protocol, IPv6 Next Header after the
/// extension headers). Unknown protocols end the decode without an anomaly.
public enum IPNextHeader {
    @inlinable
    static func step(_ number: UInt8, _ payload: PacketBytes) -> DecodeStep {
        switch number {
        case IPProtocolNumber.tcp: .next(.tcp, payload)
        case IPProtocolNumber.udp: .next(.udp, payload)
        case IPProtocolNumber.sctp: .next(.sctp, payload)
        case IPProtocolNumber.icmp: .next(.icmpv4, payload)
        case IPProtocolNumber.icmpv6: .next(.icmpv6, payload)
        case IPProtocolNumber.gre: .next(.gre, payload)
        case IPProtocolNumber.ipip: .tunnel(.ipip, vni: 0, .ipv4, payload)
        case IPProtocolNumber.ipv6: .tunnel(.ipip, vni: 0, .ipv6, payload)
        default: .done
        }
    }
}
