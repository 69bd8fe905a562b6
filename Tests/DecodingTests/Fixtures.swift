import Decoding
import FlowCore

/// Annotated hex building blocks. Addresses: 10.0.0.1 > 10.0.0.2 inside, 192.168.0.1 >
/// 192.168.0.2 for tunnel outer headers, 2001:db8::1 > 2001:db8::2 for IPv6.
enum Hex {
    static let ethIPv4 = """
        0200 0000 0002  0200 0000 0001  0800   # Ethernet: dst 02:..:02, src 02:..:01, type IPv4

        """
    static let ethIPv6 = """
        0200 0000 0002  0200 0000 0001  86dd   # Ethernet: type IPv6

        """
    /// IPv4 + TCP SYN, 40 bytes.
    static let ipv4TCP = """
        4500 0028                  # IPv4: version 4, IHL 5, TOS 0, total length 40
        0001 0000                  #   id 1, flags 0, fragment offset 0
        4006 0000                  #   TTL 64, protocol 6 (TCP), checksum (unchecked)
        0a00 0001  0a00 0002       #   10.0.0.1 > 10.0.0.2

        """
    static let tcpSYN = """
        9c40 0050                  # TCP: 40000 > 80
        0000 0001  0000 0000       #   seq 1, ack 0
        5002 ffff                  #   data offset 5, flags SYN, window 65535
        0000 0000                  #   checksum, urgent pointer

        """
    /// IPv4 + UDP 54321 > 53 with 8 bytes of payload, 36 bytes.
    static let ipv4UDP = """
        4500 0024  0002 0000  4011 0000   # IPv4: total 36, id 2, TTL 64, protocol 17 (UDP)
        0a00 0001  0a00 0002              #   10.0.0.1 > 10.0.0.2
        d431 0035  0010 0000              # UDP: 54321 > 53, length 16, checksum
        6869 6869  6869 6869              #   payload (8 bytes)

        """
    /// IPv4 ICMP echo request, id 0x1234, 28 bytes.
    static let ipv4ICMPEcho = """
        4500 001c  0003 0000  4001 0000   # IPv4: total 28, protocol 1 (ICMP)
        0a00 0001  0a00 0002              #   10.0.0.1 > 10.0.0.2
        0800 0000  1234 0001              # ICMP: echo request (8/0), id 0x1234, seq 1

        """
    static let ipv6Addresses = """
        2001 0db8 0000 0000 0000 0000 0000 0001   #   source 2001:db8::1
        2001 0db8 0000 0000 0000 0000 0000 0002   #   destination 2001:db8::2

        """
    /// IPv6 + UDP 54321 > 53, 8 bytes of payload, 56 bytes.
    static let ipv6UDP = """
        6000 0000  0010 1140   # IPv6: version 6, payload length 16, next header UDP, hop limit 64
        \(ipv6Addresses)
        d431 0035  0010 0000   # UDP: 54321 > 53, length 16
        6869 6869  6869 6869   #   payload

        """
    /// An outer IPv4 header 192.168.0.1 > 192.168.0.2 with the given total length and protocol.
    static func outerIPv4(total: String, proto: String) -> String {
        """
        4500 \(total)  0009 0000  40\(proto) 0000   # outer IPv4: total 0x\(total), protocol 0x\(proto)
        c0a8 0001  c0a8 0002                        #   192.168.0.1 > 192.168.0.2

        """
    }
}

/// What a row expects. `nil` fields are not checked; `anomaly` is always checked.
struct Expect: Sendable {
    var anomaly: DecodeAnomaly? = nil
    var ipVersion: UInt8? = nil
    var source: String? = nil
    var destination: String? = nil
    var ipProtocol: UInt8? = nil
    var ports: (UInt16, UInt16)? = nil
    var hasPorts: Bool? = nil
    var tcpFlags: UInt16? = nil
    var payloadLength: Int? = nil
    var fragment: (id: UInt32, offset: UInt16, more: Bool)? = nil
    var isFragment: Bool? = nil
    var icmp: (type: UInt8, code: UInt8, identifier: UInt16)? = nil
    var quoted: (source: String, destination: String, proto: UInt8, sport: UInt16, dport: UInt16)? = nil
    var vlanIDs: [UInt16]? = nil
    var mplsLabels: UInt8? = nil
    var tunnel: TunnelKind? = nil
    var tunnelDepth: UInt8? = nil
    var tunnelSource: String? = nil
    var vni: UInt32? = nil
}

struct Row: Sendable, CustomStringConvertible {
    var name: String
    var link: LinkLayer = .ethernet
    var hex: String
    var expect: Expect
    var description: String { self.name }
}

func check(_ s: PacketSummary, _ e: Expect, _ name: String) -> [String] {
    var problems: [String] = []
    func same<T: Equatable>(_ label: String, _ actual: T, _ expected: T?) {
        if let expected, actual != expected { problems.append("\(name): \(label) = \(actual), expected \(expected)") }
    }
    if s.anomaly != e.anomaly {
        problems.append("\(name): anomaly = \(s.anomaly.map { "\($0.name)" } ?? "nil"), expected \(e.anomaly.map { "\($0.name)" } ?? "nil")")
    }
    same("ipVersion", s.ipVersion, e.ipVersion)
    same("source", s.source, e.source.map { IPAddress($0) })
    same("destination", s.destination, e.destination.map { IPAddress($0) })
    same("ipProtocol", s.ipProtocol, e.ipProtocol)
    if let (sp, dp) = e.ports {
        same("hasPorts", s.hasPorts, true)
        same("sourcePort", s.sourcePort, sp)
        same("destinationPort", s.destinationPort, dp)
    }
    same("hasPorts", s.hasPorts, e.hasPorts)
    same("tcpFlags", s.tcpFlags, e.tcpFlags)
    same("payloadLength", s.payloadLength, e.payloadLength)
    same("vlanIDs", s.vlanIDList, e.vlanIDs)
    same("mplsLabelCount", s.mplsLabelCount, e.mplsLabels)
    same("tunnel", s.tunnel, e.tunnel)
    same("tunnelDepth", s.tunnelDepth, e.tunnelDepth)
    same("tunnelSource", s.tunnelSource, e.tunnelSource.map { IPAddress($0) })
    same("tunnelVNI", s.tunnelVNI, e.vni)
    same("isFragment", s.isFragment, e.isFragment)
    if let f = e.fragment {
        same("isFragment", s.isFragment, true)
        same("fragmentID", s.fragmentID, f.id)
        same("fragmentOffset", s.fragmentOffset, f.offset)
        same("moreFragments", s.moreFragments, f.more)
    }
    if let i = e.icmp {
        same("hasICMP", s.hasICMP, true)
        same("icmpType", s.icmpType, i.type)
        same("icmpCode", s.icmpCode, i.code)
        same("icmpIdentifier", s.icmpIdentifier, i.identifier)
    }
    if let q = e.quoted {
        same("hasQuotedPacket", s.hasQuotedPacket, true)
        same("quotedSource", s.quotedSource, IPAddress(q.source))
        same("quotedDestination", s.quotedDestination, IPAddress(q.destination))
        same("quotedProtocol", s.quotedProtocol, q.proto)
        same("quotedSourcePort", s.quotedSourcePort, q.sport)
        same("quotedDestinationPort", s.quotedDestinationPort, q.dport)
    }
    return problems
}
