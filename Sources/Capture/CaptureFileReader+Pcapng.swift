/// pcapng: a sequence of blocks, each
///
///     +---------------------------------------------+
///     | block type                                   |  0
///     | block total length (header + body + trailer) |  4
///     | body ...                                     |  8
///     | block total length, again                    |  length - 4
///     +---------------------------------------------+
///
/// A Section Header Block starts each section; its byte-order magic (1A2B3C4D) sets the
/// byte order of every block in the section, and its Interface Description Blocks are
/// numbered from 0. Packets come in Enhanced Packet Blocks, Simple Packet Blocks, or the
/// obsolete Packet Block; every other block type is skipped.
struct PcapngState {
    var reader = ByteOrderedReader(bigEndian: false)
    /// Interfaces of the current section, by interface ID.
    var interfaces: [PcapngInterface] = []
    var blocksRead = 0
    var sectionNumber = 0
    var sawInterface = false
    /// libpcap's limit: 16 MiB, raised for link types with bigger packets.
    var maximumBlockLength: UInt32 = 16 * 1024 * 1024

    init() { self.interfaces.reserveCapacity(16) }
}

/// What an Interface Description Block says about its packets.
struct PcapngInterface {
    var linkType: UInt32
    /// The IDB's snapshot length, adjusted as libpcap does.
    var snapshotLength: UInt32
    /// Timestamp units per second (`if_tsresol`, default 10^6).
    var unitsPerSecond: UInt64
    var scale: Scale
    /// `if_tsoffset`: seconds added to every timestamp.
    var offsetSeconds: Int64

    enum Scale {
        /// Units divide a second into whole nanoseconds: multiply by this.
        case multiply(Int64)
        /// Units are a whole fraction of a nanosecond: divide by this.
        case divide(UInt64)
        /// Anything else (powers of 2 above 2^9): fraction × 10^9 / units, in 128 bits.
        case exact
    }

    init(linkType: UInt32, snapshotLength: UInt32, unitsPerSecond: UInt64, offsetSeconds: Int64) {
        self.linkType = linkType
        self.snapshotLength = snapshotLength
        self.unitsPerSecond = unitsPerSecond
        self.offsetSeconds = offsetSeconds
        let second: UInt64 = 1_000_000_000
        if unitsPerSecond <= second && second % unitsPerSecond == 0 {
            self.scale = .multiply(Int64(second / unitsPerSecond))
        } else if unitsPerSecond > second && unitsPerSecond % second == 0 {
            self.scale = .divide(unitsPerSecond / second)
        } else {
            self.scale = .exact
        }
    }

    /// A 64-bit pcapng timestamp as nanoseconds since the epoch, rounded down like libpcap,
    /// saturating at the `Int64` bounds instead of trapping.
    @inline(__always)
    func nanoseconds(_ timestamp: UInt64) -> Int64 {
        let seconds = timestamp / self.unitsPerSecond
        let fraction = timestamp % self.unitsPerSecond
        let fractionNanoseconds: Int64
        switch self.scale {
        case .multiply(let factor):
            fractionNanoseconds = Int64(fraction) &* factor  // < 10^9: fraction < units
        case .divide(let divisor):
            fractionNanoseconds = Int64(fraction / divisor)
        case .exact:
            // The quotient is below 10^9 because fraction < units, so it cannot overflow.
            let product = fraction.multipliedFullWidth(by: 1_000_000_000)
            fractionNanoseconds = Int64(self.unitsPerSecond.dividingFullWidth(product).quotient)
        }
        guard seconds <= UInt64(Int64.max) else { return .max }
        let (shifted, offsetOverflow) = Int64(seconds).addingReportingOverflow(self.offsetSeconds)
        if offsetOverflow { return self.offsetSeconds < 0 ? .min : .max }
        let (scaled, scaleOverflow) = shifted.multipliedReportingOverflow(by: 1_000_000_000)
        if scaleOverflow { return shifted < 0 ? .min : .max }
        let (total, totalOverflow) = scaled.addingReportingOverflow(fractionNanoseconds)
        return totalOverflow ? .max : total
    }
}

enum PcapngBlockType {
    static let sectionHeader: UInt32 = 0x0A0D_0D0A
    static let interfaceDescription: UInt32 = 1
    static let packet: UInt32 = 2
    static let simplePacket: UInt32 = 3
    static let enhancedPacket: UInt32 = 6

    static func name(_ type: UInt32) -> String {
        switch type {
        case sectionHeader: "Section Header Block"
        case interfaceDescription: "Interface Description Block"
        case packet: "Packet Block"
        case simplePacket: "Simple Packet Block"
        case enhancedPacket: "Enhanced Packet Block"
        case 4: "Name Resolution Block"
        case 5: "Interface Statistics Block"
        default: "block of type \(hex(type))"
        }
    }
}

extension CaptureFileReader {
    /// Where a block starts, for error messages.
    struct BlockPosition {
        var number: Int
        var offset: Int64
        var type: UInt32
    }

    func blockError(_ kind: CaptureError.Kind, _ at: BlockPosition, _ detail: String) -> CaptureError {
        CaptureError(
            kind, "\(self.path): block \(at.number) at offset \(at.offset) (\(PcapngBlockType.name(at.type))): \(detail)")
    }

    func readFirstSectionHeader() throws(CaptureError) {
        try self.readSectionHeader(first: true)
    }

    func nextPcapngPacket() throws(CaptureError) -> CapturedPacket? {
        while true {
            let blockOffset = self.input.offset
            let blockNumber = self.pcapng.blocksRead &+ 1
            guard try self.fill(atLeast: 8) else {
                let remaining = self.input.available
                if remaining == 0 {
                    if !self.pcapng.sawInterface {
                        // libpcap refuses such a file when opening it.
                        throw CaptureError(.malformed, "\(self.path): the file has no Interface Description Block")
                    }
                    return nil
                }
                throw CaptureError(
                    .truncated,
                    "\(self.path): truncated in the header of block \(blockNumber) at offset \(blockOffset) (8 bytes needed, \(remaining) remain)"
                )
            }
            if UInt32(littleEndian: self.input.bytes.loadUnaligned(as: UInt32.self)) == PcapngBlockType.sectionHeader {
                try self.readSectionHeader(first: false)
                continue
            }
            let reader = self.pcapng.reader
            let type = reader.u32(self.input.bytes, 0)
            let position = BlockPosition(number: blockNumber, offset: blockOffset, type: type)
            let length = try self.readBlock(position, totalLength: reader.u32(self.input.bytes, 4))
            let block = self.input.bytes
            self.pcapng.blocksRead = blockNumber

            switch type {
            case PcapngBlockType.enhancedPacket:
                return try self.enhancedPacket(block, length: length, position)
            case PcapngBlockType.simplePacket:
                return try self.simplePacket(block, length: length, position)
            case PcapngBlockType.packet:
                return try self.obsoletePacket(block, length: length, position)
            case PcapngBlockType.interfaceDescription:
                try self.readInterface(block, length: length, position)
                self.input.consume(length)
            default:
                self.input.consume(length)  // NRB, ISB, DSB, custom and unknown blocks
            }
        }
    }

    /// Checks a block's total length, buffers the whole block and checks its trailer.
    /// Returns the length; the block is then at `input.bytes`, not yet consumed.
    private func readBlock(_ position: BlockPosition, totalLength: UInt32) throws(CaptureError) -> Int {
        if totalLength < 12 {
            throw self.blockError(.malformed, position, "block length \(totalLength) is less than the minimum of 12")
        }
        if totalLength % 4 != 0 {
            throw self.blockError(.malformed, position, "block length \(totalLength) is not a multiple of 4")
        }
        if totalLength > self.pcapng.maximumBlockLength {
            throw self.blockError(
                .malformed, position,
                "block length \(totalLength) exceeds the maximum of \(self.pcapng.maximumBlockLength)")
        }
        let length = Int(totalLength)
        guard try self.fill(atLeast: length) else {
            throw CaptureError(
                .truncated,
                "\(self.path): truncated in the middle of block \(position.number) at offset \(position.offset) (\(PcapngBlockType.name(position.type)); header says \(length) bytes, \(self.input.available) remain)"
            )
        }
        let trailer = self.pcapng.reader.u32(self.input.bytes, length &- 4)
        if trailer != totalLength {
            throw self.blockError(
                .malformed, position,
                "block length \(totalLength) in the header does not match \(trailer) in the trailer")
        }
        return length
    }

    /// Section Header Block: byte-order magic, version, options. Starts a new section.
    ///
    ///     0 type 0A0D0D0A | 4 length | 8 byte-order magic | 12 major | 14 minor
    ///     16 section length (64) | 24 options ... | length - 4 length
    func readSectionHeader(first: Bool) throws(CaptureError) {
        let blockOffset = self.input.offset
        let position = BlockPosition(
            number: self.pcapng.blocksRead &+ 1, offset: blockOffset, type: PcapngBlockType.sectionHeader)
        guard try self.fill(atLeast: 12) else {
            throw CaptureError(
                .truncated,
                "\(self.path): truncated in the header of block \(position.number) at offset \(blockOffset) (Section Header Block; 12 bytes needed, \(self.input.available) remain)"
            )
        }
        let magic = UInt32(littleEndian: self.input.bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
        let reader: ByteOrderedReader
        switch magic {
        case 0x1A2B_3C4D: reader = ByteOrderedReader(bigEndian: false)
        case 0x4D3C_2B1A: reader = ByteOrderedReader(bigEndian: true)
        default:
            if first {
                throw CaptureError(
                    .notACapture,
                    "\(self.path): not a pcap or pcapng file (pcapng byte-order magic \(hex(magic)) is not 1a2b3c4d in either byte order)"
                )
            }
            throw self.blockError(.malformed, position, "bad byte-order magic \(hex(magic))")
        }
        let totalLength = reader.u32(self.input.bytes, 4)
        if totalLength < 28 {
            throw self.blockError(
                .malformed, position, "block length \(totalLength) is less than the minimum of 28 for a Section Header Block")
        }
        if totalLength > 1024 * 1024 {
            throw self.blockError(
                .malformed, position,
                "block length \(totalLength) exceeds the maximum of 1048576 for a Section Header Block")
        }
        self.pcapng.reader = reader
        let length = try self.readBlock(position, totalLength: totalLength)
        let block = self.input.bytes
        let major = reader.u16(block, 12)
        let minor = reader.u16(block, 14)
        // libpcap opens 1.0 and 1.2 files, and accepts any 1.x in later sections.
        if major != 1 || (first && minor != 0 && minor != 2) {
            throw CaptureError(
                first ? .notACapture : .malformed,
                "\(self.path): block \(position.number) at offset \(blockOffset) (Section Header Block): unsupported pcapng version \(major).\(minor)"
            )
        }
        try self.walkOptions(block, from: 24, to: length &- 4, position, reader) { _, _, _ throws(CaptureError) in }

        self.pcapng.blocksRead = position.number
        self.pcapng.sectionNumber &+= 1
        self.pcapng.interfaces.removeAll(keepingCapacity: true)
        self.input.consume(length)
    }

    /// Interface Description Block: link type, snapshot length, `if_tsresol`, `if_tsoffset`.
    ///
    ///     8 link type (16) | 10 reserved (16) | 12 snapshot length | 16 options ...
    private func readInterface(_ block: UnsafeRawPointer, length: Int, _ position: BlockPosition) throws(CaptureError) {
        let reader = self.pcapng.reader
        guard length >= 12 + 8 else {
            throw self.blockError(.malformed, position, "block is too short (\(length - 12) bytes of body, 8 needed)")
        }
        let linkType = UInt32(reader.u16(block, 8))
        let snapshotLength = reader.u32(block, 12)
        var unitsPerSecond: UInt64 = 1_000_000
        var offsetSeconds: Int64 = 0
        var sawResolution = false
        var sawOffset = false
        try self.walkOptions(block, from: 16, to: length &- 4, position, reader) {
            (code, valueOffset, valueLength) throws(CaptureError) in
            switch code {
            case 9:  // if_tsresol
                guard valueLength == 1 else {
                    throw self.blockError(.malformed, position, "if_tsresol option has length \(valueLength), not 1")
                }
                guard !sawResolution else {
                    throw self.blockError(.malformed, position, "more than one if_tsresol option")
                }
                sawResolution = true
                let value = block.load(fromByteOffset: valueOffset, as: UInt8.self)
                if value & 0x80 != 0 {
                    let exponent = value & 0x7F
                    guard exponent <= 63 else {
                        throw self.blockError(
                            .malformed, position, "if_tsresol 2^-\(exponent) is finer than 2^-63 (libpcap's limit)")
                    }
                    unitsPerSecond = 1 << UInt64(exponent)
                } else {
                    guard value <= 19 else {
                        throw self.blockError(
                            .malformed, position, "if_tsresol 10^-\(value) is finer than 10^-19 (libpcap's limit)")
                    }
                    unitsPerSecond = 1
                    for _ in 0..<value { unitsPerSecond &*= 10 }
                }
            case 14:  // if_tsoffset
                guard valueLength == 8 else {
                    throw self.blockError(.malformed, position, "if_tsoffset option has length \(valueLength), not 8")
                }
                guard !sawOffset else {
                    throw self.blockError(.malformed, position, "more than one if_tsoffset option")
                }
                sawOffset = true
                offsetSeconds = Int64(bitPattern: reader.u64(block, valueOffset))
            default:
                break
            }
        }
        let interface = PcapngInterface(
            linkType: linkType, snapshotLength: adjustedSnapshotLength(snapshotLength, linkType: linkType),
            unitsPerSecond: unitsPerSecond, offsetSeconds: offsetSeconds)
        self.pcapng.interfaces.append(interface)
        self.pcapng.sawInterface = true
        self.noteLinkType(linkType)
        // libpcap's MAX_BLOCKSIZE_FOR_SNAPLEN: an EPB with a maximal packet and 128 KiB of options.
        let needed = 8 + 20 + maximumSnapshotLength(forLinkType: linkType) + 131_072 + 4
        if needed > self.pcapng.maximumBlockLength { self.pcapng.maximumBlockLength = needed }
    }

    /// Walks options `from..<to` strictly: every option header and padded value must fit,
    /// and `opt_endofopt` (code 0) must have length 0; it ends the walk.
    /// `body` gets each other option's code, value offset in the block and unpadded length.
    private func walkOptions(
        _ block: UnsafeRawPointer, from start: Int, to end: Int, _ position: BlockPosition, _ reader: ByteOrderedReader,
        _ body: (UInt16, Int, Int) throws(CaptureError) -> Void
    ) throws(CaptureError) {
        var cursor = start
        while cursor < end {
            let left = end &- cursor
            guard left >= 4 else {
                throw self.blockError(
                    .malformed, position,
                    "option header at byte \(cursor) of the block runs past the end of the options (\(left) bytes left)")
            }
            let code = reader.u16(block, cursor)
            let valueLength = Int(reader.u16(block, cursor &+ 2))
            let padded = (valueLength &+ 3) & ~3
            guard padded <= left &- 4 else {
                throw self.blockError(
                    .malformed, position,
                    "option \(code) at byte \(cursor) of the block has length \(valueLength), which runs past the end of the options (\(left - 4) bytes left)"
                )
            }
            if code == 0 {
                guard valueLength == 0 else {
                    throw self.blockError(
                        .malformed, position, "opt_endofopt at byte \(cursor) of the block has length \(valueLength), not 0")
                }
                return
            }
            try body(code, cursor &+ 4, valueLength)
            cursor &+= 4 &+ padded
        }
    }

    private func interface(_ id: UInt32, _ position: BlockPosition) throws(CaptureError) -> PcapngInterface {
        let count = self.pcapng.interfaces.count
        guard id < count else {
            let described =
                switch count {
                case 0: "describes no interfaces"
                case 1: "describes only interface 0"
                default: "describes only interfaces 0 to \(count - 1)"
                }
            throw self.blockError(
                .malformed, position,
                "packet on interface \(id), but section \(self.pcapng.sectionNumber) \(described)")
        }
        return self.pcapng.interfaces[Int(id)]
    }

    /// Enhanced Packet Block.
    ///
    ///     8 interface ID | 12 timestamp (high) | 16 timestamp (low) | 20 captured length
    ///     24 original length | 28 packet data, padded to 4 | options ...
    private func enhancedPacket(_ block: UnsafeRawPointer, length: Int, _ position: BlockPosition)
        throws(CaptureError) -> CapturedPacket
    {
        let reader = self.pcapng.reader
        guard length >= 12 + 20 else {
            throw self.blockError(.malformed, position, "block is too short (\(length - 12) bytes of body, 20 needed)")
        }
        let id = reader.u32(block, 8)
        let timestamp = UInt64(reader.u32(block, 12)) << 32 | UInt64(reader.u32(block, 16))
        return try self.finishPacket(
            block, length: length, position, interfaceID: id, timestamp: timestamp,
            capturedLength: reader.u32(block, 20), originalLength: reader.u32(block, 24))
    }

    /// Packet Block (obsolete): as an EPB, with a 16-bit interface ID and a drop count.
    ///
    ///     8 interface ID (16) | 10 drops (16) | 12 timestamp (high) | 16 timestamp (low)
    ///     20 captured length | 24 original length | 28 packet data ...
    private func obsoletePacket(_ block: UnsafeRawPointer, length: Int, _ position: BlockPosition)
        throws(CaptureError) -> CapturedPacket
    {
        let reader = self.pcapng.reader
        guard length >= 12 + 20 else {
            throw self.blockError(.malformed, position, "block is too short (\(length - 12) bytes of body, 20 needed)")
        }
        let id = UInt32(reader.u16(block, 8))
        let timestamp = UInt64(reader.u32(block, 12)) << 32 | UInt64(reader.u32(block, 16))
        return try self.finishPacket(
            block, length: length, position, interfaceID: id, timestamp: timestamp,
            capturedLength: reader.u32(block, 20), originalLength: reader.u32(block, 24))
    }

    private func finishPacket(
        _ block: UnsafeRawPointer, length: Int, _ position: BlockPosition, interfaceID: UInt32, timestamp: UInt64,
        capturedLength: UInt32, originalLength: UInt32
    ) throws(CaptureError) -> CapturedPacket {
        let interface = try self.interface(interfaceID, position)
        if capturedLength > interface.snapshotLength {
            throw self.blockError(
                .malformed, position,
                "captured length \(capturedLength) exceeds the snapshot length \(interface.snapshotLength) of interface \(interfaceID)"
            )
        }
        let room = length &- 32
        if Int(capturedLength) > room {
            throw self.blockError(
                .malformed, position, "captured length \(capturedLength) does not fit in the block (room for \(room) bytes)")
        }
        self.input.consume(length)
        return self.packet(
            linkType: interface.linkType, interfaceIndex: interfaceID, nanoseconds: interface.nanoseconds(timestamp),
            originalLength: originalLength, data: block + 28, count: Int(capturedLength))
    }

    /// Simple Packet Block: interface 0, no timestamp (libpcap uses 0, plus `if_tsoffset`).
    ///
    ///     8 original length | 12 packet data ...
    private func simplePacket(_ block: UnsafeRawPointer, length: Int, _ position: BlockPosition)
        throws(CaptureError) -> CapturedPacket
    {
        guard length >= 12 + 4 else {
            throw self.blockError(.malformed, position, "block is too short (\(length - 12) bytes of body, 4 needed)")
        }
        let originalLength = self.pcapng.reader.u32(block, 8)
        let interface = try self.interface(0, position)
        let room = UInt32(length &- 16)
        let capturedLength = min(originalLength, interface.snapshotLength, room)
        self.input.consume(length)
        return self.packet(
            linkType: interface.linkType, interfaceIndex: 0, nanoseconds: interface.nanoseconds(0),
            originalLength: originalLength, data: block + 12, count: Int(capturedLength))
    }
}
