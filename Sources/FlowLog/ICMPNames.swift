import FlowCore

/// The names of ICMP and ICMPv6 message types as the service map and the compact lines print
/// them: `ICMPType`'s short-name column.
package enum ICMPNames {
    /// `echo`, `echo-reply`, `unreachable`, ...; nil for a type without a name here.
    package static func name(type: UInt8, ipv6: Bool) -> String? {
        ICMPType.row(type, ipv6: ipv6)?.name.map { $0.description }
    }
}
