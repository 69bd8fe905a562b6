import FlowCore

/// Text forms of addresses and prefixes for the agent side (inventory files, policy CIDRs,
/// label strings, messages): strict parsing, and canonical printing (dotted quad; RFC 5952
/// for IPv6: lowercase, the longest run of two or more zero groups shortened to `::`).
public enum IPAddressText {
    /// Parses `10.0.0.1` or an IPv6 address (`fd00::1`, `::ffff:10.0.0.1`); nil otherwise.
    /// IPv4 parts are decimal 0-255 without leading zeros; zones (`%eth0`) are rejected.
    /// IPv4-mapped IPv6 text yields the IPv4 address, as `IPAddress` stores both alike.
    public static func parse(_ text: String) -> IPAddress? {
        let bytes = Array(text.utf8)
        if bytes.isEmpty || bytes.count > 45 { return nil }
        if !bytes.contains(UInt8(ascii: ":")) {
            guard let value = parseIPv4(bytes[...]) else { return nil }
            return IPAddress(ipv4: value)
        }
        return parseIPv6(bytes)
    }

    /// Parses `10.0.0.0/8` or `fd00::/64`; the length counts in the address's family
    /// (0-32 or 0-128). A bare address is a full-length prefix. Host bits are cleared.
    public static func parseCIDR(_ text: String) -> (prefix: IPAddress, length: UInt8)? {
        guard let slash = text.firstIndex(of: "/") else {
            guard let address = parse(text) else { return nil }
            return (address, address.isIPv4 ? 32 : 128)
        }
        let lengthText = text[text.index(after: slash)...]
        guard let address = parse(String(text[..<slash])),
              !lengthText.isEmpty, lengthText.count <= 3,
              lengthText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              !(lengthText.count > 1 && lengthText.first == "0"),
              let length = UInt8(lengthText), length <= (address.isIPv4 ? 32 : 128) else { return nil }
        return (masked(address, length: length), length)
    }

    /// The address with the bits below `length` (in its own family) cleared.
    public static func masked(_ address: IPAddress, length: UInt8) -> IPAddress {
        if address.isIPv4 {
            let keep: UInt32 = length == 0 ? 0 : ~0 << (32 - UInt32(min(length, 32)))
            return IPAddress(ipv4: address.ipv4Value & keep)
        }
        let bits = UInt64(min(length, 128))
        let highMask: UInt64 = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << (64 - bits))
        let lowMask: UInt64 = bits <= 64 ? 0 : ~0 << (128 - bits)
        return IPAddress(high: address.high & highMask, low: address.low & lowMask)
    }

    /// `10.0.0.1`, `fd00:10:244::1:5`.
    public static func format(_ address: IPAddress) -> String {
        if address.isIPv4 {
            let v = address.ipv4Value
            return "\(v >> 24).\((v >> 16) & 0xff).\((v >> 8) & 0xff).\(v & 0xff)"
        }
        var groups = [UInt16](repeating: 0, count: 8)
        for index in 0..<4 {
            groups[index] = UInt16(truncatingIfNeeded: address.high >> (48 - 16 * UInt64(index)))
            groups[index + 4] = UInt16(truncatingIfNeeded: address.low >> (48 - 16 * UInt64(index)))
        }
        // The longest run of zero groups (the first one on ties), if at least two long.
        var bestStart = -1, bestLength = 0, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var text = ""
        var index = 0
        while index < 8 {
            if index == bestStart {
                text += "::"
                index += bestLength
                continue
            }
            if !text.isEmpty && !text.hasSuffix(":") { text += ":" }
            text += String(groups[index], radix: 16)
            index += 1
        }
        return text
    }

    /// `10.0.0.0/8`, `fd00::/64`.
    public static func formatCIDR(_ prefix: IPAddress, length: UInt8) -> String {
        format(prefix) + "/" + String(length)
    }

    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        var value: UInt32 = 0
        var parts = 0
        var part: UInt32 = 0
        var digits = 0
        var firstDigit: UInt8 = 0
        for byte in bytes {
            if byte == UInt8(ascii: ".") {
                if digits == 0 || (digits > 1 && firstDigit == UInt8(ascii: "0")) { return nil }
                value = value << 8 | part
                parts += 1
                part = 0
                digits = 0
                if parts > 3 { return nil }
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                if digits == 0 { firstDigit = byte }
                digits += 1
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                if digits > 3 || part > 255 { return nil }
            } else {
                return nil
            }
        }
        if parts != 3 || digits == 0 || (digits > 1 && firstDigit == UInt8(ascii: "0")) { return nil }
        return value << 8 | part
    }

    static func parseIPv6(_ bytes: [UInt8]) -> IPAddress? {
        var head: [UInt16] = []
        var tail: [UInt16] = []
        var sawDoubleColon = false
        var index = 0
        let count = bytes.count
        if count >= 2 && bytes[0] == UInt8(ascii: ":") {
            guard bytes[1] == UInt8(ascii: ":") else { return nil }
            sawDoubleColon = true
            index = 2
        }
        while index < count {
            // One group, or an embedded IPv4 address as the last 32 bits.
            var end = index
            while end < count && bytes[end] != UInt8(ascii: ":") { end += 1 }
            let field = bytes[index..<end]
            if field.contains(UInt8(ascii: ".")) {
                guard end == count, let v4 = parseIPv4(field) else { return nil }
                let pair = [UInt16(v4 >> 16), UInt16(v4 & 0xffff)]
                if sawDoubleColon { tail += pair } else { head += pair }
                index = end
                break
            }
            guard !field.isEmpty, field.count <= 4 else { return nil }
            var group: UInt16 = 0
            for byte in field {
                guard let digit = hexValue(byte) else { return nil }
                group = group << 4 | UInt16(digit)
            }
            if sawDoubleColon { tail.append(group) } else { head.append(group) }
            if end == count { index = end; break }
            // At a colon: `::` starts the tail, else the next group follows.
            if end + 1 < count && bytes[end + 1] == UInt8(ascii: ":") {
                if sawDoubleColon { return nil }
                sawDoubleColon = true
                index = end + 2
            } else {
                guard end + 1 < count else { return nil }
                index = end + 1
            }
        }
        let total = head.count + tail.count
        if sawDoubleColon ? total > 7 : total != 8 { return nil }
        let groups = head + [UInt16](repeating: 0, count: 8 - total) + tail
        var high: UInt64 = 0, low: UInt64 = 0
        for i in 0..<4 {
            high = high << 16 | UInt64(groups[i])
            low = low << 16 | UInt64(groups[i + 4])
        }
        return IPAddress(high: high, low: low)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
