import Foundation
import Testing

@testable import Capture

/// Damaged, truncated and odd files built byte by byte. Each row names the error kind and
/// the message, and where libpcap can read the file, the result is compared with it too.
@Suite struct MalformedFileTests {
    /// Asserts the file ends with `kind` after `records` packets, with `message` in the text.
    func expectFailure(
        _ result: ReadResult, _ kind: CaptureError.Kind, _ message: String, records: Int = 0,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(result.records.count == records, sourceLocation: sourceLocation)
        #expect(result.error?.kind == kind, "\(result.error?.description ?? "no error")", sourceLocation: sourceLocation)
        #expect(
            result.error?.description.contains(message) == true,
            "\(result.error?.description ?? "no error") does not contain \(message)", sourceLocation: sourceLocation)
    }

    /// Asserts libpcap reads the same number of records and also ends in an error (or not).
    func expectLibpcapAgrees(_ path: String, _ ours: ReadResult, sourceLocation: SourceLocation = #_sourceLocation) {
        let theirs = readWithLibpcap(path)
        #expect(theirs.records.count == ours.records.count, sourceLocation: sourceLocation)
        #expect(
            (theirs.error == nil) == (ours.error == nil),
            "libpcap: \(theirs.error ?? "clean end"); ours: \(ours.error?.description ?? "clean end")",
            sourceLocation: sourceLocation)
        for (mine, libpcap) in zip(ours.records, theirs.records) {
            #expect(mine.nanoseconds == libpcap.nanoseconds, sourceLocation: sourceLocation)
            #expect(mine.bytes == libpcap.bytes, sourceLocation: sourceLocation)
            #expect(mine.originalLength == libpcap.originalLength, sourceLocation: sourceLocation)
        }
    }

    static let threeRecords = PcapFile(records: [
        .init(seconds: 1_700_000_000, fraction: 1, data: frame(60, seed: 1)),
        .init(seconds: 1_700_000_001, fraction: 999_999, data: frame(1514, seed: 2)),
        .init(seconds: 1_700_000_002, fraction: 500_000, data: frame(90, seed: 3)),
    ])

    // MARK: Opening

    @Test func anEmptyFileIsNotACapture() {
        let path = writeTemporaryFile([])
        expectFailure(readAll(path), .notACapture, "\(path): not a pcap or pcapng file (empty file)")
    }

    @Test func randomBytesAreNotACapture() {
        var state: UInt64 = 0x5EED_F10E_0000_0001  // SplitMix64, fixed seed
        var bytes: [UInt8] = []
        while bytes.count < 1000 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            withUnsafeBytes(of: z.littleEndian) { bytes.append(contentsOf: $0) }
        }
        bytes.removeLast(bytes.count - 1000)
        let path = writeTemporaryFile(bytes, name: "random.bin")
        let magic = UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24
        let digits = String(magic, radix: 16)
        let hex = "0x" + String(repeating: "0", count: 8 - digits.count) + digits
        expectFailure(readAll(path), .notACapture, "random.bin: not a pcap or pcapng file (magic \(hex))")
    }

    @Test func textIsNotACaptureAndTheMagicIsNamed() {
        let path = writeTemporaryFile(Array("hello, world\n".utf8), name: "notes.txt")
        expectFailure(readAll(path), .notACapture, "notes.txt: not a pcap or pcapng file (magic 0x6c6c6568)")
    }

    @Test func aDirectoryCannotBeOpened() {
        let path = temporaryDirectory().path
        expectFailure(readAll(path), .cannotOpen, "\(path): Is a directory")
    }

    @Test func aMissingFileCannotBeOpened() {
        let path = temporaryDirectory().appendingPathComponent("x.pcap").path
        expectFailure(readAll(path), .cannotOpen, "\(path): No such file or directory")
    }

    @Test(.enabled(if: getuid() != 0, "root can read any file"))
    func anUnreadableFileCannotBeOpened() {
        let path = writeTemporaryFile(Self.threeRecords.bytes)
        chmod(path, 0)
        expectFailure(readAll(path), .cannotOpen, "\(path): Permission denied")
    }

    @Test(arguments: [(UInt16(1), UInt16(0)), (3, 0), (2, 5)])
    func pcapVersionsOtherThan2Point0To2Point4AreRefused(major: UInt16, minor: UInt16) {
        var file = Self.threeRecords
        (file.major, file.minor) = (major, minor)
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        expectFailure(result, .notACapture, ": unsupported pcap version \(major).\(minor) (only 2.0 to 2.4 can be read)")
        #expect(readWithLibpcap(path).opened == false)
    }

    @Test func aShortPcapFileHeaderIsTruncated() {
        let path = writeTemporaryFile(Array(Self.threeRecords.bytes.prefix(10)))
        expectFailure(readAll(path), .truncated, ": truncated in the pcap file header (24 bytes needed, 10 present)")
    }

    // MARK: Classic pcap records

    @Test(arguments: [false, true], [false, true])
    func bothByteOrdersAndResolutionsAreRead(bigEndian: Bool, nanoseconds: Bool) {
        var file = Self.threeRecords
        file.bigEndian = bigEndian
        file.nanoseconds = nanoseconds
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.nanoseconds) == file.records.map {
            Int64($0.seconds) * 1_000_000_000 + Int64($0.fraction) * (nanoseconds ? 1 : 1000)
        })
        #expect(result.records.map(\.bytes) == file.records.map(\.data))
        expectLibpcapAgrees(path, result)
    }

    @Test func aHugeSnapshotLengthInTheHeaderIsFine() {
        var file = Self.threeRecords
        file.snapshotLength = 0xFFFF_FFFF
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.count == 3)
        expectLibpcapAgrees(path, result)
    }

    @Test func aCapturedLengthAboveTheMaximumIsMalformed() {
        var file = Self.threeRecords
        file.snapshotLength = 0  // "unknown": the maximum, 262144, applies
        file.records[1] = .init(seconds: 1, fraction: 0, data: frame(262_145))
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        expectFailure(
            result, .malformed,
            ": record 2 at offset \(file.offset(ofRecord: 1)): captured length 262145 exceeds the maximum of 262144",
            records: 1)
        expectLibpcapAgrees(path, result)
    }

    @Test func aRecordOfExactlyTheMaximumIsRead() {
        var file = Self.threeRecords
        file.snapshotLength = 0
        file.records[1] = .init(seconds: 1, fraction: 0, data: frame(262_144))
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [60, 262_144, 90])
        expectLibpcapAgrees(path, result)
    }

    @Test func capturedLongerThanOriginalIsTolerated() {
        var file = Self.threeRecords
        file.records[0].originalLength = 20
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records[0].capturedLength == 60)
        #expect(result.records[0].originalLength == 20)
        expectLibpcapAgrees(path, result)
    }

    @Test func aRecordLongerThanTheSnapshotLengthIsCutToItLikeLibpcap() {
        var file = Self.threeRecords
        file.snapshotLength = 100
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [60, 100, 90])
        #expect(result.records[2].bytes == file.records[2].data)
        expectLibpcapAgrees(path, result)
    }

    @Test func theLastRecordCutAtEveryOffsetIsTruncatedAfterTheOthers() {
        let file = Self.threeRecords
        let bytes = file.bytes
        let last = file.offset(ofRecord: 2)
        let directory = temporaryDirectory()
        // A cut exactly between records is a clean end with two records.
        for cut in last..<bytes.count {
            let path = directory.appendingPathComponent("cut-\(cut).pcap").path
            try! Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: path))
            let result = readAll(path)
            if cut == last {
                #expect(result.error == nil)
                #expect(result.records.count == 2)
            } else if cut < last + 16 {
                expectFailure(
                    result, .truncated,
                    ": truncated in the header of record 3 at offset \(last) (16 bytes needed, \(cut - last) remain)",
                    records: 2)
            } else {
                expectFailure(
                    result, .truncated,
                    ": truncated in the middle of record 3 at offset \(last) (header says 90 bytes, \(cut - last - 16) remain)",
                    records: 2)
            }
            expectLibpcapAgrees(path, result)
        }
    }

    @Test func version2Point3LengthsInTheOldOrderAreSwappedBack() {
        var file = Self.threeRecords
        file.minor = 3
        file.records[0].capturedLength = 70  // original length first, as before 2.3
        file.records[0].originalLength = 60
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records[0].capturedLength == 60)
        #expect(result.records[0].originalLength == 70)
        expectLibpcapAgrees(path, result)
    }

    @Test(arguments: [false, true])
    func kuznetzovPatchedRecordsWith24ByteHeadersAreReadLikeLibpcap(bigEndian: Bool) {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(0xA1B2_CD34)
        w.u16(2)
        w.u16(4)
        w.u32(0)
        w.u32(0)
        w.u32(65535)
        w.u32(1)
        for (index, count) in [60, 1514, 42].enumerated() {
            w.u32(1_700_000_000 + UInt32(index))
            w.u32(123_456)
            w.u32(UInt32(count))
            w.u32(UInt32(count))
            w.u32(7)  // interface index
            w.u16(0x0800)  // protocol
            w.u8(0)  // packet type
            w.u8(0)  // padding
            w.raw(frame(count, seed: UInt8(index)))
        }
        let path = writeTemporaryFile(w.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [60, 1514, 42])
        #expect(result.records[1].bytes == frame(1514, seed: 1))
        expectLibpcapAgrees(path, result)
    }

    @Test func fcsBitsAreMaskedOffTheLinkType() {
        var file = Self.threeRecords
        file.linkType = 0x1400_0001  // FCS length 4 present, Ethernet
        let result = readAll(writeTemporaryFile(file.bytes))
        #expect(result.error == nil)
        #expect(result.records.allSatisfy { $0.linkType == 1 })
    }

    @Test func bytesConsumedReachesTheFileSize() {
        let bytes = Self.threeRecords.bytes
        let result = readAll(writeTemporaryFile(bytes))
        #expect(result.fileSize == Int64(bytes.count))
        #expect(result.bytesConsumed == Int64(bytes.count))
    }

    @Test func manyRecordsAcrossSeveralBufferFillsAreAllRead() {
        // About 3 MiB: records straddle the 1 MiB buffer boundary.
        var file = PcapFile()
        for i in 0..<2100 {
            file.records.append(.init(seconds: UInt32(i), fraction: 0, data: frame(1500 - i % 7, seed: UInt8(i & 0xFF))))
        }
        let path = writeTemporaryFile(file.bytes)
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.count == 2100)
        #expect(result.records.map(\.bytes) == file.records.map(\.data))
    }

    // MARK: pcapng

    static let ng = PcapngWriter()

    @Test func unknownAndCustomBlocksAreSkipped() {
        let w = Self.ng
        let bytes =
            w.sectionHeader() + w.block(0x1234_5678, frame(30)) + w.interface()
            + w.block(0x0000_0BAD, [0, 0, 0x7E, 0x6F] + frame(10)) + w.enhancedPacket(timestamp: 5, data: frame(60))
            + w.block(0x4000_0BAD, [0, 0, 0x7E, 0x6F]) + w.block(4, [0, 0, 0, 0]) + w.block(5, frame(20))
            + w.enhancedPacket(timestamp: 6, data: frame(61))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [60, 61])
        #expect(result.records.map(\.nanoseconds) == [5000, 6000])
        #expect(result.bytesConsumed == Int64(bytes.count))
        expectLibpcapAgrees(path, result)
    }

    @Test(arguments: [
        (UInt32(30), "block length 30 is not a multiple of 4"),
        (8, "block length 8 is less than the minimum of 12"),
        (0, "block length 0 is less than the minimum of 12"),
        (0x2000_0000, "block length 536870912 exceeds the maximum of 16777216"),
    ])
    func aBadBlockLengthIsMalformed(length: UInt32, message: String) {
        let w = Self.ng
        let header = w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60))
        let bytes = header + w.block(6, frame(40), length: length) + w.enhancedPacket(timestamp: 2, data: frame(60))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(result, .malformed, "x.pcapng: block 4 at offset \(header.count) (Enhanced Packet Block): \(message)", records: 1)
        expectLibpcapAgrees(path, result)
    }

    @Test func aTrailerThatDisagreesWithTheHeaderIsMalformed() {
        let w = Self.ng
        let header = w.sectionHeader() + w.interface()
        let bytes = header + w.block(0x0000_0BAD, frame(8), trailer: 24)
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(
            result, .malformed,
            "block 3 at offset \(header.count) (block of type 0x00000bad): block length 20 in the header does not match 24 in the trailer"
        )
        expectLibpcapAgrees(path, result)
    }

    @Test func aPacketOnAMissingInterfaceIsMalformed() {
        let w = Self.ng
        let bytes = w.sectionHeader() + w.interface() + w.enhancedPacket(interface: 1, timestamp: 1, data: frame(60))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(result, .malformed, "(Enhanced Packet Block): packet on interface 1, but section 1 describes only interface 0")
        expectLibpcapAgrees(path, result)
    }

    @Test func aSectionWithoutInterfacesCannotHavePackets() {
        let w = Self.ng
        let bytes =
            w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60))
            + w.sectionHeader() + w.enhancedPacket(timestamp: 2, data: frame(60))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(
            result, .malformed, "(Enhanced Packet Block): packet on interface 0, but section 2 describes no interfaces",
            records: 1)
        expectLibpcapAgrees(path, result)
    }

    @Test func aFileWithoutInterfacesIsMalformedLikeLibpcap() {
        let path = writeTemporaryFile(Self.ng.sectionHeader(), name: "x.pcapng")
        let result = readAll(path)
        expectFailure(result, .malformed, "x.pcapng: the file has no Interface Description Block")
        #expect(readWithLibpcap(path).error != nil)
    }

    @Test func anOptionRunningPastTheBlockIsMalformed() {
        let w = Self.ng
        var option = w.option(1, frame(8))
        option[2] = 12  // comment length 12, but only 8 bytes follow
        let bytes = w.sectionHeader(options: option) + w.interface()
        let result = readAll(writeTemporaryFile(bytes, name: "x.pcapng"))
        expectFailure(
            result, .malformed,
            "block 1 at offset 0 (Section Header Block): option 1 at byte 24 of the block has length 12, which runs past the end of the options (8 bytes left)"
        )

        let idb = w.sectionHeader() + w.interface(options: w.tsresol(9) + [2, 0, 100, 0] + frame(4))
        let second = readAll(writeTemporaryFile(idb, name: "y.pcapng"))
        expectFailure(
            second, .malformed,
            "(Interface Description Block): option 2 at byte 24 of the block has length 100, which runs past the end of the options (4 bytes left)"
        )
    }

    @Test func badTimestampOptionsAreMalformed() {
        let w = Self.ng
        let cases: [([UInt8], String)] = [
            (w.option(9, [6, 6]), "if_tsresol option has length 2, not 1"),
            (w.tsresol(6) + w.tsresol(9), "more than one if_tsresol option"),
            (w.tsresol(20), "if_tsresol 10^-20 is finer than 10^-19"),
            (w.tsresol(0x80 | 64), "if_tsresol 2^-64 is finer than 2^-63"),
            (w.option(14, [0, 0, 0, 0]), "if_tsoffset option has length 4, not 8"),
            (w.option(0, [1, 0, 0, 0]), "opt_endofopt at byte 16 of the block has length 4, not 0"),
        ]
        for (options, message) in cases {
            let bytes = w.sectionHeader() + w.interface(options: options) + w.enhancedPacket(timestamp: 1, data: frame(60))
            let path = writeTemporaryFile(bytes, name: "x.pcapng")
            let result = readAll(path)
            expectFailure(result, .malformed, "(Interface Description Block): \(message)")
            #expect(readWithLibpcap(path).error != nil, "libpcap accepts \(message)")
        }
    }

    @Test func timestampsAreConvertedExactlyForEveryResolution() {
        // (if_tsresol, timestamp, expected nanoseconds)
        let cases: [(UInt8, UInt64, Int64)] = [
            (6, 1_700_000_000_123_456, 1_700_000_000_123_456_000),
            (9, 1_700_000_000_123_456_789, 1_700_000_000_123_456_789),
            (0, 1_700_000_000, 1_700_000_000_000_000_000),
            (3, 1_700_000_000_123, 1_700_000_000_123_000_000),
            (12, 1_700_000_000_123_456_789, 1_700_000_000_123_456),  // 10^-12: 1.7e6 s
            (19, 17_000_000_001_234_567_890, 1_700_000_000),  // 10^-19: 1.7 s, rounded down
            (0x80 | 10, 1_700_000_000 << 10 | 512, 1_700_000_000_500_000_000),  // 2^-10
            (0x80 | 30, 1_700_000_000 << 30 | 1, 1_700_000_000_000_000_000),  // 2^-30: 0.93 ns
            (0x80 | 30, 1_700_000_000 << 30 | 2, 1_700_000_000_000_000_001),
            (0x80 | 63, 1 << 62, 500_000_000),
            (0x80 | 0, 1_700_000_000, 1_700_000_000_000_000_000),
        ]
        for bigEndian in [false, true] {
            let w = PcapngWriter(bigEndian: bigEndian)
            var bytes = w.sectionHeader()
            for (index, (resolution, timestamp, _)) in cases.enumerated() {
                bytes += w.interface(options: w.tsresol(resolution) + w.endOfOptions())
                bytes += w.enhancedPacket(interface: UInt32(index), timestamp: timestamp, data: frame(60))
            }
            let result = readAll(writeTemporaryFile(bytes, name: "x.pcapng"))
            #expect(result.error == nil)
            #expect(result.records.map(\.nanoseconds) == cases.map(\.2), "bigEndian: \(bigEndian)")
        }
    }

    @Test func timestampOffsetsAreAddedAndOverflowSaturates() {
        let w = Self.ng
        let bytes =
            w.sectionHeader()
            + w.interface(options: w.tsresol(9) + w.tsoffset(1_000))
            + w.interface(options: w.tsresol(9) + w.tsoffset(-2_000))
            + w.interface(options: w.tsresol(0))
            + w.interface(options: w.tsresol(0) + w.tsoffset(.max))
            + w.interface(options: w.tsresol(0) + w.tsoffset(.min))
            + w.enhancedPacket(interface: 0, timestamp: 5, data: frame(60))
            + w.enhancedPacket(interface: 1, timestamp: 5, data: frame(60))
            + w.enhancedPacket(interface: 2, timestamp: .max, data: frame(60))
            + w.enhancedPacket(interface: 3, timestamp: 10, data: frame(60))
            + w.enhancedPacket(interface: 4, timestamp: 10, data: frame(60))
            + w.simplePacket(originalLength: 60, data: frame(60))
        let result = readAll(writeTemporaryFile(bytes, name: "x.pcapng"))
        #expect(result.error == nil)
        #expect(
            result.records.map(\.nanoseconds) == [
                1_000_000_000_005, -1_999_999_999_995, .max, .max, .min, 1_000_000_000_000,
            ])
    }

    @Test func sectionsMayChangeByteOrderAndRestartInterfaceNumbers() {
        let little = PcapngWriter(bigEndian: false)
        let big = PcapngWriter(bigEndian: true)
        let bytes =
            little.sectionHeader() + little.interface(linkType: 1) + little.enhancedPacket(timestamp: 1, data: frame(60))
            + big.sectionHeader() + big.interface(linkType: 0) + big.interface(linkType: 101, options: big.tsresol(9))
            + big.enhancedPacket(interface: 1, timestamp: 2, data: frame(40)) + big.obsoletePacket(timestamp: 3, data: frame(30))
            + little.sectionHeader(minor: 2) + little.interface(linkType: 228)
            + little.simplePacket(originalLength: 20, data: frame(20))
        let result = readAll(writeTemporaryFile(bytes, name: "x.pcapng"))
        #expect(result.error == nil)
        #expect(result.records.map(\.linkType) == [1, 101, 0, 228])
        #expect(result.records.map(\.interfaceIndex) == [0, 1, 0, 0])
        #expect(result.records.map(\.nanoseconds) == [1000, 2, 3000, 0])
        #expect(result.records.map(\.capturedLength) == [60, 40, 30, 20])
        #expect(result.linkTypes == [1, 0, 101, 228])
    }

    @Test func aSimplePacketIsCutToTheSnapshotLengthAndTheBlock() {
        let w = Self.ng
        let bytes =
            w.sectionHeader() + w.interface(snapshotLength: 50)
            + w.simplePacket(originalLength: 60, data: frame(60))  // cut to the snapshot length
            + w.simplePacket(originalLength: 30, data: frame(32))  // the original length
            + w.simplePacket(originalLength: 1000, data: frame(40))  // the block's room
        let result = readAll(writeTemporaryFile(bytes, name: "x.pcapng"))
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [50, 30, 40])
        #expect(result.records.map(\.originalLength) == [60, 30, 1000])
    }

    @Test func anEnhancedPacketLongerThanItsInterfaceSnapshotLengthIsMalformed() {
        let w = Self.ng
        let bytes =
            w.sectionHeader() + w.interface(snapshotLength: 50) + w.enhancedPacket(timestamp: 1, data: frame(60))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(result, .malformed, "captured length 60 exceeds the snapshot length 50 of interface 0")
        expectLibpcapAgrees(path, result)
    }

    @Test func anEnhancedPacketWhoseDataDoesNotFitIsMalformed() {
        let w = Self.ng
        let bytes =
            w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60), capturedLength: 200)
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        expectFailure(result, .malformed, "captured length 200 does not fit in the block (room for 60 bytes)")
        expectLibpcapAgrees(path, result)
    }

    @Test func theLastBlockCutAtEveryOffsetIsTruncatedAfterTheOthers() {
        let w = Self.ng
        let head = w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60))
        let bytes = head + w.enhancedPacket(timestamp: 2, data: frame(70))
        let directory = temporaryDirectory()
        for cut in head.count..<bytes.count {
            let path = directory.appendingPathComponent("cut-\(cut).pcapng").path
            try! Data(bytes.prefix(cut)).write(to: URL(fileURLWithPath: path))
            let result = readAll(path)
            if cut == head.count {
                #expect(result.error == nil)
                #expect(result.records.count == 1)
            } else if cut < head.count + 8 {
                expectFailure(
                    result, .truncated,
                    ": truncated in the header of block 4 at offset \(head.count) (8 bytes needed, \(cut - head.count) remain)",
                    records: 1)
            } else {
                expectFailure(
                    result, .truncated,
                    ": truncated in the middle of block 4 at offset \(head.count) (Enhanced Packet Block; header says 104 bytes, \(cut - head.count) remain)",
                    records: 1)
            }
            expectLibpcapAgrees(path, result)
        }
    }

    @Test func aBlockBiggerThanTheBufferIsRead() {
        let w = Self.ng
        let big = frame(3 << 20)  // a 3 MiB custom block, bigger than the 1 MiB buffer
        let bytes =
            w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60))
            + w.block(0x0000_0BAD, [0, 0, 0x7E, 0x6F] + big) + w.enhancedPacket(timestamp: 2, data: frame(1500))
        let path = writeTemporaryFile(bytes, name: "x.pcapng")
        let result = readAll(path)
        #expect(result.error == nil)
        #expect(result.records.map(\.capturedLength) == [60, 1500])
        #expect(result.records[1].bytes == frame(1500))
        expectLibpcapAgrees(path, result)
    }

    @Test func aBadByteOrderMagicInALaterSectionIsMalformed() {
        let w = Self.ng
        var second = w.sectionHeader()
        second[8] = 0x55
        let head = w.sectionHeader() + w.interface() + w.enhancedPacket(timestamp: 1, data: frame(60))
        let result = readAll(writeTemporaryFile(head + second, name: "x.pcapng"))
        expectFailure(
            result, .malformed, "block 4 at offset \(head.count) (Section Header Block): bad byte-order magic 0x1a2b3c55",
            records: 1)
    }

    @Test func anUnsupportedPcapngVersionIsRefused() {
        let w = Self.ng
        let path = writeTemporaryFile(w.sectionHeader(major: 2) + w.interface(), name: "x.pcapng")
        expectFailure(readAll(path), .notACapture, "(Section Header Block): unsupported pcapng version 2.0")
        #expect(readWithLibpcap(path).opened == false)
    }

    @Test func errorsAreSticky() throws {
        var file = Self.threeRecords
        file.records[1].capturedLength = 300_000
        let reader = try CaptureFileReader(path: writeTemporaryFile(file.bytes))
        #expect(try reader.next() != nil)
        #expect(throws: CaptureError.self) { try reader.next() }
        #expect(throws: CaptureError.self) { try reader.next() }
        #expect(reader.recordsRead == 1)
    }
}
