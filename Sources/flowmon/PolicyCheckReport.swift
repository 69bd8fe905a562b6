import Agent
import ArgumentParser
import Foundation

/// How `flowmon policy check` prints its findings (`--format`).
enum PolicyCheckFormat: String, ExpressibleByArgument, CaseIterable {
    /// Policy lines and a summary on standard output, findings on standard error.
    case text
    /// One JSON object on standard output (schema/policy-check.schema.json).
    case json
    /// GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=CODE::message`).
    case github
    /// A GitLab Code Quality report: a JSON array of issues (`artifacts:reports:codequality`).
    case gitlab
}

/// The findings of one `policy check` run in each `--format`.
struct PolicyCheckReport {
    var findings: [PolicyFinding]
    var policies: Int

    var errorCount: Int { self.findings.count { $0.severity == .error } }
    var warningCount: Int { self.findings.count { $0.severity == .warning } }

    /// The JSON document of `--format json`: `{"policies", "errors", "warnings", "findings": [...]}`,
    /// each finding with severity, code, file, document, field, line, column and message
    /// (absent members were not known).
    func json() throws -> String {
        let findings = self.findings.map { finding -> [String: Any] in
            var object: [String: Any] = ["severity": finding.severity.rawValue, "code": finding.code, "file": finding.file,
                                         "field": finding.field, "message": finding.message]
            if let document = finding.document { object["document"] = document }
            if let line = finding.line { object["line"] = line }
            if let column = finding.column { object["column"] = column }
            return object
        }
        let object: [String: Any] = ["policies": self.policies, "errors": self.errorCount, "warnings": self.warningCount,
                                     "findings": findings]
        return try Self.serialize(object)
    }

    /// GitHub Actions workflow commands, one line per finding: GitHub shows each as an
    /// annotation on the file and line (docs.github.com, "Workflow commands for GitHub Actions":
    /// `::error file={name},line={line},col={col},title={title}::{message}`; in the message `%`,
    /// CR and LF are escaped as `%25`, `%0D`, `%0A`, in properties also `:` and `,`).
    func github() -> String {
        self.findings.map { finding in
            var properties = ["file=" + Self.githubProperty(finding.file)]
            if let line = finding.line { properties.append("line=\(line)") }
            if let column = finding.column { properties.append("col=\(column)") }
            properties.append("title=" + Self.githubProperty(finding.code))
            var message = finding.message
            if let document = finding.document {
                message = "document \(document)" + (finding.field.isEmpty ? "" : ": \(finding.field)") + ": " + message
            }
            return "::\(finding.severity.rawValue) \(properties.joined(separator: ","))::\(Self.githubData(message))"
        }.joined(separator: "\n")
    }

    static func githubData(_ text: String) -> String {
        text.replacingOccurrences(of: "%", with: "%25").replacingOccurrences(of: "\r", with: "%0D")
            .replacingOccurrences(of: "\n", with: "%0A")
    }

    static func githubProperty(_ text: String) -> String {
        self.githubData(text).replacingOccurrences(of: ":", with: "%3A").replacingOccurrences(of: ",", with: "%2C")
    }

    /// A GitLab Code Quality report (docs.gitlab.com, "Code Quality", "Code Quality report
    /// format"): an array of issues with `description`, `check_name`, `fingerprint`,
    /// `severity` (info, minor, major, critical or blocker: errors are `major`, warnings
    /// `minor`) and `location.path` / `location.lines.begin` (1 when no line is known).
    /// The fingerprint is stable across runs: a hash of code, file, document, field and message.
    func gitlab() throws -> String {
        let issues = self.findings.map { finding -> [String: Any] in
            var description = finding.message
            if let document = finding.document {
                description = "document \(document)" + (finding.field.isEmpty ? "" : ": \(finding.field)") + ": " + description
            }
            return ["type": "issue", "description": description, "check_name": finding.code,
                    "categories": [finding.severity == .error ? "Bug Risk" : "Clarity"],
                    "fingerprint": Self.fingerprint(finding), "severity": finding.severity == .error ? "major" : "minor",
                    "location": ["path": finding.file, "lines": ["begin": finding.line ?? 1]] as [String: Any]]
        }
        return try Self.serialize(issues)
    }

    /// 32 hexadecimal digits: two 64-bit FNV-1a hashes (different offsets) of the finding's identity.
    static func fingerprint(_ finding: PolicyFinding) -> String {
        let key = [finding.code, finding.file, finding.document.map(String.init) ?? "", finding.field, finding.message]
            .joined(separator: "\u{1f}")
        func fnv(_ offset: UInt64) -> UInt64 {
            key.utf8.reduce(offset) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        }
        let hex = [fnv(0xcbf2_9ce4_8422_2325), fnv(0x8422_2325_cbf2_9ce4)].map { String($0, radix: 16) }
        return hex.map { String(repeating: "0", count: 16 - $0.count) + $0 }.joined()
    }

    static func serialize(_ value: Any) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
