// TEMPORARY SKELETON; replaced by the capture module's BPF filter.
public final class PacketFilter {
    public init(expression: String) throws(CaptureError) {
        throw CaptureError(.badFilter, "filters are not available yet")
    }
    public func matches(_ packet: CapturedPacket) -> Bool { true }
}
