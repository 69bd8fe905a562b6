import FlowCore

/// An MPLS label stack (RFC 3032 §2.1), after EtherType 0x8847 (unicast) or 0x8848
/// (multicast). Each entry is four octets; the S bit marks the bottom of the stack.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                Label                  | TC  |S|      TTL      |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// MPLS does not say what it carries. After the bottom of stack the first nibble is used,
/// as routers and Wireshark do: 4 is IPv4, 6 is IPv6, and 0 is the pseudowire control word
/// of RFC 4385 §3 (four octets, first nibble 0), followed by an Ethernet frame (RFC 4448).
public enum MPLSLabelStack {
    public static let entryLength = 4

    /// The 20-bit label of an entry.
    @inlinable
    public static func label(_ entry: UInt32) -> UInt32 { entry >> 12 }

    @inlinable
    static func decode(_ bytes: PacketBytes, into summary: inout PacketSummary) -> DecodeStep {
        var offset = 0
        var labels = 0
        while true {
            guard let entry = bytes.bigEndian(at: offset, as: UInt32.self) else { return .stop(.mplsTruncated) }
            labels &+= 1
            if summary.mplsLabelCount < UInt8.max { summary.mplsLabelCount &+= 1 }
            offset &+= Self.entryLength
            if entry & 0x100 != 0 { break }  // bottom of stack
            if labels >= LayerParser.maxMPLSLabels { return .stop(.mplsTooManyLabels) }
        }
        guard let payload = bytes.dropFirst(offset), let first = payload.byte(at: 0) else {
            return .stop(.mplsTruncated)
        }
        switch first >> 4 {
        case 4: return .next(.ipv4, payload)
        case 6: return .next(.ipv6, payload)
        case 0:
            guard let frame = payload.dropFirst(4), frame.count > 0 else { return .stop(.mplsTruncated) }
            return .next(.ethernet, frame)
        default: return .stop(.mplsUnknownPayloadType)
        }
    }
}
