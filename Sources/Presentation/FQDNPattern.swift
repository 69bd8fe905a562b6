/// A `--fqdn` pattern (pkg/hubble/filters/patterns.go): lower case, a trailing dot dropped;
/// `*` stands for any run of letters, digits, `-` and `.`; the whole name must match.
struct FQDNPattern: Sendable, Equatable {
    var pattern: [UInt8]

    init(_ text: String, option: String) throws(FilterError) {
        var canonical = text.trimming(" \t").lowercased()
        if canonical.hasSuffix(".") { canonical.removeLast() }
        guard !canonical.isEmpty else { throw FilterError("\(option) '\(text)': empty pattern") }
        guard !canonical.hasSuffix(".") else { throw FilterError("\(option) '\(text)': multiple trailing dots") }
        for byte in canonical.utf8 where !(Self.isNameByte(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "*")) {
            throw FilterError("\(option) '\(text)': '\(Character(UnicodeScalar(byte)))' is not allowed in a name pattern")
        }
        self.pattern = Array(canonical.utf8)
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    func matches(_ name: String) -> Bool {
        let name = Array(name.utf8)
        // Backtracking over the stars: `star` is the last star seen and `resume` where its run ends.
        var p = 0, n = 0, star = -1, resume = 0
        while n < name.count {
            if p < self.pattern.count && self.pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = n
                p += 1
            } else if p < self.pattern.count && self.pattern[p] == name[n] {
                p += 1
                n += 1
            } else if star >= 0 && Self.isNameByte(name[resume]) {
                resume += 1
                n = resume
                p = star + 1
            } else {
                return false
            }
        }
        while p < self.pattern.count && self.pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == self.pattern.count
    }
}
