import FlowLog

/// One line per record for a person at a terminal, in the spirit of `hubble observe`'s
/// compact output:
///
///     2025-01-01 10:00:00.529  platform/redis-3:33454 (ID:260) -> 93.184.216.34:443 (world-ipv4) TCP SF  AUDIT  denied by platform/pci-no-internet (egress)
///     2023-11-14 22:13:21.400  ALERT sev 2  FLOWMON SCAN vertical port scan (many ports on one host)  shop/web-1 (ID:261) -> shop/db-1 (ID:258)  15 ports in 300 s
///
/// Pods are `namespace/pod:port (ID:identity)`, other peers `address:port (entity)` (the
/// reserved identity's name) or just the address without an inventory. Verdicts are green
/// (FORWARDED) or red (AUDIT, DROPPED) when `color` is on.
package struct CompactPrinter: Sendable {
    package var color: Bool

    package init(color: Bool) { self.color = color }

    /// The line for `event` (without the newline).
    package func line(_ event: FlowLogEvent) -> String {
        switch event {
        case .flow(let record): self.flow(record)
        case .alert(let alert): self.alert(alert)
        case .lost(let lost): self.lost(lost)
        case .stats(let stats): self.stats(stats)
        case .application(let record): self.application(record)
        }
    }

    func flow(_ record: FlowLogRecord) -> String {
        // The start time: lines come in the order connections start (the order records of
        // connections open at the end are written), and the end would look out of order.
        var line = self.time(record.start ?? record.timestamp) + "  " + self.connection(record) + " " + record.proto
        if let state = record.connState { line += " " + state }
        if let message = Self.icmpMessage(record) { line += " (" + message + ")" }
        if let policy = record.policy {
            line += "  " + self.paint(policy.verdict.rawValue, policy.verdict.wouldDrop ? .red : .green)
            let allowing = policy.allowingPolicies
            if policy.verdict.wouldDrop {
                line += "  " + policy.dropExplanation
            } else if !allowing.isEmpty {
                line += "  allowed by " + allowing.joined(separator: ", ")
            }
        }
        return line
    }

    func alert(_ alert: FlowLogAlert) -> String {
        var line = self.time(alert.connection.timestamp) + "  "
            + self.paint("ALERT sev \(alert.severity)", alert.severity == 1 ? .red : .yellow)
        line += "  " + alert.signature + "  " + self.connection(alert.connection)
        if let scan = alert.scan {
            if let ports = scan.distinctPorts { line += "  \(ports) ports in \(scan.window) s" }
            if let hosts = scan.distinctHosts { line += "  \(hosts) hosts in \(scan.window) s" }
        }
        if let flood = alert.flood { line += "  \(flood.halfOpen) half-open from \(flood.distinctSources) sources" }
        if alert.count > 1 { line += "  ×\(alert.count)" }
        return line
    }

    /// `DNS query api.example.test A`, `DNS answer api.example.test A: 192.0.2.1` (or its rcode),
    /// `HTTP GET api.example.test/index.html 200`, `TLS 1.3 sni api.example.test alpn h2`; with
    /// the L7 verdict when rules judged it.
    func application(_ record: FlowLogApplication) -> String {
        var line = self.time(record.connection.timestamp) + "  " + self.connection(record.connection) + " "
            + record.connection.proto + "  "
        switch record.kind {
        case .dns:
            let question = [record.query, record.queryType].compactMap { $0 }.joined(separator: " ")
            if record.dnsType == "response" {
                let answer = record.rcode == "NOERROR" && !record.answers.isEmpty ? record.answers.joined(separator: ", ")
                    : record.rcode ?? ""
                line += "DNS answer \(question): \(answer)"
            } else {
                line += "DNS query \(question)"
            }
        case .http:
            let target = (record.url ?? "").hasPrefix("/") ? (record.hostname ?? "") + (record.url ?? "") : record.url ?? ""
            line += "HTTP \(record.method ?? "") \(target)" + (record.status.map { " \($0)" } ?? " (no response)")
        default:
            line += record.version ?? "TLS"
            if let name = record.serverName { line += " sni " + name }
            if !record.alpn.isEmpty { line += " alpn " + record.alpn.joined(separator: ",") }
        }
        if let verdict = record.verdict {
            line += "  " + self.paint("L7 " + verdict, verdict == "FORWARDED" ? .green : .red)
        }
        return line
    }

    func lost(_ lost: FlowLogLost) -> String {
        self.time(lost.timestamp) + "  " + self.paint("LOST \(lost.count) packets", .red) + " (\(lost.source)), \(lost.total) in total"
    }

    func stats(_ stats: FlowLogStats) -> String {
        func count(_ section: String, _ key: String) -> Int { stats[section, key]?.intValue ?? 0 }
        var line = self.time(stats.timestamp) + "  " + self.paint("STATS", .dim) + " \(count("capture", "packets")) packets, "
            + "\(count("flow", "emitted")) flows written, \(count("flow", "active")) active"
        let dropped = count("capture", "kernel_dropped") + count("capture", "interface_dropped") + count("capture", "ring_dropped")
        if dropped > 0 { line += ", " + self.paint("\(dropped) packets lost", .red) }
        if let error = stats["capture", "error"]?.stringValue { line += ", stopped: " + error }
        return line
    }

    /// An ICMP flow's first message, as `8/0 echo`; for a TCP, UDP or SCTP connection, the
    /// ICMP error that came back about it (its `response_icmp_type`/`_code`), as `ICMP 3/3
    /// unreachable`. Named from the one table of ICMP names (`ICMPNames`).
    static func icmpMessage(_ record: FlowLogRecord) -> String? {
        func named(_ type: UInt8, _ code: UInt8) -> String {
            "\(type)/\(code)" + (ICMPNames.name(type: type, ipv6: record.ipVersion == 6).map { " " + $0 } ?? "")
        }
        if let type = record.icmpType { return named(type, record.icmpCode ?? 0) }
        guard let type = record.responseICMPType, let code = record.responseICMPCode else { return nil }
        return "ICMP " + named(type, code)
    }

    /// `source -> destination` with ports.
    func connection(_ record: FlowLogRecord) -> String {
        Self.endpoint(record.source, ip: record.sourceIP, port: record.sourcePort, names: record.sourceNames) + " -> "
            + Self.endpoint(record.destination, ip: record.destinationIP, port: record.destinationPort,
                            service: record.destinationService, names: record.destinationNames)
    }

    /// A pod as `namespace/pod:port (ID:n)`; a Service's ClusterIP as `address:port (service
    /// namespace/name, ID:n)` with its backends' identity; a peer whose name the other end looked
    /// up as `name:port (address, entity)`; other peers as `address:port (entity)`.
    static func endpoint(_ endpoint: FlowLogRecord.Endpoint?, ip: String, port: UInt16?,
                         service: FlowLogRecord.ServiceReference? = nil, names: [String]? = nil) -> String {
        let portText = port.map { ":\($0)" } ?? ""
        if let endpoint, let pod = endpoint.podName {
            return "\(endpoint.namespace.map { "\($0)/" } ?? "")\(pod)\(portText) (ID:\(endpoint.identity))"
        }
        let address = ip.contains(":") && port != nil ? "[\(ip)]" : ip
        if let service {
            return "\(address)\(portText) (service \(service)\(endpoint.map { ", ID:\($0.identity)" } ?? ""))"
        }
        if let name = names?.first {
            return "\(name)\(portText) (\(ip)\(endpoint?.entity.map { ", \($0)" } ?? ""))"
        }
        if let entity = endpoint?.entity { return "\(address)\(portText) (\(entity))" }
        return address + portText
    }

    /// `2025-01-01T10:00:00.529504+0000` -> `2025-01-01 10:00:00.529`.
    func time(_ text: String) -> String {
        guard text.count >= 23 else { return text }
        let date = text.prefix(10), clock = text.dropFirst(11).prefix(12)
        return self.paint("\(date) \(clock)", .dim)
    }

    enum Style: String { case green = "32", red = "31", yellow = "33", dim = "2" }

    func paint(_ text: String, _ style: Style) -> String {
        self.color ? "\u{1b}[\(style.rawValue)m\(text)\u{1b}[0m" : text
    }
}
