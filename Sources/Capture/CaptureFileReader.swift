import CPcap
import FlowCore

// TEMPORARY SKELETON over libpcap; replaced by the pcap/pcapng reader.
public final class CaptureFileReader {
    private let handle: OpaquePointer
    public let path: String
    public private(set) var recordsRead: Int = 0

    public init(path: String) throws(CaptureError) {
        var errbuf = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let h = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errbuf) else {
            throw CaptureError(.cannotOpen, "\(path): " + String(cString: errbuf))
        }
        self.handle = h
        self.path = path
    }

    deinit { pcap_close(self.handle) }

    public func next() throws(CaptureError) -> CapturedPacket? {
        var header: UnsafeMutablePointer<pcap_pkthdr>?
        var data: UnsafePointer<UInt8>?
        let rc = pcap_next_ex(self.handle, &header, &data)
        if rc == 1, let header, let data {
            self.recordsRead += 1
            let h = header.pointee
            return CapturedPacket(
                linkType: UInt32(pcap_datalink(self.handle)), interfaceIndex: 0,
                time: CaptureTime(seconds: Int64(h.ts.tv_sec), nanoseconds: Int64(h.ts.tv_usec)),
                originalLength: h.len,
                bytes: PacketBytes(UnsafeRawBufferPointer(start: data, count: Int(h.caplen))))
        }
        if rc == PCAP_ERROR_BREAK { return nil }
        throw CaptureError(.truncated, "\(self.path): " + String(cString: pcap_geterr(self.handle)))
    }
}
