import FlowCore

/// A byte buffer for writing JSON lines without `String` or Foundation: one preallocated
/// block, reused for every record (Suricata's per-thread `JsonBuilder` plays this part).
///
/// Callers append pieces and check `count` to decide when to flush; a record is always
/// finished before a flush so lines are never split between writes.
public struct JSONBuffer: ~Copyable {
    var storage: UnsafeMutablePointer<UInt8>
    var capacity: Int
    public private(set) var count = 0

    public init(capacity: Int = 1 << 17) {
        self.capacity = Swift.max(capacity, 4096)
        self.storage = .allocate(capacity: self.capacity)
    }

    deinit { self.storage.deallocate() }

    /// The bytes written since the last `removeAll()`.
    public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: self.storage, count: self.count) }

    public mutating func removeAll() { self.count = 0 }

    @inline(__always)
    mutating func reserve(_ extra: Int) {
        if self.count &+ extra > self.capacity { self.grow(toFit: extra) }
    }

    /// Only a record larger than everything before it gets here; grow geometrically.
    @inline(never)
    mutating func grow(toFit extra: Int) {
        var newCapacity = self.capacity * 2
        while newCapacity < self.count + extra { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: self.storage, count: self.count)
        self.storage.deallocate()
        self.storage = grown
        self.capacity = newCapacity
    }

    @inline(__always)
    public mutating func append(byte: UInt8) {
        self.reserve(1)
        self.storage[self.count] = byte
        self.count &+= 1
    }

    /// Appends ASCII that needs no escaping (keys, punctuation, enum names). Keys are short:
    /// a byte loop beats a call to memmove for each of the forty or so in a record.
    @inline(__always)
    public mutating func append(raw text: StaticString) {
        let length = text.utf8CodeUnitCount
        self.reserve(length)
        let source = text.utf8Start
        let target = self.storage + self.count
        for offset in 0..<length { target[offset] = source[offset] }
        self.count &+= length
    }

    /// Appends `"key":`, after a comma unless it is its object's first member (the last byte
    /// written is the object's `{`), so writers never track which member comes first.
    @inline(__always)
    public mutating func append(key: StaticString) {
        let length = key.utf8CodeUnitCount
        self.reserve(length &+ 4)
        var target = self.storage + self.count
        if self.count > 0 && target[-1] != UInt8(ascii: "{") {
            target[0] = UInt8(ascii: ",")
            target += 1
        }
        target[0] = UInt8(ascii: "\"")
        let source = key.utf8Start
        for offset in 0..<length { target[1 &+ offset] = source[offset] }
        target[length &+ 1] = UInt8(ascii: "\"")
        target[length &+ 2] = UInt8(ascii: ":")
        self.count = self.storage.distance(to: target) &+ length &+ 3
    }

    // The members by `EVEKey` are `@_transparent`: inlined where they are written, the key is a
    // constant, its text too, and its bytes are stored as constants, as a literal's are. With
    // `@inline(__always)` they stay calls, and a flow record takes 40% more instructions.

    @_transparent
    public mutating func append(key: EVEKey) { self.append(key: key.rawValue.text) }

    /// `"key":{`: a member whose value is an object (the caller closes it).
    @_transparent
    mutating func open(_ key: EVEKey) {
        self.append(key: key)
        self.append(byte: UInt8(ascii: "{"))
    }

    /// `"key":value`.
    @_transparent
    mutating func append(_ key: EVEKey, _ value: UInt64) {
        self.append(key: key)
        self.append(value)
    }

    @_transparent
    mutating func append(_ key: EVEKey, _ value: Int64) {
        self.append(key: key)
        self.append(value)
    }

    /// `"key":true` or `"key":false`.
    @_transparent
    mutating func append(_ key: EVEKey, _ value: Bool) {
        self.append(key: key)
        self.append(raw: value ? "true" : "false")
    }

    /// `"key":"<timestamp>"` in EVE's form (`appendQuotedTimestamp`).
    @_transparent
    mutating func append(_ key: EVEKey, _ time: CaptureTime) {
        self.append(key: key)
        self.appendQuotedTimestamp(time)
    }

    /// `"key":"name"`, for a name that needs no escaping (an enum's, a state's).
    @_transparent
    mutating func append(_ key: EVEKey, name: StaticString) {
        self.append(key: key)
        self.append(byte: UInt8(ascii: "\""))
        self.append(raw: name)
        self.append(byte: UInt8(ascii: "\""))
    }

    /// `"key":"text"`, escaped (`appendString`): an agent-side name.
    mutating func append(_ key: EVEKey, string text: String) {
        self.append(key: key)
        self.appendString(text)
    }

    /// Appends bytes that are already valid JSON.
    public mutating func append(raw bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        self.reserve(bytes.count)
        UnsafeMutableRawPointer(self.storage + self.count).copyMemory(from: base, byteCount: bytes.count)
        self.count += bytes.count
    }

    /// Appends a decimal unsigned integer.
    public mutating func append(_ value: UInt64) {
        self.reserve(20)
        let digits = Self.decimalDigits(value)
        var rest = value
        var position = self.count &+ digits &- 1
        // Two digits per division.
        while rest >= 100 {
            let pair = UInt8(truncatingIfNeeded: rest % 100)
            rest /= 100
            self.storage[position] = UInt8(ascii: "0") &+ pair % 10
            self.storage[position &- 1] = UInt8(ascii: "0") &+ pair / 10
            position &-= 2
        }
        if rest >= 10 {
            let pair = UInt8(truncatingIfNeeded: rest)
            self.storage[position] = UInt8(ascii: "0") &+ pair % 10
            self.storage[position &- 1] = UInt8(ascii: "0") &+ pair / 10
        } else {
            self.storage[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest)
        }
        self.count &+= digits
    }

    /// How many decimal digits `value` has (1 for 0).
    @inline(__always)
    static func decimalDigits(_ value: UInt64) -> Int {
        var digits = 1
        var limit: UInt64 = 10
        while digits < 20 && value >= limit {
            digits &+= 1
            limit = limit &* 10
        }
        return digits
    }


    /// Appends a decimal signed integer.
    public mutating func append(_ value: Int64) {
        if value < 0 {
            self.append(byte: UInt8(ascii: "-"))
            self.append(value.magnitude)
        } else {
            self.append(UInt64(value))
        }
    }

    /// Appends `value` as exactly `width` decimal digits (zero-padded).
    mutating func append(padded value: UInt64, width: Int) {
        self.reserve(width)
        var rest = value
        var position = self.count + width - 1
        while position >= self.count {
            self.storage[position] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
            position -= 1
        }
        self.count += width
    }

    /// Appends a two-digit lowercase hex byte.
    mutating func append(hex value: UInt8) {
        self.append(byte: Self.hexDigit(value >> 4))
        self.append(byte: Self.hexDigit(value & 0xf))
    }

    /// `"key":"hh"`: a byte as a string of two hex digits.
    @_transparent
    mutating func append(_ key: EVEKey, hex value: UInt8) {
        self.append(key: key)
        self.append(byte: UInt8(ascii: "\""))
        self.append(hex: value)
        self.append(byte: UInt8(ascii: "\""))
    }

    static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") &+ nibble : UInt8(ascii: "a") &+ (nibble &- 10)
    }

    /// Appends a JSON string literal (with quotes) for UTF-8 `bytes` from outside:
    /// quotes, backslashes and control characters (U+0000-U+001F, and U+007F) are escaped
    /// (RFC 8259 §7), U+2028 and U+2029 are escaped so the line is also one line of
    /// JavaScript, and `/` is left as it is. Invalid UTF-8 is replaced so every line is valid
    /// UTF-8: each maximal subpart of an ill-formed sequence (Unicode §3.9, "U+FFFD
    /// substitution of maximal subparts": a stray byte, or the start of a sequence cut short)
    /// becomes one `\ufffd`, as Swift's `String(decoding:as:)` repairs it. So an overlong
    /// `C0 AF` or an encoded surrogate `ED A0 80` gives one U+FFFD per byte, and `E2 82`
    /// (a euro sign cut short) gives one.
    public mutating func appendString(utf8 bytes: UnsafeRawBufferPointer) {
        self.reserve(bytes.count + 2)
        self.append(byte: UInt8(ascii: "\""))
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte < 0x80 {
                switch byte {
                case UInt8(ascii: "\""): self.append(raw: "\\\"")
                case UInt8(ascii: "\\"): self.append(raw: "\\\\")
                case 0x0a: self.append(raw: "\\n")
                case 0x0d: self.append(raw: "\\r")
                case 0x09: self.append(raw: "\\t")
                case 0x08: self.append(raw: "\\b")
                case 0x0c: self.append(raw: "\\f")
                case 0..<0x20, 0x7f:
                    self.append(raw: "\\u00")
                    self.append(hex: byte)
                default: self.append(byte: byte)
                }
                index += 1
                continue
            }
            let (length, isValid) = Self.scanSequence(bytes, at: index)
            if !isValid {
                self.append(raw: "\\ufffd")
                index += length
                continue
            }
            // U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR: E2 80 A8 / E2 80 A9.
            if length == 3, byte == 0xe2, bytes[index + 1] == 0x80, bytes[index + 2] & 0xfe == 0xa8 {
                self.append(raw: bytes[index + 2] == 0xa8 ? "\\u2028" : "\\u2029")
            } else {
                self.reserve(length)
                for offset in 0..<length { self.append(byte: bytes[index + offset]) }
            }
            index += length
        }
        self.append(byte: UInt8(ascii: "\""))
    }

    /// Appends a JSON string literal for a Swift string from outside (agent-side names).
    public mutating func appendString(_ text: String) {
        var text = text
        text.withUTF8 { self.appendString(utf8: UnsafeRawBufferPointer($0)) }
    }

    /// The UTF-8 sequence at `index` (Unicode 15 Table 3-7): its length if it is well formed,
    /// otherwise the length of its maximal subpart (the bytes that start a well-formed
    /// sequence, at least 1), which is replaced by one U+FFFD.
    static func scanSequence(_ bytes: UnsafeRawBufferPointer, at index: Int) -> (length: Int, isValid: Bool) {
        let first = bytes[index]
        let length: Int
        var low: UInt8 = 0x80
        var high: UInt8 = 0xbf
        switch first {
        case 0xc2...0xdf: length = 2
        case 0xe0: length = 3; low = 0xa0
        case 0xe1...0xec, 0xee...0xef: length = 3
        case 0xed: length = 3; high = 0x9f
        case 0xf0: length = 4; low = 0x90
        case 0xf1...0xf3: length = 4
        case 0xf4: length = 4; high = 0x8f
        default: return (1, false)
        }
        var count = 1
        while count < length && index + count < bytes.count {
            let byte = bytes[index + count]
            // Only the second byte has a narrower range than 80...BF.
            guard count == 1 ? (byte >= low && byte <= high) : (byte & 0xc0 == 0x80) else { break }
            count += 1
        }
        return (count, count == length)
    }
}
