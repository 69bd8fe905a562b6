/// The ICMP (RFC 792, RFC 950, RFC 1256) and ICMPv6 (RFC 4443, RFC 4861) message types
/// flowmon knows: the one table of their numbers, roles and names, per family, and the names
/// Cilium's policies give them.
public enum ICMPType {
    /// ICMPv4 echo request and reply, and destination unreachable (RFC 792).
    public static let echoRequest: UInt8 = 8
    public static let echoReply: UInt8 = 0
    public static let unreachable: UInt8 = 3
    /// ICMPv6 echo request and reply, and destination unreachable (RFC 4443 §4.1, §4.2, §3.1).
    public static let echoRequestV6: UInt8 = 128
    public static let echoReplyV6: UInt8 = 129
    public static let unreachableV6: UInt8 = 1

    /// What a message does.
    public enum Role: Sendable, Equatable {
        /// A query carrying an identifier (echo, timestamp, information, address mask), and its answer.
        case request, reply
        /// An error quoting the invoking packet that belongs to the connection it quotes
        /// (destination unreachable, time exceeded, parameter problem, ICMPv6 packet too big), as
        /// Cilium's conntrack relates them (`CT_RELATED`, bpf/lib/conntrack.h).
        case connectionError
        /// An error quoting the invoking packet that is about no connection: source quench, redirect.
        case error
        /// Anything else (router and neighbor discovery).
        case other
    }

    /// One row: the type's role, Hubble's name (gopacket's `ICMPv4TypeCode`/`ICMPv6TypeCode`,
    /// with whether gopacket names its codes), and flowmon's short name in the compact lines and
    /// the service map (nil: none).
    public struct Row: Sendable {
        public let role: Role
        public let hubbleName: StaticString
        public let hubbleNamesCodes: Bool
        public let name: StaticString?

        @inlinable
        init(_ role: Role, _ hubbleName: StaticString, codes: Bool = false, _ name: StaticString?) {
            self.role = role
            self.hubbleName = hubbleName
            self.hubbleNamesCodes = codes
            self.name = name
        }
    }

    /// The row of an ICMPv4 (`ipv6` false) or ICMPv6 type; nil for a type this table does not know.
    @inlinable
    public static func row(_ type: UInt8, ipv6: Bool) -> Row? {
        if ipv6 {
            switch type {
            case 1: return Row(.connectionError, "DestinationUnreachable", codes: true, "unreachable")
            case 2: return Row(.connectionError, "PacketTooBig", "packet-too-big")
            case 3: return Row(.connectionError, "TimeExceeded", codes: true, "time-exceeded")
            case 4: return Row(.connectionError, "ParameterProblem", codes: true, "parameter-problem")
            case 128: return Row(.request, "EchoRequest", "echo")
            case 129: return Row(.reply, "EchoReply", "echo-reply")
            case 133: return Row(.other, "RouterSolicitation", "router-solicitation")
            case 134: return Row(.other, "RouterAdvertisement", "router-advertisement")
            case 135: return Row(.other, "NeighborSolicitation", "neighbor-solicitation")
            case 136: return Row(.other, "NeighborAdvertisement", "neighbor-advertisement")
            case 137: return Row(.other, "Redirect", "redirect")
            default: return nil
            }
        }
        switch type {
        case 0: return Row(.reply, "EchoReply", "echo-reply")
        case 3: return Row(.connectionError, "DestinationUnreachable", codes: true, "unreachable")
        case 4: return Row(.error, "SourceQuench", nil)
        case 5: return Row(.error, "Redirect", codes: true, "redirect")
        case 8: return Row(.request, "EchoRequest", "echo")
        case 9: return Row(.other, "RouterAdvertisement", nil)
        case 10: return Row(.other, "RouterSolicitation", nil)
        case 11: return Row(.connectionError, "TimeExceeded", codes: true, "time-exceeded")
        case 12: return Row(.connectionError, "ParameterProblem", codes: true, "parameter-problem")
        case 13: return Row(.request, "TimestampRequest", "timestamp")
        case 14: return Row(.reply, "TimestampReply", "timestamp-reply")
        case 15: return Row(.request, "InfoRequest", nil)
        case 16: return Row(.reply, "InfoReply", nil)
        case 17: return Row(.request, "AddressMaskRequest", nil)
        case 18: return Row(.reply, "AddressMaskReply", nil)
        default: return nil
        }
    }

    /// Cilium's type names for a policy's `icmps[].fields[].type` (pkg/policy/api/icmp.go), in
    /// type order. Cilium names types this table does not know, and not all it does; ICMPv4
    /// type 8 has two names.
    public static func ciliumNames(ipv6: Bool) -> [(type: UInt8, name: StaticString)] {
        ipv6 ? Self.ciliumNamesV6 : Self.ciliumNamesV4
    }

    static let ciliumNamesV4: [(type: UInt8, name: StaticString)] = [
        (0, "EchoReply"), (3, "DestinationUnreachable"), (5, "Redirect"), (8, "Echo"), (8, "EchoRequest"),
        (9, "RouterAdvertisement"), (10, "RouterSelection"), (11, "TimeExceeded"), (12, "ParameterProblem"),
        (13, "Timestamp"), (14, "TimestampReply"), (40, "Photuris"), (42, "ExtendedEchoRequest"), (43, "ExtendedEchoReply"),
    ]
    static let ciliumNamesV6: [(type: UInt8, name: StaticString)] = [
        (1, "DestinationUnreachable"), (2, "PacketTooBig"), (3, "TimeExceeded"), (4, "ParameterProblem"),
        (128, "EchoRequest"), (129, "EchoReply"), (130, "MulticastListenerQuery"), (131, "MulticastListenerReport"),
        (132, "MulticastListenerDone"), (133, "RouterSolicitation"), (134, "RouterAdvertisement"),
        (135, "NeighborSolicitation"), (136, "NeighborAdvertisement"), (137, "RedirectMessage"), (138, "RouterRenumbering"),
        (139, "ICMPNodeInformationQuery"), (140, "ICMPNodeInformationResponse"),
        (141, "InverseNeighborDiscoverySolicitation"), (142, "InverseNeighborDiscoveryAdvertisement"),
        (144, "HomeAgentAddressDiscoveryRequest"), (145, "HomeAgentAddressDiscoveryReply"),
        (146, "MobilePrefixSolicitation"), (147, "MobilePrefixAdvertisement"),
        (157, "DuplicateAddressRequestCodeSuffix"), (158, "DuplicateAddressConfirmationCodeSuffix"),
        (160, "ExtendedEchoRequest"), (161, "ExtendedEchoReply"),
    ]

    /// The type's role; `.other` for a type the table does not know.
    @inlinable
    public static func role(_ type: UInt8, ipv6: Bool) -> Role { Self.row(type, ipv6: ipv6)?.role ?? .other }

    /// A query or its answer: the message carries an identifier (RFC 792; RFC 4443 §4).
    @inlinable
    public static func hasIdentifier(_ type: UInt8, ipv6: Bool) -> Bool {
        let role = Self.role(type, ipv6: ipv6)
        return role == .request || role == .reply
    }

    /// An error that quotes the invoking packet (RFC 792; RFC 4443 §2.4).
    @inlinable
    public static func isError(_ type: UInt8, ipv6: Bool) -> Bool {
        let role = Self.role(type, ipv6: ipv6)
        return role == .connectionError || role == .error
    }
}
