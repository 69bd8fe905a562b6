import FlowCore

/// Names the agent's callers use for address text; the one parser and RFC 5952 writer
/// live in FlowCore (`IPAddress(text:)`, `IPAddress.text`, `IPPrefix`).
public enum IPAddressText {
    /// `IPAddress(text:)`: `10.0.0.1`, `fd00::1`, `::ffff:10.0.0.1` (an IPv4 address); nil otherwise.
    public static func parse(_ text: String) -> IPAddress? { IPAddress(text: text) }

    /// The address with the bits below `length` (in its own family) cleared.
    public static func masked(_ address: IPAddress, length: UInt8) -> IPAddress { address.masked(toLength: length) }

    /// `10.0.0.1`, `fd00:10:244::1:5`.
    public static func format(_ address: IPAddress) -> String { address.text }

    /// `10.0.0.0/8`, `fd00::/64`.
    public static func formatCIDR(_ prefix: IPAddress, length: UInt8) -> String {
        IPPrefix(address: prefix, length: length).description
    }
}
