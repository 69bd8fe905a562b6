import FlowCore

/// An Ethernet II header (IEEE 802.3 clause 3.2.6, "Ethernet II" / DIX framing).
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                  Destination MAC (6 octets)                   |
///     +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                               |                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
///     |                    Source MAC (6 octets)                      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |     EtherType / Length        |  Payload ...
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// A type/length value below 0x0600 is an IEEE 802.3 length (LLC/SNAP follows); those
/// frames are counted as unsupported. The frame check sequence is not captured.
public struct EthernetHeader {
    public static let length = 14

    @usableFromInline
    internal let bytes: PacketBytes

    /// Returns `nil` if fewer than 14 bytes were captured.
    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var etherType: UInt16 { self.bytes.uncheckedBigEndian(at: 12, as: UInt16.self) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        guard let header = EthernetHeader(bytes), let payload = bytes.dropFirst(Self.length) else {
            return .stop(.ethernetTruncated)
        }
        context.vlanTagsInFrame = 0
        return EtherType.step(header.etherType, payload)
    }
}

/// EtherType values (IEEE Registration Authority) that the decoder follows, and the one
/// dispatch used by every header that carries an EtherType: Ethernet, VLAN tags, Linux
/// cooked SLL/SLL2, and GRE's Protocol Type.
public enum EtherType {
    public static let ipv4: UInt16 = 0x0800
    public static let arp: UInt16 = 0x0806
    public static let vlan: UInt16 = 0x8100
    public static let qinq: UInt16 = 0x88A8
    /// Pre-standard QinQ TPID used by some switches.
    public static let qinqLegacy: UInt16 = 0x9100
    public static let ipv6: UInt16 = 0x86DD
    public static let mplsUnicast: UInt16 = 0x8847
    public static let mplsMulticast: UInt16 = 0x8848
    /// Transparent Ethernet Bridging (GRE, Geneve).
    public static let transparentEthernet: UInt16 = 0x6558
    public static let ppp: UInt16 = 0x880B
    public static let erspanII: UInt16 = 0x88BE
    public static let erspanIII: UInt16 = 0x22EB
    /// Values below this are IEEE 802.3 length fields.
    public static let minimumType: UInt16 = 0x0600

    /// The next layer for an EtherType, or the unsupported anomaly for one that carries no IP.
    @inlinable
    static func step(_ type: UInt16, _ payload: PacketBytes) -> DecodeStep {
        switch type {
        case ipv4: .next(.ipv4, payload)
        case ipv6: .next(.ipv6, payload)
        case vlan, qinq, qinqLegacy: .next(.vlan, payload)
        case mplsUnicast, mplsMulticast: .next(.mpls, payload)
        case ..<minimumType: .stop(.ethernetIEEE8023)
        default: .stop(.ethernetUnknownEtherType)
        }
    }
}
