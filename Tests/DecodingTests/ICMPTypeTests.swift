import FlowCore
import Testing

/// The one ICMP vocabulary: roles and names per family (RFC 792, RFC 4443, RFC 4861).
struct ICMPTypeTests {
    static let families = [false, true]

    /// Queries carry an identifier and so do their answers; errors quote a packet; nothing is both.
    @Test(arguments: families)
    func rolesDecideIdentifierAndQuote(_ ipv6: Bool) {
        for type in UInt8.min...UInt8.max {
            let role = ICMPType.role(type, ipv6: ipv6)
            #expect(ICMPType.hasIdentifier(type, ipv6: ipv6) == (role == .request || role == .reply))
            #expect(ICMPType.isError(type, ipv6: ipv6) == (role == .error || role == .connectionError))
            if ICMPType.row(type, ipv6: ipv6) == nil { #expect(role == .other) }
        }
    }

    /// Every request is answered by the next type number (echo 8/0 is the exception in ICMPv4).
    @Test(arguments: families)
    func requestsHaveReplies(_ ipv6: Bool) {
        for type in UInt8.min..<UInt8.max where ICMPType.role(type, ipv6: ipv6) == .request {
            let reply = type == ICMPType.echoRequest && !ipv6 ? ICMPType.echoReply : type + 1
            #expect(ICMPType.role(reply, ipv6: ipv6) == .reply, "\(type)")
        }
    }

    @Test func namedConstants() {
        #expect("\(ICMPType.row(ICMPType.echoRequest, ipv6: false)!.hubbleName)" == "EchoRequest")
        #expect("\(ICMPType.row(ICMPType.echoRequestV6, ipv6: true)!.name!)" == "echo")
        #expect("\(ICMPType.row(ICMPType.echoReplyV6, ipv6: true)!.name!)" == "echo-reply")
        #expect("\(ICMPType.row(ICMPType.unreachable, ipv6: false)!.name!)" == "unreachable")
        #expect("\(ICMPType.row(ICMPType.unreachableV6, ipv6: true)!.hubbleName)" == "DestinationUnreachable")
        // Cilium relates unreachable, time exceeded, parameter problem and packet too big to the
        // connection they quote; not source quench (4) or redirect (5).
        #expect([3, 11, 12].allSatisfy { ICMPType.role($0, ipv6: false) == .connectionError })
        #expect([4, 5].allSatisfy { ICMPType.role($0, ipv6: false) == .error })
        #expect([1, 2, 3, 4].allSatisfy { ICMPType.role($0, ipv6: true) == .connectionError })
    }

    /// Names are unique within a family, in both vocabularies.
    @Test(arguments: families)
    func namesAreUnique(_ ipv6: Bool) {
        let rows = (UInt8.min...UInt8.max).compactMap { ICMPType.row($0, ipv6: ipv6) }
        #expect(Set(rows.map { "\($0.hubbleName)" }).count == rows.count)
        let short = rows.compactMap { $0.name.map { "\($0)" } }
        #expect(Set(short).count == short.count)
        let cilium = ICMPType.ciliumNames(ipv6: ipv6)
        #expect(Set(cilium.map { "\($0.name)" }).count == cilium.count)
        #expect(cilium.map(\.type) == cilium.map(\.type).sorted(), "Cilium's names are listed in type order")
    }

    /// Cilium's policy names (pkg/policy/api/icmp.go) are their own column: ICMPv4 type 8 is
    /// both `Echo` and `EchoRequest`, and some differ from Hubble's (`RouterSelection`, `RedirectMessage`).
    @Test func ciliumNamesAreCiliums() {
        let v4 = ICMPType.ciliumNames(ipv6: false), v6 = ICMPType.ciliumNames(ipv6: true)
        #expect(v4.filter { $0.type == ICMPType.echoRequest }.map { "\($0.name)" } == ["Echo", "EchoRequest"])
        #expect(v4.filter { $0.type == 10 }.map { "\($0.name)" } == ["RouterSelection"])
        #expect(v6.filter { $0.type == 137 }.map { "\($0.name)" } == ["RedirectMessage"])
        #expect(v4.count == 14 && v6.count == 27)
    }
}
