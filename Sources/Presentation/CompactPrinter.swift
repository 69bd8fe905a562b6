/// One line per record for a person at a terminal, in the spirit of `hubble observe`'s
/// compact output:
///
///     2025-01-01 10:00:00.529  platform/redis-3:33454 (ID:260) -> 93.184.216.34:443 (world-ipv4) TCP SF  AUDIT  denied by platform/pci-no-internet (egress)
///     2023-11-14 22:13:21.400  ALERT sev 2  FLOWMON SCAN vertical port scan (many ports on one host)  shop/web-1 (ID:261) -> shop/db-1 (ID:258)  15 ports in 300 s
///
/// Pods are `namespace/pod:port (ID:identity)`, other peers `address:port (entity)` (the
/// reserved identity's name) or just the address without an inventory. Verdicts are green
/// (FORWARDED) or red (AUDIT, DROPPED) when `color` is on.
public struct CompactPrinter: Sendable {
    public var color: Bool

    public init(color: Bool) { self.color = color }

    /// The line for `record` (without the newline), or nil for records it does not show.
    public func line(_ record: RecordView) -> String? {
        switch record.eventType {
        case "flow": self.flow(record)
        case "alert": self.alert(record)
        case "lost": self.lost(record)
        case "stats": self.stats(record)
        default: nil
        }
    }

    func flow(_ record: RecordView) -> String {
        var line = self.time(record) + "  " + self.connection(record) + " " + record.proto
        if let state = record.connState { line += " " + state }
        if let verdict = record.verdict {
            line += "  " + self.paint(verdict, verdict == "FORWARDED" ? .green : .red)
            let denying = record.denyingPolicies, allowing = record.allowingPolicies
            if verdict != "FORWARDED" {
                let side = record.dropDirection.map { " (\($0.lowercased()))" } ?? ""
                line += denying.isEmpty ? "  no policy allows it" + side : "  denied by " + denying.joined(separator: ", ") + side
            } else if !allowing.isEmpty {
                line += "  allowed by " + allowing.joined(separator: ", ")
            }
        }
        return line
    }

    func alert(_ record: RecordView) -> String {
        let severity = record.alertSeverity ?? 3
        var line = self.time(record) + "  " + self.paint("ALERT sev \(severity)", severity == 1 ? .red : .yellow)
        line += "  " + (record.alertSignature ?? record.alertKind ?? "alert") + "  " + self.connection(record)
        if let scan = record.object["scan"] as? [String: Any], let window = scan["window"] as? Int {
            if let ports = scan["distinct_ports"] as? Int { line += "  \(ports) ports in \(window) s" }
            if let hosts = scan["distinct_hosts"] as? Int { line += "  \(hosts) hosts in \(window) s" }
        }
        if let flood = record.object["flood"] as? [String: Any], let halfOpen = flood["half_open"] as? Int,
           let sources = flood["distinct_sources"] as? Int {
            line += "  \(halfOpen) half-open from \(sources) sources"
        }
        if record.alertCount > 1 { line += "  ×\(record.alertCount)" }
        return line
    }

    func lost(_ record: RecordView) -> String {
        let lost = record.lost ?? [:]
        let count = lost["num_events_lost"] as? Int ?? 0, total = lost["total"] as? Int ?? 0
        return self.time(record) + "  " + self.paint("LOST \(count) packets", .red)
            + " (\(lost["source"] as? String ?? "unknown")), \(total) in total"
    }

    func stats(_ record: RecordView) -> String {
        let stats = record.stats ?? [:]
        let capture = stats["capture"] as? [String: Any] ?? [:], flow = stats["flow"] as? [String: Any] ?? [:]
        var line = self.time(record) + "  " + self.paint("STATS", .dim) + " \(capture["packets"] as? Int ?? 0) packets, "
            + "\(flow["emitted"] as? Int ?? 0) flows written, \(flow["active"] as? Int ?? 0) active"
        let dropped = (capture["kernel_dropped"] as? Int ?? 0) + (capture["interface_dropped"] as? Int ?? 0)
            + (capture["ring_dropped"] as? Int ?? 0)
        if dropped > 0 { line += ", " + self.paint("\(dropped) packets lost", .red) }
        if let error = capture["error"] as? String { line += ", stopped: " + error }
        return line
    }

    /// `source -> destination` with ports.
    func connection(_ record: RecordView) -> String {
        Self.endpoint(record.source, ip: record.sourceIP, port: record.sourcePort) + " -> "
            + Self.endpoint(record.destination, ip: record.destinationIP, port: record.destinationPort,
                            service: record.destinationService)
    }

    /// A pod as `namespace/pod:port (ID:n)`; a Service's ClusterIP as `address:port (service
    /// namespace/name, ID:n)` with its backends' identity; other peers as `address:port (entity)`.
    static func endpoint(_ endpoint: RecordView.Endpoint?, ip: String, port: Int?, service: String? = nil) -> String {
        let portText = port.map { ":\($0)" } ?? ""
        if let endpoint, let pod = endpoint.podName {
            let identity = endpoint.identity.map { " (ID:\($0))" } ?? ""
            return "\(endpoint.namespace.map { "\($0)/" } ?? "")\(pod)\(portText)\(identity)"
        }
        let address = ip.contains(":") && port != nil ? "[\(ip)]" : ip
        if let service {
            return "\(address)\(portText) (service \(service)\(endpoint?.identity.map { ", ID:\($0)" } ?? ""))"
        }
        if let entity = endpoint?.reservedName { return "\(address)\(portText) (\(entity))" }
        return address + portText
    }

    /// `2025-01-01T10:00:00.529504+0000` -> `2025-01-01 10:00:00.529`.
    func time(_ record: RecordView) -> String {
        let text = record.timestamp
        guard text.count >= 23 else { return text }
        let date = text.prefix(10), clock = text.dropFirst(11).prefix(12)
        return self.paint("\(date) \(clock)", .dim)
    }

    enum Style: String { case green = "32", red = "31", yellow = "33", dim = "2" }

    func paint(_ text: String, _ style: Style) -> String {
        self.color ? "\u{1b}[\(style.rawValue)m\(text)\u{1b}[0m" : text
    }
}
