import FlowCore

/// The keys of flowmon's records as the reader meets them: by their text (the fast parser
/// switches on `EVEKey(stringValue:)` for every key of every line) and as `JSONDecoder`'s
/// coding keys, so both read the names Output writes. A key not in the vocabulary is nil.
extension EVEKey: CodingKey {
    /// Every key with its text, by the text's length in bytes: a few comparisons of short
    /// strings find a key, faster than hashing it.
    private static let byLength: [[(text: String, key: EVEKey)]] = allCases.reduce(into: []) { table, key in
        let text = key.stringValue
        while table.count <= text.utf8.count { table.append([]) }
        table[text.utf8.count].append((text, key))
    }

    public init?(stringValue: String) {
        let length = stringValue.utf8.count
        guard length < Self.byLength.count, let entry = Self.byLength[length].first(where: { $0.text == stringValue }) else { return nil }
        self = entry.key
    }

    public var stringValue: String { self.rawValue.text.description }

    public init?(intValue: Int) { return nil }

    public var intValue: Int? { nil }
}
