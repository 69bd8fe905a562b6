/// Classic pcap ("libpcap format"):
///
///     file header (24 bytes)                 record header (16 bytes; 24 in Kuznetzov's format)
///     +------------------------------+       +------------------------------+
///     | magic                        |  0    | seconds                      |  0
///     | major (16) | minor (16)      |  4    | microseconds or nanoseconds  |  4
///     | time zone (unused)           |  8    | captured length              |  8
///     | sigfigs (unused)             | 12    | original length              | 12
///     | snapshot length              | 16    +------------------------------+
///     | FCS bits (4+1) | link type   | 20    followed by `captured length` bytes
///     +------------------------------+
///
/// Fields are in the byte order in which the magic reads correctly.
struct PcapState {
    var reader = ByteOrderedReader(bigEndian: false)
    var nanosecondTimestamps = false
    var recordHeaderSize = 16
    var lengthOrder = LengthOrder.originalOrder
    var linkType: UInt32 = 0
    /// The header's snapshot length, adjusted as libpcap does; longer records are cut to it.
    var snapshotLength: UInt32 = 0
    /// A record whose captured length is above this is malformed.
    var maximumCapturedLength: UInt32 = 0

    /// Before version 2.3 the record header had the original length first.
    enum LengthOrder {
        case originalOrder
        case swapped
        /// Version 2.3 files exist in both orders; swap when captured > original.
        case swappedIfCapturedIsLonger
    }
}

/// What the first four bytes of a classic pcap file say (read little-endian).
struct PcapFileHeaderMagic {
    var bigEndian: Bool
    var nanoseconds: Bool
    var kuznetzov: Bool

    init?(_ littleEndianMagic: UInt32) {
        switch littleEndianMagic {
        case 0xA1B2_C3D4: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (false, false, false)
        case 0xD4C3_B2A1: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (true, false, false)
        case 0xA1B2_3C4D: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (false, true, false)
        case 0x4D3C_B2A1: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (true, true, false)
        case 0xA1B2_CD34: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (false, false, true)
        case 0x34CD_B2A1: (self.bigEndian, self.nanoseconds, self.kuznetzov) = (true, false, true)
        default: return nil
        }
    }
}

extension CaptureFileReader {
    static let pcapFileHeaderSize = 24

    func readPcapFileHeader(_ magic: PcapFileHeaderMagic) throws(CaptureError) {
        guard try self.fill(atLeast: Self.pcapFileHeaderSize) else {
            throw CaptureError(
                .truncated,
                "\(self.path): truncated in the pcap file header (\(Self.pcapFileHeaderSize) bytes needed, \(self.input.available) present)"
            )
        }
        let header = self.input.bytes
        let reader = ByteOrderedReader(bigEndian: magic.bigEndian)
        let major = reader.u16(header, 4)
        let minor = reader.u16(header, 6)
        // libpcap reads 2.0 to 2.4, and 543.0 (DG/UX tcpdump, lengths in the old order).
        let lengthOrder: PcapState.LengthOrder
        switch (major, minor) {
        case (2, 0..<3), (543, 0): lengthOrder = .swapped
        case (2, 3): lengthOrder = .swappedIfCapturedIsLonger
        case (2, 4): lengthOrder = .originalOrder
        default:
            throw CaptureError(
                .notACapture, "\(self.path): unsupported pcap version \(major).\(minor) (only 2.0 to 2.4 can be read)")
        }
        // The top 6 bits hold the FCS length; the link type is the low 26 bits.
        let linkType = reader.u32(header, 20) & 0x03FF_FFFF
        var snapshotLength = adjustedSnapshotLength(reader.u32(header, 16), linkType: linkType)
        if magic.kuznetzov && linkType == 1 {
            // As libpcap: such captures may hold a faked 14-byte Ethernet header beyond the snapshot.
            snapshotLength &+= 14
        }
        self.pcap = PcapState(
            reader: reader, nanosecondTimestamps: magic.nanoseconds, recordHeaderSize: magic.kuznetzov ? 24 : 16,
            lengthOrder: lengthOrder, linkType: linkType, snapshotLength: snapshotLength,
            maximumCapturedLength: maximumSnapshotLength(forLinkType: linkType))
        self.noteLinkType(linkType)
        self.input.consume(Self.pcapFileHeaderSize)
    }

    func nextPcapRecord() throws(CaptureError) -> CapturedPacket? {
        let headerSize = self.pcap.recordHeaderSize
        let recordOffset = self.input.offset
        let recordNumber = self.recordsRead &+ 1

        guard try self.fill(atLeast: headerSize) else {
            let remaining = self.input.available
            if remaining == 0 { return nil }
            throw CaptureError(
                .truncated,
                "\(self.path): truncated in the header of record \(recordNumber) at offset \(recordOffset) (\(headerSize) bytes needed, \(remaining) remain)"
            )
        }
        let header = self.input.bytes
        let reader = self.pcap.reader
        let seconds = reader.u32(header, 0)
        let fraction = reader.u32(header, 4)
        var capturedLength = reader.u32(header, 8)
        var originalLength = reader.u32(header, 12)
        switch self.pcap.lengthOrder {
        case .originalOrder: break
        case .swapped: swap(&capturedLength, &originalLength)
        case .swappedIfCapturedIsLonger:
            if capturedLength > originalLength { swap(&capturedLength, &originalLength) }
        }

        if capturedLength > self.pcap.maximumCapturedLength {
            throw CaptureError(
                .malformed,
                "\(self.path): record \(recordNumber) at offset \(recordOffset): captured length \(capturedLength) exceeds the maximum of \(self.pcap.maximumCapturedLength)"
            )
        }
        // Cannot overflow: capturedLength <= 128 MiB.
        let recordSize = headerSize &+ Int(capturedLength)
        guard try self.fill(atLeast: recordSize) else {
            throw CaptureError(
                .truncated,
                "\(self.path): truncated in the middle of record \(recordNumber) at offset \(recordOffset) (header says \(capturedLength) bytes, \(self.input.available &- headerSize) remain)"
            )
        }
        let data = self.input.bytes + headerSize
        self.input.consume(recordSize)

        // Like libpcap, hand out no more than the file's snapshot length.
        let count = Int(min(capturedLength, self.pcap.snapshotLength))
        // Cannot overflow: at most (2^32 - 1) * 10^9 + (2^32 - 1) * 1000 < 2^63.
        let nanoseconds =
            Int64(seconds) &* 1_000_000_000 &+ Int64(fraction) &* (self.pcap.nanosecondTimestamps ? 1 : 1000)
        return self.packet(
            linkType: self.pcap.linkType, interfaceIndex: 0, nanoseconds: nanoseconds, originalLength: originalLength,
            data: data, count: count)
    }
}
