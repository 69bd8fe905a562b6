import FlowCore

/// Reads packets from a pcap or pcapng capture file, in pure Swift, without libpcap.
///
/// The container is detected from the magic number, not the file name:
/// - classic pcap (`a1b2c3d4` microseconds, `a1b23c4d` nanoseconds, `a1b2cd34` Kuznetzov's
///   patched format), either byte order, version 2.0 to 2.4;
/// - pcapng, any number of sections (each with its own byte order), interfaces and link
///   types. libpcap 1.10 refuses files whose interfaces differ in link type or snapshot
///   length, and files whose sections differ in byte order; this reader accepts them.
///
/// Otherwise it is as strict as libpcap 1.10's `sf-pcap.c` and `sf-pcapng.c`: the same
/// lengths are checked against the same limits, and a file that ends inside a record is
/// an error, reported after every complete record before it was returned.
/// `CaptureTests/CorpusTests` checks this against libpcap on the real-capture corpus (Captures/corpus).
///
/// ## Where the reader differs from libpcap 1.10.3, on purpose
///
/// 1. pcapng interfaces may differ in link type and snapshot length (libpcap: "an interface has
///    a type ... different from the type of the first interface"). This is why the reader exists.
/// 2. pcapng sections may differ in byte order (libpcap: "the file has sections with different
///    byte orders"). `pcapng-multisection-custom-blocks.pcapng` needs this.
/// 3. Section Header Block options are walked as strictly as IDB options; libpcap does not
///    walk them at all. (`invalid-pcapng-shb-option-too-long.pcapng` fails in both, for its
///    trailer: 52 in the header, 0x30303030 in the trailer.)
/// 4. A Simple Packet Block's captured length is min(original length, snapshot length, room in
///    the block); libpcap reports an error if the block is shorter than the first two allow.
/// 5. An Enhanced Packet Block's captured length is checked against its own interface's
///    snapshot length (libpcap: the first interface's, which all must share there).
/// 6. Timestamps are converted exactly (128-bit product) for any `if_tsresol`; libpcap's 64-bit
///    product overflows for power-of-2 resolutions finer than about 2^-34. Results beyond the
///    `Int64` range saturate instead of wrapping.
/// 7. Classic pcap seconds are read as unsigned 32-bit (up to 2106), as the format's spec says;
///    libpcap 1.10 reads them signed. No capture in the corpus has seconds >= 2^31.
/// 8. libpcap reads a pcapng up to its first IDB when opening it; the reader reads only the
///    first Section Header Block in `init`, so such errors come from `next()` instead. A pcapng
///    with no IDB at all is an error at its end, as libpcap refuses it.
/// 9. libpcap rewrites some pseudo-headers in packet data (Linux USB, NFLOG) when the file's
///    byte order differs from the host's; the reader returns the bytes as stored. No capture in
///    the corpus has those link types.
/// 10. Messages differ: ours name the file, the record or block number and its byte offset.
///
/// `damaged-record-header-after-2pkts.pcap`: MANIFEST says 2 packets (tshark, which guesses
/// a different record format for this file). libpcap and this reader read the format the magic
/// announces: 1 packet, then record 2 at offset 228 claims 1409179648 captured bytes.
///
/// The file is read in 1 MiB chunks into one reusable buffer; `next()` allocates nothing
/// in steady state, and the returned `bytes` point into that buffer, so they are valid
/// only until the next call. Errors are sticky: after one, `next()` throws it again.
package final class CaptureFileReader {
    /// The path as given (`standard input` for `-`); error messages start with it.
    package let path: String
    /// Packets returned so far.
    package private(set) var recordsRead: Int = 0
    /// The file's size in bytes, or `nil` if it is not a regular file (for a progress bar).
    package let fileSize: Int64?
    /// Link types of the file header or of every interface described so far, in order of
    /// first appearance, without repeats.
    package private(set) var linkTypes: [UInt32] = []

    /// Bytes of the file consumed so far: the file header and every record or block returned
    /// or skipped.
    package var bytesConsumed: Int64 { self.input.offset }

    let input: FileInput
    var format: Format = .pcap
    var failure: CaptureError?

    // Classic pcap (see CaptureFileReader+Pcap.swift).
    var pcap = PcapState()

    // pcapng (see CaptureFileReader+Pcapng.swift).
    var pcapng = PcapngState()

    enum Format {
        case pcap
        case pcapng
    }

    /// Opens `path` and reads its file header (pcap) or first Section Header Block (pcapng).
    /// `-` reads standard input (as `tcpdump -r -` does), which may be a pipe or a FIFO.
    package init(path: String) throws(CaptureError) {
        let name = path == "-" ? "standard input" : path
        self.path = name
        do {
            self.input = try FileInput(path: path)
        } catch {
            throw CaptureError(.cannotOpen, "\(name): \(error.message)")
        }
        self.fileSize = self.input.fileSize

        let haveMagic = try self.fill(atLeast: 4)
        guard haveMagic else {
            let count = self.input.available
            throw CaptureError(
                .notACapture,
                count == 0
                    ? "\(name): not a pcap or pcapng file (empty file)"
                    : "\(name): not a pcap or pcapng file (only \(count) bytes)")
        }
        let magic = self.input.bytes.loadUnaligned(as: UInt32.self)
        let littleEndianMagic = UInt32(littleEndian: magic)
        if let header = PcapFileHeaderMagic(littleEndianMagic) {
            self.format = .pcap
            try self.readPcapFileHeader(header)
        } else if littleEndianMagic == PcapngBlockType.sectionHeader {
            self.format = .pcapng
            try self.readFirstSectionHeader()
        } else {
            throw CaptureError(
                .notACapture, "\(name): not a pcap or pcapng file (magic \(hex(littleEndianMagic)))")
        }
    }

    /// The next packet, or `nil` at the clean end of the file.
    ///
    /// The packet's `bytes` are borrowed from the reader's buffer and valid only until the
    /// next call.
    package func next() throws(CaptureError) -> CapturedPacket? {
        if let failure = self.failure { throw failure }
        do {
            switch self.format {
            case .pcap: return try self.nextPcapRecord()
            case .pcapng: return try self.nextPcapngPacket()
            }
        } catch {
            self.failure = error
            throw error
        }
    }

    // MARK: Helpers shared by both formats

    /// `FileInput.fill(atLeast:)` with its error turned into a `CaptureError`. A file that
    /// ended before the size it had when opened was truncated while being read: that is an
    /// error even where a record ends.
    func fill(atLeast count: Int) throws(CaptureError) -> Bool {
        let filled: Bool
        do {
            filled = try self.input.fill(atLeast: count)
        } catch {
            throw CaptureError(.io, "\(self.path): read failed at offset \(self.input.offset): \(error.message)")
        }
        if !filled, let shrank = self.input.shrank {
            throw CaptureError(
                .truncated,
                "\(self.path): truncated while being read: the file had \(shrank.size) bytes when opened and ended at offset \(shrank.endedAt)")
        }
        return filled
    }

    func noteLinkType(_ linkType: UInt32) {
        if !self.linkTypes.contains(linkType) { self.linkTypes.append(linkType) }
    }

    func packet(
        linkType: UInt32, interfaceIndex: UInt32, nanoseconds: Int64, originalLength: UInt32,
        data: UnsafeRawPointer, count: Int
    ) -> CapturedPacket {
        self.recordsRead &+= 1
        return CapturedPacket(
            linkType: linkType, interfaceIndex: interfaceIndex, time: CaptureTime(nanoseconds: nanoseconds),
            originalLength: originalLength, bytes: PacketBytes(UnsafeRawBufferPointer(start: data, count: count)))
    }
}

/// Reads integers in one byte order from a raw pointer (fields of a record or block).
struct ByteOrderedReader {
    var bigEndian: Bool

    @inline(__always)
    func u16(_ base: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)
        return self.bigEndian ? UInt16(bigEndian: raw) : UInt16(littleEndian: raw)
    }

    @inline(__always)
    func u32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)
        return self.bigEndian ? UInt32(bigEndian: raw) : UInt32(littleEndian: raw)
    }

    @inline(__always)
    func u64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        let raw = base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)
        return self.bigEndian ? UInt64(bigEndian: raw) : UInt64(littleEndian: raw)
    }
}

/// `0x` and 8 lowercase hex digits.
func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
}
