import FlowCore

/// BSD loopback encapsulation (tcpdump.org/linktypes/LINKTYPE_NULL.html, LINKTYPE_LOOP).
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |              Address family (AF_INET, AF_INET6)               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// LINKTYPE_NULL (0) writes the family in the byte order of the machine that captured,
/// which the file does not record, so both orders are tried. LINKTYPE_LOOP (108, OpenBSD)
/// writes it in network order. AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24
/// (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly) or 30 (Darwin). For NULL only, a
/// value that is no family in either order but ends in the IPv4 or IPv6 EtherType is
/// accepted as that EtherType, as Wireshark does.
public enum LoopbackHeader {
    public static let length = 4

    @inlinable
    static func layer(forFamily family: UInt32) -> Layer? {
        switch family {
        case 2: .ipv4
        case 10, 24, 28, 30: .ipv6
        default: nil
        }
    }

    @inlinable
    static func decode(_ bytes: PacketBytes, networkOrderOnly: Bool) -> DecodeStep {
        guard let big = bytes.bigEndian(at: 0, as: UInt32.self),
              let little = bytes.littleEndian(at: 0, as: UInt32.self),
              let payload = bytes.dropFirst(Self.length)
        else { return .stop(.nullTruncated) }
        if let layer = Self.layer(forFamily: big) { return .next(layer, payload) }
        if !networkOrderOnly {
            if let layer = Self.layer(forFamily: little) { return .next(layer, payload) }
            // Some writers put an EtherType in the last two octets (`0f 00 08 00` in
            // `null-ipv4-ipv6-af-values.pcap`); Wireshark accepts it, and so do we for IP.
            switch UInt16(truncatingIfNeeded: big) {
            case EtherType.ipv4: return .next(.ipv4, payload)
            case EtherType.ipv6: return .next(.ipv6, payload)
            default: break
            }
        }
        return .stop(.nullUnsupportedType)
    }
}

/// Raw IP with no link header (LINKTYPE_RAW 101, and the BSD DLT_RAW values 12 and 14): the
/// version nibble of the first octet says IPv4 or IPv6 (RFC 791 §3.1, RFC 8200 §3).
public enum RawIP {
    @inlinable
    static func decode(_ bytes: PacketBytes) -> DecodeStep {
        guard let first = bytes.byte(at: 0) else { return .stop(.rawIPTruncated) }
        switch first >> 4 {
        case 4: return .next(.ipv4, bytes)
        case 6: return .next(.ipv6, bytes)
        default: return .stop(.rawIPInvalidVersion)
        }
    }
}
