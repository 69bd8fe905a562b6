import L7
import Testing

/// The ClientHello parser over OpenSSL's ClientHellos (TLSFixtures), whole, split across
/// segments and records, and broken.
@Suite struct TLSClientHelloTests {
    static func parse(_ bytes: [UInt8]) throws(TLSParseError) -> TLSClientHello {
        try bytes.withUnsafeBytes { bytes in Result { () throws(TLSParseError) in try TLSClientHello(parsing: bytes) } }.get()
    }

    static func failure(_ bytes: [UInt8]) -> TLSParseError? {
        do throws(TLSParseError) {
            _ = try Self.parse(bytes)
            return nil
        } catch {
            return error
        }
    }

    @Test func openSSLOfferingTLS13() throws {
        let hello = try Self.parse(TLSFixtures.tls13)
        // tshark: record version TLS 1.0, client version TLS 1.2, SNI example.test, ALPN h2,http/1.1,
        // supported_versions 0x0304,0x0303,0x0302,0x0301, 31 cipher suites, 10 groups.
        #expect(hello.recordVersion == 0x0301 && hello.legacyVersion == 0x0303)
        #expect(hello.supportedVersions == [0x0304, 0x0303, 0x0302, 0x0301])
        #expect(hello.version == 0x0304 && hello.versionName == "TLS 1.3")
        #expect(hello.serverName == "example.test" && hello.alpn == ["h2", "http/1.1"])
        #expect(hello.cipherSuites.count == 31 && hello.cipherSuites.first == 0x1302)
        #expect(hello.groups == [0x001D, 0x0017, 0x001E, 0x0019, 0x0018, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104])
        #expect(hello.pointFormats == [0, 1, 2] && hello.signatureAlgorithms.count == 20)
        #expect(hello.extensions == [0, 11, 10, 35, 16, 22, 23, 13, 43, 45, 51])
    }

    @Test func openSSLLimitedToTLS12() throws {
        let hello = try Self.parse(TLSFixtures.tls12)
        #expect(hello.supportedVersions.isEmpty && hello.version == 0x0303 && hello.versionName == "TLS 1.2")
        #expect(hello.serverName == "example.test" && hello.alpn == ["h2", "http/1.1"])
        #expect(!hello.extensions.contains(43))
    }

    /// JA3 as tshark 4.0 gives it for the same packets (`-e tls.handshake.ja3_full -e tls.handshake.ja3`).
    @Test func ja3AsTsharkComputesIt() throws {
        let tls13 = try Self.parse(TLSFixtures.tls13)
        #expect(tls13.ja3String == "771,4866-4867-4865-49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13-43-45-51,29-23-30-25-24-256-257-258-259-260,0-1-2")
        #expect(tls13.ja3Hash == "5a1edc7f170af1014fc65c994878e63c")
        let tls12 = try Self.parse(TLSFixtures.tls12)
        #expect(tls12.ja3String == "771,49196-49200-159-52393-52392-52394-49195-49199-158-49188-49192-107-49187-49191-103-49162-49172-57-49161-49171-51-157-156-61-60-53-47-255,0-11-10-35-16-22-23-13,29-23-30-25-24,0-1-2")
        #expect(tls12.ja3Hash == "22558766122974704364c9c75c5cce0a")
        // GREASE left out.
        var greased = tls13
        greased.cipherSuites.insert(0x1A1A, at: 0)
        greased.extensions.append(0xFAFA)
        greased.groups.insert(0x2A2A, at: 0)
        #expect(greased.ja3String == tls13.ja3String)
    }

    @Test func versionNamesAreSuricatas() {
        let names = [0x0200, 0x0300, 0x0301, 0x0302, 0x0303, 0x0304, 0x7F1C, 0x7F0E, 0xFB1A, 0x0A0A].map { TLSClientHello.versionName(UInt16($0)) }
        #expect(names == ["SSLv2", "SSLv3", "TLSv1", "TLS 1.1", "TLS 1.2", "TLS 1.3", "TLS 1.3 draft-28", "TLS 1.3 draft-<16", "0xfb1a", "0x0a0a"])
        // GREASE (RFC 8701) is never the version offered.
        var hello = try! Self.parse(TLSFixtures.tls13)
        hello.supportedVersions = [0x7A7A, 0x0304, 0x0303]
        #expect(hello.version == 0x0304 && TLSClientHello.isGREASE(0x7A7A) && !TLSClientHello.isGREASE(0x0304))
    }

    /// Every strict prefix is `truncated` (more bytes may complete it), never a trap or a
    /// wrong answer; bytes after the message are ignored.
    @Test func everyPrefixIsTruncated() throws {
        for fixture in [TLSFixtures.tls13, TLSFixtures.tls12] {
            for cut in 0..<fixture.count {
                #expect(Self.failure(Array(fixture[..<cut])) == .truncated, "cut at \(cut)")
            }
            #expect(try Self.parse(fixture + [23, 3, 3, 0, 1, 0]) == Self.parse(fixture))
        }
    }

    /// A ClientHello cut into two segments anywhere is read once both arrived.
    @Test func aHelloSplitAcrossSegments() throws {
        let whole = try Self.parse(TLSFixtures.tls13)
        for cut in 1..<TLSFixtures.tls13.count {
            var reader = TLSClientHelloReader()
            let first = Array(TLSFixtures.tls13[..<cut]).withUnsafeBytes { reader.feed($0, sequence: 1000) }
            // A retransmission of the first part changes nothing.
            let again = Array(TLSFixtures.tls13[..<cut]).withUnsafeBytes { reader.feed($0, sequence: 1000) }
            let second = Array(TLSFixtures.tls13[cut...]).withUnsafeBytes { reader.feed($0, sequence: 1000 + UInt32(cut)) }
            #expect(first == .needMore && again == .needMore && second == .hello(whole), "cut at \(cut)")
        }
        var reader = TLSClientHelloReader()
        #expect(TLSFixtures.tls13.withUnsafeBytes { reader.feed($0, sequence: 7) } == .hello(whole))
        #expect(TLSFixtures.tls13.withUnsafeBytes { reader.feed($0, sequence: 7) } == .needMore)
    }

    /// The handshake message split across two records (RFC 8446 §5.1 allows it).
    @Test func aHelloSplitAcrossRecords() throws {
        let message = Array(TLSFixtures.tls13[5...])
        for cut in [1, 4, 100, message.count - 1] {
            let records = [22, 3, 1, UInt8(cut >> 8), UInt8(cut & 0xFF)] + message[..<cut]
                + [22, 3, 1, UInt8((message.count - cut) >> 8), UInt8((message.count - cut) & 0xFF)] + message[cut...]
            #expect(try Self.parse(records) == Self.parse(TLSFixtures.tls13), "cut at \(cut)")
        }
    }

    @Test func segmentsOutOfOrderAndTooLong() {
        var reader = TLSClientHelloReader()
        #expect(Array(TLSFixtures.tls13[..<100]).withUnsafeBytes { reader.feed($0, sequence: 0) } == .needMore)
        #expect(Array(TLSFixtures.tls13[200...]).withUnsafeBytes { reader.feed($0, sequence: 200) } == .failed(.gap))
        var small = TLSClientHelloReader(limit: 200)
        #expect(TLSFixtures.tls13.withUnsafeBytes { small.feed($0, sequence: 0) } == .failed(.tooLong))
        // A handshake message of 16 MiB - 1 announced: refused before it arrives.
        var huge = TLSClientHelloReader()
        #expect(([22, 3, 1, 0, 4, 1, 0xFF, 0xFF, 0xFF] as [UInt8]).withUnsafeBytes { huge.feed($0, sequence: 0) } == .failed(.tooLong))
    }

    @Test func brokenHellos() {
        var hello = TLSFixtures.tls13
        #expect(Self.failure(Array("GET / HTTP/1.1\r\n\r\n".utf8)) == .notHandshake)
        hello[5] = 2  // a ServerHello
        #expect(Self.failure(hello) == .notClientHello)
        hello = TLSFixtures.tls13
        hello[1] = 2  // record version 2.1
        #expect(Self.failure(hello) == .badRecord)
        hello = TLSFixtures.tls13
        hello[43] = 33  // session id length 33
        #expect(Self.failure(hello) == .badLength)
        // server_name's list length one more than its extension holds (offset of its extension found by type 0).
        let sni = Self.offset(ofExtension: 0, in: TLSFixtures.tls13)
        hello = TLSFixtures.tls13
        hello[sni + 5] += 1
        #expect(Self.failure(hello) == .badExtension)
        // The same extension twice: supported_groups' type written over ec_point_formats'.
        let formats = Self.offset(ofExtension: 11, in: TLSFixtures.tls13)
        hello = TLSFixtures.tls13
        hello[formats + 1] = 10
        #expect(Self.failure(hello) == .badExtension)
    }

    /// Where an extension of this type starts (its type bytes) in a one-record ClientHello.
    static func offset(ofExtension type: UInt16, in hello: [UInt8]) -> Int {
        var offset = 5 + 4 + 2 + 32
        offset += 1 + Int(hello[offset])
        offset += 2 + (Int(hello[offset]) << 8 | Int(hello[offset + 1]))
        offset += 1 + Int(hello[offset])
        offset += 2
        while offset + 4 <= hello.count {
            if UInt16(hello[offset]) << 8 | UInt16(hello[offset + 1]) == type { return offset }
            offset += 4 + (Int(hello[offset + 2]) << 8 | Int(hello[offset + 3]))
        }
        return -1
    }

    @Test func helloesAreRecognisedByTheirFirstBytes() {
        #expect(TLSFixtures.tls13.withUnsafeBytes { TLSClientHello.looksLikeClientHello($0) })
        #expect(TLSFixtures.tls12.withUnsafeBytes { TLSClientHello.looksLikeClientHello($0) })
        for (name, segments) in HTTPFixtures.all {
            #expect(!segments[0].payload.withUnsafeBytes { TLSClientHello.looksLikeClientHello($0) }, "\(name)")
        }
        for bytes: [UInt8] in [[], [22], [22, 3, 1, 0, 5, 2], [23, 3, 3, 0, 1], [22, 2, 0]] as [[UInt8]] {
            #expect(!bytes.withUnsafeBytes { TLSClientHello.looksLikeClientHello($0) }, "\(bytes)")
        }
    }

    @Test func errorNamesAreStableAndDistinct() {
        let names = TLSParseError.allCases.map { "\($0.name)" }
        #expect(Set(names).count == names.count && names.allSatisfy { $0.hasPrefix("tls.") })
        #expect(names.contains("tls.truncated") && names.contains("tls.bad_extension"))
    }
}
