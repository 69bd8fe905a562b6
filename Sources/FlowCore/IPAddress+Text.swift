extension IPAddress {
    /// Parses `10.0.0.1` or an IPv6 address (`fd00::1`, `::ffff:10.0.0.1`); nil otherwise.
    /// IPv4 parts are decimal 0-255 without leading zeros; zones (`%eth0`) are rejected.
    /// IPv4-mapped IPv6 text yields the IPv4 address, as `IPAddress` stores both alike.
    /// For configuration and tool input, not for the per-packet path.
    public init?(text: String) {
        let bytes = Array(text.utf8)
        if bytes.isEmpty || bytes.count > 45 { return nil }
        if !bytes.contains(UInt8(ascii: ":")) {
            guard let value = Self.parseIPv4(bytes[...]) else { return nil }
            self.init(ipv4: value)
            return
        }
        guard let address = Self.parseIPv6(bytes) else { return nil }
        self = address
    }

    /// The canonical text: dotted quad for IPv4, RFC 5952 for IPv6 (`fd00:10:244::1:5`).
    /// Allocates; the per-packet and JSON paths use `writeText`.
    public var text: String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(45)
        self.writeText { bytes.append($0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Writes the canonical text byte by byte, allocating nothing: dotted quad for IPv4;
    /// RFC 5952 §4 for IPv6 (lowercase, no leading zeros, the longest run of two or more
    /// zero groups shortened to `::`, the first such run on a tie). With `mappedAsIPv6`, an
    /// IPv4 address (one met in an IPv6 header) is written `::ffff:a.b.c.d` (RFC 5952 §5).
    @inlinable
    public func writeText(mappedAsIPv6: Bool = false, _ write: (UInt8) -> Void) {
        if self.isIPv4 {
            if mappedAsIPv6 {
                write(UInt8(ascii: ":")); write(UInt8(ascii: ":"))
                for _ in 0..<4 { write(UInt8(ascii: "f")) }
                write(UInt8(ascii: ":"))
            }
            let value = self.ipv4Value
            var shift: UInt32 = 24
            while true {  // index loops: literals and slices allocate in unoptimized builds
                let octet = UInt8(truncatingIfNeeded: value >> shift)
                if octet >= 100 { write(UInt8(ascii: "0") &+ octet / 100) }
                if octet >= 10 { write(UInt8(ascii: "0") &+ octet / 10 % 10) }
                write(UInt8(ascii: "0") &+ octet % 10)
                if shift == 0 { return }
                write(UInt8(ascii: "."))
                shift &-= 8
            }
        }
        var bestStart = -1, bestLength = 0, runStart = -1
        for i in 0...8 {
            if i < 8 && self.group(i) == 0 {
                if runStart < 0 { runStart = i }
            } else if runStart >= 0 {
                if i - runStart > bestLength { bestStart = runStart; bestLength = i - runStart }
                runStart = -1
            }
        }
        if bestLength < 2 { bestStart = -1 }
        var i = 0
        while i < 8 {
            if i == bestStart {
                write(UInt8(ascii: ":")); write(UInt8(ascii: ":"))
                i += bestLength
                continue
            }
            if i > 0 && i != bestStart + bestLength { write(UInt8(ascii: ":")) }
            let value = self.group(i)
            var started = false
            var shift: UInt16 = 16
            while shift > 0 {
                shift &-= 4
                let nibble = UInt8(truncatingIfNeeded: value >> shift) & 0xf
                if nibble != 0 || started || shift == 0 {
                    write(nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ nibble &- 10)
                    started = true
                }
            }
            i += 1
        }
    }

    /// The 16-bit group `index` (0-7) of the IPv6 form.
    @inlinable @inline(__always)
    func group(_ index: Int) -> UInt16 {
        let word = index < 4 ? self.high : self.low
        return UInt16(truncatingIfNeeded: word >> (UInt64(3 - index % 4) * 16))
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
