/// IANA protocol numbers flowmon decodes (https://www.iana.org/assignments/protocol-numbers).
public enum IPProtocolNumber {
    public static let hopByHop: UInt8 = 0
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let ipip: UInt8 = 4
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let ipv6: UInt8 = 41
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let authentication: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let noNextHeader: UInt8 = 59
    public static let destinationOptions: UInt8 = 60
    public static let mobility: UInt8 = 135
    public static let hip: UInt8 = 139
    public static let shim6: UInt8 = 140
    public static let sctp: UInt8 = 132
    /// RFC 5798.
    public static let vrrp: UInt8 = 112

    /// Whether the transport has ports (TCP, UDP, SCTP): what flows, services and port rules key on.
    @inlinable
    public static func carriesPorts(_ number: UInt8) -> Bool { number == tcp || number == udp || number == sctp }

    /// The name EVE uses in `proto` ("TCP", "UDP", "ICMP", "IPv6-ICMP", "SCTP", ...).
    /// Numbers without a name print as their decimal value.
    public static func eveName(_ number: UInt8) -> StaticString? {
        switch number {
        case icmp: "ICMP"
        case igmp: "IGMP"
        case ipip: "IPIP"
        case tcp: "TCP"
        case udp: "UDP"
        case ipv6: "IPv6"
        case gre: "GRE"
        case esp: "ESP"
        case authentication: "AH"
        case icmpv6: "IPv6-ICMP"
        case sctp: "SCTP"
        case 89: "OSPF"
        case 103: "PIM"
        case vrrp: "VRRP"
        default: nil
        }
    }
}
