import FlowCore

/// The SCTP common header (RFC 9260 §3.1); chunks follow and are not decoded.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |     Source Port Number        |     Destination Port Number   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                      Verification Tag                         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                           Checksum                            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
public struct SCTPHeader {
    public static let length = 12

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var destinationPort: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        if context.declaredTransportLength < Self.length {
            return summary.isFragment ? .done : .stop(.sctpPacketTooSmall)
        }
        guard let header = SCTPHeader(bytes) else { return .stop(.sctpTruncated) }
        summary.hasPorts = true
        summary.sourcePort = header.sourcePort
        summary.destinationPort = header.destinationPort
        summary.payloadLength = bytes.count &- Self.length
        return .done
    }
}
