import FlowCore

/// One record from a capture: its link type, time and bytes. `bytes` is borrowed from
/// the reader's buffer and valid only until the reader's next call.
public struct CapturedPacket {
    /// LINKTYPE_ value of the interface the packet was captured on.
    public var linkType: UInt32
    /// pcapng interface index (0 for classic pcap).
    public var interfaceIndex: UInt32
    public var time: CaptureTime
    /// Length on the wire; `bytes.count` is the captured length.
    public var originalLength: UInt32
    public var bytes: PacketBytes

    @inlinable
    public init(linkType: UInt32, interfaceIndex: UInt32, time: CaptureTime, originalLength: UInt32, bytes: PacketBytes) {
        self.linkType = linkType
        self.interfaceIndex = interfaceIndex
        self.time = time
        self.originalLength = originalLength
        self.bytes = bytes
    }
}
