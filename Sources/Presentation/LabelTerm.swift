import Foundation

/// One term of a label selector, in Kubernetes' selector syntax as Hubble reads it
/// (pkg/hubble/filters/labels.go): `key=value` (or `==`), `key!=value`, `key in (a,b)`,
/// `key notin (a,b)`, `key`, `!key`; `!=` and `notin` also hold when the key is absent. A key
/// may carry its source (`k8s:app=web`, `reserved:world`); without one any source matches
/// (Hubble's `any:`).
struct LabelTerm: Sendable, Equatable {
    enum Test: Sendable, Equatable { case equals(String), notEquals(String), exists, absent, among([String]), notAmong([String]) }
    var source: String?
    var key: String
    var test: Test

    /// The comma-separated terms of `value`, commas inside parentheses kept.
    static func terms(_ value: String) -> [Substring] {
        var terms: [Substring] = []
        var depth = 0, start = value.startIndex
        for index in value.indices {
            switch value[index] {
            case "(": depth += 1
            case ")": depth -= 1
            case "," where depth == 0:
                terms.append(value[start..<index])
                start = value.index(after: index)
            default: break
            }
        }
        terms.append(value[start...])
        return terms.filter { !$0.trimming(" ").isEmpty }
    }

    /// Parses a comma-separated selector whose terms must all hold.
    static func selector(_ value: String, option: String) throws(FilterError) -> [LabelTerm] {
        try Self.terms(value).map { raw throws(FilterError) in
            var text = raw.trimming(" ")
            var test = LabelTerm.Test.exists
            if let set = text.range(of: #"\s+(not)?in\s*\("#, options: .regularExpression) {
                guard text.hasSuffix(")") else { throw FilterError("\(option) '\(value)': a set has no closing ')'") }
                let open = text[set].firstIndex(of: "(")!
                let values = text[text.index(after: open)..<text.index(before: text.endIndex)].split(separator: ",").map { $0.trimming(" ") }
                test = text[set].contains("notin") ? .notAmong(values) : .among(values)
                text = String(text[..<set.lowerBound])
            } else if let range = text.range(of: "!=") {
                test = .notEquals(text[range.upperBound...].trimming(" "))
                text = String(text[..<range.lowerBound])
            } else if let equals = text.firstIndex(of: "=") {
                var rest = text[text.index(after: equals)...]
                if rest.first == "=" { rest = rest.dropFirst() }
                test = .equals(rest.trimming(" "))
                text = String(text[..<equals])
            } else if text.hasPrefix("!") {
                test = .absent
                text = String(text.dropFirst())
            }
            text = text.trimming(" ")
            var source: String?
            if let colon = text.firstIndex(of: ":") {
                source = String(text[..<colon])
                text = String(text[text.index(after: colon)...])
            }
            guard !text.isEmpty else { throw FilterError("\(option) '\(value)': a term has no label key") }
            return LabelTerm(source: source, key: text, test: test)
        }
    }

    /// Whether every term holds on `labels` (`source:key=value` or `source:key`).
    static func selector(_ terms: [LabelTerm], matches labels: [String]) -> Bool {
        terms.allSatisfy { term in
            let values: [String] = labels.compactMap { label -> String? in
                guard let colon = label.firstIndex(of: ":") else { return nil }
                let source = label[..<colon], rest = label[label.index(after: colon)...]
                if let wanted = term.source, wanted != "any", wanted != source { return nil }
                guard let equals = rest.firstIndex(of: "=") else { return rest == term.key ? "" : nil }
                return rest[..<equals] == term.key ? String(rest[rest.index(after: equals)...]) : nil
            }
            switch term.test {
            case .exists: return !values.isEmpty
            case .absent: return values.isEmpty
            case .equals(let value): return values.contains { $0 == value }
            case .notEquals(let value): return !values.contains { $0 == value }
            case .among(let set): return values.contains { set.contains($0) }
            case .notAmong(let set): return !values.contains { set.contains($0) }
            }
        }
    }
}
