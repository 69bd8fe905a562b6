import Foundation
import Testing

@testable import Capture

/// Reads the first `FLOWMON_ALLOCATION_RECORDS` packets of a capture through a filter, so
/// that allocations can be counted from outside (an `LD_PRELOAD` malloc counter; valgrind
/// does not run the test binary). Two different counts must give the same total, because
/// `next()` and `matches(_:)` allocate nothing per record in steady state:
///
///     FLOWMON_ALLOCATION_RECORDS=200 LD_PRELOAD=count-mallocs.so \
///         .build-capture/debug/flowmonPackageTests.xctest --testing-library swift-testing \
///         --filter AllocationTests
///
/// Measured at commit time (debug build): 200 and 4700 records gave the same count for both files.
@Suite struct AllocationTests {
    static let records = ProcessInfo.processInfo.environment["FLOWMON_ALLOCATION_RECORDS"].flatMap { Int($0) }

    func read(_ path: String) throws {
        let filter = try PacketFilter(expression: "tcp port 80")
        let reader = try CaptureFileReader(path: path)
        var matches = 0
        for _ in 0..<(Self.records ?? 0) {
            guard let packet = try reader.next() else { break }
            if filter.matches(packet) { matches += 1 }
        }
        #expect(matches >= 0)
    }

    @Test(.enabled(if: Self.records != nil, "set FLOWMON_ALLOCATION_RECORDS to run"))
    func classicPcap() throws {
        try read(corpusPath("eth-mixed-realworld-4709pkts.pcap"))
    }

    @Test(.enabled(if: Self.records != nil, "set FLOWMON_ALLOCATION_RECORDS to run"))
    func pcapngWithSeveralLinkTypes() throws {
        // Built at the same size whatever the count, so building allocates the same.
        let w = PcapngWriter()
        var bytes = w.sectionHeader() + w.interface(linkType: 1) + w.interface(linkType: 0, options: w.tsresol(9))
        let data = frame(1000)
        for i in 0..<5000 {
            bytes += w.enhancedPacket(interface: UInt32(i % 2), timestamp: UInt64(i), data: data)
        }
        try read(writeTemporaryFile(bytes, name: "alloc.pcapng"))
    }
}
