import FlowCore
import FlowLog
import Foundation

/// Which records to show, chosen with the options of `hubble observe` and built as it builds
/// them (hubble/cmd/observe/flows_filter.go), then applied to flowmon's records:
///
/// - An option about one side (`--from-pod`, `--to-ip`, ...) constrains that side. An option
///   about either side (`--pod`, `--ip`, `--label`, `--fqdn`, `--port`, `--identity`,
///   `--service`, `--workload`, `--namespace`) makes two alternatives, one where the source
///   matches and one where the destination does; the other options apply to both. So
///   `--pod a --port 80` keeps connections from a pod `a*` with source port 80, or to one with
///   destination port 80, as Hubble's left and right `FlowFilter`s do.
/// - Values of one option are alternatives (any may match); different options must all match.
/// - `--not` puts the next option into the exclusions: a record matching an exclusion is not
///   shown. Options in the same list that Hubble refuses to combine (`--ip` with `--pod`,
///   `--namespace` with `--from-pod`, `--port` with `--to-port` ...) are refused the same way.
/// - `--since` and `--until` bound the record's `timestamp` (RFC 3339, `YYYY-MM-DD`, or a
///   duration before now: `5m`, `1h30m`); `--last N` keeps the last N records that pass (the
///   command applies it: it needs the end of the input).
/// - Records without a connection (`stats`, `lost`) are judged by `--type` and the time only.
///
/// Each value's meaning is documented on its type: `NamespacedName` (pods and services),
/// `WorkloadMatch`, `FQDNPattern`, `VerdictMatch`, `ProtocolMatch`, `TypeMatch`,
/// `IdentityValue`, `LabelTerm`; addresses are an `IPPrefix` (an address is a /32 or /128).
package struct RecordFilter: Sendable {
    /// The options taking a value that build clauses, as Hubble names them.
    package static let clauseOptions: [String] = [
        "namespace", "from-namespace", "to-namespace", "pod", "from-pod", "to-pod", "ip", "from-ip", "to-ip",
        "service", "from-service", "to-service", "workload", "from-workload", "to-workload",
        "identity", "from-identity", "to-identity", "label", "from-label", "to-label", "fqdn", "from-fqdn", "to-fqdn",
        "port", "from-port", "to-port", "protocol", "verdict", "type",
    ]
    /// The other options, which take a value and cannot be negated.
    package static let windowOptions: [String] = ["since", "until", "last"]

    /// Records matching any of these pass (every record when there are none)...
    var allow: [FlowClause] = []
    /// ...unless they match one of these.
    var deny: [FlowClause] = []
    /// The earliest and latest record time shown.
    package private(set) var since: Date?
    package private(set) var until: Date?
    /// Show only the last N records that pass.
    package private(set) var last: Int?

    package init() {}

    /// Builds the filter from the options in the order given (`["--pod", "web", "--not",
    /// "--port", "53"]`; `--name=value` too); `now` is the time relative `--since`/`--until`
    /// count back from. Throws a message naming the option and value.
    package init(arguments: [String], now: Date = Date()) throws(FilterError) {
        var allow = Tracker(), deny = Tracker()
        var negateNext = false
        var index = 0
        while index < arguments.count {
            let word = arguments[index]
            index += 1
            guard word.hasPrefix("--") else { throw FilterError("'\(word)': expected a filter option") }
            var name = String(word.dropFirst(2)), value: String
            if name == "not" {
                guard !negateNext else { throw FilterError("--not: consecutive --not statements") }
                negateNext = true
                continue
            }
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard index < arguments.count else { throw FilterError("--\(name): missing value") }
                value = arguments[index]
                index += 1
            }
            if Self.windowOptions.contains(name) {
                guard !negateNext else { throw FilterError("--not --\(name): --not applies to the filter options, not to --\(name)") }
                try self.setWindow(name, value, now: now)
            } else if Self.clauseOptions.contains(name) {
                if negateNext {
                    try deny.set(name, value)
                } else {
                    try allow.set(name, value)
                }
                negateNext = false
            } else {
                throw FilterError("--\(name): not a filter option")
            }
        }
        if negateNext { throw FilterError("--not: no filter option follows") }
        self.allow = try allow.clauses()
        self.deny = try deny.clauses()
    }

    private mutating func setWindow(_ name: String, _ value: String, now: Date) throws(FilterError) {
        switch name {
        case "last":
            guard let count = Int(value), count > 0 else { throw FilterError("--last '\(value)': expected a number of records, 1 or more") }
            self.last = count
        default:
            guard let date = TimeValue.parse(value, now: now) else {
                throw FilterError("--\(name) '\(value)': expected an RFC 3339 time (2025-01-01T10:00:00Z), a date (2025-01-01) or a duration before now (30s, 5m, 1h30m)")
            }
            if name == "since" { self.since = date } else { self.until = date }
        }
    }

    /// True when nothing is filtered.
    package var isEmpty: Bool {
        self.allow.isEmpty && self.deny.isEmpty && self.since == nil && self.until == nil && self.last == nil
    }

    /// True when `--type alert` was asked for (compact output then shows the alerts that repeat a flow).
    package var asksForAlerts: Bool {
        self.allow.contains { $0.types?.contains(.kind(.alert)) == true }
    }

    package func matches(_ event: FlowLogEvent) -> Bool {
        if self.since != nil || self.until != nil {
            guard let time = FlowLogTime.parse(event.timestamp) else { return false }
            if let since = self.since, time < since { return false }
            if let until = self.until, time > until { return false }
        }
        if !self.allow.isEmpty && !self.allow.contains(where: { $0.matches(event, otherwise: true) }) { return false }
        return !self.deny.contains { $0.matches(event, otherwise: false) }
    }
}

/// One list (kept or excluded) as `hubble observe` builds it: a left and a right clause, the
/// namespaces applied when the list is complete.
private struct Tracker {
    var left: FlowClause?
    var right: FlowClause?
    var namespaces: [String] = []
    var sourceNamespaces: [String] = []
    var destinationNamespaces: [String] = []
    var changed: [String] = []

    /// Options Hubble refuses to combine (flows_filter.go `conflicts`, the options flowmon has).
    static let conflicts: [[String]] = [
        ["from-fqdn", "from-ip", "ip", "fqdn", "from-namespace", "namespace"],
        ["from-fqdn", "from-ip", "ip", "fqdn", "from-pod", "pod"],
        ["to-fqdn", "to-ip", "ip", "fqdn", "to-namespace", "namespace"],
        ["to-fqdn", "to-ip", "ip", "fqdn", "to-pod", "pod"],
        ["to-pod", "namespace"], ["from-pod", "namespace"], ["to-service", "namespace"], ["from-service", "namespace"],
        ["label", "from-label"], ["label", "to-label"], ["service", "from-service"], ["service", "to-service"],
        ["port", "to-port"], ["port", "from-port"], ["identity", "to-identity"], ["identity", "from-identity"],
        ["workload", "to-workload"], ["workload", "from-workload"],
    ]

    mutating func both(_ update: (inout FlowClause) -> Void) {
        self.sides(update, update)
    }

    mutating func sides(_ left: (inout FlowClause) -> Void, _ right: (inout FlowClause) -> Void) {
        var clause = self.left ?? FlowClause()
        left(&clause)
        self.left = clause
        clause = self.right ?? FlowClause()
        right(&clause)
        self.right = clause
    }

    /// `--NAME value` on either side: the left clause's source, the right clause's destination.
    mutating func either<T>(_ source: WritableKeyPath<FlowClause, [T]?>, _ destination: WritableKeyPath<FlowClause, [T]?>, _ value: T) {
        self.sides({ $0[keyPath: source] = ($0[keyPath: source] ?? []) + [value] },
                   { $0[keyPath: destination] = ($0[keyPath: destination] ?? []) + [value] })
    }

    mutating func every<T>(_ field: WritableKeyPath<FlowClause, [T]?>, _ value: T) {
        self.both { $0[keyPath: field] = ($0[keyPath: field] ?? []) + [value] }
    }

    mutating func set(_ name: String, _ value: String) throws(FilterError) {
        if !self.changed.contains(name) { self.changed.append(name) }
        for group in Self.conflicts {
            for flag in group where self.changed.contains(flag) {
                if let other = group.first(where: { $0 != flag && self.changed.contains($0) }) {
                    throw FilterError("filters --\(flag) and --\(other) cannot be combined")
                }
            }
        }
        let option = "--\(name)"
        switch name {
        case "namespace": self.namespaces.append(value)
        case "from-namespace": self.sourceNamespaces.append(value)
        case "to-namespace": self.destinationNamespaces.append(value)
        case "pod": self.either(\.sourcePods, \.destinationPods, NamespacedName(value))
        case "from-pod": self.every(\.sourcePods, NamespacedName(value))
        case "to-pod": self.every(\.destinationPods, NamespacedName(value))
        case "service": self.either(\.sourceServices, \.destinationServices, NamespacedName(value))
        case "from-service": self.every(\.sourceServices, NamespacedName(value))
        case "to-service": self.every(\.destinationServices, NamespacedName(value))
        case "ip": self.either(\.sourceIPs, \.destinationIPs, try Self.prefix(value, option))
        case "from-ip": self.every(\.sourceIPs, try Self.prefix(value, option))
        case "to-ip": self.every(\.destinationIPs, try Self.prefix(value, option))
        case "workload": self.either(\.sourceWorkloads, \.destinationWorkloads, WorkloadMatch(value))
        case "from-workload": self.every(\.sourceWorkloads, WorkloadMatch(value))
        case "to-workload": self.every(\.destinationWorkloads, WorkloadMatch(value))
        case "identity": self.either(\.sourceIdentities, \.destinationIdentities, try IdentityValue.parse(value, option: option))
        case "from-identity": self.every(\.sourceIdentities, try IdentityValue.parse(value, option: option))
        case "to-identity": self.every(\.destinationIdentities, try IdentityValue.parse(value, option: option))
        case "label": self.either(\.sourceLabels, \.destinationLabels, try LabelTerm.selector(value, option: option))
        case "from-label": self.every(\.sourceLabels, try LabelTerm.selector(value, option: option))
        case "to-label": self.every(\.destinationLabels, try LabelTerm.selector(value, option: option))
        case "fqdn": self.either(\.sourceFQDNs, \.destinationFQDNs, try FQDNPattern(value, option: option))
        case "from-fqdn": self.every(\.sourceFQDNs, try FQDNPattern(value, option: option))
        case "to-fqdn": self.every(\.destinationFQDNs, try FQDNPattern(value, option: option))
        case "port": self.either(\.sourcePorts, \.destinationPorts, try Self.port(value, option))
        case "from-port": self.every(\.sourcePorts, try Self.port(value, option))
        case "to-port": self.every(\.destinationPorts, try Self.port(value, option))
        case "protocol": self.every(\.protocols, try ProtocolMatch(value))
        case "verdict":
            guard let verdict = VerdictMatch(rawValue: value.uppercased()) else {
                throw FilterError("--verdict '\(value)': expected FORWARDED, AUDIT or DROPPED (or Hubble's ERROR, REDIRECTED, TRACED, TRANSLATED, which flowmon never gives)")
            }
            self.every(\.verdicts, verdict)
        default: self.every(\.types, try TypeMatch(value))
        }
    }

    static func prefix(_ value: String, _ option: String) throws(FilterError) -> IPPrefix {
        switch IPPrefix.parse(value, allowBareAddress: true) {
        case .success(let prefix): return prefix.masked
        case .failure(let error): throw FilterError("\(option) '\(value)': \(value.contains("/") ? error.message : "not an IPv4 or IPv6 address")")
        }
    }

    static func port(_ value: String, _ option: String) throws(FilterError) -> UInt16 {
        guard let port = UInt16(value) else { throw FilterError("\(option) '\(value)': expected a port, 0 to 65535") }
        return port
    }

    /// The clauses: the namespaces applied (a namespace constrains the pods and services of
    /// its side; with none given, every pod of the namespace), the same two given once.
    func clauses() throws(FilterError) -> [FlowClause] {
        guard self.left != nil || self.right != nil || !self.namespaces.isEmpty || !self.sourceNamespaces.isEmpty
            || !self.destinationNamespaces.isEmpty else { return [] }
        var left = self.left ?? FlowClause(), right = self.right ?? FlowClause()
        if !self.destinationNamespaces.isEmpty {
            Self.apply(self.destinationNamespaces, \.destinationPods, \.destinationServices, to: &left)
            Self.apply(self.destinationNamespaces, \.destinationPods, \.destinationServices, to: &right)
        }
        if !self.sourceNamespaces.isEmpty {
            Self.apply(self.sourceNamespaces, \.sourcePods, \.sourceServices, to: &left)
            Self.apply(self.sourceNamespaces, \.sourcePods, \.sourceServices, to: &right)
        }
        if !self.namespaces.isEmpty {
            Self.apply(self.namespaces, \.sourcePods, \.sourceServices, to: &left)
            Self.apply(self.namespaces, \.destinationPods, \.destinationServices, to: &right)
        }
        for clause in [left, right] {
            for names in [clause.sourcePods, clause.destinationPods, clause.sourceServices, clause.destinationServices] {
                if names?.contains(where: { $0.text.isEmpty }) == true { throw FilterError("a pod or service name must not be empty") }
            }
        }
        return left == right ? [left] : [left, right]
    }

    /// Hubble's namespace modifier: the side's pods (every pod when neither pods nor
    /// services are given) and services without a namespace get each of `namespaces`.
    static func apply(_ namespaces: [String], _ pods: WritableKeyPath<FlowClause, [NamespacedName]?>,
                      _ services: WritableKeyPath<FlowClause, [NamespacedName]?>, to clause: inout FlowClause) {
        if (clause[keyPath: pods] ?? []).isEmpty && (clause[keyPath: services] ?? []).isEmpty {
            clause[keyPath: pods] = [NamespacedName("")]
        }
        func qualified(_ names: [NamespacedName]?) -> [NamespacedName]? {
            guard let names, !names.isEmpty else { return names }
            return names.flatMap { name in
                name.text.contains("/") ? [name] : namespaces.map { NamespacedName("\($0)/\(name.text)") }
            }
        }
        clause[keyPath: pods] = qualified(clause[keyPath: pods])
        clause[keyPath: services] = qualified(clause[keyPath: services])
    }
}

extension FlowLogEvent {
    /// The record's `timestamp`.
    package var timestamp: String {
        switch self {
        case .flow(let record): record.timestamp
        case .alert(let alert): alert.connection.timestamp
        case .application(let record): record.connection.timestamp
        case .stats(let stats): stats.timestamp
        case .lost(let lost): lost.timestamp
        }
    }
}

/// A filter option that cannot be used, with the option and value named.
package struct FilterError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}
