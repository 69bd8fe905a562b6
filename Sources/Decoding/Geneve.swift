import FlowCore

/// A Geneve header (RFC 8926 §3.1), on UDP destination port 6081.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |        Virtual Network Identifier (VNI)       |    Reserved   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                                                               |
///     ~                    Variable-Length Options                    ~
///     |                                                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Opt Len counts 4-octet words of options, which are skipped whole. Protocol Type is an
/// EtherType: 0x6558 (Ethernet), 0x0800 or 0x86DD are followed. Only version 0 exists.
public struct GeneveHeader {
    public static let minimumLength = 8

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { self.bytes.uncheckedByte(at: 0) >> 6 }
    /// Header length including options.
    @inlinable public var headerLength: Int { Self.minimumLength &+ Int(self.bytes.uncheckedByte(at: 0) & 0x3F) &* 4 }
    @inlinable public var protocolType: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }
    @inlinable public var vni: UInt32 { self.bytes.uncheckedBigEndian(at: 4, as: UInt32.self) >> 8 }

    @inlinable
    static func decode(_ bytes: PacketBytes) -> DecodeStep {
        guard let header = GeneveHeader(bytes) else { return .stop(.geneveTruncated) }
        if header.version != 0 { return .stop(.geneveUnsupportedVersion) }
        guard header.headerLength <= bytes.count, let payload = bytes.dropFirst(header.headerLength) else {
            return .stop(.geneveTruncated)
        }
        switch header.protocolType {
        case EtherType.transparentEthernet: return .tunnel(.geneve, vni: header.vni, .ethernet, payload)
        case EtherType.ipv4: return .tunnel(.geneve, vni: header.vni, .ipv4, payload)
        case EtherType.ipv6: return .tunnel(.geneve, vni: header.vni, .ipv6, payload)
        default: return .stop(.geneveUnknownPayloadType)
        }
    }
}
