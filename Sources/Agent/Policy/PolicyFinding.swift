/// One problem `flowmon policy check` reports: an error (the policy cannot be applied as
/// written) or a warning (it applies, but probably does not do what was meant). `code` is a
/// stable dotted name (docs/policy.md lists every code); the others say where and what.
package struct PolicyFinding: Sendable, Equatable {
    package enum Severity: String, Sendable, Comparable {
        case error, warning

        package static func < (a: Severity, b: Severity) -> Bool { a == .error && b == .warning }
    }

    package var severity: Severity
    package var code: String
    package var file: String
    /// 1-based YAML document (or List item) of the file; nil when the finding is about the file.
    package var document: Int?
    /// Field path in the document (`spec.ingress[0].toPorts[0].ports[0].port`); empty for the document or file.
    package var field: String
    package var line: Int?
    package var column: Int?
    package var message: String

    package init(severity: Severity, code: String, file: String, document: Int? = nil, field: String = "", line: Int? = nil,
                column: Int? = nil, message: String) {
        self.severity = severity
        self.code = code
        self.file = file
        self.document = document
        self.field = field
        self.line = line
        self.column = column
        self.message = message
    }

    /// A warning about `field` of a loaded document, placed with the positions the load recorded.
    package init(warning code: String, _ source: PolicySource, field: String, positions: PolicyPositions, message: String) {
        let position = positions.nearest(field)
        self.init(severity: .warning, code: code, file: source.file, document: source.documentIndex, field: field,
                  line: position?.line, column: position?.column, message: message)
    }

    /// A load error. Errors of a policy document carry their field and code; file-level ones
    /// (unreadable file, YAML syntax, template) have the code given when they were made.
    package init(_ error: AgentError) {
        var document: Int?
        if error.location.hasPrefix("document ") {
            document = Int(error.location.dropFirst("document ".count).prefix { $0.isNumber })
        }
        self.init(severity: .error, code: error.code ?? "policy.field.invalid", file: error.file, document: document,
                  field: error.field ?? "", line: error.line, column: error.column, message: error.message)
    }

    /// `FILE: document N: FIELD: MESSAGE (line L, column C) [CODE]`, as `policy check` prints it.
    package var text: String {
        var text = self.file
        if let document { text += ": document \(document)" }
        if !self.field.isEmpty { text += ": " + self.field }
        text += ": " + self.message
        if let line { text += " (line \(line)" + (self.column.map { ", column \($0)" } ?? "") + ")" }
        return text + " [\(self.code)]"
    }
}

/// Line and column of the fields of one loaded document, by field path (`spec.ingress[0]`),
/// recorded by the load when asked (`PolicyLoader.loadEach(paths:recordingPositions:)`).
package struct PolicyPositions: Sendable, Equatable {
    package struct Position: Sendable, Equatable {
        package var line: Int
        package var column: Int
    }

    package var byPath: [String: Position] = [:]

    package init() {}

    /// The position of `path`, or of its nearest recorded parent (`a.b[2].c` → `a.b[2]` → `a.b` → `a`).
    package func nearest(_ path: String) -> Position? {
        var path = Substring(path)
        while !path.isEmpty {
            if let position = self.byPath[String(path)] { return position }
            guard let cut = path.lastIndex(where: { $0 == "." || $0 == "[" }) else { break }
            path = path[..<cut]
        }
        return self.byPath[""]
    }

    /// Records every mapping key and sequence item under `node`, named as the loader names fields.
    mutating func record(_ node: PolicyYAMLNode, path: String) {
        if let mark = node.mark, self.byPath[path] == nil { self.byPath[path] = Position(line: mark.line, column: mark.column) }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { continue }
                let child = path.isEmpty ? name : path + "." + name
                if let mark = key.mark { self.byPath[child] = Position(line: mark.line, column: mark.column) }
                self.record(value, path: child)
            }
        case .sequence(let sequence):
            for (index, item) in sequence.enumerated() { self.record(item, path: "\(path)[\(index)]") }
        case .scalar, .alias:
            break
        }
    }
}
