/// Why the decoder could not go further. Each case has a stable dotted name, used
/// verbatim in `stats` records and tests; Suricata's `decoder.*` event names are used
/// where one exists (`rules/decoder-events.rules`).
///
/// *Truncated*: the capture ended before the header did. *Malformed*: the bytes
/// contradict the protocol. *Unsupported*: valid, but not something flowmon decodes.
public enum DecodeAnomaly: UInt8, CaseIterable, Sendable {
    case ethernetTruncated = 1
    case ipv4Truncated
    case ipv4WrongVersion
    case ipv4HeaderLengthTooSmall
    case ipv4TotalLengthBelowHeaderLength
    case tcpTruncated
    case tcpHeaderLengthTooSmall
    case udpTruncated
    case unsupportedEtherType

    public var kind: Kind {
        switch self {
        case .ethernetTruncated, .ipv4Truncated, .tcpTruncated, .udpTruncated: .truncated
        case .ipv4WrongVersion, .ipv4HeaderLengthTooSmall, .ipv4TotalLengthBelowHeaderLength,
             .tcpHeaderLengthTooSmall: .malformed
        case .unsupportedEtherType: .unsupported
        }
    }

    /// The stable dotted counter name.
    public var name: StaticString {
        switch self {
        case .ethernetTruncated: "decoder.ethernet.truncated"
        case .ipv4Truncated: "decoder.ipv4.truncated"
        case .ipv4WrongVersion: "decoder.ipv4.wrong_ip_version"
        case .ipv4HeaderLengthTooSmall: "decoder.ipv4.hlen_too_small"
        case .ipv4TotalLengthBelowHeaderLength: "decoder.ipv4.iplen_smaller_than_hlen"
        case .tcpTruncated: "decoder.tcp.truncated"
        case .tcpHeaderLengthTooSmall: "decoder.tcp.hlen_too_small"
        case .udpTruncated: "decoder.udp.truncated"
        case .unsupportedEtherType: "decoder.ethernet.unknown_ethertype"
        }
    }

    public enum Kind: Sendable {
        case truncated, malformed, unsupported
    }

    public var isTruncation: Bool { self.kind == .truncated }
}
