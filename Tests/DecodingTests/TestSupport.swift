import Decoding
import FlowCore

/// Bytes from annotated hex: whitespace is ignored and `#` starts a comment that runs to
/// the end of the line, so fixtures can name every field (like gopacket's tcpdump -X notes).
func bytes(fromHex text: String) -> [UInt8] {
    var result: [UInt8] = []
    var high: UInt8? = nil
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        for character in line {
            if character == "#" { break }
            guard let nibble = character.hexDigitValue else {
                precondition(character.isWhitespace, "unexpected character \(character) in hex fixture")
                continue
            }
            if let h = high {
                result.append(h << 4 | UInt8(nibble))
                high = nil
            } else {
                high = UInt8(nibble)
            }
        }
    }
    precondition(high == nil, "odd number of hex digits in fixture")
    return result
}

/// Decodes `data` (or its first `length` bytes) as one frame of `link`.
func decode(_ data: [UInt8], link: LinkLayer, length: Int? = nil) -> PacketSummary {
    var summary = PacketSummary()
    data.withUnsafeBytes { raw in
        let frame = PacketBytes(raw)
        LayerParser().parse(length.map { frame.prefix($0) } ?? frame, link: link, into: &summary)
    }
    return summary
}

func decode(hex: String, link: LinkLayer = .ethernet) -> PacketSummary {
    decode(bytes(fromHex: hex), link: link)
}

extension IPAddress {
    /// Parses dotted-quad IPv4 or RFC 4291 §2.2 IPv6 text (with `::`), for test expectations.
    init(_ text: String) {
        if !text.contains(":") {
            let parts = text.split(separator: ".").map { UInt32($0)! }
            precondition(parts.count == 4, "bad IPv4 \(text)")
            self.init(ipv4: parts[0] << 24 | parts[1] << 16 | parts[2] << 8 | parts[3])
            return
        }
        let groupsOf = { (part: Substring) in part.split(separator: ":").map { UInt16($0, radix: 16)! } }
        let groups: [UInt16]
        if let gap = text.firstRange(of: "::") {
            let head = groupsOf(text[..<gap.lowerBound])
            let tail = groupsOf(text[gap.upperBound...])
            groups = head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail
        } else {
            groups = groupsOf(text[...])
        }
        precondition(groups.count == 8, "bad IPv6 \(text)")
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, group) in groups.enumerated() {
            if index < 4 { high = high << 16 | UInt64(group) } else { low = low << 16 | UInt64(group) }
        }
        self.init(high: high, low: low)
    }
}

extension PacketSummary {
    var vlanIDList: [UInt16] {
        Array([self.vlanIDs.0, self.vlanIDs.1, self.vlanIDs.2].prefix(Int(self.vlanCount)))
    }

    /// The fields a shorter capture of the same packet must reproduce unless it reports a
    /// truncation (everything but payloadLength and the best-effort ICMP quote).
    var flowFields: String {
        "v\(ipVersion) \(source.high):\(source.low) > \(destination.high):\(destination.low) p\(ipProtocol)"
            + " ttl\(ttl) ports\(hasPorts) \(sourcePort)>\(destinationPort) flags\(tcpFlags) seq\(tcpSequence)"
            + " ack\(tcpAcknowledgement) thl\(tcpHeaderLength) icmp\(hasICMP) \(icmpType)/\(icmpCode)"
            + " id\(icmpIdentifier) frag\(isFragment) \(fragmentID) \(fragmentOffset) \(moreFragments)"
            + " vlan\(vlanCount) \(vlanIDList) mpls\(mplsLabelCount) tunnel\(tunnel.rawValue) depth\(tunnelDepth)"
            + " \(tunnelSource.low)>\(tunnelDestination.low) vni\(tunnelVNI)"
    }

    var quotedFields: String {
        "\(hasQuotedPacket) \(quotedSource.high):\(quotedSource.low) > \(quotedDestination.high):"
            + "\(quotedDestination.low) p\(quotedProtocol) \(quotedSourcePort)>\(quotedDestinationPort)"
    }
}

/// The prefix property. A capture cut to `prefix` bytes of a frame whose full decode is
/// `full` must either report a truncation, or decode to the same flow fields and anomaly
/// with no more payload than the full frame (the cut fell in payload or padding). The ICMP
/// quote is best effort, so it may be missing but not different.
func prefixViolation(_ prefix: PacketSummary, full: PacketSummary) -> String? {
    if prefix.anomaly?.kind == .truncated { return nil }
    if prefix.anomaly != full.anomaly {
        return "anomaly \(prefix.anomaly.map { "\($0.name)" } ?? "nil"), full: \(full.anomaly.map { "\($0.name)" } ?? "nil")"
    }
    if prefix.flowFields != full.flowFields { return "fields \(prefix.flowFields)\n full: \(full.flowFields)" }
    if prefix.payloadLength > full.payloadLength { return "payload \(prefix.payloadLength) > \(full.payloadLength)" }
    if prefix.hasQuotedPacket, prefix.quotedFields != full.quotedFields { return "quote \(prefix.quotedFields)" }
    return nil
}

extension DecodeAnomaly: CustomStringConvertible {
    public var description: String { "\(self.name)" }
}
