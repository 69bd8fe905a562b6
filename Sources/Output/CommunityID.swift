import Datapath
import FlowCore

/// Corelight's Community ID flow hash, version 1 (github.com/corelight/community-id-spec), the
/// `community_id` that Suricata (`community-id: yes`), Zeek and Elastic write:
///
///     "1:" + base64(SHA-1(seed . saddr . daddr . proto . 0 . sport . dport))
///
/// with the 16-bit seed, addresses (4 or 16 bytes) and ports in network byte order, and the
/// endpoints ordered so the numerically smaller address (then port) comes first: both
/// directions of a connection hash the same. TCP, UDP and SCTP hash their ports; ICMP and
/// ICMPv6 hash type and code mapped to port-like values (Zeek's `ICMP4_counterpart` /
/// `ICMP6_counterpart`: a query type and its answer type for two-way messages, whose
/// endpoints are ordered; the type and the code for the rest, one-way messages, kept in the
/// sender's order); other protocols hash no ports. The digest is computed when the record is
/// written, on the stack: nothing is allocated.
public enum CommunityID {
    /// Appends `"1:<base64 of the digest>"` (with quotes) for a message from `source` to
    /// `destination`. For ICMP (1) and ICMPv6 (58) the ports are the message's type and code,
    /// as in the spec's tables; for protocols without ports they are ignored. `ipv6`: hash
    /// 16-byte addresses (an IPv6 header's), else 4-byte ones.
    public static func append(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
                              ipProtocol: UInt8, ipv6: Bool, seed: UInt16, to out: inout JSONBuffer) {
        if ipProtocol == IPProtocolNumber.icmp || ipProtocol == IPProtocolNumber.icmpv6 {
            let type = UInt8(truncatingIfNeeded: sourcePort)
            let counterpart = Self.counterpart(of: type, ipv6: ipProtocol == IPProtocolNumber.icmpv6)
            appendOrdered(source: source, sourcePort: UInt16(type), destination: destination,
                          destinationPort: counterpart != nil ? UInt16(counterpart!) : destinationPort, ipProtocol: ipProtocol,
                          hasPorts: true, oneWay: counterpart == nil, ipv6: ipv6, seed: seed, to: &out)
        } else {
            let hasPorts = IPProtocolNumber.carriesPorts(ipProtocol)
            appendOrdered(source: source, sourcePort: hasPorts ? sourcePort : 0, destination: destination,
                          destinationPort: hasPorts ? destinationPort : 0, ipProtocol: ipProtocol,
                          hasPorts: hasPorts, oneWay: false, ipv6: ipv6, seed: seed, to: &out)
        }
    }

    /// Orders the endpoints, hashes them and appends the quoted ID.
    private static func appendOrdered(source: IPAddress, sourcePort: UInt16, destination: IPAddress,
                                      destinationPort: UInt16, ipProtocol: UInt8, hasPorts: Bool, oneWay: Bool,
                                      ipv6: Bool, seed: UInt16, to out: inout JSONBuffer) {
        var (source, destination) = (source, destination)
        var (sourcePort, destinationPort) = (sourcePort, destinationPort)
        // Smaller (address, port) first (the spec's `order_endpoints`); a one-way ICMP message
        // keeps its sender first. `IPAddress` orders as its bytes in network order do.
        let ordered = oneWay || source < destination || (source == destination && sourcePort < destinationPort)
        if !ordered {
            swap(&source, &destination)
            swap(&sourcePort, &destinationPort)
        }
        // At most 2 + 16 + 16 + 1 + 1 + 4 = 40 bytes, on the stack.
        var input: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        var digest: (UInt64, UInt64, UInt64) = (0, 0, 0)
        withUnsafeMutableBytes(of: &input) { bytes in
            bytes.storeBytes(of: seed.bigEndian, toByteOffset: 0, as: UInt16.self)
            var length = Self.store(source, ipv6: ipv6, into: bytes, at: 2)
            length = Self.store(destination, ipv6: ipv6, into: bytes, at: length)
            bytes[length] = ipProtocol
            bytes[length + 1] = 0
            length += 2
            if hasPorts {
                bytes.storeBytes(of: sourcePort.bigEndian, toByteOffset: length, as: UInt16.self)
                bytes.storeBytes(of: destinationPort.bigEndian, toByteOffset: length + 2, as: UInt16.self)
                length += 4
            }
            withUnsafeMutableBytes(of: &digest) { digest in
                SHA1.hash(UnsafeRawBufferPointer(rebasing: bytes[0..<length]), into: digest)
            }
        }
        out.append(raw: "\"1:")
        withUnsafeBytes(of: &digest) { Self.appendBase64(UnsafeRawBufferPointer(rebasing: $0[0..<20]), to: &out) }
        out.append(byte: UInt8(ascii: "\""))
    }

    /// Stores an address in network order at `offset`: 16 bytes (`ipv6`) or the IPv4 value's 4;
    /// returns the offset after it.
    private static func store(_ address: IPAddress, ipv6: Bool, into bytes: UnsafeMutableRawBufferPointer, at offset: Int) -> Int {
        if ipv6 {
            bytes.storeBytes(of: address.high.bigEndian, toByteOffset: offset, as: UInt64.self)
            bytes.storeBytes(of: address.low.bigEndian, toByteOffset: offset + 8, as: UInt64.self)
            return offset + 16
        }
        bytes.storeBytes(of: address.ipv4Value.bigEndian, toByteOffset: offset, as: UInt32.self)
        return offset + 4
    }

    /// Appends the connection's ID: from the initiator's first ICMP message if there was one,
    /// else the responder's (then the responder is the sender), else from the 5-tuple. An ICMP
    /// connection whose messages were never read (fragments only) hashes without ports.
    public static func append(_ flow: FlowEntry, seed: UInt16, to out: inout JSONBuffer) {
        let ipv6 = flow.ipVersion == 6
        let isICMP = flow.ipProtocol == IPProtocolNumber.icmp || flow.ipProtocol == IPProtocolNumber.icmpv6
        if isICMP && !flow.hasICMP && flow.hasResponseICMP {
            append(source: flow.destinationAddress, sourcePort: UInt16(flow.responseICMPType),
                   destination: flow.sourceAddress, destinationPort: UInt16(flow.responseICMPCode),
                   ipProtocol: flow.ipProtocol, ipv6: ipv6, seed: seed, to: &out)
        } else if isICMP && !flow.hasICMP {
            // No type to hash: the spec's port-less form, as for other protocols.
            appendOrdered(source: flow.sourceAddress, sourcePort: 0, destination: flow.destinationAddress,
                          destinationPort: 0, ipProtocol: flow.ipProtocol, hasPorts: false, oneWay: false,
                          ipv6: ipv6, seed: seed, to: &out)
        } else if isICMP {
            append(source: flow.sourceAddress, sourcePort: UInt16(flow.icmpType),
                   destination: flow.destinationAddress, destinationPort: UInt16(flow.icmpCode),
                   ipProtocol: flow.ipProtocol, ipv6: ipv6, seed: seed, to: &out)
        } else {
            append(source: flow.sourceAddress, sourcePort: flow.sourcePort, destination: flow.destinationAddress,
                   destinationPort: flow.destinationPort, ipProtocol: flow.ipProtocol, ipv6: ipv6, seed: seed, to: &out)
        }
    }

    /// The answer type of a two-way ICMP query or the query type of an answer, as Zeek pairs
    /// them (src/analyzer/protocol/icmp/ICMP.cc, `ICMP4_counterpart`/`ICMP6_counterpart`, which
    /// the spec adopts): ICMPv4 echo 8/0, router solicitation/advertisement 10/9 (RFC 1256),
    /// timestamp 13/14, information 15/16, address mask 17/18 (RFC 792, RFC 950); ICMPv6 echo
    /// 128/129 (RFC 4443), multicast listener query/report 130/131 (RFC 2710), router 133/134 and
    /// neighbor 135/136 solicitation/advertisement (RFC 4861), node information "who are you"
    /// 139/140 (RFC 4620), home agent address discovery 144/145 (RFC 6275). nil: a one-way type.
    static func counterpart(of type: UInt8, ipv6: Bool) -> UInt8? {
        if ipv6 {
            switch type {
            case 128: return 129
            case 129: return 128
            case 130: return 131
            case 131: return 130
            case 133: return 134
            case 134: return 133
            case 135: return 136
            case 136: return 135
            case 139: return 140
            case 140: return 139
            case 144: return 145
            case 145: return 144
            default: return nil
            }
        }
        switch type {
        case 8: return 0
        case 0: return 8
        case 10: return 9
        case 9: return 10
        case 13: return 14
        case 14: return 13
        case 15: return 16
        case 16: return 15
        case 17: return 18
        case 18: return 17
        default: return nil
        }
    }

    /// Standard base64 with padding (RFC 4648 §4): 20 bytes give 28 characters.
    static func appendBase64(_ bytes: UnsafeRawBufferPointer, to out: inout JSONBuffer) {
        let alphabet: StaticString = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let symbols = alphabet.utf8Start
        var index = 0
        while index < bytes.count {
            let available = min(3, bytes.count - index)
            let b0 = UInt32(bytes[index])
            let b1 = available > 1 ? UInt32(bytes[index + 1]) : 0
            let b2 = available > 2 ? UInt32(bytes[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(byte: symbols[Int(group >> 18 & 63)])
            out.append(byte: symbols[Int(group >> 12 & 63)])
            out.append(byte: available > 1 ? symbols[Int(group >> 6 & 63)] : UInt8(ascii: "="))
            out.append(byte: available > 2 ? symbols[Int(group & 63)] : UInt8(ascii: "="))
            index += 3
        }
    }
}
