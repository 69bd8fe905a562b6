@testable import Output
import Decoding
import Testing

/// The `Summary` of `--hubble` lines as Cilium's parser writes it: ICMP type and code names
/// as gopacket's `ICMPv4TypeCode.String()` / `ICMPv6TypeCode.String()` print them, TCP flags
/// in the order of Cilium's `getTCPFlags`.
struct HubbleSummaryTests {
    static func icmp(_ type: UInt8, _ code: UInt8, v6: Bool) -> String {
        JSONBufferTests.render { ICMPNames.append(type: type, code: code, v6: v6, to: &$0) }
    }

    @Test(arguments: [
        (UInt8(8), UInt8(0), false, "EchoRequest"),
        (0, 0, false, "EchoReply"),
        (3, 3, false, "DestinationUnreachable(Port)"),
        (3, 13, false, "DestinationUnreachable(CommAdminProhibited)"),
        (3, 0, false, "DestinationUnreachable(Net)"),
        (3, 99, false, "DestinationUnreachable(Code: 99)"),
        (5, 2, false, "Redirect(TOS+Net)"),
        (11, 0, false, "TimeExceeded(TTLExceeded)"),
        (8, 1, false, "EchoRequest(Code: 1)"),
        (42, 7, false, "42(7)"),
        (128, 0, true, "EchoRequest"),
        (1, 4, true, "DestinationUnreachable(PortUnreachable)"),
        (2, 0, true, "PacketTooBig"),
        (3, 0, true, "TimeExceeded(HopLimitExceeded)"),
        (135, 0, true, "NeighborSolicitation"),
        (8, 0, true, "8(0)"),
    ])
    func icmpNames(type: UInt8, code: UInt8, v6: Bool, expected: String) {
        #expect(Self.icmp(type, code, v6: v6) == expected)
    }

    @Test func tcpFlagsInCiliumsOrder() {
        let order = (0..<9).map { HubbleRecord.flagName(HubbleRecord.summaryFlag($0)).description }
        #expect(order == ["SYN", "ACK", "RST", "FIN", "PSH", "URG", "ECE", "CWR", "NS"])
        #expect(Set((0..<9).map { HubbleRecord.summaryFlag($0) }).count == 9)
    }
}
