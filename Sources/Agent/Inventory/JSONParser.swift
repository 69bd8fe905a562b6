/// A strict JSON parser (RFC 8259) over UTF-8 bytes, into a `JSONValue` tree.
///
/// - Grammar of RFC 8259 sections 2-7: one value with optional white space (space, tab, line
///   feed, carriage return) around it; `true`/`false`/`null` in lower case; numbers
///   `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`; strings of Unicode scalars with control
///   characters (U+0000-U+001F) escaped, escapes `\" \\ \/ \b \f \n \r \t \uXXXX`, a UTF-16
///   surrogate pair as two `\u` escapes (section 7).
/// - Text must be UTF-8 (section 8.1); a UTF-8 byte order mark is skipped (allowed by 8.1).
///   Invalid UTF-8 and unpaired surrogate escapes are errors: a Swift `String` cannot hold them.
/// - Numbers whose magnitude a Double cannot hold (`1e999`) are errors (section 6 lets a reader
///   limit the range); integers within Int's range stay exact.
/// - Nesting deeper than `maximumDepth` is an error (section 9 lets a reader limit it), so no
///   input can exhaust the stack.
///
/// Every error carries the byte offset of the offending byte, which `JSONReader` turns into
/// a line and column. Every index is checked: no input traps.
package struct JSONParser {
    /// What is wrong and where (byte offset in the input).
    package struct SyntaxError: Error, Sendable, Equatable {
        package var message: String
        package var offset: Int
    }

    package static let maximumDepth = 512

    private let bytes: UnsafeRawBufferPointer
    private var position = 0
    private var depth = 0
    /// Escaped strings are decoded here.
    private var scratch: [UInt8] = []

    private init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Parses one JSON text.
    package static func parse(_ bytes: UnsafeRawBufferPointer) throws(SyntaxError) -> JSONValue {
        var parser = JSONParser(bytes)
        if bytes.count >= 3 && bytes[0] == 0xEF && bytes[1] == 0xBB && bytes[2] == 0xBF { parser.position = 3 }
        parser.skipWhiteSpace()
        let value = try parser.value()
        parser.skipWhiteSpace()
        guard parser.position == bytes.count else {
            throw SyntaxError(message: "unexpected text after the JSON value", offset: parser.position)
        }
        return value
    }

    package static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        // A closure cannot throw a typed error through `withUnsafeBytes`; carry it out as a Result.
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(SyntaxError) in try parse(buffer) } }
        return try result.get()
    }

    // MARK: - Values

    private mutating func value() throws(SyntaxError) -> JSONValue {
        guard self.position < self.bytes.count else { throw self.endError() }
        switch self.bytes[self.position] {
        case UInt8(ascii: "{"): return try self.object()
        case UInt8(ascii: "["): return try self.array()
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "t"): return try self.literal("true", .bool(true))
        case UInt8(ascii: "f"): return try self.literal("false", .bool(false))
        case UInt8(ascii: "n"): return try self.literal("null", .null)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try self.number()
        default: throw SyntaxError(message: "invalid value", offset: self.position)
        }
    }

    private mutating func literal(_ word: StaticString, _ value: JSONValue) throws(SyntaxError) -> JSONValue {
        let start = self.position
        for index in 0..<word.utf8CodeUnitCount {
            guard self.position < self.bytes.count else { throw self.endError() }
            guard self.bytes[self.position] == word.utf8Start[index] else {
                throw SyntaxError(message: "invalid value", offset: start)
            }
            self.position += 1
        }
        return value
    }

    private mutating func enter() throws(SyntaxError) {
        self.depth += 1
        if self.depth > Self.maximumDepth {
            throw SyntaxError(message: "nested deeper than \(Self.maximumDepth) levels", offset: self.position)
        }
    }

    private mutating func object() throws(SyntaxError) -> JSONValue {
        try self.enter()
        self.position += 1  // {
        var members: [(key: String, value: JSONValue)] = []
        self.skipWhiteSpace()
        if try self.peek() == UInt8(ascii: "}") {
            self.position += 1
            self.depth -= 1
            return .object(JSONObject(members: members))
        }
        while true {
            guard try self.peek() == UInt8(ascii: "\"") else {
                throw SyntaxError(message: "expected a string (an object member's name)", offset: self.position)
            }
            let key = try self.string()
            self.skipWhiteSpace()
            guard try self.peek() == UInt8(ascii: ":") else {
                throw SyntaxError(message: "expected ':' after an object member's name", offset: self.position)
            }
            self.position += 1
            self.skipWhiteSpace()
            members.append((key, try self.value()))
            self.skipWhiteSpace()
            switch try self.peek() {
            case UInt8(ascii: ","):
                self.position += 1
                self.skipWhiteSpace()
            case UInt8(ascii: "}"):
                self.position += 1
                self.depth -= 1
                return .object(JSONObject(members: members))
            default:
                throw SyntaxError(message: "expected ',' or '}' in an object", offset: self.position)
            }
        }
    }

    private mutating func array() throws(SyntaxError) -> JSONValue {
        try self.enter()
        self.position += 1  // [
        var elements: [JSONValue] = []
        self.skipWhiteSpace()
        if try self.peek() == UInt8(ascii: "]") {
            self.position += 1
            self.depth -= 1
            return .array(elements)
        }
        while true {
            elements.append(try self.value())
            self.skipWhiteSpace()
            switch try self.peek() {
            case UInt8(ascii: ","):
                self.position += 1
                self.skipWhiteSpace()
            case UInt8(ascii: "]"):
                self.position += 1
                self.depth -= 1
                return .array(elements)
            default:
                throw SyntaxError(message: "expected ',' or ']' in an array", offset: self.position)
            }
        }
    }

    // MARK: - Numbers

    private mutating func number() throws(SyntaxError) -> JSONValue {
        let start = self.position
        var isInteger = true
        if self.bytes[self.position] == UInt8(ascii: "-") { self.position += 1 }
        guard self.position < self.bytes.count else { throw self.endError() }
        if self.bytes[self.position] == UInt8(ascii: "0") {
            self.position += 1
        } else {
            guard self.digits() > 0 else { throw SyntaxError(message: "invalid value", offset: start) }
        }
        if self.position < self.bytes.count && self.bytes[self.position] == UInt8(ascii: ".") {
            isInteger = false
            self.position += 1
            guard self.digits() > 0 else { throw self.numberError() }
        }
        if self.position < self.bytes.count && (self.bytes[self.position] | 0x20) == UInt8(ascii: "e") {
            isInteger = false
            self.position += 1
            if self.position < self.bytes.count
                && (self.bytes[self.position] == UInt8(ascii: "+") || self.bytes[self.position] == UInt8(ascii: "-")) {
                self.position += 1
            }
            guard self.digits() > 0 else { throw self.numberError() }
        }
        let text = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position])
        if isInteger, let value = Self.integer(text) { return .integer(value) }
        // Double's parser reads exactly this grammar (a subset of what it accepts).
        guard let value = Double(String(decoding: text, as: UTF8.self)), value.isFinite else {
            throw SyntaxError(message: "number out of range", offset: start)
        }
        return .double(value)
    }

    /// Skips decimal digits; how many.
    private mutating func digits() -> Int {
        let start = self.position
        while self.position < self.bytes.count,
              self.bytes[self.position] >= UInt8(ascii: "0") && self.bytes[self.position] <= UInt8(ascii: "9") {
            self.position += 1
        }
        return self.position - start
    }

    private func numberError() -> SyntaxError {
        self.position < self.bytes.count
            ? SyntaxError(message: "expected a digit in a number", offset: self.position) : self.endError()
    }

    /// `-?[0-9]+` as an Int, or nil when it does not fit.
    private static func integer(_ text: UnsafeRawBufferPointer) -> Int? {
        var index = 0
        let negative = text.first == UInt8(ascii: "-")
        if negative { index = 1 }
        var value = 0
        while index < text.count {
            let (product, overflow1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int(text[index] &- UInt8(ascii: "0"))
            let (sum, overflow2) = negative ? product.subtractingReportingOverflow(digit) : product.addingReportingOverflow(digit)
            if overflow1 || overflow2 { return nil }
            value = sum
            index += 1
        }
        return value
    }

    // MARK: - Strings

    /// A string; `position` is at its opening quote.
    private mutating func string() throws(SyntaxError) -> String {
        self.position += 1
        let start = self.position
        // The common case: no escape; one conversion of the bytes.
        var bits: UInt8 = 0
        while self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position])
                self.position += 1
                return try self.text(text, at: start, isASCII: bits < 0x80)
            }
            bits |= byte
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw self.controlError() }
            self.position += 1
        }
        guard self.position < self.bytes.count else { throw self.endError() }
        self.scratch.removeAll(keepingCapacity: true)
        self.scratch.append(contentsOf: UnsafeRawBufferPointer(rebasing: self.bytes[start..<self.position]))
        while self.position < self.bytes.count {
            let byte = self.bytes[self.position]
            switch byte {
            case UInt8(ascii: "\""):
                self.position += 1
                let scratch = self.scratch
                return try scratch.withUnsafeBytes { buffer in
                    Result { () throws(SyntaxError) in try self.text(buffer, at: start, isASCII: false) }
                }.get()
            case UInt8(ascii: "\\"):
                try self.escape()
            case 0..<0x20:
                throw self.controlError()
            default:
                self.scratch.append(byte)
                self.position += 1
            }
        }
        throw self.endError()
    }

    private func text(_ bytes: UnsafeRawBufferPointer, at start: Int, isASCII: Bool) throws(SyntaxError) -> String {
        if isASCII {
            // ASCII is valid UTF-8: a plain copy (`String(validating:)` is generic and looks up
            // type metadata at run time on every call, most of the parser's time).
            return String(unsafeUninitializedCapacity: bytes.count) { buffer in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: bytes)
                return bytes.count
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw SyntaxError(message: "a string is not valid UTF-8", offset: start)
        }
        return text
    }

    private func controlError() -> SyntaxError {
        SyntaxError(message: "unescaped control character in a string", offset: self.position)
    }

    /// One escape sequence, appended to `scratch` as UTF-8; `position` is at its backslash.
    private mutating func escape() throws(SyntaxError) {
        let start = self.position
        self.position += 1
        guard self.position < self.bytes.count else { throw self.endError() }
        let byte = self.bytes[self.position]
        self.position += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): self.scratch.append(byte)
        case UInt8(ascii: "b"): self.scratch.append(0x08)
        case UInt8(ascii: "f"): self.scratch.append(0x0C)
        case UInt8(ascii: "n"): self.scratch.append(0x0A)
        case UInt8(ascii: "r"): self.scratch.append(0x0D)
        case UInt8(ascii: "t"): self.scratch.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = UInt32(try self.hex4())
            if (0xD800...0xDBFF).contains(scalar) {
                // A high surrogate must be followed by `\u` and a low one (RFC 8259 section 7).
                guard self.position + 1 < self.bytes.count, self.bytes[self.position] == UInt8(ascii: "\\"),
                      self.bytes[self.position + 1] == UInt8(ascii: "u") else {
                    throw SyntaxError(message: "unpaired UTF-16 surrogate in a \\u escape", offset: start)
                }
                self.position += 2
                let low = UInt32(try self.hex4())
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw SyntaxError(message: "unpaired UTF-16 surrogate in a \\u escape", offset: start)
                }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw SyntaxError(message: "unpaired UTF-16 surrogate in a \\u escape", offset: start)
            }
            guard let unicode = Unicode.Scalar(scalar) else {
                throw SyntaxError(message: "invalid \\u escape", offset: start)
            }
            self.scratch.append(contentsOf: UTF8.encode(unicode)!)
        default:
            throw SyntaxError(message: "invalid escape in a string", offset: start)
        }
    }

    /// Four hex digits.
    private mutating func hex4() throws(SyntaxError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard self.position < self.bytes.count else { throw self.endError() }
            let byte = self.bytes[self.position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw SyntaxError(message: "expected four hex digits after \\u", offset: self.position)
            }
            value = value << 4 | UInt16(digit)
            self.position += 1
        }
        return value
    }

    // MARK: - Helpers

    private mutating func skipWhiteSpace() {
        while self.position < self.bytes.count {
            switch self.bytes[self.position] {
            case 0x20, 0x0A, 0x0D, 0x09: self.position += 1
            default: return
            }
        }
    }

    /// The current byte; at the end of the input, an error.
    private func peek() throws(SyntaxError) -> UInt8 {
        guard self.position < self.bytes.count else { throw self.endError() }
        return self.bytes[self.position]
    }

    private func endError() -> SyntaxError {
        SyntaxError(message: "unexpected end of file", offset: self.bytes.count)
    }
}
