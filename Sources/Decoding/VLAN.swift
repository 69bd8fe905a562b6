import FlowCore

/// An IEEE 802.1Q VLAN tag (C-tag, TPID 0x8100) or IEEE 802.1ad service tag (S-tag, TPID
/// 0x88A8; 0x9100 in pre-standard QinQ), IEEE 802.1Q-2018 §9.6. The TPID is the EtherType
/// that led here; these four bytes follow it.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     | PCP |D|        VLAN ID        |     Inner EtherType           |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Tags stack (QinQ, QinQinQ); at most `LayerParser.maxVLANTags` per Ethernet frame.
public struct VLANTag {
    public static let length = 4

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    /// The 12-bit VLAN identifier (0 = priority tag only).
    @inlinable public var vlanID: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) & 0x0FFF }
    @inlinable public var etherType: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        if context.vlanTagsInFrame >= LayerParser.maxVLANTags { return .stop(.vlanTooManyLayers) }
        guard let tag = VLANTag(bytes), let payload = bytes.dropFirst(Self.length) else {
            return .stop(.vlanTruncated)
        }
        context.vlanTagsInFrame &+= 1
        summary.recordVLAN(tag.vlanID)
        return EtherType.step(tag.etherType, payload)
    }
}
