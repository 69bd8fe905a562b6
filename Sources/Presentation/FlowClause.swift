import Datapath
import Foundation
import FlowCore
import FlowLog

/// One of Hubble's `FlowFilter`s (cilium api/v1/flow/flow.proto; matching as in
/// pkg/hubble/filters): every field that is set must hold (AND), and the values of one field
/// are alternatives (OR). A field left nil asks nothing. `RecordFilter` builds these from the
/// command-line options the way `hubble observe` does (hubble/cmd/observe/flows_filter.go).
struct FlowClause: Sendable, Equatable {
    var sourcePods: [NamespacedName]?
    var destinationPods: [NamespacedName]?
    var sourceServices: [NamespacedName]?
    var destinationServices: [NamespacedName]?
    var sourceIPs: [IPPrefix]?
    var destinationIPs: [IPPrefix]?
    var sourceLabels: [[LabelTerm]]?
    var destinationLabels: [[LabelTerm]]?
    var sourceFQDNs: [FQDNPattern]?
    var destinationFQDNs: [FQDNPattern]?
    var sourcePorts: [UInt16]?
    var destinationPorts: [UInt16]?
    var sourceIdentities: [UInt32]?
    var destinationIdentities: [UInt32]?
    var sourceWorkloads: [WorkloadMatch]?
    var destinationWorkloads: [WorkloadMatch]?
    var verdicts: [VerdictMatch]?
    var protocols: [ProtocolMatch]?
    var types: [TypeMatch]?

    /// True when a field other than `types` is set: the clause asks about a connection.
    var asksAboutConnection: Bool {
        var copy = self
        copy.types = nil
        return copy != FlowClause()
    }

    /// Whether `event` satisfies every field set. A record without a connection (`stats`,
    /// `lost`) is judged on `types` alone; when other fields are set it gets `otherwise`.
    func matches(_ event: FlowLogEvent, otherwise: Bool) -> Bool {
        if let types = self.types, !types.contains(where: { $0.matches(event) }) { return false }
        guard let record = event.connection else { return self.asksAboutConnection ? otherwise : true }
        let source = record.source, destination = record.destination
        func all<T>(_ values: [T]?, _ test: (T) -> Bool) -> Bool { values.map { $0.contains(where: test) } ?? true }
        return all(self.sourcePods) { $0.matches(namespace: source?.namespace, name: source?.podName) }
            && all(self.destinationPods) { $0.matches(namespace: destination?.namespace, name: destination?.podName) }
            // flowmon never learns a service for the initiator (Cilium sets one only for a
            // service frontend's own address): a source service matches nothing.
            && all(self.sourceServices) { _ in false }
            && all(self.destinationServices) {
                $0.matches(namespace: record.destinationService?.namespace, name: record.destinationService?.name)
            }
            && all(self.sourceIPs) { prefix in IPAddress(text: record.sourceIP).map(prefix.contains) ?? false }
            && all(self.destinationIPs) { prefix in IPAddress(text: record.destinationIP).map(prefix.contains) ?? false }
            && all(self.sourceLabels) { LabelTerm.selector($0, matches: source?.labels ?? []) }
            && all(self.destinationLabels) { LabelTerm.selector($0, matches: destination?.labels ?? []) }
            // The names a record carries are the initiator's for the responder (`dest_names`).
            && all(self.sourceFQDNs) { _ in false }
            && all(self.destinationFQDNs) { pattern in (record.destinationNames ?? []).contains(where: pattern.matches) }
            && all(self.sourcePorts) { $0 == record.sourcePort }
            && all(self.destinationPorts) { $0 == record.destinationPort }
            && all(self.sourceIdentities) { $0 == source?.identity }
            && all(self.destinationIdentities) { $0 == destination?.identity }
            && all(self.sourceWorkloads) { $0.matches(source?.workloads ?? []) }
            && all(self.destinationWorkloads) { $0.matches(destination?.workloads ?? []) }
            && all(self.verdicts) { $0.matches(record.verdict) }
            && all(self.protocols) { $0.matches(event, record) }
    }
}

/// `[NAMESPACE/]NAME-PREFIX` as Hubble reads a pod or service (pkg/hubble/k8s
/// `ParseNamespaceName`): without a slash the namespace is `default`; `NAMESPACE/` is every
/// name in it. A name matches when it starts with the prefix and the namespace is equal; an
/// endpoint with neither namespace nor name matches nothing.
struct NamespacedName: Sendable, Equatable {
    var text: String
    var namespace: String
    var prefix: String

    init(_ text: String) {
        self.text = text
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.count == 2 {
            (self.namespace, self.prefix) = (String(parts[0]), String(parts[1]))
        } else {
            (self.namespace, self.prefix) = text.isEmpty ? ("", "") : ("default", text)
        }
    }

    func matches(namespace: String?, name: String?) -> Bool {
        let namespace = namespace ?? "", name = name ?? ""
        if namespace.isEmpty && name.isEmpty { return false }
        return (self.prefix.isEmpty || name.hasPrefix(self.prefix)) && (self.namespace.isEmpty || self.namespace == namespace)
    }
}

/// A `--workload` value: `NAME` or `KIND/NAME` (`Deployment/web`, or `Deployment/` for every
/// Deployment); it matches an endpoint owned by a workload with that name and kind.
struct WorkloadMatch: Sendable, Equatable {
    var kind: String
    var name: String

    init(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        (self.kind, self.name) = parts.count == 2 ? (String(parts[0]), String(parts[1])) : ("", text)
    }

    func matches(_ workloads: [FlowLogRecord.Workload]) -> Bool {
        workloads.contains { (self.name.isEmpty || self.name == $0.name) && (self.kind.isEmpty || self.kind == $0.kind) }
    }
}

/// A `--fqdn` pattern (pkg/hubble/filters/patterns.go): lower case, a trailing dot dropped;
/// `*` stands for any run of letters, digits, `-` and `.`; the whole name must match.
struct FQDNPattern: Sendable, Equatable {
    var pattern: [UInt8]

    init(_ text: String, option: String) throws(FilterError) {
        var canonical = text.trimming(" \t").lowercased()
        if canonical.hasSuffix(".") { canonical.removeLast() }
        guard !canonical.isEmpty else { throw FilterError("\(option) '\(text)': empty pattern") }
        guard !canonical.hasSuffix(".") else { throw FilterError("\(option) '\(text)': multiple trailing dots") }
        for byte in canonical.utf8 where !(Self.isNameByte(byte) || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "*")) {
            throw FilterError("\(option) '\(text)': '\(Character(UnicodeScalar(byte)))' is not allowed in a name pattern")
        }
        self.pattern = Array(canonical.utf8)
    }

    static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
    }

    func matches(_ name: String) -> Bool {
        let name = Array(name.utf8)
        // Backtracking over the stars: `star` is the last star seen and `resume` where its run ends.
        var p = 0, n = 0, star = -1, resume = 0
        while n < name.count {
            if p < self.pattern.count && self.pattern[p] == UInt8(ascii: "*") {
                star = p
                resume = n
                p += 1
            } else if p < self.pattern.count && self.pattern[p] == name[n] {
                p += 1
                n += 1
            } else if star >= 0 && Self.isNameByte(name[resume]) {
                resume += 1
                n = resume
                p = star + 1
            } else {
                return false
            }
        }
        while p < self.pattern.count && self.pattern[p] == UInt8(ascii: "*") { p += 1 }
        return p == self.pattern.count
    }
}

/// A `--verdict` value. flowmon observes and never drops: a connection policy would drop is
/// written `AUDIT`, or `DROPPED` with `--verdict-as-enforced`. So `AUDIT` and `DROPPED` both
/// select those connections however they are written; `FORWARDED` selects the allowed ones
/// and those without a verdict (a run without policies, as traffic without policy in Cilium).
/// Hubble's other verdicts (`ERROR`, `REDIRECTED`, `TRACED`, `TRANSLATED`) select nothing:
/// flowmon never gives them.
enum VerdictMatch: String, Sendable, Equatable, CaseIterable {
    case forwarded = "FORWARDED"
    case audit = "AUDIT"
    case dropped = "DROPPED"
    case error = "ERROR"
    case redirected = "REDIRECTED"
    case traced = "TRACED"
    case translated = "TRANSLATED"
    case unknown = "VERDICT_UNKNOWN"

    func matches(_ verdict: FlowLogRecord.Verdict?) -> Bool {
        switch self {
        case .forwarded: !(verdict?.wouldDrop ?? false)
        case .audit, .dropped: verdict?.wouldDrop ?? false
        default: false
        }
    }
}

/// A `--protocol` value: Hubble's names (`tcp`, `udp`, `sctp`, `icmp` for both ICMP
/// versions, `icmpv4`, `icmpv6`, `vrrp`, `igmp`; `dns`, `http`, `kafka` select application
/// records, as Hubble's select L7 flows), flowmon's `tls`, or an IP protocol number.
enum ProtocolMatch: Sendable, Equatable {
    /// The `proto` texts that match.
    case layer4([String])
    case application(FlowLogEvent.Kind?)

    init(_ text: String) throws(FilterError) {
        switch text.lowercased() {
        case "tcp": self = .layer4(["TCP"])
        case "udp": self = .layer4(["UDP"])
        case "sctp": self = .layer4(["SCTP"])
        case "icmp": self = .layer4(["ICMP", "IPv6-ICMP"])
        case "icmpv4": self = .layer4(["ICMP"])
        case "icmpv6", "ipv6-icmp": self = .layer4(["IPv6-ICMP"])
        case "vrrp": self = .layer4(["VRRP"])
        case "igmp": self = .layer4(["IGMP"])
        case "dns": self = .application(.dns)
        case "http": self = .application(.http)
        case "tls": self = .application(.tls)
        case "kafka": self = .application(nil)
        default:
            guard let number = UInt8(text) else {
                throw FilterError("--protocol '\(text)': expected tcp, udp, sctp, icmp, icmpv4, icmpv6, vrrp, igmp, dns, http, tls, kafka or a protocol number")
            }
            self = .layer4([IPProtocolNumber.eveName(number).map { "\($0)" } ?? String(number)])
        }
    }

    func matches(_ event: FlowLogEvent, _ record: FlowLogRecord) -> Bool {
        switch self {
        case .layer4(let names): names.contains(record.proto)
        case .application(let kind): kind != nil && event.kind == kind
        }
    }
}

/// A `--type` value: flowmon's record types (`flow`, `alert`, `stats`, `lost`, `dns`, `http`,
/// `tls`) and Hubble's event types as flowmon's records stand for them: `l7` (the DNS, HTTP
/// and TLS records), `policy-verdict` (flows with a policy verdict), `drop` (flows policy
/// would drop, however they are written).
enum TypeMatch: Sendable, Equatable {
    case kind(FlowLogEvent.Kind)
    case layer7, policyVerdict, drop

    init(_ text: String) throws(FilterError) {
        switch text.lowercased() {
        case "l7": self = .layer7
        case "policy-verdict": self = .policyVerdict
        case "drop": self = .drop
        default:
            guard let kind = FlowLogEvent.Kind(rawValue: text.lowercased()) else {
                throw FilterError("--type '\(text)': expected flow, alert, stats, lost, dns, http, tls, l7, policy-verdict or drop")
            }
            self = .kind(kind)
        }
    }

    func matches(_ event: FlowLogEvent) -> Bool {
        switch self {
        case .kind(let kind): event.kind == kind
        case .layer7: FlowLogEvent.Kind.application.contains(event.kind)
        case .policyVerdict: event.kind == .flow && event.connection?.policy != nil
        case .drop: event.kind == .flow && event.connection?.verdict?.wouldDrop == true
        }
    }
}

/// A security identity as `--identity` takes it: a number, or a reserved identity's name
/// (`host`, `world`, `remote-node`, `kube-apiserver` ...; cilium pkg/identity).
enum IdentityValue {
    static func parse(_ text: String, option: String) throws(FilterError) -> UInt32 {
        if let reserved = Identity.allReserved.first(where: { $0.reservedName.map { "\($0)" } == text }) {
            return reserved.rawValue
        }
        guard let number = UInt32(text) else {
            let names = Identity.allReserved.compactMap { $0.reservedName.map { "\($0)" } }.joined(separator: ", ")
            throw FilterError("\(option) '\(text)': expected a number or one of \(names)")
        }
        return number
    }
}

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

extension StringProtocol {
    func trimming(_ set: String) -> String {
        let characters = Set(set)
        return String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
