import FlowCore

/// Generic Routing Encapsulation: version 0 (RFC 2784 §2.1 with the Key and Sequence
/// Number extensions of RFC 2890 §2) and version 1, the enhanced GRE of PPTP (RFC 2637 §4.1).
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |      Checksum (optional)      |       Reserved1 (Optional)    |  if C
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         Key (optional)                        |  if K
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                 Sequence Number (optional)                    |  if S
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |              Acknowledgment Number (optional)                 |  if A (v1)
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Version 0: R, s, Recur, A and Flags must be zero (RFC 2784 §2.3; RFC 1701 source
/// routing is not supported). Version 1: C and R are zero, K is set (its high half is the
/// payload length, its low half the call ID), and the protocol is PPP (0x880B). A version 1
/// packet with no payload is an acknowledgement only: the GRE packet itself is the flow.
///
/// Payloads followed: IPv4, IPv6, Transparent Ethernet Bridging (0x6558), MPLS, PPP, and
/// ERSPAN: 0x88BE is type II when S is set and type I (no ERSPAN header) when it is not;
/// 0x22EB is type III.
public struct GREHeader {
    public static let minimumLength = 4

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var flagsAndVersion: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var version: UInt8 { UInt8(truncatingIfNeeded: self.flagsAndVersion & 0x7) }
    @inlinable public var hasChecksum: Bool { self.flagsAndVersion & 0x8000 != 0 }
    @inlinable public var hasRouting: Bool { self.flagsAndVersion & 0x4000 != 0 }
    @inlinable public var hasKey: Bool { self.flagsAndVersion & 0x2000 != 0 }
    @inlinable public var hasSequence: Bool { self.flagsAndVersion & 0x1000 != 0 }
    @inlinable public var hasAcknowledgment: Bool { self.flagsAndVersion & 0x0080 != 0 }
    @inlinable public var protocolType: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }

    /// Header length including the optional fields.
    @inlinable public var headerLength: Int {
        var length = Self.minimumLength
        if self.hasChecksum || self.hasRouting { length &+= 4 }
        if self.hasKey { length &+= 4 }
        if self.hasSequence { length &+= 4 }
        if self.version == 1, self.hasAcknowledgment { length &+= 4 }
        return length
    }

    /// The first field that contradicts RFC 2784/2890 or RFC 2637, or `nil`.
    @inlinable
    public func validate() -> DecodeAnomaly? {
        let flags = self.flagsAndVersion
        switch self.version {
        case 0:
            // R (0x4000), s (0x0800), Recur (0x0700), A (0x0080), Flags (0x0078).
            if flags & 0x4FF8 != 0 { return .greVersion0Flags }
        case 1:
            if flags & 0xCF78 != 0 { return .greVersion1Flags }  // C, R, s, Recur, Flags
            if !self.hasKey { return .greVersion1NoKey }
            if self.protocolType != EtherType.ppp { return .greVersion1WrongProtocol }
        default:
            return .greWrongVersion
        }
        return nil
    }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        let declared = context.declaredTransportLength
        if declared < Self.minimumLength {
            return summary.isFragment ? .done : .stop(.grePacketTooSmall)
        }
        guard let header = GREHeader(bytes) else { return .stop(.greTruncated) }
        if let anomaly = header.validate() { return .stop(anomaly) }
        let headerLength = header.headerLength
        if headerLength > declared, !summary.isFragment { return .stop(.grePacketTooSmall) }
        guard headerLength <= bytes.count, let payload = bytes.dropFirst(headerLength) else {
            return .stop(.greTruncated)
        }
        summary.payloadLength = payload.count
        if summary.isFragment { return .done }
        if declared == headerLength { return .done }  // keepalive or PPTP acknowledgement only

        switch header.protocolType {
        case EtherType.ipv4: return .tunnel(.gre, vni: 0, .ipv4, payload)
        case EtherType.ipv6: return .tunnel(.gre, vni: 0, .ipv6, payload)
        case EtherType.transparentEthernet: return .tunnel(.gre, vni: 0, .ethernet, payload)
        case EtherType.mplsUnicast, EtherType.mplsMulticast: return .tunnel(.gre, vni: 0, .mpls, payload)
        case EtherType.ppp: return .tunnel(.gre, vni: 0, .ppp, payload)
        case EtherType.erspanII:
            return .tunnel(.gre, vni: 0, header.hasSequence ? .erspanII : .ethernet, payload)
        case EtherType.erspanIII: return .tunnel(.gre, vni: 0, .erspanIII, payload)
        default: return .stop(.greUnknownPayloadType)
        }
    }
}

/// PPP encapsulation inside enhanced GRE (RFC 1661 §2, with the HDLC-like framing of
/// RFC 1662 §3.1 and the compressions of RFC 1661 §6.5–6.6).
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     | Address 0xFF  | Control 0x03  |        Protocol (1 or 2)      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Address and Control may be omitted (ACFC); a protocol whose first octet is odd is the
/// one-octet compressed form (PFC). IPv4 is 0x0021, IPv6 0x0057; LCP, CCP and the other
/// control protocols carry no IP and are counted as unsupported.
public enum PPPHeader {
    public static let ipv4: UInt16 = 0x0021
    public static let ipv6: UInt16 = 0x0057

    @inlinable
    static func decode(_ bytes: PacketBytes) -> DecodeStep {
        var offset = 0
        if bytes.byte(at: 0) == 0xFF {  // not a protocol octet: the HDLC address
            guard let control = bytes.byte(at: 1) else { return .stop(.pppTruncated) }
            if control == 0x03 { offset = 2 }
        }
        guard let first = bytes.byte(at: offset) else { return .stop(.pppTruncated) }
        let proto: UInt16
        if first & 1 == 1 {
            proto = UInt16(first)
            offset &+= 1
        } else {
            guard let wide = bytes.bigEndian(at: offset, as: UInt16.self) else { return .stop(.pppTruncated) }
            proto = wide
            offset &+= 2
        }
        guard let payload = bytes.dropFirst(offset) else { return .stop(.pppTruncated) }
        switch proto {
        case Self.ipv4: return .next(.ipv4, payload)
        case Self.ipv6: return .next(.ipv6, payload)
        default: return .stop(.pppUnsupportedProtocol)
        }
    }
}
