import FlowLog

/// What a run saw, as an aligned table for a person: packets, connections and verdicts, the
/// busiest namespace pairs and pod pairs, the connections policy would drop and the policy
/// that drops each, alerts by kind, decoder anomalies and lost packets. Fed every record
/// that was written (before the output filters: it counts what was seen, whatever the filters
/// show), then `render()` once at the end.
package struct RunSummary {
    struct Pair: Hashable, Comparable {
        var from: String
        var to: String
        static func < (a: Pair, b: Pair) -> Bool { (a.from, a.to) < (b.from, b.to) }
    }

    struct Traffic {
        var connections = 0
        var bytes = 0
    }

    struct Denied: Hashable, Comparable {
        var from: String
        var to: String
        var service: String
        var policies: String
        static func < (a: Denied, b: Denied) -> Bool {
            (a.from, a.to, a.service, a.policies) < (b.from, b.to, b.service, b.policies)
        }
    }

    var flows = 0
    var verdicts: [String: Int] = [:]
    var namespacePairs: [Pair: Traffic] = [:]
    var podPairs: [Pair: Traffic] = [:]
    var denied: [Denied: Int] = [:]
    var alerts: [String: Int] = [:]
    var stats: FlowLogStats?
    /// How many rows each "top" table shows.
    package var top = 10

    package init() {}

    package mutating func add(_ event: FlowLogEvent) {
        switch event {
        case .flow(let record):
            self.flows += 1
            self.verdicts[record.verdict?.rawValue ?? "no verdict", default: 0] += 1
            let source = Self.name(record.source, ip: record.sourceIP)
            let destination = record.destinationService.map { "service \($0)" }
                ?? Self.name(record.destination, ip: record.destinationIP)
            let namespaces = Pair(from: Self.namespace(record.source, ip: record.sourceIP),
                                  to: Self.namespace(record.destination, ip: record.destinationIP))
            self.namespacePairs[namespaces, default: Traffic()].add(record)
            self.podPairs[Pair(from: source, to: destination), default: Traffic()].add(record)
            if let policy = record.policy, policy.verdict.wouldDrop {
                // By workload, as policies select them: one row for every pod of a Deployment.
                let service = (record.destinationPort.map { "\($0)/" } ?? "") + record.proto
                let from = Self.workload(record.source, ip: record.sourceIP)
                let to = record.destinationService.map { "service \($0)" } ?? Self.workload(record.destination, ip: record.destinationIP)
                self.denied[Denied(from: from, to: to, service: service, policies: policy.dropExplanation), default: 0] += 1
            }
        case .alert(let alert):
            // Each occurrence once: a window's summary adds the repeats after its first line.
            self.alerts[alert.kind, default: 0] += Int(clamping: alert.newOccurrences)
        case .stats(let stats):
            self.stats = stats
        case .lost, .application:
            break
        }
    }

    /// The table, lines ending in newlines.
    package func render() -> String {
        var out = "Summary\n"
        func capture(_ key: String) -> FlowLogValue? { self.stats?["capture", key] }
        let verdicts = Self.counts(self.verdicts)
        var rows: [[String]] = [
            ["packets", Self.number(capture("packets")?.intValue ?? 0)],
            ["connections", Self.number(self.flows) + (verdicts.isEmpty ? "" : " (\(verdicts))")],
        ]
        let alerts = Self.counts(self.alerts)
        rows.append(["alerts", alerts.isEmpty ? "none" : alerts])
        let anomalies = Self.counts((self.stats?.sections["anomalies"]?.objectValue ?? [:]).compactMapValues(\.intValue))
        rows.append(["decoder anomalies", anomalies.isEmpty ? "none" : anomalies])
        let losses = [("kernel", "kernel_dropped"), ("interface", "interface_dropped"), ("ring", "ring_dropped")]
            .compactMap { name, key in capture(key)?.intValue.flatMap { $0 > 0 ? "\(name) \(Self.number($0))" : nil } }
        rows.append(["lost packets", losses.isEmpty ? "none" : losses.joined(separator: ", ")])
        if let error = capture("error")?.stringValue { rows.append(["stopped", error]) }
        out += Self.table(rows, indent: "  ")
        out += self.topTraffic("Top namespace pairs (by bytes)", self.namespacePairs)
        out += self.topTraffic("Top pod pairs (by bytes)", self.podPairs)
        if !self.denied.isEmpty {
            out += "Connections policy would drop (by workload)\n"
            let sorted = self.denied.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
            let rows = sorted.prefix(self.top).map { denied, count in
                [denied.from, "->", denied.to, denied.service, "×\(Self.number(count))", denied.policies]
            }
            out += Self.table(Array(rows), indent: "  ")
            let rest = sorted.dropFirst(self.top)
            if !rest.isEmpty {
                let connections = rest.reduce(0) { $0 + $1.value }
                let verdict = self.verdicts["DROPPED"] != nil && self.verdicts["AUDIT"] == nil ? "DROPPED" : "AUDIT"
                out += "  and \(Self.number(rest.count)) more (\(Self.number(connections)) connections; --verdict \(verdict) lists each)\n"
            }
        }
        return out
    }

    func topTraffic(_ title: String, _ pairs: [Pair: Traffic]) -> String {
        guard !pairs.isEmpty else { return "" }
        let rows = pairs.sorted { ($0.value.bytes, $1.key) > ($1.value.bytes, $0.key) }.prefix(self.top).map { pair, traffic in
            [pair.from, "->", pair.to, "\(Self.number(traffic.connections)) conn", ProgressBar.size(Int64(traffic.bytes))]
        }
        return title + "\n" + Self.table(Array(rows), indent: "  ")
    }

    /// Left-aligned columns, two spaces apart (numbers too: they are short).
    static func table(_ rows: [[String]], indent: String) -> String {
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            var line = indent
            for (column, cell) in row.enumerated() {
                line += cell
                if column < row.count - 1 { line += String(repeating: " ", count: widths[column] - cell.count + 2) }
            }
            return line + "\n"
        }.joined()
    }

    /// A pod as `namespace/pod`, else the entity and address, or the address.
    static func name(_ endpoint: FlowLogRecord.Endpoint?, ip: String) -> String {
        if let endpoint, let pod = endpoint.podName { return "\(endpoint.namespace ?? "")/\(pod)" }
        return endpoint?.entity.map { "\($0) (\(ip))" } ?? ip
    }

    /// What a policy would name: a pod's workload as `namespace/name` (the pod when it has
    /// none), a CIDR identity's prefix, an entity; the address without an inventory.
    static func workload(_ endpoint: FlowLogRecord.Endpoint?, ip: String) -> String {
        guard let endpoint else { return ip }
        if endpoint.podName != nil, let workload = endpoint.workloads.first { return "\(endpoint.namespace ?? "")/\(workload.name)" }
        if endpoint.podName == nil, let prefix = endpoint.cidrPrefixes.first { return "\(endpoint.entity ?? "world") \(prefix)" }
        return endpoint.podName == nil ? endpoint.entity ?? ip : Self.name(endpoint, ip: ip)
    }

    static func namespace(_ endpoint: FlowLogRecord.Endpoint?, ip: String) -> String {
        if let namespace = endpoint?.namespace { return namespace }
        return endpoint?.entity ?? ip
    }

    static func number(_ value: Int) -> String {
        var digits = String(value), out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return digits + out
    }

    /// `name count, ...`, the largest count first (then by name).
    static func counts(_ counts: [String: Int]) -> String {
        counts.sorted { ($0.value, $1.key) > ($1.value, $0.key) }.map { "\($0.key) \(Self.number($0.value))" }.joined(separator: ", ")
    }
}

extension RunSummary.Traffic {
    mutating func add(_ record: FlowLogRecord) {
        self.connections += 1
        self.bytes += Int(clamping: record.bytes)
    }
}
