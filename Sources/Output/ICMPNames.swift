import FlowCore

/// ICMP type and code names as Hubble's `Summary` prints them: Cilium's parser writes
/// `"ICMPv4 " + TypeCode.String()` of gopacket's `layers.ICMPv4TypeCode` / `ICMPv6TypeCode`:
/// `EchoRequest`, `DestinationUnreachable(Port)`, `TimeExceeded(TTLExceeded)`; a code the type
/// does not name is `Type(Code: 5)`, an unknown type `42(0)`. Types and codes: RFC 792,
/// RFC 950 (address mask), RFC 1256 (router), RFC 1812 (codes 13-15) for ICMPv4; RFC 4443
/// and RFC 4861 for ICMPv6. The type names are `ICMPType`'s Hubble column; the codes' names
/// are Hubble's alone and stay here.
enum ICMPNames {
    static func append(type: UInt8, code: UInt8, v6: Bool, to out: inout JSONBuffer) {
        guard let row = ICMPType.row(type, ipv6: v6) else {
            out.append(UInt64(type))
            out.append(byte: UInt8(ascii: "("))
            out.append(UInt64(code))
            out.append(byte: UInt8(ascii: ")"))
            return
        }
        out.append(raw: row.hubbleName)
        if !row.hubbleNamesCodes && code == 0 { return }
        if let codeName = v6 ? v6Code(type: type, code: code) : v4Code(type: type, code: code) {
            out.append(byte: UInt8(ascii: "("))
            out.append(raw: codeName)
            out.append(byte: UInt8(ascii: ")"))
        } else {
            out.append(raw: "(Code: ")
            out.append(UInt64(code))
            out.append(byte: UInt8(ascii: ")"))
        }
    }

    static func v4Code(type: UInt8, code: UInt8) -> StaticString? {
        switch (type, code) {
        case (3, 0), (5, 0): "Net"
        case (3, 1), (5, 1): "Host"
        case (3, 2): "Protocol"
        case (3, 3): "Port"
        case (3, 4): "FragmentationNeeded"
        case (3, 5): "SourceRoutingFailed"
        case (3, 6): "NetUnknown"
        case (3, 7): "HostUnknown"
        case (3, 8): "SourceIsolated"
        case (3, 9): "NetAdminProhibited"
        case (3, 10): "HostAdminProhibited"
        case (3, 11): "NetTOS"
        case (3, 12): "HostTOS"
        case (3, 13): "CommAdminProhibited"
        case (3, 14): "HostPrecedence"
        case (3, 15): "PrecedenceCutoff"
        case (5, 2): "TOS+Net"
        case (5, 3): "TOS+Host"
        case (11, 0): "TTLExceeded"
        case (11, 1): "FragmentReassemblyTimeExceeded"
        case (12, 0): "PointerIndicatesError"
        case (12, 1): "MissingOption"
        case (12, 2): "BadLength"
        default: nil
        }
    }

    static func v6Code(type: UInt8, code: UInt8) -> StaticString? {
        switch (type, code) {
        case (1, 0): "NoRouteToDst"
        case (1, 1): "AdminProhibited"
        case (1, 2): "BeyondScopeOfSrc"
        case (1, 3): "AddressUnreachable"
        case (1, 4): "PortUnreachable"
        case (1, 5): "SrcAddressFailedPolicy"
        case (1, 6): "RejectRouteToDst"
        case (3, 0): "HopLimitExceeded"
        case (3, 1): "FragmentReassemblyTimeExceeded"
        case (4, 0): "ErroneousHeaderField"
        case (4, 1): "UnrecognizedNextHeader"
        case (4, 2): "UnrecognizedIPv6Option"
        default: nil
        }
    }
}
