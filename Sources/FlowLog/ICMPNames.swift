/// The names of ICMP (RFC 792, RFC 950) and ICMPv6 (RFC 4443, RFC 4861) message types, as the
/// service map and the compact lines print them: the one table of them.
public enum ICMPNames {
    /// `echo`, `echo-reply`, `unreachable`, ...; nil for a type without a name here.
    public static func name(type: UInt8, ipv6: Bool) -> String? {
        if !ipv6 {
            switch type {
            case 0: return "echo-reply"
            case 3: return "unreachable"
            case 5: return "redirect"
            case 8: return "echo"
            case 11: return "time-exceeded"
            case 12: return "parameter-problem"
            case 13: return "timestamp"
            case 14: return "timestamp-reply"
            default: return nil
            }
        }
        switch type {
        case 1: return "unreachable"
        case 2: return "packet-too-big"
        case 3: return "time-exceeded"
        case 4: return "parameter-problem"
        case 128: return "echo"
        case 129: return "echo-reply"
        case 133: return "router-solicitation"
        case 134: return "router-advertisement"
        case 135: return "neighbor-solicitation"
        case 136: return "neighbor-advertisement"
        case 137: return "redirect"
        default: return nil
        }
    }
}
