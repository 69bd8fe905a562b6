import FlowCore

/// ERSPAN, Cisco's mirrored-traffic encapsulation over GRE (draft-foschiano-erspan-03
/// §4.1 and §4.3; there is no RFC). The payload is the mirrored Ethernet frame.
///
/// Type II (GRE protocol 0x88BE, GRE sequence number present), 8 octets:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Ver  |          VLAN         | COS | En|T|    Session ID     |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |      Reserved         |                  Index                |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Type III (GRE protocol 0x22EB), 12 octets, then an 8-octet platform-specific
/// subheader when O is set:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Ver  |          VLAN         | COS |BSO|T|     Session ID    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                          Timestamp                            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Version is 1 for type II and 2 for type III. Type I has no header (GRE decides).
public enum ERSPANHeader {
    public static let typeIILength = 8
    public static let typeIIILength = 12
    public static let platformSubheaderLength = 8

    @inlinable
    static func decodeTypeII(_ bytes: PacketBytes) -> DecodeStep {
        guard let first = bytes.byte(at: 0), bytes.count >= Self.typeIILength,
              let payload = bytes.dropFirst(Self.typeIILength)
        else { return .stop(.erspanTruncated) }
        if first >> 4 != 1 { return .stop(.erspanUnsupportedVersion) }
        return .next(.ethernet, payload)
    }

    @inlinable
    static func decodeTypeIII(_ bytes: PacketBytes) -> DecodeStep {
        guard let first = bytes.byte(at: 0), let last = bytes.byte(at: Self.typeIIILength &- 1) else {
            return .stop(.erspanTruncated)
        }
        if first >> 4 != 2 { return .stop(.erspanUnsupportedVersion) }
        let length = Self.typeIIILength &+ (last & 1 != 0 ? Self.platformSubheaderLength : 0)
        guard length <= bytes.count, let payload = bytes.dropFirst(length) else { return .stop(.erspanTruncated) }
        return .next(.ethernet, payload)
    }
}
