import Datapath
import FlowCore
import Foundation
import Output
import Testing

struct JSONBufferTests {
    static func render(_ body: (inout JSONBuffer) -> Void) -> String {
        var buffer = JSONBuffer(capacity: 16)
        body(&buffer)
        return String(decoding: buffer.bytes, as: UTF8.self)
    }

    static func escaped(_ bytes: [UInt8]) -> String {
        render { out in bytes.withUnsafeBytes { out.appendString(utf8: $0) } }
    }

    @Test(arguments: [
        ([UInt8]("plain".utf8), #""plain""#),
        ([UInt8]("quote\" back\\slash".utf8), #""quote\" back\\slash""#),
        ([0x0a, 0x0d, 0x09, 0x08, 0x0c], #""\n\r\t\b\f""#),
        ([0x00, 0x01, 0x1f, 0x7f], #""\u0000\u0001\u001f\u007f""#),
        ([0xe2, 0x80, 0xa8, 0xe2, 0x80, 0xa9], #""\u2028\u2029""#),  // LINE/PARAGRAPH SEPARATOR
        ([0xc3, 0xa9, 0xf0, 0x9f, 0x98, 0x80], "\"\u{e9}\u{1f600}\""),  // valid 2- and 4-byte sequences pass through
        ([0xff, 0x41], #""\ufffdA""#),  // invalid lead byte
        ([0xc3], #""\ufffd""#),  // sequence cut short
        ([0xed, 0xa0, 0x80], #""\ufffd\ufffd\ufffd""#),  // UTF-16 surrogate encoded in UTF-8
        ([0xc0, 0xaf], #""\ufffd\ufffd""#),  // overlong "/"
    ] as [([UInt8], String)])
    func stringsAreEscapedSoNoInputCanBreakALine(input: [UInt8], expected: String) throws {
        let json = Self.escaped(input)
        #expect(json == expected)
        #expect(!json.utf8.contains(0x0a))
        // Whatever came in, the result is one valid JSON string.
        let parsed = try JSONSerialization.jsonObject(with: Data("[\(json)]".utf8), options: []) as? [String]
        #expect(parsed?.count == 1)
    }

    @Test(arguments: [
        (IPAddress(ipv4: 0x0a00_0001), false, "10.0.0.1"),
        (IPAddress(ipv4: 0xffff_ffff), false, "255.255.255.255"),
        (IPAddress(ipv4: 0), false, "0.0.0.0"),
        (IPAddress(ipv4: 0xc000_0201), true, "::ffff:192.0.2.1"),
        (IPAddress(high: 0x2001_0db8_0000_0000, low: 0x0000_0000_0000_0001), false, "2001:db8::1"),  // RFC 5952 §4.2.1
        (IPAddress(high: 0x2001_0db8_0000_0001, low: 0x0001_0001_0001_0001), false, "2001:db8:0:1:1:1:1:1"),  // §4.2.2: one zero group stays
        (IPAddress(high: 0x2001_0000_0000_0001, low: 0x0000_0000_0000_0001), false, "2001:0:0:1::1"),  // §4.2.3: longest run
        (IPAddress(high: 0x2001_0db8_0000_0000, low: 0x0001_0000_0000_0001), false, "2001:db8::1:0:0:1"),  // §4.2.3: first of equal runs
        (IPAddress(high: 0, low: 1), false, "::1"),
        (IPAddress(high: 0, low: 0), false, "::"),
        (IPAddress(high: 0xfe80_0000_0000_0000, low: 0x0211_22ff_fe33_4455), false, "fe80::211:22ff:fe33:4455"),
        (IPAddress(high: 0x2001_0db8_aaaa_bbbb, low: 0xcccc_dddd_eeee_0000), false, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:0"),
        (IPAddress(high: 0x0000_0000_0000_0000, low: 0x0000_0000_0001_0000), false, "::1:0"),
    ] as [(IPAddress, Bool, String)])
    func addressesPrintInTheirCanonicalForm(address: IPAddress, asIPv6: Bool, expected: String) {
        #expect(Self.render { $0.appendQuoted(address, asIPv6: asIPv6) } == "\"\(expected)\"")
    }

    @Test(arguments: [
        (Int64(0), "1970-01-01T00:00:00.000000+0000"),
        (Int64(1_361_916_156_677_488_123), "2013-02-26T22:02:36.677488+0000"),
        (Int64(951_782_400_000_000_000), "2000-02-29T00:00:00.000000+0000"),  // leap day of a 400-year
        (Int64(4_107_542_399_999_999_000), "2100-02-28T23:59:59.999999+0000"),  // 2100 is not a leap year
        (Int64(2_147_483_648_000_000_000), "2038-01-19T03:14:08.000000+0000"),  // past 32-bit time_t
        (Int64(-1_000), "1969-12-31T23:59:59.999999+0000"),
    ] as [(Int64, String)])
    func timestampsUseEVEForm(nanoseconds: Int64, expected: String) {
        #expect(Self.render { $0.appendQuotedTimestamp(CaptureTime(nanoseconds: nanoseconds)) } == "\"\(expected)\"")
    }

    @Test func integersPrintInDecimal() {
        let text = Self.render { out in
            for value: UInt64 in [0, 7, 10, 65535, UInt64.max] {
                out.append(value)
                out.append(byte: UInt8(ascii: " "))
            }
            out.append(Int64.min)
        }
        #expect(text == "0 7 10 65535 18446744073709551615 -9223372036854775808")
    }

    /// Every digit count and every boundary between them, against the standard library.
    @Test func integersMatchTheStandardLibraryAtEveryDigitCount() {
        var values: [UInt64] = [0, 1, 9, UInt64.max, UInt64.max - 1]
        var power: UInt64 = 10
        for exponent in 1...19 {
            values += [power - 1, power, power + 1, power + 99, power / 2 * 3]
            if exponent < 19 { power *= 10 }
        }
        for value in values {
            #expect(Self.render { $0.append(value) } == String(value), "\(value)")
        }
    }

    @Test func theBufferGrowsForARecordLargerThanItsCapacity() {
        let long = [UInt8](repeating: UInt8(ascii: "x"), count: 100_000)
        let json = Self.escaped(long)
        #expect(json.utf8.count == 100_002)
    }
}
