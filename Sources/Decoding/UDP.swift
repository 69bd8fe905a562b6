import FlowCore

/// A UDP header (RFC 768), read in place from captured bytes.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |          Source Port          |       Destination Port        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |            Length             |           Checksum            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Length counts the header. It must be at least 8, except 0 over IPv6, which RFC 2675 §4
/// uses for jumbograms (the length then comes from the IP layer). It may not exceed the IP
/// payload, except in a fragment, where it counts the reassembled datagram.
///
/// Destination port 4789 (IANA) and 8472 (the Linux `vxlan` default, used by Cilium and
/// flannel) are VXLAN; 6081 is Geneve.
public struct UDPHeader {
    public static let length = 8
    public static let vxlanPort: UInt16 = 4789
    public static let linuxVXLANPort: UInt16 = 8472
    public static let genevePort: UInt16 = 6081

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var sourcePort: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var destinationPort: UInt16 { self.bytes.uncheckedBigEndian(at: 2, as: UInt16.self) }
    @inlinable public var lengthField: Int { Int(self.bytes.uncheckedBigEndian(at: 4, as: UInt16.self)) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        let declared = context.declaredTransportLength
        if declared < Self.length { return summary.isFragment ? .done : .stop(.udpPacketTooSmall) }
        guard let header = UDPHeader(bytes) else { return .stop(.udpTruncated) }
        summary.hasPorts = true
        summary.sourcePort = header.sourcePort
        summary.destinationPort = header.destinationPort

        var datagramLength = header.lengthField
        if datagramLength == 0, summary.ipVersion == 6 {
            datagramLength = declared  // RFC 2675 §4 jumbogram
        } else if datagramLength < Self.length {
            return .stop(.udpHeaderLengthTooSmall)
        } else if datagramLength > declared, !summary.isFragment {
            return .stop(.udpHeaderLengthInvalid)
        }
        guard let payload = bytes.prefix(datagramLength).dropFirst(Self.length) else {
            return .stop(.udpTruncated)
        }
        summary.payloadLength = payload.count
        if summary.isFragment { return .done }  // the payload is incomplete: no tunnel parsing

        switch header.destinationPort {
        case Self.vxlanPort, Self.linuxVXLANPort: return .next(.vxlan, payload)
        case Self.genevePort: return .next(.geneve, payload)
        default: return .done
        }
    }
}
