import FlowCore
import Foundation
import TestSupport
@testable import L7
import Testing

/// DNS messages as real resolvers and servers sent them (DNSFixtures.swift), read as tshark
/// and dig read them.
@Suite struct DNSMessageTests {
    @Test func cnameChainWithCompressedNames() throws {
        let message = try RenderedMessage.parse(DNSFixture.appleCNAMEChain.bytes).get()
        #expect(message.id == 0x4fe8 && message.flags == 0x8180 && message.rcode == "NOERROR")
        #expect(message.questions == ["www.apple.com A 1"])
        #expect(message.answers == [
            "www.apple.com CNAME 271 www-apple-com.v.aaplimg.com",
            "www-apple-com.v.aaplimg.com CNAME 271 www.apple.com.edgekey.net",
            "www.apple.com.edgekey.net CNAME 271 e6858.dsce9.akamaiedge.net",
            "e6858.dsce9.akamaiedge.net A 9 23.194.101.24",
        ])
        #expect(message.authorities.isEmpty)
        // EDNS: the OPT record's class is the UDP payload size (RFC 6891 §6.1.2), 1232.
        #expect(message.additionals == [". OPT 0 (0 bytes)"])
    }

    @Test func headerFlags() throws {
        try DNSFixture.appleCNAMEChain.bytes.withUnsafeBytes { buffer in
            let message = try DNSMessage.parse(buffer).get()
            #expect(message.isResponse && message.recursionDesired && message.recursionAvailable)
            #expect(!message.isAuthoritative && !message.isTruncated && message.opcode == 0 && message.rcode == 0)
            #expect(message.questionCount == 1 && message.answerCount == 4 && message.authorityCount == 0 && message.additionalCount == 1)
            #expect(message.walkedEnd == buffer.count && message.unwalkedRecords == 0)
            let opt = try #require(Array(message.additionals).first)
            #expect(opt.rrtype == DNSRecordType.opt && opt.rrclass == 1232 && opt.name.isRoot)
        }
        try DNSFixture.appleQuery.bytes.withUnsafeBytes { buffer in
            let message = try DNSMessage.parse(buffer).get()
            #expect(!message.isResponse && message.recursionDesired && message.flags == 0x0120 && message.authenticData)
        }
        try DNSFixture.txtWithGlue.bytes.withUnsafeBytes { buffer in
            let message = try DNSMessage.parse(buffer).get()
            #expect(message.isAuthoritative && message.flags == 0x8500)
        }
    }

    @Test func aaaaRecords() throws {
        let message = try RenderedMessage.parse(DNSFixture.googleAAAA.bytes).get()
        #expect(message.questions == ["google.com AAAA 1"])
        #expect(message.answers == [
            "google.com AAAA 112 2607:f8b0:4023:2007::66", "google.com AAAA 112 2607:f8b0:4023:2007::8b",
            "google.com AAAA 112 2607:f8b0:4023:2007::71", "google.com AAAA 112 2607:f8b0:4023:2007::8a",
        ])
        let dnsmasq = try RenderedMessage.parse(DNSFixture.dnsmasqCNAMEAAAA.bytes).get()
        #expect(dnsmasq.answers == [
            "www.flowmon.test CNAME 0 web.flowmon.test", "web.flowmon.test CNAME 0 edge.flowmon.test", "edge.flowmon.test AAAA 0 fd00::7",
        ])
    }

    @Test func nxdomainAndRefused() throws {
        let ptr = try RenderedMessage.parse(DNSFixture.ptrNXDOMAIN.bytes).get()
        #expect(ptr.rcode == "NXDOMAIN" && ptr.questions == ["255.1.168.192.in-addr.arpa PTR 1"] && ptr.answers.isEmpty)
        let root = try RenderedMessage.parse(DNSFixture.rootNXDOMAIN.bytes).get()
        #expect(root.rcode == "NXDOMAIN" && root.answers.isEmpty)
        #expect(root.questions == ["xqt-detect-mode2-97712e88-167a-45b9-93ee-913140e76678 AAAA 1"])
        #expect(root.authorities == [". SOA 757 (64 bytes)"])
        #expect(try RenderedMessage.parse(DNSFixture.dnsmasqNXDOMAIN.bytes).get().rcode == "NXDOMAIN")
        #expect(try RenderedMessage.parse(DNSFixture.dnsmasqRefused.bytes).get().rcode == "REFUSED")
    }

    @Test func noDataWithSOA() throws {
        let message = try RenderedMessage.parse(DNSFixture.ynetNoData.bytes).get()
        #expect(message.answers == ["www.ynet.co.il CNAME 167 ynet.co.il.d4p.net", "ynet.co.il.d4p.net CNAME 5566 a39.g.akamai.net"])
        #expect(message.authorities.count == 1 && message.authorities[0].hasPrefix("g.akamai.net SOA 15 "))
    }

    @Test func ptrTargetsAndGlue() throws {
        let ptr = try RenderedMessage.parse(DNSFixture.ptrTwoTargets.bytes).get()
        #expect(ptr.answers == [
            "253.12.253.17.in-addr.arpa PTR 2700 usmia1-ntp-002.aaplimg.com", "253.12.253.17.in-addr.arpa PTR 2700 time.apple.com",
        ])
        let txt = try RenderedMessage.parse(DNSFixture.txtWithGlue.bytes).get()
        #expect(txt.answers.count == 1 && txt.answers[0].hasPrefix("txtpadding_323.n1.netalyzr.icsi.berkeley.edu TXT 1 "))
        #expect(txt.authorities == ["n1.netalyzr.icsi.berkeley.edu NS 100 roland.icir.org"])
        // The OPT record first, its TTL field with the DO bit (RFC 3225 §3): 0x8000.
        #expect(txt.additionals == [". OPT 32768 (0 bytes)", "roland.icir.org A 100 192.150.187.31"])
    }

    @Test func truncatedResponse() throws {
        try DNSFixture.dnsmasqTruncated.bytes.withUnsafeBytes { buffer in
            let message = try DNSMessage.parse(buffer).get()
            #expect(message.isTruncated && message.answerCount == 29)
            let addresses = message.answers.compactMap { $0.ipv4?.text }
            #expect(addresses.count == 29 && Set(addresses).count == 29 && addresses.allSatisfy { $0.hasPrefix("10.1.0.") })
            #expect(message.answers.allSatisfy { $0.name.isEqual(toText: "big.flowmon.test") })
        }
    }

    @Test func sixteenAddressesBehindACNAME() throws {
        let message = try RenderedMessage.parse(DNSFixture.sixteenA.bytes).get()
        #expect(message.answers.first == "www.google-analytics.com CNAME 57008 www-google-analytics.l.google.com")
        #expect(message.answers.dropFirst().map { $0.split(separator: " ")[3] } == [
            "212.199.219.237", "212.199.219.227", "212.199.219.246", "212.199.219.241", "212.199.219.222", "212.199.219.251",
            "212.199.219.212", "212.199.219.247", "212.199.219.232", "212.199.219.242", "212.199.219.216", "212.199.219.221",
            "212.199.219.217", "212.199.219.226", "212.199.219.231", "212.199.219.236",
        ])
    }

    /// Suricata's tables (rust/src/dns/log.rs), spellings included.
    @Test func suricataNames() {
        let types: [UInt16: String] = [1: "A", 2: "NS", 3: "ND", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 23: "NSAPPT", 28: "AAAA",
                                       33: "SRV", 41: "OPT", 60: "CDSNKEY", 65: "HTTPS", 255: "ANY", 256: "URI"]
        for (type, name) in types { #expect(rrtypeName(type).map { "\($0)" } == name) }
        for unnamed: UInt16 in [0, 31, 32, 40, 53, 64, 257, 65535] { #expect(rrtypeName(unnamed) == nil) }
        let rcodes = (0...15).map { rcodeName(UInt8($0)).map { "\($0)" } ?? "\($0)" }
        #expect(rcodes == ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET",
                           "NOTAUTH", "NOTZONE", "11", "12", "13", "14", "15"])
        let names = DNSParseError.allCases.map { "\($0.name)" }
        #expect(names == ["dns.truncated", "dns.bad_label", "dns.name_too_long", "dns.bad_pointer", "dns.too_many_pointers",
                          "dns.too_many_questions", "dns.bad_rdata"])
    }

    /// docs/l7.md's table lists every anomaly name, and no other `dns.` name.
    @Test func documentedAnomalies() throws {
        let text = try String(contentsOf: FlowmonTestSupport.root.appendingPathComponent("docs/l7.md"), encoding: .utf8)
        let documented = text.split(separator: "\n").filter { $0.hasPrefix("| `dns.") }.map { $0.split(separator: "`")[1] }
        #expect(documented.map(String.init) == DNSParseError.allCases.map { "\($0.name)" })
    }

    /// Every fixture parses with all its records walked and no byte left over, and every
    /// prefix of it fails as `dns.truncated` (or, over TCP, frames into a partial message),
    /// reading everything without trapping.
    @Test(arguments: DNSFixture.all)
    func everyPrefix(_ fixture: DNSFixture) throws {
        switch fixture.transport {
        case .udp:
            try fixture.bytes.withUnsafeBytes { buffer in
                let message = try DNSMessage.parse(buffer).get()
                #expect(message.walkedEnd == buffer.count && message.unwalkedRecords == 0)
            }
            for length in 0..<fixture.bytes.count {
                let result = RenderedMessage.parse(Array(fixture.bytes[..<length]))
                #expect(result == .failure(.truncated), "\(fixture.name) cut to \(length) bytes: \(result)")
            }
        case .tcp:
            let whole = RenderedFrame.frames(fixture.bytes)
            #expect(!whole.isEmpty && whole.allSatisfy { if case .message(.success) = $0 { true } else { false } })
            for length in 0..<fixture.bytes.count {
                let frames = RenderedFrame.frames(Array(fixture.bytes[..<length]))
                // The prefix's complete messages, as in the whole segment, then at most one
                // partial message that accounts for the rest of the bytes.
                let complete = frames.filter { if case .message = $0 { true } else { false } }
                #expect(complete == Array(whole.prefix(complete.count)), "\(fixture.name) cut to \(length) bytes")
                #expect(frames.dropLast().allSatisfy { if case .message = $0 { true } else { false } })
                var framed = 0
                for frame in frames {
                    switch frame {
                    case .message: framed += 2 + (Int(fixture.bytes[framed]) << 8 | Int(fixture.bytes[framed + 1]))
                    case .partial(let declared, let received): framed += declared == nil ? 1 : 2 + received
                    }
                }
                #expect(framed == length, "\(fixture.name) cut to \(length) bytes: \(frames.count) frames cover \(framed) bytes")
            }
        }
    }
}
