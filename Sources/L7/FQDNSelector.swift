/// A Cilium FQDN selector: `matchName` or `matchPattern`, as written in `toFQDNs`, in
/// `rules.dns` and (patterns only) in `toPorts.serverNames`. Validated and compiled once, when
/// policies load; `matches` is then a walk over the name's labels, no regular expression.
///
/// Semantics are Cilium's (pkg/fqdn/matchpattern/matchpattern.go, pkg/policy/api/fqdn.go,
/// Documentation/security/policy/language.rst "DNS based", Cilium 1.19):
/// - `matchName` is a literal name, compared case-insensitively; a trailing "." is optional.
/// - In `matchPattern`, `*` stands for zero or more of `[-a-zA-Z0-9_]` inside one label (it
///   never crosses a "."): `*.cilium.io` matches `sub.cilium.io`, not `cilium.io` nor
///   `a.sub.cilium.io`; `part*ial.com` matches `partial.com` and `part-extra-ial.com`. Runs of
///   `*` count as one.
/// - A pattern of stars alone (`*`, `**`, `*.`, `**.`) matches every name made of non-empty
///   labels of those characters, and the root.
/// - `**.` as the pattern's prefix (Cilium 1.19) stands for one or more whole labels:
///   `**.cilium.io` matches `app.cilium.io` and `test.app.cilium.io`, not `cilium.io`.
///   Anywhere else `**` is one `*`.
///
/// Names are compared in one form on both sides: ASCII letters lowercased and one trailing
/// "." removed (Cilium compares fully-qualified names, trailing dot included, on both sides:
/// the same thing). The root is ".", and the empty string is no name (it matches nothing).
/// A name holding a character outside `[-a-zA-Z0-9_.]` matches no pattern label and no
/// wildcard, only a `matchName` written with the same bytes — which validation forbids.
public struct FQDNSelector: Sendable, Hashable, Comparable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable, Comparable {
        case matchName
        case matchPattern

        public static func < (a: Kind, b: Kind) -> Bool { a.rawValue < b.rawValue }
    }

    public let kind: Kind
    /// The canonical form: lowercased, without a trailing ".", star runs collapsed
    /// (`**.` kept as the prefix), and every star-only pattern written `*`. Two selectors
    /// with the same kind and canonical form select the same names.
    public let canonical: String

    /// Cilium's limit on a matchName or matchPattern (`matchpattern.MaxFQDNLength`, the
    /// CRD's maxLength).
    public static let maximumLength = 255

    /// `matchName: name`. Throws when Cilium's CRD pattern `^([-a-zA-Z0-9_]+[.]?)+$` or its
    /// length limit rejects the name.
    public init(matchName name: String) throws(FQDNSelectorError) {
        try Self.validate(name, field: .matchName)
        self.kind = .matchName
        self.canonical = Self.normalizedName(name)
    }

    /// `matchPattern: pattern`. Throws when Cilium's CRD pattern `^([-a-zA-Z0-9_*]+[.]?)+$`
    /// or its length limit rejects the pattern.
    public init(matchPattern pattern: String) throws(FQDNSelectorError) {
        try Self.validate(pattern, field: .matchPattern)
        self.kind = .matchPattern
        self.canonical = Self.canonicalPattern(pattern)
    }

    /// `matchName: x` or `matchPattern: x` as Cilium's `FQDNSelector.String()` does not, but
    /// as a policy writes it.
    public var description: String { "\(self.kind.rawValue): \(self.canonical)" }

    public static func < (a: FQDNSelector, b: FQDNSelector) -> Bool {
        (a.kind, a.canonical) < (b.kind, b.canonical)
    }

    // MARK: Matching

    /// Whether the selector selects `name`, a name as learned from DNS (either with or
    /// without its trailing dot; any case).
    public func matches(_ name: String) -> Bool {
        self.matches(normalized: Self.normalizedBytes(name))
    }

    /// `matches` on a name already in `normalizedBytes` form (normalise once, test many).
    func matches(normalized name: [UInt8]) -> Bool {
        guard !name.isEmpty else { return false }
        let isRoot = name == [UInt8(ascii: ".")]
        switch self.kind {
        case .matchName:
            return !isRoot && name.elementsEqual(self.canonical.utf8)
        case .matchPattern:
            if self.canonical == "*" {
                return isRoot || Self.labels(of: name).allSatisfy { !$0.isEmpty && $0.allSatisfy(Self.isDNSCharacter) }
            }
            guard !isRoot else { return false }
            return Self.matchPattern(Array(self.canonical.utf8), name: name)
        }
    }

    static func matchPattern(_ pattern: [UInt8], name: [UInt8]) -> Bool {
        var patternLabels = Self.labels(of: pattern)
        let nameLabels = Self.labels(of: name)
        let multiLabel = patternLabels.first.map { $0.elementsEqual("**".utf8) } ?? false
        if multiLabel { patternLabels.removeFirst() }
        let extra = nameLabels.count - patternLabels.count
        guard multiLabel ? extra >= 1 : extra == 0 else { return false }
        // `**.`: one or more whole labels of DNS characters (`([-a-zA-Z0-9_]+[.])+`).
        for label in nameLabels[..<extra] where label.isEmpty || !label.allSatisfy(Self.isDNSCharacter) {
            return false
        }
        for (patternLabel, nameLabel) in zip(patternLabels, nameLabels[extra...]) {
            guard Self.glob(patternLabel, nameLabel) else { return false }
        }
        return true
    }

    /// One label against one pattern label: `*` is `[-a-z0-9_]*`, everything else literal.
    /// Neither side can match a character outside the DNS set, so a name label holding one
    /// fails at once and the stars can then match anything (the classic greedy glob with
    /// backtracking to the last star: linear in practice, quadratic at worst, labels are short).
    static func glob(_ pattern: ArraySlice<UInt8>, _ label: ArraySlice<UInt8>) -> Bool {
        guard label.allSatisfy(Self.isDNSCharacter) else { return false }
        var p = pattern.startIndex
        var n = label.startIndex
        var star: ArraySlice<UInt8>.Index?
        var starMatch = n
        while n < label.endIndex {
            if p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") {
                star = p
                starMatch = n
                p += 1
            } else if p < pattern.endIndex && pattern[p] == label[n] {
                p += 1
                n += 1
            } else if let last = star {
                p = last + 1
                starMatch += 1
                n = starMatch
            } else {
                return false
            }
        }
        while p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == pattern.endIndex
    }

    static func labels(of name: [UInt8]) -> [ArraySlice<UInt8>] {
        name.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
    }

    /// `[-a-zA-Z0-9_]` (Cilium's `allowedDNSCharsREGroup`), uppercase already folded.
    static func isDNSCharacter(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
    }

    // MARK: Normal forms

    /// A name in the form `matches` compares: ASCII lowercase, one trailing "." removed (the
    /// root stays "."). The DNS name cache can use it for its keys.
    public static func normalizedName(_ name: String) -> String {
        String(decoding: Self.normalizedBytes(name), as: UTF8.self)
    }

    static func normalizedBytes(_ name: String) -> [UInt8] {
        var bytes = Array(name.utf8)
        if bytes.count > 1 && bytes.last == UInt8(ascii: ".") { bytes.removeLast() }
        for index in bytes.indices where bytes[index] >= UInt8(ascii: "A") && bytes[index] <= UInt8(ascii: "Z") {
            bytes[index] |= 0x20
        }
        return bytes
    }

    /// Star-only patterns (Cilium's `isDNSWildcard`: `*`, `**`, `*.`, `***.`) are `*`; a
    /// leading run of two or more stars followed by "." is `**.`; other star runs are `*`.
    static func canonicalPattern(_ pattern: String) -> String {
        let text = Array(Self.normalizedName(pattern).utf8)
        if !text.isEmpty && text.allSatisfy({ $0 == UInt8(ascii: "*") }) { return "*" }
        var result: [UInt8] = []
        var index = 0
        let leadingStars = text.prefix { $0 == UInt8(ascii: "*") }.count
        if leadingStars >= 2 && leadingStars < text.count && text[leadingStars] == UInt8(ascii: ".") {
            result = Array("**.".utf8)
            index = leadingStars + 1
        }
        var previousStar = false
        for byte in text[index...] {
            let star = byte == UInt8(ascii: "*")
            if !(star && previousStar) { result.append(byte) }
            previousStar = star
        }
        return String(decoding: result, as: UTF8.self)
    }

    /// Cilium's checks, in the order its CRD and `sanitize()` apply them.
    static func validate(_ text: String, field: Kind) throws(FQDNSelectorError) {
        if text.isEmpty { throw FQDNSelectorError(field: field, text: text, problem: .empty) }
        if text.utf8.count > Self.maximumLength {
            throw FQDNSelectorError(field: field, text: text, problem: .tooLong)
        }
        let star = field == .matchPattern
        if !text.utf8.allSatisfy({ Self.isDNSCharacter($0) || $0 == UInt8(ascii: ".") || (star && $0 == UInt8(ascii: "*")) }) {
            throw FQDNSelectorError(field: field, text: text, problem: .invalidCharacters)
        }
        // `^([-a-zA-Z0-9_]+[.]?)+$`: no leading ".", no empty label ("..").
        let labels = text.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        let inner = text.utf8.last == UInt8(ascii: ".") ? labels.dropLast() : labels[...]
        if inner.contains(where: \.isEmpty) {
            throw FQDNSelectorError(field: field, text: text, problem: .emptyLabel)
        }
    }
}

/// Why Cilium rejects a matchName or matchPattern; `description` is the message the loader
/// reports at the field's path and line.
public struct FQDNSelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Problem: Sendable, Equatable { case empty, tooLong, invalidCharacters, emptyLabel }
    public var field: FQDNSelector.Kind
    public var text: String
    public var problem: Problem

    public var description: String {
        let allowed = self.field == .matchPattern ? "0-9, a-z, A-Z, '.', '-', '_' and '*'" : "0-9, a-z, A-Z, '.', '-' and '_'"
        switch self.problem {
        case .empty: return "\(self.field.rawValue) is empty"
        case .tooLong:
            return "\(self.field.rawValue) is \(self.text.utf8.count) characters long (Cilium allows at most \(FQDNSelector.maximumLength))"
        case .invalidCharacters:
            return "invalid characters in \(self.field.rawValue) '\(self.text)': only \(allowed) are allowed"
        case .emptyLabel:
            return "\(self.field.rawValue) '\(self.text)' has an empty label (a leading '.' or '..'); Cilium's CRD requires ^([-a-zA-Z0-9_\(self.field == .matchPattern ? "*" : "")]+[.]?)+$"
        }
    }
}
