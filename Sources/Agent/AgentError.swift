/// A problem with a file the agent reads (inventory, policy). `description` is the
/// one-line message the CLI prints: it names the file, the place in it (document index
/// and field path, and the line when the parser gives one) and what is wrong, e.g.
/// `policies/web.yaml: document 2: spec.ingress[0].toPorts[0].ports[0].port: port 70000 is out of range 1-65535 (line 17)`.
package struct AgentError: Error, CustomStringConvertible, Sendable, Equatable {
    package var file: String
    /// Where in the file: `document 2: spec.ingress[0]` or a JSON path `$.items[3].status.podIP`; may be empty.
    package var location: String
    package var message: String
    package var line: Int?
    /// 1-based column of the offending node, when the parser gives one (not printed in
    /// `description`; `flowmon policy check --format` reports it).
    package var column: Int?
    /// The field path alone (`spec.ingress[0]`), when the error is about a field of a document.
    package var field: String?
    /// A stable dotted name for the kind of problem (`policy.field.unknown`), for
    /// `flowmon policy check`; docs/policy.md lists them.
    package var code: String?
    /// Errors of the same load in other files (a policy directory reports every bad file).
    package var further: [AgentError] = []

    package init(file: String, location: String = "", message: String, line: Int? = nil, column: Int? = nil,
                field: String? = nil, code: String? = nil) {
        self.column = column
        self.field = field
        self.code = code
        self.file = file
        self.location = location
        self.message = message
        self.line = line
    }

    /// This error's line, then those of `further`: what the CLI prints, one line each.
    package var lines: [String] { [self.description] + self.further.flatMap(\.lines) }

    package var description: String {
        var text = self.file
        if !self.location.isEmpty { text += ": " + self.location }
        text += ": " + self.message
        if let line = self.line { text += " (line \(line))" }
        return text
    }
}
