import CMallocCounter
@testable import L7
import Testing

/// A `tls` record copies JA3 from `withJA3`: the string and its MD5 written into temporary
/// buffers, without a `String` or an array (the record used to build the string twice, with
/// arrays of strings, and MD5 copied and padded the message in arrays).
@Suite(.enabled(if: flowmon_malloc_counter_available() == 1, "a sanitizer build: the sanitizer owns malloc"))
struct JA3AllocationTests {
    @Test func ja3IsWrittenWithoutAllocating() throws {
        let hello = try TLSFixtures.tls13.withUnsafeBytes { try TLSClientHello(parsing: $0) }
        func run() -> Int {
            hello.withJA3 { string, hash in string.count + hash.count }
        }
        let expected = hello.ja3String.utf8.count + 32
        #expect(run() == expected)
        flowmon_malloc_counter_start()
        var total = 0
        for _ in 0..<10 { total += run() }
        let allocations = Int(flowmon_malloc_counter_stop())
        #expect(total == 10 * expected && allocations == 0, "\(allocations) allocations")
        // The bytes are JA3's.
        #expect(hello.withJA3 { string, hash in String(decoding: string, as: UTF8.self) + "/" + String(decoding: hash, as: UTF8.self) }
            == hello.ja3String + "/5a1edc7f170af1014fc65c994878e63c")
    }
}
