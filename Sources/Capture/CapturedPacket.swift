import FlowCore

/// One record from a capture: its link type, time and bytes. `bytes` is borrowed from
/// the reader's buffer and valid only until the reader's next call.
package struct CapturedPacket {
    /// LINKTYPE_ value of the interface the packet was captured on.
    package var linkType: UInt32
    /// pcapng interface index (0 for classic pcap).
    package var interfaceIndex: UInt32
    package var time: CaptureTime
    /// Length on the wire; `bytes.count` is the captured length.
    package var originalLength: UInt32
    package var bytes: PacketBytes

    @inlinable
    package init(linkType: UInt32, interfaceIndex: UInt32, time: CaptureTime, originalLength: UInt32, bytes: PacketBytes) {
        self.linkType = linkType
        self.interfaceIndex = interfaceIndex
        self.time = time
        self.originalLength = originalLength
        self.bytes = bytes
    }
}
