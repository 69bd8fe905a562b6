/// A page in the Prometheus text exposition format, version 0.0.4 (Prometheus's
/// "Exposition formats" reference): per family a `# HELP` and a `# TYPE` line, then its samples
/// `name{label="value",...} value`, one per line, the page ending with a newline. Label values
/// escape backslash, double quote and line feed as `\\`, `\"` and `\n`; HELP text escapes
/// backslash and line feed. Built at scrape time, never on the packet path.
package struct MetricsPage: Sendable {
    /// The family types flowmon serves.
    package enum Kind: String, Sendable {
        /// Only ever goes up (a restart starts it at 0 again); names end in `_total`.
        case counter
        /// Goes up and down (active flows).
        case gauge
    }

    package private(set) var text = ""
    /// The families written so far: a name may appear once per page.
    private var families: Set<String> = []

    package init() {}

    /// Starts a family: its HELP and TYPE lines. Its samples follow with `sample`.
    package mutating func family(_ name: String, _ kind: Kind, help: String) {
        precondition(Self.isValidName(name) && self.families.insert(name).inserted, "metric family \(name)")
        self.text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(kind.rawValue)\n"
    }

    /// One sample of the family just started.
    package mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: UInt64) {
        self.text += name
        if !labels.isEmpty {
            self.text += "{"
            for (index, (label, value)) in labels.enumerated() {
                precondition(Self.isValidLabelName(label), "label \(label)")
                if index > 0 { self.text += "," }
                self.text += label + "=\"" + Self.escapeLabelValue(value) + "\""
            }
            self.text += "}"
        }
        self.text += " \(value)\n"
    }

    /// `\` → `\\`, `"` → `\"`, line feed → `\n`; everything else (UTF-8) as it is.
    package static func escapeLabelValue(_ value: String) -> String {
        guard value.utf8.contains(where: { $0 == 0x5C || $0 == 0x22 || $0 == 0x0A }) else { return value }
        var escaped = ""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }

    /// `\` → `\\`, line feed → `\n`.
    package static func escapeHelp(_ text: String) -> String {
        text.replacingBackslashesAndLineFeeds()
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
    package static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first) else { return false }
        return name.utf8.allSatisfy { Self.isNameByte($0) || $0 == 0x3A }
    }

    /// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with `__` (reserved for Prometheus).
    package static func isValidLabelName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !(0x30...0x39).contains(first), !name.hasPrefix("__") else { return false }
        return name.utf8.allSatisfy(Self.isNameByte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte) || byte == 0x5F
    }
}

extension String {
    fileprivate func replacingBackslashesAndLineFeeds() -> String {
        var escaped = ""
        for scalar in self.unicodeScalars {
            switch scalar {
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.unicodeScalars.append(scalar)
            }
        }
        return escaped
    }
}
