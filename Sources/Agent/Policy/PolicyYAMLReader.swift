import Yams

/// Yams' node (the Agent module has its own `Node`, a Kubernetes node).
typealias PolicyYAMLNode = Yams.Node

// Reading Yams nodes the way a Kubernetes API server reads JSON: typed, strict, with the
// field path and the line of every offending node. Scalars are classified here rather than
// by Yams' regular-expression resolver (the loader composes with `Resolver.basic`), which
// keeps large label maps fast and gives YAML 1.1 plain-scalar rules:
// `80` is an integer, `"80"` a string, `yes`/`true` booleans, `~`/`null`/empty null.

/// What a YAML node holds once converted to JSON.
enum PolicyValueKind: Equatable, Sendable {
    case map, list, string, integer, float, boolean, null

    /// "a map", "an integer"... for messages.
    var phrase: String {
        switch self {
        case .map: "a map"
        case .list: "a list"
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a number with a fraction"
        case .boolean: "a boolean"
        case .null: "null"
        }
    }
}

extension PolicyYAMLNode {
    /// The JSON type of this node (aliases are resolved by Yams' composer, so they do not occur).
    var policyValueKind: PolicyValueKind {
        switch self {
        case .mapping: .map
        case .sequence: .list
        case .scalar(let scalar): PolicyScalar.kind(of: scalar)
        case .alias: .null
        }
    }

    /// 1-based line of the node in its file.
    var policyLine: Int? { self.mark?.line }
}

/// Plain-scalar rules of YAML 1.1 (as Yams' default resolver and go-yaml apply them),
/// without regular expressions.
enum PolicyScalar {
    private static let intTag = "tag:yaml.org,2002:int"
    private static let boolTag = "tag:yaml.org,2002:bool"
    private static let nullTag = "tag:yaml.org,2002:null"
    private static let floatTag = "tag:yaml.org,2002:float"

    static func kind(of scalar: PolicyYAMLNode.Scalar) -> PolicyValueKind {
        switch scalar.tag.description {
        case "":
            // Implicit tag: a plain scalar whose type the content decides.
            guard scalar.style == .plain || scalar.style == .any else { return .string }
            return self.plainKind(scalar.string)
        case self.intTag: return .integer
        case self.boolTag: return .boolean
        case self.nullTag: return .null
        case self.floatTag: return .float
        default: return .string   // quoted ("tag:yaml.org,2002:str"), "!" or any other tag
        }
    }

    static func plainKind(_ text: String) -> PolicyValueKind {
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
             "on", "On", "ON", "off", "Off", "OFF":
            return .boolean
        default: break
        }
        if self.parseInteger(text).isInteger { return .integer }
        if self.isFloat(text) { return .float }
        return .string
    }

    /// YAML 1.1 integer syntax: `[-+]?` then `0b…`, `0x…`, `0o…`/`0…` (octal) or decimal;
    /// underscores are separators. `value` is nil when the syntax is right but the number
    /// does not fit an Int.
    static func parseInteger(_ text: String) -> (isInteger: Bool, value: Int?) {
        var bytes = Substring(text).utf8[...]
        guard !bytes.isEmpty else { return (false, nil) }
        var negative = false
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") {
            negative = first == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard let first = bytes.first else { return (false, nil) }
        var radix = 10
        if first == UInt8(ascii: "0"), bytes.count > 1 {
            let second = bytes[bytes.index(after: bytes.startIndex)]
            switch second {
            case UInt8(ascii: "b"): radix = 2; bytes = bytes.dropFirst(2)
            case UInt8(ascii: "x"): radix = 16; bytes = bytes.dropFirst(2)
            case UInt8(ascii: "o"): radix = 8; bytes = bytes.dropFirst(2)
            default: radix = 8; bytes = bytes.dropFirst(1)
            }
            guard !bytes.isEmpty else { return (false, nil) }
        }
        var value = 0
        var overflow = false
        var sawDigit = false
        for byte in bytes {
            if byte == UInt8(ascii: "_") { continue }
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return (false, nil)
            }
            guard digit < radix else { return (false, nil) }
            sawDigit = true
            if !overflow {
                let (m, o1) = value.multipliedReportingOverflow(by: radix)
                let (s, o2) = m.addingReportingOverflow(digit)
                if o1 || o2 { overflow = true } else { value = s }
            }
        }
        guard sawDigit else { return (false, nil) }
        if overflow { return (true, nil) }
        return (true, negative ? -value : value)
    }

    /// YAML 1.1 float syntax (`1.5`, `1e3`, `.5`, `.inf`, `.nan`), integers excluded by the caller.
    static func isFloat(_ text: String) -> Bool {
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN":
            return true
        default: break
        }
        var bytes = Substring(text).utf8[...]
        if let first = bytes.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") { bytes = bytes.dropFirst() }
        var digitsBefore = 0, digitsAfter = 0, sawDot = false, sawExponent = false, exponentDigits = 0
        var previous: UInt8 = 0
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if sawExponent { exponentDigits += 1 } else if sawDot { digitsAfter += 1 } else { digitsBefore += 1 }
            case UInt8(ascii: "_"):
                if sawExponent { return false }
            case UInt8(ascii: "."):
                if sawDot || sawExponent { return false }
                sawDot = true
            case UInt8(ascii: "e"), UInt8(ascii: "E"):
                if sawExponent || digitsBefore + digitsAfter == 0 { return false }
                sawExponent = true
            case UInt8(ascii: "-"), UInt8(ascii: "+"):
                guard previous == UInt8(ascii: "e") || previous == UInt8(ascii: "E") else { return false }
            default:
                return false
            }
            previous = byte
        }
        if sawExponent && exponentDigits == 0 { return false }
        return digitsBefore + digitsAfter > 0 && (sawDot || sawExponent)
    }
}

/// A field flowmon reads but does not evaluate, and where.
struct PolicyUnevaluated: Sendable {
    var feature: String
    var effect: String
    var place: String
}

/// The place being read: file, document, notices, and a budget against alias bombs.
final class PolicyDocumentContext {
    let file: String
    let documentIndex: Int
    var notices: [String] = []
    /// Nodes still allowed to be visited in this document (aliases can make a small file
    /// expand exponentially).
    private var budget: Int

    static let nodeBudget = 20_000_000

    init(file: String, documentIndex: Int, budget: Int = PolicyDocumentContext.nodeBudget) {
        self.file = file
        self.documentIndex = documentIndex
        self.budget = budget
    }

    func location(_ path: String) -> String {
        path.isEmpty ? "document \(self.documentIndex)" : "document \(self.documentIndex): \(path)"
    }

    /// An error about the field at `path`. `code` defaults by the message: a missing field is
    /// `policy.field.missing`, anything else `policy.field.invalid`.
    func error(_ path: String, _ message: String, line: Int?, column: Int? = nil, code: String? = nil) -> AgentError {
        AgentError(file: self.file, location: self.location(path), message: message, line: line, column: column,
                   field: path, code: code ?? (message == "required field is missing" ? "policy.field.missing" : "policy.field.invalid"))
    }

    func error(_ path: String, _ message: String, at node: PolicyYAMLNode, code: String? = nil) -> AgentError {
        self.error(path, message, line: node.policyLine, column: node.mark?.column, code: code)
    }

    /// Warnings about this document (`PolicySet.warnings`).
    var warnings: [PolicyFinding] = []

    /// Errors in rules read so far: a rule that fails is left out and the rules after it are
    /// still read, so one check reports every broken rule of the document (the document is
    /// refused all the same: `PolicyLoadSession.handle`).
    private(set) var ruleErrors: [AgentError] = []

    /// Reads each item of the list at `path` with `body` (`path[i]`): an item that fails is
    /// recorded in `ruleErrors` and skipped, and the next is read.
    func eachRule<T>(_ node: PolicyYAMLNode, _ path: String,
                     _ body: (PolicyYAMLNode, String) throws(AgentError) -> T) throws(AgentError) -> [T] {
        let nodes = try self.list(node, path)
        var result: [T] = []
        result.reserveCapacity(nodes.count)
        for (index, item) in nodes.enumerated() {
            do {
                result.append(try body(item, "\(path)[\(index)]"))
            } catch {
                self.ruleErrors.append(error)
            }
        }
        return result
    }

    /// Things read but not evaluated, reported once per feature for a whole load.
    var unevaluated: [PolicyUnevaluated] = []

    /// Records that `feature` at `path` is read but not evaluated; `effect` says what flowmon
    /// does instead. The load reports each feature once (see `PolicyLoadSession`).
    func notEvaluated(_ feature: String, _ effect: String, path: String, line: Int?) {
        var place = "\(self.file): \(self.location(path))"
        if let line { place += " (line \(line))" }
        self.unevaluated.append(PolicyUnevaluated(feature: feature, effect: effect, place: place))
    }

    func spend(_ count: Int = 1, at node: PolicyYAMLNode) throws(AgentError) {
        self.budget -= count
        if self.budget < 0 {
            throw self.error("", "document is too large (more than \(Self.nodeBudget) values once YAML aliases are expanded)",
                             at: node, code: "policy.document.too-large")
        }
    }

    // MARK: Typed values

    func typeError(_ path: String, expected: String, _ node: PolicyYAMLNode) -> AgentError {
        self.error(path, "expected \(expected), found \(node.policyValueKind.phrase)", at: node, code: "policy.field.type")
    }

    func string(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> String {
        guard case .scalar(let scalar) = node, node.policyValueKind == .string else {
            throw self.typeError(path, expected: PolicyValueKind.string.phrase, node)
        }
        return scalar.string
    }

    func integer(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> Int {
        guard case .scalar(let scalar) = node, node.policyValueKind == .integer else {
            throw self.typeError(path, expected: PolicyValueKind.integer.phrase, node)
        }
        guard let value = PolicyScalar.parseInteger(scalar.string).value else {
            throw self.error(path, "integer \(scalar.string) is out of range", at: node)
        }
        return value
    }

    func boolean(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> Bool {
        guard case .scalar(let scalar) = node, node.policyValueKind == .boolean else {
            throw self.typeError(path, expected: PolicyValueKind.boolean.phrase, node)
        }
        switch scalar.string {
        case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return true
        default: return false
        }
    }

    /// An integer, or a string (as written); anything else is a type error.
    enum IntOrString { case int(Int), string(String) }

    func intOrString(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> IntOrString {
        switch node.policyValueKind {
        case .integer: return .int(try self.integer(node, path))
        case .string: return .string(try self.string(node, path))
        default: throw self.typeError(path, expected: "a string or an integer", node)
        }
    }

    /// The items of a YAML sequence, as Yams keeps them (indexed from 0).
    ///
    /// Not copied into an `Array`: Swift 6.3.1's optimizer miscompiles a discarded
    /// `Array(collection)` (its Dead Code Elimination pass on OSSA drops the copy that kept the
    /// new buffer alive, so the buffer is freed before the elements are written into it), and
    /// the loader validates some lists without keeping them (`_ = try list(...)`). The
    /// reproducer is in `docs/compiler-defects/`.
    func list(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> PolicyYAMLNode.Sequence {
        guard case .sequence(let sequence) = node else {
            throw self.typeError(path, expected: PolicyValueKind.list.phrase, node)
        }
        try self.spend(sequence.count, at: node)
        return sequence
    }

    func stringList(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> [String] {
        let items = try self.list(node, path)
        var result: [String] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            result.append(try self.string(item, "\(path)[\(index)]"))
        }
        return result
    }
}

/// A mapping whose keys were checked against the allowed field names. Keys with a `null`
/// value are treated as absent, as Go's JSON decoding does.
struct YAMLFieldMap {
    let path: String
    let node: PolicyYAMLNode
    /// Present (non-null) fields in file order: usually a few, searched rather than hashed.
    private var fields: [(key: String, value: PolicyYAMLNode, keyNode: PolicyYAMLNode)] = []
    /// For large maps (label maps), the position of each key's last field.
    private var positions: [String: Int]?

    /// Present (non-null) keys in file order.
    var keys: [String] { self.fields.map(\.key) }

    init(_ node: PolicyYAMLNode, path: String, allowed: [String], context: PolicyDocumentContext) throws(AgentError) {
        guard case .mapping(let mapping) = node else {
            throw context.typeError(path, expected: PolicyValueKind.map.phrase, node)
        }
        self.path = path
        self.node = node
        try context.spend(mapping.count, at: node)
        for (keyNode, valueNode) in mapping {
            guard case .scalar(let keyScalar) = keyNode else {
                throw context.error(path, "map keys must be strings, found \(keyNode.policyValueKind.phrase)", at: keyNode,
                                    code: "policy.field.type")
            }
            let key = keyScalar.string
            guard allowed.contains(key) else {
                throw context.error(Self.child(path, key),
                                    "unknown field '\(key)' (allowed: \(allowed.joined(separator: ", ")))", at: keyNode,
                                    code: "policy.field.unknown")
            }
            if valueNode.policyValueKind == .null { continue }
            // Yams rejects duplicate keys; two that differ only in tag both count, the last one
            // for lookups.
            self.fields.append((key, valueNode, keyNode))
        }
        if self.fields.count > 16 {
            var positions: [String: Int] = [:]
            for (position, field) in self.fields.enumerated() { positions[field.key] = position }
            self.positions = positions
        }
    }

    static func child(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    func path(_ key: String) -> String { Self.child(self.path, key) }

    private func field(_ key: String) -> (key: String, value: PolicyYAMLNode, keyNode: PolicyYAMLNode)? {
        if let positions = self.positions { return positions[key].map { self.fields[$0] } }
        return self.fields.last { $0.key == key }
    }

    subscript(key: String) -> PolicyYAMLNode? { self.field(key)?.value }

    /// Line of the key (better than the value's line for messages about the field as a whole).
    func keyLine(_ key: String) -> Int? { self.field(key)?.keyNode.policyLine ?? self.node.policyLine }

    var line: Int? { self.node.policyLine }
}
