import FlowCore

/// ICMP for IPv4 (RFC 792) and ICMPv6 (RFC 4443 §2.1); both start the same way.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |     Type      |     Code      |          Checksum             |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |           Identifier          |        Sequence Number        |  queries
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |      unused / pointer / gateway / MTU (errors)                |  errors
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |  Errors: the invoking packet's IP header + first 8 octets ... |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// Queries carry an identifier, errors quote the invoking packet (which types are which:
/// `ICMPType`). The quote is read best effort: a short or odd quote clears `hasQuotedPacket`
/// and is never an anomaly (routers quote as little as 28 octets, RFC 792; RFC 1812
/// §4.3.2.3 allows more).
public struct ICMPHeader {
    public static let length = 8

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var type: UInt8 { self.bytes.uncheckedByte(at: 0) }
    @inlinable public var code: UInt8 { self.bytes.uncheckedByte(at: 1) }
    @inlinable public var identifier: UInt16 { self.bytes.uncheckedBigEndian(at: 4, as: UInt16.self) }

    /// `version` is 4 for ICMP (protocol 1) and 6 for ICMPv6 (58), whatever IP carries it.
    @inlinable
    static func decode(
        _ bytes: PacketBytes, version: UInt8, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        if context.declaredTransportLength < Self.length {
            if summary.isFragment { return .done }
            return .stop(version == 6 ? .icmpv6PacketTooSmall : .icmpv4PacketTooSmall)
        }
        guard let header = ICMPHeader(bytes) else {
            return .stop(version == 6 ? .icmpv6Truncated : .icmpv4Truncated)
        }
        summary.hasICMP = true
        summary.icmpType = header.type
        summary.icmpCode = header.code
        summary.payloadLength = bytes.count &- Self.length
        if ICMPType.hasIdentifier(header.type, ipv6: version == 6) {
            summary.icmpIdentifier = header.identifier
        } else if ICMPType.isError(header.type, ipv6: version == 6), let quote = bytes.dropFirst(Self.length) {
            QuotedPacket.read(quote, into: &summary)
        }
        return .done
    }
}

/// The invoking packet quoted by an ICMP error: its IP header, then at least the first
/// eight octets of its transport header, which hold the ports of TCP, UDP and SCTP, or an
/// ICMP query's identifier (both "ports" hold it, as in the query's flow key).
///
/// Its IPv6 extension-header walk is not `IPv6ExtensionHeaderChain.walk`: that one checks
/// the whole chain (lengths against Payload Length, options, Hop-by-Hop first, every header
/// byte captured) and records fragments in the packet's own summary; a quote is cut short by
/// design, so this walk only follows Next Header and length octets, never an anomaly.
public enum QuotedPacket {
    /// Extension headers skipped inside an ICMPv6 quote before giving up.
    public static let maxExtensionHeaders = 8

    @inlinable
    static func read(_ quote: PacketBytes, into summary: inout PacketSummary) {
        guard let first = quote.byte(at: 0) else { return }
        var source = IPAddress.zero
        var destination = IPAddress.zero
        var proto: UInt8 = 0
        var transport = 0
        switch first >> 4 {
        case 4:
            guard let header = IPv4Header(quote), header.headerLength >= IPv4Header.minimumLength else { return }
            source = header.source
            destination = header.destination
            proto = header.ipProtocol
            transport = header.headerLength
            if header.fragmentOffset != 0 { transport = -1 }  // no transport header quoted
        case 6:
            guard let header = IPv6Header(quote) else { return }
            source = header.source
            destination = header.destination
            proto = header.nextHeader
            transport = IPv6Header.length
            var skipped = 0
            while skipped < Self.maxExtensionHeaders {
                switch proto {
                case IPProtocolNumber.hopByHop, IPProtocolNumber.routing, IPProtocolNumber.destinationOptions:
                    guard let next = quote.byte(at: transport), let units = quote.byte(at: transport &+ 1) else {
                        return
                    }
                    proto = next
                    transport &+= (Int(units) &+ 1) &* 8
                case IPProtocolNumber.fragment:
                    guard let next = quote.byte(at: transport),
                          let field = quote.bigEndian(at: transport &+ 2, as: UInt16.self) else { return }
                    proto = next
                    transport = field >> 3 != 0 ? -1 : transport &+ 8
                case IPProtocolNumber.authentication:
                    guard let next = quote.byte(at: transport), let units = quote.byte(at: transport &+ 1) else {
                        return
                    }
                    proto = next
                    transport &+= (Int(units) &+ 2) &* 4
                default:
                    skipped = Self.maxExtensionHeaders
                    continue
                }
                if transport < 0 { break }
                skipped &+= 1
            }
        default:
            return
        }
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        switch proto {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp:
            if transport >= 0 {  // a quoted non-first fragment has no ports
                guard let sp = quote.bigEndian(at: transport, as: UInt16.self),
                      let dp = quote.bigEndian(at: transport &+ 2, as: UInt16.self) else { return }
                sourcePort = sp
                destinationPort = dp
            }
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            // A quoted echo (or other query) is keyed by its identifier, as its flow is; a quote
            // cut before the identifier is no quote, as one cut before the ports.
            if transport >= 0 {
                guard let type = quote.byte(at: transport) else { return }
                if ICMPType.hasIdentifier(type, ipv6: proto == IPProtocolNumber.icmpv6) {
                    guard let identifier = quote.bigEndian(at: transport &+ 4, as: UInt16.self) else { return }
                    sourcePort = identifier
                    destinationPort = identifier
                }
            }
        default:
            break
        }
        summary.hasQuotedPacket = true
        summary.quotedSource = source
        summary.quotedDestination = destination
        summary.quotedProtocol = proto
        summary.quotedSourcePort = sourcePort
        summary.quotedDestinationPort = destinationPort
    }
}
