import FlowCore

/// The IPv6 extension-header chain (RFC 8200 §4), walked from the Next Header of the
/// fixed header to the upper-layer protocol.
///
/// Hop-by-Hop Options (0) and Destination Options (60), RFC 8200 §4.3 and §4.6; Routing
/// (43), §4.4; and Mobility (135, RFC 6275), HIP (139, RFC 7401) and Shim6 (140, RFC 5533)
/// share the generic layout, length in 8-octet units not counting the first 8:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Next Header  |  Hdr Ext Len  |                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
///     .                  Options / type-specific data                 .
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Fragment (44), RFC 8200 §4.5, always 8 octets:
///
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                         Identification                        |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Authentication Header (51), RFC 4302 §2: Payload Len is in 4-octet units minus 2.
/// ESP (50) and No Next Header (59) end the walk: nothing after them is readable.
///
/// Options in Hop-by-Hop and Destination Options (RFC 8200 §4.2): Pad1 (0) is one octet;
/// every other option is type, length, data, and must fit in its header. The Jumbo Payload
/// option (0xC2, RFC 2675 §2) replaces a zero Payload Length.
///
/// A fragment header with offset 0 and M = 0 is an atomic fragment (RFC 6946): not a
/// fragment. A non-first fragment ends the walk after the network layer.
@usableFromInline
struct IPv6ExtensionHeaderChain {
    @usableFromInline let bytes: PacketBytes
    /// Payload Length from the fixed header (0 for a jumbogram).
    @usableFromInline let payloadLength: Int
    /// The protocol of the header at `offset` (the upper layer once the walk ends).
    @usableFromInline var nextHeader: UInt8
    /// Where the header named by `nextHeader` starts.
    @usableFromInline var offset: Int
    /// One past the last byte of the packet as the header declares it (40 + Payload
    /// Length, or 40 + Jumbo Payload Length); may exceed the captured bytes.
    @usableFromInline var end: Int
    /// Set when the walk stops at a fragment with a non-zero offset.
    @usableFromInline var stoppedAtNonFirstFragment: Bool

    @inlinable
    init(_ bytes: PacketBytes, payloadLength: Int, firstHeader: UInt8) {
        self.bytes = bytes
        self.payloadLength = payloadLength
        self.nextHeader = firstHeader
        self.offset = IPv6Header.length
        self.stoppedAtNonFirstFragment = false
        // A possible jumbogram: the Hop-by-Hop header decides the length, so until it
        // has been read, the captured bytes are the only bound.
        if payloadLength == 0, firstHeader == IPProtocolNumber.hopByHop {
            self.end = Swift.max(bytes.count, IPv6Header.length)
        } else {
            self.end = IPv6Header.length &+ payloadLength
        }
    }

    /// Walks the chain, filling the fragment fields of `summary`. Returns the anomaly that
    /// stopped it, or `nil` when `nextHeader`/`offset` name the upper layer (or ESP, No
    /// Next Header, or a non-first fragment's payload).
    @inlinable
    mutating func walk(into summary: inout PacketSummary) -> DecodeAnomaly? {
        var count = 0
        while true {
            let headerLength: Int
            switch self.nextHeader {
            case IPProtocolNumber.hopByHop, IPProtocolNumber.routing, IPProtocolNumber.destinationOptions,
                 IPProtocolNumber.mobility, IPProtocolNumber.hip, IPProtocolNumber.shim6:
                if self.nextHeader == IPProtocolNumber.hopByHop, count != 0 { return .ipv6HopByHopNotFirst }
                guard let units = self.lengthOctet() else { return self.truncationOrMalformed(2) }
                headerLength = (Int(units) &+ 1) &* 8
            case IPProtocolNumber.fragment:
                headerLength = 8
            case IPProtocolNumber.authentication:
                guard let units = self.lengthOctet() else { return self.truncationOrMalformed(2) }
                headerLength = (Int(units) &+ 2) &* 4
            default:
                return nil  // upper layer, ESP or No Next Header
            }
            count &+= 1
            if count > LayerParser.maxIPv6ExtensionHeaders { return .ipv6ExtensionHeaderLoop }

            let isHopByHop = self.nextHeader == IPProtocolNumber.hopByHop
            let isOptions = isHopByHop || self.nextHeader == IPProtocolNumber.destinationOptions
            let isFragment = self.nextHeader == IPProtocolNumber.fragment
            // The hop-by-hop header of a possible jumbogram is checked against the capture
            // only; `end` is fixed once its options have been read.
            if !(isHopByHop && self.payloadLength == 0), headerLength > self.end &- self.offset {
                return .ipv6PayloadLengthBelowHeaders
            }
            guard let header = self.bytes.dropFirst(self.offset), header.count >= headerLength else {
                return .ipv6ExtensionHeaderTruncated
            }
            let following = header.uncheckedByte(at: 0)

            if isOptions {
                var jumbo: Int? = nil
                if let anomaly = Self.validateOptions(header, length: headerLength, jumbo: &jumbo) {
                    return anomaly
                }
                if isHopByHop, self.payloadLength == 0 {
                    // RFC 2675 §2: with Payload Length 0 the Jumbo Payload Length counts
                    // everything after the fixed header; without the option the packet
                    // declares no payload at all.
                    self.end = IPv6Header.length &+ (jumbo ?? 0)
                    if headerLength > self.end &- self.offset { return .ipv6PayloadLengthBelowHeaders }
                }
            }
            if isFragment {
                let field = header.uncheckedBigEndian(at: 2, as: UInt16.self)
                let fragmentOffset = field >> 3
                let more = field & 1 != 0
                if fragmentOffset != 0 || more {  // otherwise atomic (RFC 6946)
                    summary.isFragment = true
                    summary.fragmentID = header.uncheckedBigEndian(at: 4, as: UInt32.self)
                    summary.fragmentOffset = fragmentOffset
                    summary.moreFragments = more
                }
                if fragmentOffset != 0 {
                    self.nextHeader = following
                    self.offset &+= headerLength
                    self.stoppedAtNonFirstFragment = true
                    return nil
                }
            }
            self.nextHeader = following
            self.offset &+= headerLength
        }
    }

    /// The second octet of the header at `offset`, or `nil` if it is not captured.
    @inlinable
    func lengthOctet() -> UInt8? { self.bytes.byte(at: self.offset &+ 1) }

    /// For a header of which `needed` octets could not be read: malformed if the declared
    /// length already ends before them, truncated otherwise.
    @inlinable
    func truncationOrMalformed(_ needed: Int) -> DecodeAnomaly {
        let jumboPending = self.payloadLength == 0 && self.nextHeader == IPProtocolNumber.hopByHop
            && self.offset == IPv6Header.length
        if !jumboPending, needed > self.end &- self.offset { return .ipv6PayloadLengthBelowHeaders }
        return .ipv6ExtensionHeaderTruncated
    }

    /// Walks the TLV options of a Hop-by-Hop or Destination Options header whose
    /// `length` octets are all captured. Reports the Jumbo Payload Length if present.
    @inlinable
    static func validateOptions(_ header: PacketBytes, length: Int, jumbo: inout Int?) -> DecodeAnomaly? {
        var offset = 2
        while offset < length {
            guard let type = header.byte(at: offset) else { return .ipv6ExtensionHeaderTruncated }
            if type == 0 {  // Pad1
                offset &+= 1
                continue
            }
            guard offset &+ 1 < length, let dataLength = header.byte(at: offset &+ 1) else {
                return .ipv6ExtensionHeaderInvalidOptionLength
            }
            let optionEnd = offset &+ 2 &+ Int(dataLength)
            if optionEnd > length { return .ipv6ExtensionHeaderInvalidOptionLength }
            if type == 0xC2, dataLength == 4, let value = header.bigEndian(at: offset &+ 2, as: UInt32.self) {
                jumbo = Int(value)
            }
            offset = optionEnd
        }
        return nil
    }
}
