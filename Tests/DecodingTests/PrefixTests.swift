import Decoding
import FlowCore
import Testing

/// tcpdump's snaplen advice, automated: every frame cut at every length 0...count. Nothing
/// may trap, and each cut must satisfy `prefixViolation` (a truncation anomaly, or the same
/// flow fields and anomaly as the full frame with no more payload). The property fails if a
/// decoder reports a short capture as malformed, silently drops or changes a field, or
/// reads bytes that were cut away.
struct PrefixTests {
    static func checkEveryPrefix(_ data: [UInt8], link: LinkLayer, _ label: String) -> Int {
        let full = decode(data, link: link)
        var failures = 0
        for length in 0...data.count {
            let cut = decode(data, link: link, length: length)
            if let violation = prefixViolation(cut, full: full) {
                failures += 1
                if failures <= 3 { Issue.record("\(label) cut to \(length) of \(data.count): \(violation)") }
            }
        }
        return failures
    }

    @Test(arguments: DecoderTableTests.allRows)
    func everyPrefixOfATableFrameIsHandled(_ row: Row) {
        _ = Self.checkEveryPrefix(bytes(fromHex: row.hex), link: row.link, row.name)
    }

    @Test(arguments: RealCaptures.names)
    func everyPrefixOfTheFirstFiftyFramesIsHandled(_ name: String) {
        for packet in RealCaptures.packets(name, limit: 50) {
            _ = Self.checkEveryPrefix(packet.data, link: packet.link, "\(name) #\(packet.number)")
        }
    }

    /// The property is not vacuous: a summary that lost its ports without saying so, or a
    /// malformed report for a cut frame, is caught.
    @Test func thePropertyCanFail() {
        let full = decode(hex: Hex.ethIPv4 + Hex.ipv4TCP + Hex.tcpSYN)
        var lostPorts = full
        lostPorts.hasPorts = false
        #expect(prefixViolation(lostPorts, full: full) != nil)
        var malformed = full
        malformed.anomaly = .tcpPacketTooSmall
        #expect(prefixViolation(malformed, full: full) != nil)
        var truncated = full
        truncated.anomaly = .tcpTruncated
        #expect(prefixViolation(truncated, full: full) == nil)
    }
}
