// Syntax checks shared by the Cilium and Kubernetes readers: names, label keys and values,
// port names, CIDRs. Each returns nil when the text is valid, or the reason it is not. All
// are linear in the length of the text.

enum PolicyValidation {
    // MARK: Character classes (ASCII only)

    @inline(__always) static func isLowerAlnum(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
    }

    @inline(__always) static func isAlnum(_ b: UInt8) -> Bool {
        isLowerAlnum(b) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    @inline(__always) static func isLetter(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
    }

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    // MARK: Kubernetes names

    /// RFC 1123 label: at most 63 lowercase alphanumerics or '-', starting and ending alphanumeric.
    static func isDNSLabel<C: Collection>(_ utf8: C) -> Bool where C.Element == UInt8 {
        guard let first = utf8.first, utf8.count <= 63, isLowerAlnum(first) else { return false }
        var last = first
        for b in utf8 {
            guard isLowerAlnum(b) || b == UInt8(ascii: "-") else { return false }
            last = b
        }
        return isLowerAlnum(last)
    }

    /// RFC 1123 subdomain: at most 253 characters, dot-separated RFC 1123 labels.
    static func isDNSSubdomain(_ text: Substring) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253 else { return false }
        return text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).allSatisfy {
            !$0.isEmpty && isLowerAlnum($0.first!) && isLowerAlnum($0.last!)
                && $0.allSatisfy { isLowerAlnum($0) || $0 == UInt8(ascii: "-") }
        }
    }

    static let dnsSubdomainRule = "must be a lowercase RFC 1123 subdomain (at most 253 characters of a-z, 0-9, '-' and '.', each part starting and ending with a letter or digit)"
    static let dnsLabelRule = "must be a lowercase RFC 1123 label (at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)"

    // MARK: Labels

    /// Cilium label sources allowed before a selector key (`k8s:app`).
    static let ciliumLabelSources = ["k8s", "any", "reserved", "cidr", "cidrgroup", "fqdn", "container", "unspec",
                                     "node", "kvstore", "cilium-generated"]

    private static let nameRule = "must be 63 characters or less, consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit"

    /// The name part of a label key (also the whole of a label value, which may be empty).
    private static func isQualifiedNamePart(_ utf8: Substring.UTF8View) -> Bool {
        guard let first = utf8.first, let last = utf8.last, utf8.count <= 63, isAlnum(first), isAlnum(last) else {
            return false
        }
        return utf8.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".") }
    }

    /// A Kubernetes label key: `[prefix/]name`, prefix a DNS subdomain, name a qualified name
    /// part. With `cilium`, a Cilium source (`k8s:`, `any:`, `reserved:`, `cidr:`...) may come first.
    static func labelKeyProblem(_ key: String, cilium: Bool) -> String? {
        var rest = Substring(key)
        if let colon = rest.firstIndex(of: ":") {
            guard cilium else {
                return "invalid label key '\(key)': the name part \(nameRule)"
            }
            let source = rest[..<colon]
            guard ciliumLabelSources.contains(String(source)) else {
                return "invalid label key '\(key)': unknown label source '\(source)' (allowed: \(ciliumLabelSources.joined(separator: ", ")))"
            }
            rest = rest[rest.index(after: colon)...]
            if source == "cidr" {
                // `cidr:10.0.0.0/8`, `cidr:2001-db8--/32` (Cilium writes ':' in IPv6 as '-').
                let ok = !rest.isEmpty && rest.utf8.allSatisfy {
                    isDigit($0) || ($0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "f")) || ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "F"))
                        || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/")
                }
                return ok ? nil : "invalid label key '\(key)': '\(rest)' is not a CIDR"
            }
        }
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        switch parts.count {
        case 1:
            return isQualifiedNamePart(parts[0].utf8) ? nil : "invalid label key '\(key)': the name part \(nameRule)"
        case 2:
            guard isDNSSubdomain(parts[0]) else {
                return "invalid label key '\(key)': the prefix \(dnsSubdomainRule)"
            }
            return isQualifiedNamePart(parts[1].utf8) ? nil : "invalid label key '\(key)': the name part \(nameRule)"
        default:
            return "invalid label key '\(key)': at most one '/' is allowed"
        }
    }

    static func labelValueProblem(_ value: String, key: String) -> String? {
        if value.isEmpty || isQualifiedNamePart(Substring(value).utf8) { return nil }
        return "invalid label value '\(value)' for key '\(key)': a label value must be empty, or 63 characters or less of letters, digits, '-', '_' or '.', starting and ending with a letter or digit"
    }

    // MARK: Ports

    static let portNameRule = "IANA_SVC_NAME: at most 15 lowercase letters, digits and '-', at least one letter, no leading, trailing or double '-'"

    /// IANA service name (RFC 6335 §5.1) as Kubernetes checks it. With `caseInsensitive`
    /// (Cilium), upper-case letters are allowed (Cilium lower-cases the name).
    static func isPortName(_ name: String, caseInsensitive: Bool) -> Bool {
        let utf8 = name.utf8
        guard let first = utf8.first, let last = utf8.last, utf8.count <= 15,
              first != UInt8(ascii: "-"), last != UInt8(ascii: "-") else { return false }
        var sawLetter = false
        var previous: UInt8 = 0
        for b in utf8 {
            if b == UInt8(ascii: "-") {
                if previous == UInt8(ascii: "-") { return false }
            } else if isLetter(b) {
                if !caseInsensitive && !(b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) { return false }
                sawLetter = true
            } else if !isDigit(b) {
                return false
            }
            previous = b
        }
        return sawLetter
    }

    /// Decimal digits only (no sign, no spaces).
    static func isAllDigits(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isDigit)
    }
}
