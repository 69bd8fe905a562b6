import FlowCore

/// A TCP header (RFC 9293 §3.1), read in place from captured bytes.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |          Source Port          |       Destination Port        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                        Sequence Number                        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                    Acknowledgment Number                      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Data |     |N|C|E|U|A|P|R|S|F|                               |
///     | Offset| Rsrv|S|W|C|R|C|S|S|Y|I|            Window             |
///     |       |     | |R|E|G|K|H|T|N|N|                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |           Checksum            |         Urgent Pointer        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                    Options                    |    Padding    |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// NS (RFC 3540, historic) is bit 0 of octet 12 and is reported as flag 0x100; CWR/ECE
/// are RFC 3168. Ports and flags are recorded as soon as the fixed 20 bytes are there,
/// before the data offset is checked.
public struct TCPHeader {
    public static let minimumLength = 20

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.minimumLength else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var destinationPort: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }
    @inlinable public var sequence: UInt32 { self.bytes.uncheckedBigEndian(at: 4, as: UInt32.self) }
    @inlinable public var acknowledgement: UInt32 { self.bytes.uncheckedBigEndian(at: 8, as: UInt32.self) }
    /// Header length in bytes (data offset × 4).
    @inlinable public var headerLength: Int { Int(self.bytes.uncheckedByte(at: 12) >> 4) &* 4 }
    /// The nine flag bits, NS as 0x100.
    @inlinable public var flags: UInt16 {
        UInt16(self.bytes.uncheckedByte(at: 13)) | (UInt16(self.bytes.uncheckedByte(at: 12) & 0x01) << 8)
    }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        if context.declaredTransportLength < Self.minimumLength {
            // A first fragment may legitimately be too short to hold the header.
            return summary.isFragment ? .done : .stop(.tcpPacketTooSmall)
        }
        guard let header = TCPHeader(bytes) else { return .stop(.tcpTruncated) }
        summary.hasPorts = true
        summary.sourcePort = header.sourcePort
        summary.destinationPort = header.destinationPort
        summary.tcpFlags = header.flags
        summary.tcpSequence = header.sequence
        summary.tcpAcknowledgement = header.acknowledgement
        let headerLength = header.headerLength
        summary.tcpHeaderLength = UInt8(truncatingIfNeeded: headerLength)  // at most 60
        if headerLength < Self.minimumLength { return .stop(.tcpHeaderLengthTooSmall) }
        if headerLength > context.declaredTransportLength, !summary.isFragment {
            return .stop(.tcpHeaderLengthTooLarge)
        }
        if headerLength > bytes.count { return .stop(.tcpTruncated) }
        summary.payloadLength = bytes.count &- headerLength
        return .done
    }
}
