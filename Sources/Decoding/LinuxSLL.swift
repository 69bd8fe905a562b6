import FlowCore

/// Linux "cooked" capture headers, written by the kernel for `any` and non-Ethernet
/// devices (tcpdump.org/linktypes/LINKTYPE_LINUX_SLL.html and LINKTYPE_LINUX_SLL2.html;
/// there is no RFC). All fields are big-endian.
///
/// SLL (LINKTYPE_LINUX_SLL, 113), 16 octets:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |         Packet type           |     ARPHRD_ type              |
///     |   Link-layer address length   |                               |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
///     |            Link-layer address (8 octets, zero padded)         |
///     +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |                               |      Protocol type            |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///
/// For the link types flowmon sees the protocol type is an EtherType; values below 0x0600
/// are Linux's pseudo-protocols (802.3, 802.2 LLC, CAN, ...) and are unsupported.
public struct LinuxSLLHeader {
    public static let length = 16

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var packetType: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var protocolType: UInt16 { self.bytes.uncheckedBigEndian(at: 14, as: UInt16.self) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        guard let header = LinuxSLLHeader(bytes), let payload = bytes.dropFirst(Self.length) else {
            return .stop(.sllTruncated)
        }
        summary.direction = LinkDirection(packetType: header.packetType)
        context.vlanTagsInFrame = 0
        return EtherType.step(header.protocolType, payload)
    }
}

/// SLL2 (LINKTYPE_LINUX_SLL2, 276), 20 octets; the protocol type moved to the front and
/// the interface index was added:
///
///      0                   1                   2                   3
///      0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |        Protocol type          |       Reserved (MBZ)          |
///     |                       Interface index                         |
///     |        ARPHRD_ type           |  Packet type  | Addr length   |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
///     |            Link-layer address (8 octets, zero padded)         |
///     +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
public struct LinuxSLL2Header {
    public static let length = 20

    @usableFromInline
    internal let bytes: PacketBytes

    @inlinable
    public init?(_ bytes: PacketBytes) {
        guard bytes.count >= Self.length else { return nil }
        self.bytes = bytes
    }

    @inlinable public var protocolType: UInt16 { self.bytes.uncheckedBigEndian(at: 0, as: UInt16.self) }
    @inlinable public var interfaceIndex: UInt32 { self.bytes.uncheckedBigEndian(at: 4, as: UInt32.self) }
    @inlinable public var packetType: UInt8 { self.bytes.uncheckedByte(at: 10) }

    @inlinable
    static func decode(
        _ bytes: PacketBytes, into summary: inout PacketSummary, context: inout DecodeContext
    ) -> DecodeStep {
        guard let header = LinuxSLL2Header(bytes), let payload = bytes.dropFirst(Self.length) else {
            return .stop(.sll2Truncated)
        }
        summary.interfaceIndex = header.interfaceIndex
        summary.direction = LinkDirection(packetType: UInt16(header.packetType))
        context.vlanTagsInFrame = 0
        return EtherType.step(header.protocolType, payload)
    }
}
