import CPcap
import Foundation
import TestSupport
import Testing

@testable import Capture

// MARK: Locations

let corpusDirectory = FlowmonTestSupport.realCaptures

func corpusPath(_ name: String) -> String { corpusDirectory.appendingPathComponent(name).path }

let corpusFiles: [String] = {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: corpusDirectory.path)) ?? []
    return names.filter { $0.hasSuffix(".pcap") || $0.hasSuffix(".pcapng") }.sorted()
}()

/// A fresh directory for files a test builds; removed by the caller if it cares.
func temporaryDirectory() -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-capture-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

/// Writes `bytes` to a new temporary file and returns its path.
func writeTemporaryFile(_ bytes: [UInt8], name: String = "test.pcap") -> String {
    let url = temporaryDirectory().appendingPathComponent(name)
    try! Data(bytes).write(to: url)
    return url.path
}

// MARK: Reading, into values that can be compared

struct Record: Equatable, CustomStringConvertible {
    var linkType: UInt32
    var interfaceIndex: UInt32
    var nanoseconds: Int64
    var capturedLength: Int
    var originalLength: UInt32
    var bytes: [UInt8]

    var description: String {
        "Record(linkType: \(linkType), if: \(interfaceIndex), ns: \(nanoseconds), caplen: \(capturedLength), len: \(originalLength))"
    }
}

struct ReadResult {
    var records: [Record] = []
    var error: CaptureError?
    var bytesConsumed: Int64 = 0
    var fileSize: Int64?
    var linkTypes: [UInt32] = []
}

/// Reads the whole file with `CaptureFileReader`; an error from `init` or `next` ends it.
func readAll(_ path: String) -> ReadResult {
    var result = ReadResult()
    let reader: CaptureFileReader
    do {
        reader = try CaptureFileReader(path: path)
    } catch {
        result.error = error
        return result
    }
    result.fileSize = reader.fileSize
    do {
        while let packet = try reader.next() {
            result.records.append(
                Record(
                    linkType: packet.linkType, interfaceIndex: packet.interfaceIndex,
                    nanoseconds: packet.time.nanoseconds, capturedLength: packet.bytes.count,
                    originalLength: packet.originalLength, bytes: Array(packet.bytes.rawBuffer)))
        }
    } catch {
        result.error = error
    }
    #expect(reader.recordsRead == result.records.count)
    result.bytesConsumed = reader.bytesConsumed
    result.linkTypes = reader.linkTypes
    return result
}

struct LibpcapResult {
    var opened: Bool
    var dataLinkType: Int32 = -1
    var records: [Record] = []
    /// libpcap's message, from `pcap_open_offline` or `pcap_next_ex`; `nil` at a clean end.
    var error: String?
}

/// Reads the whole file with libpcap at nanosecond precision, for comparison.
func readWithLibpcap(_ path: String) -> LibpcapResult {
    var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
    guard let handle = pcap_open_offline_with_tstamp_precision(path, UInt32(PCAP_TSTAMP_PRECISION_NANO), &errorBuffer)
    else {
        let message = errorBuffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        return LibpcapResult(opened: false, error: message)
    }
    defer { pcap_close(handle) }
    var result = LibpcapResult(opened: true, dataLinkType: pcap_datalink(handle))
    var header: UnsafeMutablePointer<pcap_pkthdr>?
    var data: UnsafePointer<UInt8>?
    while true {
        let status = pcap_next_ex(handle, &header, &data)
        if status == 1, let header, let data {
            let h = header.pointee
            result.records.append(
                Record(
                    linkType: 0, interfaceIndex: 0,
                    nanoseconds: Int64(h.ts.tv_sec) * 1_000_000_000 + Int64(h.ts.tv_usec),
                    capturedLength: Int(h.caplen), originalLength: h.len,
                    bytes: Array(UnsafeBufferPointer(start: data, count: Int(h.caplen)))))
        } else if status == PCAP_ERROR_BREAK {
            return result
        } else {
            result.error = String(cString: pcap_geterr(handle))
            return result
        }
    }
}

// MARK: Building files

/// Appends integers in one byte order.
struct ByteWriter {
    var bigEndian = false
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }
    mutating func u32(_ v: UInt32) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }
    mutating func u64(_ v: UInt64) {
        let x = bigEndian ? v.bigEndian : v.littleEndian
        withUnsafeBytes(of: x) { bytes.append(contentsOf: $0) }
    }
    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    mutating func pad4() { while bytes.count % 4 != 0 { bytes.append(0) } }
}

/// A classic pcap file.
struct PcapFile {
    var bigEndian = false
    var nanoseconds = false
    var major: UInt16 = 2
    var minor: UInt16 = 4
    var snapshotLength: UInt32 = 65535
    var linkType: UInt32 = 1
    var records: [PcapRecord] = []

    struct PcapRecord {
        var seconds: UInt32
        var fraction: UInt32
        var data: [UInt8]
        /// Overrides for the header's lengths (default: the data's length).
        var capturedLength: UInt32? = nil
        var originalLength: UInt32? = nil
    }

    var bytes: [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(nanoseconds ? 0xA1B2_3C4D : 0xA1B2_C3D4)
        w.u16(major)
        w.u16(minor)
        w.u32(0)
        w.u32(0)
        w.u32(snapshotLength)
        w.u32(linkType)
        for r in records {
            w.u32(r.seconds)
            w.u32(r.fraction)
            w.u32(r.capturedLength ?? UInt32(r.data.count))
            w.u32(r.originalLength ?? UInt32(r.data.count))
            w.raw(r.data)
        }
        return w.bytes
    }

    /// Byte offset of record `index` (0-based).
    func offset(ofRecord index: Int) -> Int {
        24 + records.prefix(index).reduce(0) { $0 + 16 + $1.data.count }
    }
}

/// A frame of `count` bytes whose content depends on `seed`.
func frame(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ Int(seed)) }
}

/// pcapng blocks, in one byte order.
struct PcapngWriter {
    var bigEndian = false

    func option(_ code: UInt16, _ value: [UInt8]) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u16(code)
        w.u16(UInt16(value.count))
        w.raw(value)
        w.pad4()
        return w.bytes
    }

    func endOfOptions() -> [UInt8] { option(0, []) }

    /// A block with `body`, padded to 4, and a correct length unless `length`/`trailer` override it.
    func block(_ type: UInt32, _ body: [UInt8], length: UInt32? = nil, trailer: UInt32? = nil) -> [UInt8] {
        var padded = body
        while padded.count % 4 != 0 { padded.append(0) }
        let total = UInt32(12 + padded.count)
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(type)
        w.u32(length ?? total)
        w.raw(padded)
        w.u32(trailer ?? length ?? total)
        return w.bytes
    }

    func sectionHeader(major: UInt16 = 1, minor: UInt16 = 0, options: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(0x1A2B_3C4D)
        w.u16(major)
        w.u16(minor)
        w.u64(UInt64.max)  // section length unknown
        w.raw(options)
        return block(0x0A0D_0D0A, w.bytes)
    }

    func interface(linkType: UInt16 = 1, snapshotLength: UInt32 = 0, options: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u16(linkType)
        w.u16(0)
        w.u32(snapshotLength)
        w.raw(options)
        return block(1, w.bytes)
    }

    func tsresol(_ value: UInt8) -> [UInt8] { option(9, [value]) }

    func tsoffset(_ seconds: Int64) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u64(UInt64(bitPattern: seconds))
        return option(14, w.bytes)
    }

    func enhancedPacket(
        interface: UInt32 = 0, timestamp: UInt64, data: [UInt8], capturedLength: UInt32? = nil,
        originalLength: UInt32? = nil
    ) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(interface)
        w.u32(UInt32(truncatingIfNeeded: timestamp >> 32))
        w.u32(UInt32(truncatingIfNeeded: timestamp))
        w.u32(capturedLength ?? UInt32(data.count))
        w.u32(originalLength ?? UInt32(data.count))
        w.raw(data)
        w.pad4()
        return block(6, w.bytes)
    }

    func simplePacket(originalLength: UInt32, data: [UInt8]) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u32(originalLength)
        w.raw(data)
        return block(3, w.bytes)
    }

    func obsoletePacket(interface: UInt16 = 0, timestamp: UInt64, data: [UInt8]) -> [UInt8] {
        var w = ByteWriter(bigEndian: bigEndian)
        w.u16(interface)
        w.u16(0)
        w.u32(UInt32(truncatingIfNeeded: timestamp >> 32))
        w.u32(UInt32(truncatingIfNeeded: timestamp))
        w.u32(UInt32(data.count))
        w.u32(UInt32(data.count))
        w.raw(data)
        return block(2, w.bytes)
    }
}
