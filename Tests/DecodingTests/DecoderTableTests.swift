import Decoding
import FlowCore
import Testing

struct DecoderTableTests {
    static let allRows = StackRows.rows + AnomalyRows.rows

    @Test(arguments: StackRows.rows)
    func stackDecodesToTheInnermostFlow(_ row: Row) {
        let summary = decode(hex: row.hex, link: row.link)
        for problem in check(summary, row.expect, row.name) { Issue.record("\(problem)") }
    }

    @Test(arguments: AnomalyRows.rows)
    func anomalyIsReportedByName(_ row: Row) {
        let summary = decode(hex: row.hex, link: row.link)
        for problem in check(summary, row.expect, row.name) { Issue.record("\(problem)") }
    }

    @Test func everyAnomalyHasARow() {
        var seen = Set<UInt8>()
        for row in Self.allRows {
            if let anomaly = decode(hex: row.hex, link: row.link).anomaly { seen.insert(anomaly.rawValue) }
        }
        let missing = DecodeAnomaly.allCases.filter { !seen.contains($0.rawValue) }.map { "\($0.name)" }
        #expect(missing.isEmpty, "no table row produces: \(missing)")
    }

    @Test func anomalyNamesAreStableAndUnique() {
        let names = DecodeAnomaly.allCases.map { "\($0.name)" }
        #expect(Set(names).count == names.count)
        for anomaly in DecodeAnomaly.allCases {
            let name = "\(anomaly.name)"
            #expect(name.hasPrefix("decoder."), "\(name)")
            #expect(name.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "." || $0 == "_" }, "\(name)")
            #expect((anomaly.kind == .truncated) == name.hasSuffix(".truncated") || name.hasSuffix("exthdr_truncated"), "\(name)")
        }
        #expect(DecodeAnomaly.ipv4Truncated.name.description == "decoder.ipv4.truncated")
        #expect("\(DecodeAnomaly.ipv6ExtensionHeaderLoop.name)" == "decoder.ipv6.exthdr_loop")
    }

    /// The parser resets the summary: nothing leaks from the previous packet.
    @Test func summaryIsResetBetweenPackets() {
        var summary = PacketSummary()
        let tunnel = bytes(fromHex: StackRows.rows.first { $0.name.hasPrefix("vxlan 4789") }!.hex)
        let arp = bytes(fromHex: AnomalyRows.rows.first { $0.name.hasPrefix("ethernet.unknown") }!.hex)
        tunnel.withUnsafeBytes { LayerParser().parse(PacketBytes($0), link: .ethernet, into: &summary) }
        #expect(summary.tunnel == .vxlan)
        arp.withUnsafeBytes { LayerParser().parse(PacketBytes($0), link: .ethernet, into: &summary) }
        #expect(summary.tunnel == TunnelKind.none && summary.ipVersion == 0 && !summary.hasPorts && summary.tunnelVNI == 0)
    }
}
