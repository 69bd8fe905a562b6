import FlowCore

/// An IPv6 header (RFC 8200 §3), read in place from captured bytes.
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |Version| Traffic Class |           Flow Label                  |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |         Payload Length        |  Next Header  |   Hop Limit   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                                                               |
///     +                         Source Address                        +
///     |                          (16 octets)                          |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                                                               |
///     +                      Destination Address                      +
///     |                          (16 octets)                          |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// The extension-header chain (RFC 8200 §4) is walked in `IPv6ExtensionHeaders.swift`.
/// Payload Length past the end of the capture is snaplen, not an error, as long as the
/// headers are there; Payload Length ending inside a header is malformed. Payload Length 0
/// with a Hop-by-Hop Jumbo Payload option is a jumbogram (RFC 2675; Linux BIG TCP).
public struct IPv6Header {
    public static let length = 40

    @usableFromInline
    internal let bytes: PacketBytes

    /// Returns `nil` if fewer than 40 bytes were captured.
    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var version: UInt8 { self.bytes.uncheckedByte(at: 0) >> 4 }
    @inlinable public var payloadLength: Int { Int(self.bytes.uncheckedBigEndian(at: 4, as: UInt16.self)) }
    @inlinable public var nextHeader: UInt8 { self.bytes.uncheckedByte(at: 6) }
    @inlinable public var hopLimit: UInt8 { self.bytes.uncheckedByte(at: 7) }
    @inlinable public var source: IPAddress {
        IPAddress(
            high: self.bytes.uncheckedBigEndian(at: 8, as: UInt64.self),
            low: self.bytes.uncheckedBigEndian(at: 16, as: UInt64.self))
    }
    @inlinable public var destination: IPAddress {
        IPAddress(
            high: self.bytes.uncheckedBigEndian(at: 24, as: UInt64.self),
            low: self.bytes.uncheckedBigEndian(at: 32, as: UInt64.self))
    }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        guard let header = IPv6Header(bytes) else { return .stop(.ipv6Truncated) }
        if header.version != 6 { return .stop(.ipv6WrongVersion) }

        summary.ipVersion = 6
        summary.source = header.source
        summary.destination = header.destination
        summary.ipProtocol = header.nextHeader
        summary.ttl = header.hopLimit
        context.networkSinceTunnel = true

        var chain = IPv6ExtensionHeaderChain(
            bytes, payloadLength: header.payloadLength, firstHeader: header.nextHeader)
        let anomaly = chain.walk(into: &summary)
        summary.ipProtocol = chain.nextHeader
        if let anomaly { return .stop(anomaly) }

        guard let payload = bytes.prefix(chain.end).dropFirst(chain.offset) else {
            return .stop(.ipv6ExtensionHeaderTruncated)
        }
        context.declaredTransportLength = chain.end &- chain.offset
        summary.payloadLength = payload.count

        if chain.stoppedAtNonFirstFragment { return .done }
        switch chain.nextHeader {
        case IPProtocolNumber.esp, IPProtocolNumber.noNextHeader: return .done
        default: return IPNextHeader.step(chain.nextHeader, payload)
        }
    }
}
