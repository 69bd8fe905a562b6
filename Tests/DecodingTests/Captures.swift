#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Capture
import Decoding
import FlowCore
import TestSupport

/// The real-capture corpus (`Captures/corpus`, see its MANIFEST.md).
enum RealCaptures {
    static let directory = FlowmonTestSupport.realCaptures.path

    /// Every capture file name in the corpus, from its manifest (no Foundation needed).
    static let names: [String] = {
        guard let manifest = readText(directory + "/MANIFEST.md") else { return [] }
        var names: [String] = []
        for line in manifest.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: " `") }
            // The main table: | # | `file` | ...
            if cells.count > 2, Int(cells[0]) != nil, cells[1].hasSuffix(".pcap") || cells[1].hasSuffix(".pcapng") {
                names.append(cells[1])
            }
        }
        return names
    }()

    struct Packet {
        var number: Int
        var link: LinkLayer
        var data: [UInt8]
    }

    /// Reads up to `limit` packets with a decodable link type; stops quietly at a damaged
    /// record, returns [] for a file that does not open.
    static func packets(_ name: String, limit: Int = .max) -> [Packet] {
        guard let reader = try? CaptureFileReader(path: directory + "/" + name) else { return [] }
        var result: [Packet] = []
        var number = 0
        while result.count < limit {
            guard let packet = try? reader.next() else { break }
            number += 1
            guard let link = LinkLayer(linkType: packet.linkType) else { continue }
            result.append(Packet(number: number, link: link, data: Array(packet.bytes.rawBuffer)))
        }
        return result
    }

    static func readText(_ path: String) -> String? {
        guard let file = fopen(path, "r") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        var s = self
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
