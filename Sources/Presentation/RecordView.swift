import Foundation

/// One line of flowmon's output (`flow`, `alert`, `stats`, `lost`), read back for people:
/// the fields the compact printer, the filters and the run summary use. The lines are the
/// contract (schema/); this reads them as any consumer would, so the presentation can also
/// run on a saved flow log.
public struct RecordView {
    public let object: [String: Any]

    /// Parses one JSON line; nil when it is not a JSON object.
    public init?(line: some Collection<UInt8>) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] else { return nil }
        self.object = object
    }

    public init(object: [String: Any]) { self.object = object }

    public var eventType: String { self.object["event_type"] as? String ?? "" }
    public var timestamp: String { self.object["timestamp"] as? String ?? "" }
    public var sourceIP: String { self.object["src_ip"] as? String ?? "" }
    public var destinationIP: String { self.object["dest_ip"] as? String ?? "" }
    public var sourcePort: Int? { self.object["src_port"] as? Int }
    public var destinationPort: Int? { self.object["dest_port"] as? Int }
    /// `TCP`, `UDP`, `ICMP`, `IPv6-ICMP`, `SCTP`, or a number as text.
    public var proto: String { self.object["proto"] as? String ?? "" }
    public var icmpType: Int? { self.object["icmp_type"] as? Int }
    public var connState: String? { self.object["conn_state"] as? String }
    public var source: Endpoint? { (self.object["source"] as? [String: Any]).map(Endpoint.init) }
    public var destination: Endpoint? { (self.object["destination"] as? [String: Any]).map(Endpoint.init) }

    /// Hubble's `destination_service` (`namespace/name`), when the destination was a Service's
    /// ClusterIP translated to its backends (`--services`).
    public var destinationService: String? {
        guard let service = self.object["destination_service"] as? [String: Any], let name = service["name"] as? String
        else { return nil }
        return (service["namespace"] as? String).map { "\($0)/\(name)" } ?? name
    }

    var policy: [String: Any]? { self.object["policy"] as? [String: Any] }
    /// `FORWARDED`, `AUDIT` or `DROPPED`; nil when no policy was evaluated (no inventory).
    public var verdict: String? { self.policy?["verdict"] as? String }
    /// `INGRESS` or `EGRESS`: the side that drops.
    public var dropDirection: String? { self.policy?["traffic_direction"] as? String }
    /// The policies that deny (or else allow) the connection, as `namespace/name` (or `name`).
    public var denyingPolicies: [String] { self.policyNames("egress_denied_by") + self.policyNames("ingress_denied_by") }
    public var allowingPolicies: [String] { self.policyNames("egress_allowed_by") + self.policyNames("ingress_allowed_by") }

    func policyNames(_ key: String) -> [String] {
        (self.policy?[key] as? [[String: Any]] ?? []).compactMap { policy in
            guard let name = policy["name"] as? String else { return nil }
            return (policy["namespace"] as? String).map { "\($0)/\(name)" } ?? name
        }
    }

    var flow: [String: Any]? { self.object["flow"] as? [String: Any] }
    public var bytes: Int { (self.flow?["bytes_toserver"] as? Int ?? 0) + (self.flow?["bytes_toclient"] as? Int ?? 0) }
    public var packets: Int { (self.flow?["pkts_toserver"] as? Int ?? 0) + (self.flow?["pkts_toclient"] as? Int ?? 0) }

    var alert: [String: Any]? { self.object["alert"] as? [String: Any] }
    public var alertKind: String? { self.alert?["kind"] as? String }
    public var alertSignature: String? { self.alert?["signature"] as? String }
    public var alertSeverity: Int? { self.alert?["severity"] as? Int }
    public var alertCount: Int { self.alert?["count"] as? Int ?? 1 }

    /// The `stats` object of a stats record.
    public var stats: [String: Any]? { self.object["stats"] as? [String: Any] }
    /// The `lost` object of a lost record.
    public var lost: [String: Any]? { self.object["lost"] as? [String: Any] }

    /// A Hubble endpoint object: `{"identity":…,"namespace":…,"pod_name":…,"labels":[…],"workloads":[…]}`.
    public struct Endpoint {
        public var identity: Int?
        public var namespace: String?
        public var podName: String?
        /// `source:key=value` strings, as Hubble prints them (`k8s:app=web`, `reserved:world`).
        public var labels: [String]
        public var workload: String?

        init(_ object: [String: Any]) {
            self.identity = object["identity"] as? Int
            self.namespace = object["namespace"] as? String
            self.podName = object["pod_name"] as? String
            self.labels = object["labels"] as? [String] ?? []
            self.workload = (object["workloads"] as? [[String: Any]])?.first?["name"] as? String
        }

        /// `reserved:world` -> `world`; nil for a pod.
        public var reservedName: String? {
            guard self.podName == nil else { return nil }
            return self.labels.first { $0.hasPrefix("reserved:") }.map { String($0.dropFirst("reserved:".count)) }
        }
    }
}
