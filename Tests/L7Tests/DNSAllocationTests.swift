import CMallocCounter
@testable import L7
import Testing

/// Parsing what is not DNS allocates nothing, and neither does reading a response's answers
/// (addresses, targets, comparisons) as long as no `text` is asked for: the capture pipeline's
/// reading thread runs the parser on every payload of a DNS port.
/// Skipped only in sanitizer builds, where the sanitizer owns malloc.
@Suite(.enabled(if: flowmon_malloc_counter_available() == 1, "a sanitizer build: the sanitizer owns malloc"))
struct DNSAllocationTests {
    /// Payloads seen on port 53 that are not DNS: HTTP, a TLS ClientHello's start, zeros, a
    /// 64-byte label, a pointer loop; and one TCP segment of each.
    static let notDNS: [[UInt8]] = [
        Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8),
        [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 0x5a, count: 32),
        [UInt8](repeating: 0, count: 5),
        [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x40],
        [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1],
    ]

    @Test func parsingOtherProtocolsAllocatesNothing() {
        func run() -> Int {
            var refused = 0
            // Index loops: iterating an array allocates in unoptimized builds.
            for index in 0..<Self.notDNS.count {
                Self.notDNS[index].withUnsafeBytes { buffer in
                    if case .failure(let error) = DNSMessage.parse(buffer) { refused += error.name.utf8CodeUnitCount > 0 ? 1 : 0 }
                    for frame in DNSOverTCP(segment: buffer) {
                        if case .message(let bytes) = frame, case .success = DNSMessage.parse(bytes) { refused -= 100 }
                    }
                }
            }
            return refused
        }
        _ = run()
        flowmon_malloc_counter_start()
        let refused = run()
        let allocations = flowmon_malloc_counter_stop()
        #expect(refused == Self.notDNS.count)
        #expect(allocations == 0, "\(allocations) allocations")
    }

    @Test func readingAnswersAllocatesNothing() {
        let fixtures = [DNSFixture.appleCNAMEChain, DNSFixture.googleAAAA, DNSFixture.sixteenA, DNSFixture.txtWithGlue, DNSFixture.dnsmasqTruncated]
        func run() -> (addresses: Int, targets: Int) {
            var addresses = 0
            var targets = 0
            for index in 0..<fixtures.count {
                fixtures[index].bytes.withUnsafeBytes { buffer in
                    guard case .success(let message) = DNSMessage.parse(buffer) else { return }
                    var questions = message.questions
                    guard let question = questions.next() else { return }
                    let sections = (message.answers, message.authorities, message.additionals)
                    for section in 0..<3 {
                        var records = section == 0 ? sections.0 : section == 1 ? sections.1 : sections.2
                        while let record = records.next() {
                            if record.ipv4 != nil || record.ipv6 != nil { addresses += 1 }
                            if let target = record.target, !target.isEqual(to: question.name), !target.isEqual(toText: "time.apple.com") {
                                targets += 1
                            }
                            for label in record.name.labels { addresses += label.isEmpty ? 1000 : 0 }
                        }
                    }
                    _ = (message.rcodeName, rrtypeName(question.rrtype), message.isTruncated)
                }
            }
            return (addresses, targets)
        }
        _ = run()
        flowmon_malloc_counter_start()
        let counted = run()
        let allocations = flowmon_malloc_counter_stop()
        // 1 + 4 + 16 + 1 + 29 addresses; 3 + 1 + 1 targets (CNAMEs and an NS).
        #expect(counted.addresses == 51 && counted.targets == 5)
        #expect(allocations == 0, "\(allocations) allocations")
    }
}
