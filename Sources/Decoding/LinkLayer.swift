/// The link-layer header types flowmon decodes (tcpdump.org/linktypes.html).
public enum LinkLayer: UInt8, Sendable {
    /// LINKTYPE_ETHERNET (1).
    case ethernet
    /// LINKTYPE_LINUX_SLL (113): 16-byte Linux cooked header.
    case linuxSLL
    /// LINKTYPE_LINUX_SLL2 (276): 20-byte Linux cooked header v2.
    case linuxSLL2
    /// LINKTYPE_RAW (101), DLT_RAW 12 and 14: IPv4 or IPv6 by the version nibble.
    case rawIP
    /// LINKTYPE_IPV4 (228).
    case ipv4
    /// LINKTYPE_IPV6 (229).
    case ipv6
    /// LINKTYPE_NULL (0): 4-byte address family in the capturing host's byte order.
    case bsdNull
    /// LINKTYPE_LOOP (108): 4-byte address family in network byte order.
    case bsdLoop

    /// The decoder for a link type from a capture file header or interface block, or `nil`
    /// when flowmon does not decode it (counted and reported, not fatal).
    @inlinable
    public init?(linkType: UInt32) {
        switch linkType {
        case 1: self = .ethernet
        case 113: self = .linuxSLL
        case 276: self = .linuxSLL2
        case 12, 14, 101: self = .rawIP
        case 228: self = .ipv4
        case 229: self = .ipv6
        case 0: self = .bsdNull
        case 108: self = .bsdLoop
        default: return nil
        }
    }
}
