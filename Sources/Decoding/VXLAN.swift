import FlowCore

/// A VXLAN header (RFC 7348 §5), on UDP destination port 4789 and, by Linux and Cilium
/// convention, 8472. An Ethernet frame follows.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |R|R|R|R|I|R|R|R|            Reserved                           |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                VXLAN Network Identifier (VNI) |   Reserved    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// The I flag must be set for a valid VNI. Without it the datagram is not treated as
/// VXLAN (the port is only a convention) and stays a plain UDP flow, with no anomaly.
public struct VXLANHeader {
    public static let length = 8

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var hasValidVNI: Bool { self.bytes.uncheckedByte(at: 0) & 0x08 != 0 }
    @inlinable public var vni: UInt32 { self.bytes.uncheckedBigEndian(at: 4, as: UInt32.self) >> 8 }

    @inlinable
    static func decode(_ bytes: PacketBytes) -> DecodeStep {
        guard let header = VXLANHeader(bytes), let payload = bytes.dropFirst(Self.length) else {
            return .stop(.vxlanTruncated)
        }
        if !header.hasValidVNI { return .done }
        return .tunnel(.vxlan, vni: header.vni, .ethernet, payload)
    }
}
