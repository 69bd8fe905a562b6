import Datapath
import Decoding
import FlowCore

/// Builds decoded-packet summaries for flow-table tests without going through bytes.
enum Packet {
    static func address(_ last: UInt32) -> IPAddress { IPAddress(ipv4: 0x0af4_0000 | last) }  // 10.244.0.x

    static func tcp(_ from: UInt32, _ sourcePort: UInt16, _ to: UInt32, _ destinationPort: UInt16,
                    _ flags: UInt16) -> PacketSummary {
        var s = PacketSummary()
        s.ipVersion = 4
        s.source = address(from)
        s.destination = address(to)
        s.ipProtocol = IPProtocolNumber.tcp
        s.hasPorts = true
        s.sourcePort = sourcePort
        s.destinationPort = destinationPort
        s.tcpFlags = flags
        s.tcpHeaderLength = 20
        return s
    }

    static func udp(_ from: UInt32, _ sourcePort: UInt16, _ to: UInt32, _ destinationPort: UInt16) -> PacketSummary {
        var s = PacketSummary()
        s.ipVersion = 4
        s.source = address(from)
        s.destination = address(to)
        s.ipProtocol = IPProtocolNumber.udp
        s.hasPorts = true
        s.sourcePort = sourcePort
        s.destinationPort = destinationPort
        return s
    }

    static func icmp(_ from: UInt32, _ to: UInt32, type: UInt8, identifier: UInt16) -> PacketSummary {
        var s = PacketSummary()
        s.ipVersion = 4
        s.source = address(from)
        s.destination = address(to)
        s.ipProtocol = IPProtocolNumber.icmp
        s.hasICMP = true
        s.icmpType = type
        s.icmpIdentifier = identifier
        return s
    }

    /// An ICMP error from `from` to `to` quoting `quoted` as its sender sent it.
    static func icmpError(_ from: UInt32, _ to: UInt32, type: UInt8, code: UInt8, quoting quoted: PacketSummary)
        -> PacketSummary
    {
        var s = icmp(from, to, type: type, identifier: 0)
        s.icmpCode = code
        s.hasQuotedPacket = true
        s.quotedSource = quoted.source
        s.quotedDestination = quoted.destination
        s.quotedProtocol = quoted.ipProtocol
        s.quotedSourcePort = quoted.hasPorts ? quoted.sourcePort : quoted.icmpIdentifier
        s.quotedDestinationPort = quoted.hasPorts ? quoted.destinationPort : quoted.icmpIdentifier
        return s
    }

    static func at(_ seconds: Double) -> CaptureTime {
        CaptureTime(nanoseconds: 1_700_000_000_000_000_000 + Int64(seconds * 1e9))
    }
}

/// Collects what a flow table ends.
final class EndedFlows {
    var flows: [(FlowEntry, FlowEndReason)] = []
    var reasons: [FlowEndReason] { self.flows.map(\.1) }
    func callAsFunction(_ flow: FlowEntry, _ reason: FlowEndReason) { self.flows.append((flow, reason)) }
}

let SYN = TCPFlag.syn, ACK = TCPFlag.ack, FIN = TCPFlag.fin, RST = TCPFlag.rst, PSH = TCPFlag.psh
