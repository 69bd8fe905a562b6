import FlowLog

/// Output filters in the manner of `hubble observe`: each option narrows the output, values
/// of one option are alternatives (any may match), different options must all match.
///
/// - `--from-pod` / `--to-pod` `[NAMESPACE/]POD`: the pod name starts with POD (Hubble's
///   prefix match), in NAMESPACE when given, in any namespace otherwise.
/// - `--namespace NS`: either side is in NS.
/// - `--from-label` / `--to-label` `SELECTOR`: comma-separated terms that must all hold on that
///   side's labels: `key=value`, `key!=value`, `key` (present), `!key` (absent). A key may
///   carry its source (`k8s:app=web`, `reserved:world`); without one any source matches.
/// - `--verdict FORWARDED|AUDIT|DROPPED`: a connection without a policy verdict (no
///   inventory) counts as FORWARDED, as traffic with no policy is in Cilium.
/// - `--port N`: either port. `--protocol tcp|udp|sctp|icmp|icmpv6|NUMBER`.
/// - `--type flow|alert|stats|lost`: which records; the others apply to flows and alerts,
///   and `stats` and `lost` records pass them.
package struct RecordFilter: Sendable {
    package struct Pod: Sendable, Equatable {
        var namespace: String?
        var prefix: String
    }

    package struct LabelTerm: Sendable, Equatable {
        enum Test: Sendable, Equatable { case equals(String), notEquals(String), exists, absent }
        var source: String?
        var key: String
        var test: Test
    }

    var fromPods: [Pod] = []
    var toPods: [Pod] = []
    var namespaces: [String] = []
    var fromLabels: [[LabelTerm]] = []
    var toLabels: [[LabelTerm]] = []
    var verdicts: [FlowLogRecord.Verdict] = []
    var ports: [UInt16] = []
    var protocols: [String] = []
    var types: [FlowLogEvent.Kind] = []

    package init() {}

    /// Builds the filter from option values; throws a message naming the option and value.
    package init(fromPods: [String] = [], toPods: [String] = [], namespaces: [String] = [], fromLabels: [String] = [],
                toLabels: [String] = [], verdicts: [String] = [], ports: [Int] = [], protocols: [String] = [],
                types: [String] = []) throws(FilterError) {
        self.fromPods = try fromPods.map { value throws(FilterError) in try Self.pod(value, option: "--from-pod") }
        self.toPods = try toPods.map { value throws(FilterError) in try Self.pod(value, option: "--to-pod") }
        self.namespaces = namespaces
        self.fromLabels = try fromLabels.map { value throws(FilterError) in try Self.selector(value, option: "--from-label") }
        self.toLabels = try toLabels.map { value throws(FilterError) in try Self.selector(value, option: "--to-label") }
        self.verdicts = try verdicts.map { value throws(FilterError) in
            guard let verdict = FlowLogRecord.Verdict(rawValue: value.uppercased()) else {
                throw FilterError("--verdict '\(value)': expected FORWARDED, AUDIT or DROPPED")
            }
            return verdict
        }
        self.ports = try ports.map { port throws(FilterError) in
            guard let port = UInt16(exactly: port) else { throw FilterError("--port \(port): expected 0 to 65535") }
            return port
        }
        self.protocols = try protocols.map { value throws(FilterError) in
            switch value.lowercased() {
            case "tcp": return "TCP"
            case "udp": return "UDP"
            case "sctp": return "SCTP"
            case "icmp", "icmpv4": return "ICMP"
            case "icmpv6", "ipv6-icmp": return "IPv6-ICMP"
            default:
                guard let number = UInt8(value) else {
                    throw FilterError("--protocol '\(value)': expected tcp, udp, sctp, icmp, icmpv6 or a protocol number")
                }
                return String(number)
            }
        }
        self.types = try types.map { value throws(FilterError) in
            guard let kind = FlowLogEvent.Kind(rawValue: value.lowercased()) else {
                throw FilterError("--type '\(value)': expected flow, alert, stats or lost")
            }
            return kind
        }
    }

    /// True when nothing is filtered.
    package var isEmpty: Bool {
        self.fromPods.isEmpty && self.toPods.isEmpty && self.namespaces.isEmpty && self.fromLabels.isEmpty
            && self.toLabels.isEmpty && self.verdicts.isEmpty && self.ports.isEmpty && self.protocols.isEmpty
            && self.types.isEmpty
    }

    package func matches(_ event: FlowLogEvent) -> Bool {
        if !self.types.isEmpty && !self.types.contains(event.kind) { return false }
        guard let record = event.connection else { return true }
        let source = record.source, destination = record.destination
        if !self.fromPods.isEmpty && !self.fromPods.contains(where: { Self.pod($0, matches: source) }) { return false }
        if !self.toPods.isEmpty && !self.toPods.contains(where: { Self.pod($0, matches: destination) }) { return false }
        if !self.namespaces.isEmpty
            && !self.namespaces.contains(where: { $0 == source?.namespace || $0 == destination?.namespace }) { return false }
        if !self.fromLabels.isEmpty && !self.fromLabels.contains(where: { Self.selector($0, matches: source) }) { return false }
        if !self.toLabels.isEmpty && !self.toLabels.contains(where: { Self.selector($0, matches: destination) }) { return false }
        if !self.verdicts.isEmpty && !self.verdicts.contains(record.verdict ?? .forwarded) { return false }
        if !self.ports.isEmpty
            && !self.ports.contains(where: { $0 == record.sourcePort || $0 == record.destinationPort }) { return false }
        if !self.protocols.isEmpty && !self.protocols.contains(record.proto) { return false }
        return true
    }

    static func pod(_ pod: Pod, matches endpoint: FlowLogRecord.Endpoint?) -> Bool {
        guard let endpoint, let name = endpoint.podName else { return false }
        if let namespace = pod.namespace, namespace != endpoint.namespace { return false }
        return name.hasPrefix(pod.prefix)
    }

    static func selector(_ terms: [LabelTerm], matches endpoint: FlowLogRecord.Endpoint?) -> Bool {
        let labels = endpoint?.labels ?? []
        return terms.allSatisfy { term in
            // Each label is `source:key=value` or `source:key` (a value of "").
            let values: [String] = labels.compactMap { label -> String? in
                guard let colon = label.firstIndex(of: ":") else { return nil }
                let source = label[..<colon], rest = label[label.index(after: colon)...]
                if let wanted = term.source, wanted != source { return nil }
                guard let equals = rest.firstIndex(of: "=") else { return rest == term.key ? "" : nil }
                return rest[..<equals] == term.key ? String(rest[rest.index(after: equals)...]) : nil
            }
            switch term.test {
            case .exists: return !values.isEmpty
            case .absent: return values.isEmpty
            case .equals(let value): return values.contains { $0 == value }
            case .notEquals(let value): return !values.contains { $0 == value }
            }
        }
    }

    static func pod(_ value: String, option: String) throws(FilterError) -> Pod {
        let parts = value.split(separator: "/", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts.last!.isEmpty, parts.allSatisfy({ !$0.isEmpty }) else {
            throw FilterError("\(option) '\(value)': expected POD or NAMESPACE/POD")
        }
        return parts.count == 2 ? Pod(namespace: String(parts[0]), prefix: String(parts[1])) : Pod(prefix: value)
    }

    static func selector(_ value: String, option: String) throws(FilterError) -> [LabelTerm] {
        try value.split(separator: ",").map { raw throws(FilterError) in
            var text = raw.trimmingWhitespace()
            var test = LabelTerm.Test.exists
            if let range = text.range(of: "!=") {
                test = .notEquals(String(text[range.upperBound...]))
                text = String(text[..<range.lowerBound])
            } else if let equals = text.firstIndex(of: "=") {
                test = .equals(String(text[text.index(after: equals)...]))
                text = String(text[..<equals])
            } else if text.hasPrefix("!") {
                test = .absent
                text = String(text.dropFirst())
            }
            var source: String?
            if let colon = text.firstIndex(of: ":") {
                source = String(text[..<colon])
                text = String(text[text.index(after: colon)...])
            }
            guard !text.isEmpty else { throw FilterError("\(option) '\(value)': a term has no label key") }
            return LabelTerm(source: source, key: text, test: test)
        }
    }
}

/// A filter option that cannot be used, with the option and value named.
package struct FilterError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    func trimmingWhitespace() -> String {
        String(self.drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
