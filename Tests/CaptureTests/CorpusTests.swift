import Foundation
import Testing

@testable import Capture

/// Every capture in `Captures/corpus` is read by `CaptureFileReader` and by libpcap
/// 1.10 (`pcap_open_offline_with_tstamp_precision(..., NANO)` + `pcap_next_ex`): where libpcap
/// reads the file, both give the same records and the same end (clean end, or an error after
/// the same number of records).
@Suite struct CorpusTests {
    @Test func theCorpusIsThere() {
        #expect(corpusFiles.count == 60, "expected 60 captures in \(corpusDirectory.path)")
    }

    @Test(arguments: corpusFiles)
    func readerMatchesLibpcap(_ name: String) throws {
        let path = corpusPath(name)
        let ours = readAll(path)
        let theirs = readWithLibpcap(path)

        if let expected = Self.refusedByLibpcap[name] {
            // libpcap 1.10 refuses interfaces with different link types or snapshot lengths.
            #expect(theirs.error?.contains("different from") == true, "libpcap: \(theirs.error ?? "no error")")
            #expect(ours.error == nil, "\(ours.error?.description ?? "")")
            try #require(ours.records.count == expected.count)
            for (index, (record, frame)) in zip(ours.records, expected).enumerated() {
                #expect(record.interfaceIndex == frame.interface, "packet \(index + 1)")
                #expect(record.linkType == frame.linkType, "packet \(index + 1)")
                #expect(record.originalLength == frame.length, "packet \(index + 1)")
                #expect(record.capturedLength == frame.capturedLength, "packet \(index + 1)")
                // tshark shows no time for a Simple Packet Block; libpcap (and we) use 0.
                #expect(record.nanoseconds == frame.nanoseconds ?? 0, "packet \(index + 1)")
            }
            return
        }

        #expect(ours.records.count == theirs.records.count, "libpcap: \(theirs.error ?? "clean end")")
        for (index, (mine, libpcap)) in zip(ours.records, theirs.records).enumerated() {
            #expect(mine.nanoseconds == libpcap.nanoseconds, "record \(index + 1)")
            #expect(mine.capturedLength == libpcap.capturedLength, "record \(index + 1)")
            #expect(mine.originalLength == libpcap.originalLength, "record \(index + 1)")
            #expect(mine.bytes == libpcap.bytes, "record \(index + 1)")
            #expect(dataLinkType(forLinkType: mine.linkType) == theirs.dataLinkType, "record \(index + 1)")
        }
        #expect(
            (ours.error == nil) == (theirs.error == nil),
            "ours: \(ours.error?.description ?? "clean end"); libpcap: \(theirs.error ?? "clean end")")
        if ours.error == nil {
            #expect(ours.bytesConsumed == ours.fileSize)
        }
    }

    @Test func theEndOfEachDamagedFileIsReportedLikeLibpcap() throws {
        let truncated = readAll(corpusPath("truncated-file-cut-mid-record.pcap"))
        #expect(truncated.records.count == 2696)
        #expect(truncated.error?.kind == .truncated)
        #expect(
            truncated.error?.description.hasSuffix(
                "truncated-file-cut-mid-record.pcap: truncated in the header of record 2697 at offset 2715459 (16 bytes needed, 1 remain)"
            ) == true, "\(truncated.error?.description ?? "")")

        // tshark guesses a variant record format here and shows 2 packets; libpcap (and we)
        // read the standard format the magic announces: record 2 claims 1409179648 bytes.
        let damaged = readAll(corpusPath("damaged-record-header-after-2pkts.pcap"))
        #expect(damaged.records.count == 1)
        #expect(damaged.error?.kind == .malformed)
        #expect(
            damaged.error?.description.hasSuffix(
                "damaged-record-header-after-2pkts.pcap: record 2 at offset 228: captured length 1409179648 exceeds the maximum of 262144"
            ) == true, "\(damaged.error?.description ?? "")")

        let version = readAll(corpusPath("invalid-pcap-major-version-1.pcap"))
        #expect(version.records.isEmpty)
        #expect(version.error?.kind == .notACapture)
        #expect(version.error?.description.hasSuffix(": unsupported pcap version 1.4 (only 2.0 to 2.4 can be read)") == true)

        let option = readAll(corpusPath("invalid-pcapng-shb-option-too-long.pcapng"))
        #expect(option.records.isEmpty)
        #expect(option.error?.kind == .malformed)
        #expect(
            option.error?.description.hasSuffix(
                ": block 1 at offset 0 (Section Header Block): block length 52 in the header does not match 808464432 in the trailer"
            ) == true, "\(option.error?.description ?? "")")
    }

    @Test func linkTypesAreCollectedPerInterface() {
        #expect(readAll(corpusPath("pcapng-11-interfaces-ether-null-raw.pcapng")).linkTypes == [1, 0, 12])
        #expect(readAll(corpusPath("pcapng-126-interfaces-vlan-ipv6-ldap.pcapng")).linkTypes.sorted() == [1, 113, 274])
        #expect(readAll(corpusPath("raw101-ipv4-ipv6-mixed.pcap")).linkTypes == [101])
    }

    struct Frame {
        var interface: UInt32
        var linkType: UInt32
        var length: UInt32
        var capturedLength: Int
        var nanoseconds: Int64?
    }

    private static func F(_ i: UInt32, _ l: UInt32, _ len: UInt32, _ cap: Int, _ ns: Int64?) -> Frame {
        Frame(interface: i, linkType: l, length: len, capturedLength: cap, nanoseconds: ns)
    }

    /// Files libpcap 1.10.3 refuses, with every packet as tshark 4.0.17 shows it:
    /// `tshark -r FILE -T fields -e frame.interface_id -e frame.encap_type -e frame.len
    /// -e frame.cap_len -e frame.time_epoch` (encapsulation 15 is LINKTYPE_NULL 0; rows
    /// without an interface, the 3 custom blocks of the multisection file, left out).
    static let refusedByLibpcap: [String: [Frame]] = [
    "gre-variants-ppp-teb-nested-ipv6.pcapng": [
        F(0, 1, 58, 58, 1150344981941650000),
        F(0, 1, 46, 46, 1150345000702496000),
        F(0, 1, 66, 66, 1252554328174681000),
        F(0, 1, 77, 77, 1252554365003206000),
        F(0, 1, 114, 114, 1341436440002928000),
        F(0, 1, 268, 268, 1417577704035791000),
        F(1, 1, 96, 96, 1605124619087414000),
    ],
    "pcapng-126-interfaces-vlan-ipv6-ldap.pcapng": [
        F(48, 1, 90, 90, 1725966551231155000),
        F(48, 1, 90, 90, 1725966551231413000),
        F(48, 1, 78, 78, 1725966551231632000),
        F(48, 1, 428, 428, 1725966551231802000),
        F(48, 1, 1518, 1518, 1725966551232315000),
        F(48, 1, 1499, 1499, 1725966551232391000),
        F(48, 1, 78, 78, 1725966551232635000),
        F(48, 1, 1518, 1518, 1725966551233403000),
        F(48, 1, 690, 690, 1725966551233609000),
        F(48, 1, 78, 78, 1725966551233848000),
        F(48, 1, 288, 288, 1725966551234470000),
        F(48, 1, 287, 287, 1725966551237480000),
        F(48, 1, 132, 132, 1725966551238632000),
        F(48, 1, 121, 121, 1725966551239575000),
        F(48, 1, 78, 78, 1725966551239676000),
        F(48, 1, 78, 78, 1725966551239827000),
        F(48, 1, 78, 78, 1725966551239887000),
    ],
    "pcapng-11-interfaces-ether-null-raw.pcapng": [
        F(0, 1, 178, 178, 1439753725701607000),
        F(0, 1, 178, 178, 1439753725701855000),
        F(10, 0, 168, 168, 1439753725701568000),
        F(10, 0, 168, 168, 1439753725701822000),
        F(0, 1, 86, 86, 1439753726191167000),
        F(0, 1, 90, 90, 1439753726191168000),
        F(0, 1, 112, 112, 1439753726242994000),
        F(0, 1, 88, 88, 1439753726243738000),
        F(0, 1, 151, 151, 1439753726278397000),
        F(0, 1, 86, 86, 1439753726279964000),
        F(0, 1, 90, 90, 1439753726289699000),
        F(0, 1, 86, 86, 1439753726289703000),
        F(0, 1, 84, 84, 1439753726473384000),
        F(0, 1, 86, 86, 1439753726715319000),
        F(0, 1, 84, 84, 1439753726727944000),
        F(0, 1, 86, 86, 1439753726728143000),
        F(0, 1, 151, 151, 1439753726824127000),
        F(0, 1, 84, 84, 1439753726830492000),
        F(0, 1, 105, 105, 1439753726831791000),
        F(0, 1, 88, 88, 1439753726838964000),
        F(0, 1, 122, 122, 1439753726853438000),
        F(0, 1, 79, 79, 1439753727905944000),
        F(0, 1, 279, 279, 1439753727931170000),
        F(0, 1, 78, 78, 1439753727931522000),
        F(0, 1, 74, 74, 1439753727957891000),
        F(0, 1, 66, 66, 1439753727957953000),
        F(0, 1, 583, 583, 1439753727958125000),
        F(0, 1, 66, 66, 1439753727983728000),
        F(0, 1, 212, 212, 1439753727984989000),
        F(0, 1, 66, 66, 1439753727985044000),
        F(0, 1, 117, 117, 1439753727985227000),
        F(0, 1, 119, 119, 1439753727987070000),
        F(0, 1, 116, 116, 1439753727987071000),
        F(0, 1, 108, 108, 1439753727987072000),
        F(0, 1, 1238, 1238, 1439753727987288000),
        F(0, 1, 66, 66, 1439753728031830000),
        F(0, 1, 122, 122, 1439753728032830000),
        F(0, 1, 108, 108, 1439753728032835000),
        F(0, 1, 104, 104, 1439753728032836000),
        F(0, 1, 66, 66, 1439753728032923000),
        F(0, 1, 66, 66, 1439753728032923000),
        F(0, 1, 66, 66, 1439753728032924000),
        F(0, 1, 104, 104, 1439753728033118000),
        F(0, 1, 560, 560, 1439753728034353000),
        F(0, 1, 104, 104, 1439753728034356000),
        F(0, 1, 112, 112, 1439753728034357000),
        F(0, 1, 66, 66, 1439753728034416000),
        F(0, 1, 66, 66, 1439753728034416000),
        F(0, 1, 66, 66, 1439753728034428000),
        F(0, 1, 112, 112, 1439753728035548000),
        F(0, 1, 1392, 1392, 1439753728038904000),
        F(0, 1, 78, 78, 1439753728039010000),
        F(0, 1, 66, 66, 1439753728065059000),
        F(0, 1, 74, 74, 1439753728289972000),
        F(0, 1, 66, 66, 1439753728290024000),
        F(0, 1, 282, 282, 1439753728290414000),
        F(0, 1, 1392, 1392, 1439753728290466000),
        F(0, 1, 67, 67, 1439753728290642000),
        F(0, 1, 1392, 1392, 1439753728291478000),
        F(0, 1, 1392, 1392, 1439753728291772000),
        F(0, 1, 82, 82, 1439753728291922000),
        F(0, 1, 1392, 1392, 1439753728292286000),
        F(0, 1, 724, 724, 1439753728292344000),
        F(0, 1, 195, 195, 1439753728292345000),
    ],
    "pcapng-bigendian-multisection.pcapng": [
        F(0, 1, 314, 96, 1340954905298858000),
        F(0, 1, 342, 128, 1340954905298858000),
        F(0, 1, 314, 128, nil),
        F(1, 0, 168, 168, 1340954905301858000),
    ],
    "pcapng-multisection-custom-blocks.pcapng": [
        F(0, 1, 314, 96, 1340954905298858000),
        F(0, 1, 342, 96, 1340954905298858000),
        F(1, 0, 168, 168, 1340954905301858000),
        F(0, 1, 314, 128, nil),
        F(0, 1, 342, 128, 1340954905298858000),
        F(0, 1, 314, 128, nil),
        F(0, 1, 342, 128, 1340954905298858000),
        F(1, 0, 168, 168, 1340954905301858000),
    ],
    ]
}
