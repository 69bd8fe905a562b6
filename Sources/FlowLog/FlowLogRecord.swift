import FlowCore
import Foundation

/// One `event_type: "flow"` line of flowmon's JSON-lines output (`flowmon replay` and
/// `flowmon capture`), as a value: one connection, from its initiator (`source`, `src_*`) to
/// its responder (`destination`, `dest_*`), with the endpoints and the policy verdict when the
/// run had an inventory and policies. The field meanings are those of schema/flow.schema.json;
/// keys this type does not model (`tcp`, `vlan`, `tunnel`, `flow_id` ...) are read where
/// listed below and otherwise ignored, so lines from later versions with more keys still read.
///
/// Decodable from one JSON object (`JSONDecoder`, or `FlowLogReader` for a whole file). An
/// alert line's connection (`FlowLogAlert.connection`) is read as one too.
package struct FlowLogRecord: Sendable, Equatable, Decodable {
    /// `timestamp`: the time of the connection's last packet, as written
    /// (`2025-01-01T10:00:02.084069+0000`). `time` is the same as a `Date`.
    package var timestamp: String
    package var flowID: UInt64?
    package var sourceIP: String
    package var sourcePort: UInt16?
    package var destinationIP: String
    package var destinationPort: UInt16?
    /// `TCP`, `UDP`, `SCTP`, `ICMP`, `IPv6-ICMP`, `GRE`, ... or the protocol number as text.
    package var proto: String
    package var ipVersion: Int?
    /// ICMP flows: the initiator's first message type and code, and the responder's.
    package var icmpType: UInt8?
    package var icmpCode: UInt8?
    package var responseICMPType: UInt8?
    package var responseICMPCode: UInt8?
    /// Packets and bytes (frame lengths) from the initiator (`toServer`) and the responder.
    package var packetsToServer: UInt64
    package var packetsToClient: UInt64
    package var bytesToServer: UInt64
    package var bytesToClient: UInt64
    /// `flow.start` and `flow.end`: first and last packet time, as written.
    package var start: String?
    package var end: String?
    /// `flow.state` (`new`, `established`, `closed`) and `flow.reason` (`timeout`, `evicted`,
    /// `tcp_reuse`, `shutdown`).
    package var state: String?
    package var reason: String?
    /// Zeek's connection state (`S0`, `SF`, `REJ`, ...).
    package var connState: String?
    /// The initiator's and responder's endpoints (present when the run had `--pods`). For a
    /// connection to a ClusterIP service port (a run with `--services`), `destination` is the
    /// identity of the service's backends, without a pod name.
    package var source: Endpoint?
    package var destination: Endpoint?
    /// The ClusterIP service the connection was sent to (`destination_service`); `dest_ip` and
    /// `dest_port` stay the ClusterIP and the service port.
    package var destinationService: ServiceReference?
    /// The policy verdict (present when the run had `--policies`).
    package var policy: PolicyVerdict?
    /// The application protocol (`app_proto`: dns, http, tls), when one was seen.
    package var applicationProtocol: String?
    /// The names the responder had looked up for the initiator's address (`src_names`).
    package var sourceNames: [String]?
    /// The names the initiator had looked up for the responder's address (`dest_names`).
    package var destinationNames: [String]?

    package init(timestamp: String, flowID: UInt64? = nil, sourceIP: String, sourcePort: UInt16? = nil,
                destinationIP: String, destinationPort: UInt16? = nil, proto: String, ipVersion: Int? = nil,
                icmpType: UInt8? = nil, icmpCode: UInt8? = nil, responseICMPType: UInt8? = nil,
                responseICMPCode: UInt8? = nil, packetsToServer: UInt64 = 0, packetsToClient: UInt64 = 0,
                bytesToServer: UInt64 = 0, bytesToClient: UInt64 = 0, start: String? = nil, end: String? = nil,
                state: String? = nil, reason: String? = nil, connState: String? = nil,
                source: Endpoint? = nil, destination: Endpoint? = nil, destinationService: ServiceReference? = nil,
                policy: PolicyVerdict? = nil) {
        self.timestamp = timestamp
        self.flowID = flowID
        self.sourceIP = sourceIP
        self.sourcePort = sourcePort
        self.destinationIP = destinationIP
        self.destinationPort = destinationPort
        self.proto = proto
        self.ipVersion = ipVersion
        self.icmpType = icmpType
        self.icmpCode = icmpCode
        self.responseICMPType = responseICMPType
        self.responseICMPCode = responseICMPCode
        self.packetsToServer = packetsToServer
        self.packetsToClient = packetsToClient
        self.bytesToServer = bytesToServer
        self.bytesToClient = bytesToClient
        self.start = start
        self.end = end
        self.state = state
        self.reason = reason
        self.connState = connState
        self.source = source
        self.destination = destination
        self.destinationService = destinationService
        self.policy = policy
    }

    /// `timestamp` as a `Date` (nil if it is not in flowmon's format).
    package var time: Date? { FlowLogTime.parse(self.timestamp) }

    /// The policy verdict, or nil when the line carries none (a run without `--policies`).
    package var verdict: Verdict? { self.policy?.verdict }

    /// Packets and bytes both ways.
    package var packets: UInt64 { self.packetsToServer &+ self.packetsToClient }
    package var bytes: UInt64 { self.bytesToServer &+ self.bytesToClient }

    /// True for the ICMP protocols (`ICMP`, `IPv6-ICMP`), whose flows have types, not ports.
    package var isICMP: Bool { self.proto == "ICMP" || self.proto == "IPv6-ICMP" }

    // MARK: - Nested types

    /// A Hubble `Endpoint` object: one end of the connection.
    package struct Endpoint: Sendable, Hashable, Decodable {
        /// Cilium-style numeric security identity (1-255 reserved, e.g. 2 world, 1 host).
        package var identity: UInt32
        /// Present for pods.
        package var namespace: String?
        package var podName: String?
        /// Labels as `source:key=value` (`k8s:app=web`), or `source:key` (`reserved:world`,
        /// `cidr:10.0.0.0/8`), sorted as written.
        package var labels: [String]
        /// The pod's controlling workloads (first is the top owner: Deployment, StatefulSet ...).
        package var workloads: [Workload]

        package init(identity: UInt32, namespace: String? = nil, podName: String? = nil, labels: [String] = [],
                    workloads: [Workload] = []) {
            self.identity = identity
            self.namespace = namespace
            self.podName = podName
            self.labels = labels
            self.workloads = workloads
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: EVEKey.self)
            self.identity = try container.decode(UInt32.self, forKey: .identity)
            self.namespace = try container.decodeIfPresent(String.self, forKey: .namespace)
            self.podName = try container.decodeIfPresent(String.self, forKey: .podName)
            self.labels = try container.decodeIfPresent([String].self, forKey: .labels) ?? []
            self.workloads = try container.decodeIfPresent([Workload].self, forKey: .workloads) ?? []
        }

        /// What follows `prefix` (`reserved:`, `cidr:`, `k8s:<key>=`) in each label that starts with it, in label order.
        package func labels(after prefix: String) -> [String] {
            self.labels.compactMap { $0.hasPrefix(prefix) ? String($0.dropFirst(prefix.count)) : nil }
        }

        /// The `reserved:` label names (`world`, `world-ipv4`, `host`, `remote-node`,
        /// `kube-apiserver`, ...), in label order.
        package var reservedNames: [String] { self.labels(after: "reserved:") }

        /// The prefixes of the `cidr:` labels, as Cilium writes them (`10.0.0.0/8`; IPv6 with
        /// dashes for colons, `fd00--0/64`).
        package var cidrPrefixes: [String] { self.labels(after: "cidr:") }

        /// True for the world identities (`reserved:world`, `world-ipv4`, `world-ipv6`, or a
        /// CIDR identity, which carries one of them).
        package var isWorld: Bool {
            self.reservedNames.contains { $0 == "world" || $0 == "world-ipv4" || $0 == "world-ipv6" }
        }
    }

    /// A workload that owns a pod (`{"name":"web","kind":"Deployment"}`).
    package struct Workload: Sendable, Hashable, Decodable {
        package var name: String
        package var kind: String

        package init(name: String, kind: String) {
            self.name = name
            self.kind = kind
        }
    }

    /// A Kubernetes Service (Hubble's `Service`: `{"name":"kube-dns","namespace":"kube-system"}`).
    package struct ServiceReference: Sendable, Hashable, Decodable, CustomStringConvertible {
        package var name: String
        package var namespace: String

        package init(name: String, namespace: String) {
            self.name = name
            self.namespace = namespace
        }

        /// `kube-system/kube-dns`
        package var description: String { "\(self.namespace)/\(self.name)" }
    }

    /// Cilium's verdict on a connection. flowmon only observes: a connection policy would drop
    /// is `AUDIT`, or `DROPPED` with `--verdict-as-enforced`.
    package enum Verdict: String, Sendable, Hashable, CaseIterable, Decodable {
        case forwarded = "FORWARDED"
        case audit = "AUDIT"
        case dropped = "DROPPED"

        /// True for `AUDIT` and `DROPPED`: policy would drop (or, enforced, drops) the connection.
        package var wouldDrop: Bool { self != .forwarded }
    }

    /// Which side's policy decided.
    package enum TrafficDirection: String, Sendable, Hashable, Decodable {
        case egress = "EGRESS"
        case ingress = "INGRESS"
    }

    /// A policy named in a decision (Hubble's `Policy`).
    package struct PolicyReference: Sendable, Hashable, Comparable, Decodable, CustomStringConvertible {
        package var name: String
        /// Absent for cluster-wide policies.
        package var namespace: String?
        /// `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy` or `NetworkPolicy`.
        package var kind: String

        package init(name: String, namespace: String? = nil, kind: String) {
            self.name = name
            self.namespace = namespace
            self.kind = kind
        }

        /// `CiliumNetworkPolicy platform/allow-dns`, `CiliumClusterwideNetworkPolicy dns`.
        package var description: String {
            "\(self.kind) \(self.namespace.map { "\($0)/" } ?? "")\(self.name)"
        }

        package static func < (a: Self, b: Self) -> Bool {
            (a.kind, a.namespace ?? "", a.name) < (b.kind, b.namespace ?? "", b.name)
        }
    }

    /// One side's decision (`policy.egress`, `policy.ingress`).
    package struct Decision: Sendable, Hashable, Decodable {
        /// `not_enforced`, `allowed`, `denied`, `denied_by_rule`, `allowed_from_host`.
        package var decision: String
        /// `none`, `L3-Only`, `L3-L4`, `L4-Only`, `all`, `L3-Proto`, `Proto-Only`.
        package var matchType: String

        package init(decision: String, matchType: String) {
            self.decision = decision
            self.matchType = matchType
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: EVEKey.self)
            self.init(decision: try container.decode(String.self, forKey: .decision),
                      matchType: try container.decode(String.self, forKey: .matchType))
        }
    }

    /// The `policy` object: the verdict and the policies behind it.
    package struct PolicyVerdict: Sendable, Hashable, Decodable {
        package var verdict: Verdict
        /// `POLICY_DENIED` (no allow under default deny) or `POLICY_DENY` (an explicit deny rule).
        package var dropReason: String?
        /// The side whose policy would drop the connection (absent when it is forwarded).
        package var direction: TrafficDirection?
        package var matchType: Int?
        package var egress: Decision?
        package var ingress: Decision?
        package var egressAllowedBy: [PolicyReference]
        package var ingressAllowedBy: [PolicyReference]
        package var egressDeniedBy: [PolicyReference]
        package var ingressDeniedBy: [PolicyReference]

        package init(verdict: Verdict, dropReason: String? = nil, direction: TrafficDirection? = nil,
                    matchType: Int? = nil, egress: Decision? = nil, ingress: Decision? = nil,
                    egressAllowedBy: [PolicyReference] = [], ingressAllowedBy: [PolicyReference] = [],
                    egressDeniedBy: [PolicyReference] = [], ingressDeniedBy: [PolicyReference] = []) {
            self.verdict = verdict
            self.dropReason = dropReason
            self.direction = direction
            self.matchType = matchType
            self.egress = egress
            self.ingress = ingress
            self.egressAllowedBy = egressAllowedBy
            self.ingressAllowedBy = ingressAllowedBy
            self.egressDeniedBy = egressDeniedBy
            self.ingressDeniedBy = ingressDeniedBy
        }

        package init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: EVEKey.self)
            self.verdict = try container.decode(Verdict.self, forKey: .verdict)
            self.dropReason = try container.decodeIfPresent(String.self, forKey: .dropReason)
            self.direction = try container.decodeIfPresent(TrafficDirection.self, forKey: .trafficDirection)
            self.matchType = try container.decodeIfPresent(Int.self, forKey: .policyMatchType)
            self.egress = try container.decodeIfPresent(Decision.self, forKey: .egress)
            self.ingress = try container.decodeIfPresent(Decision.self, forKey: .ingress)
            self.egressAllowedBy = try container.decodeIfPresent([PolicyReference].self, forKey: .egressAllowedBy) ?? []
            self.ingressAllowedBy = try container.decodeIfPresent([PolicyReference].self, forKey: .ingressAllowedBy) ?? []
            self.egressDeniedBy = try container.decodeIfPresent([PolicyReference].self, forKey: .egressDeniedBy) ?? []
            self.ingressDeniedBy = try container.decodeIfPresent([PolicyReference].self, forKey: .ingressDeniedBy) ?? []
        }

        /// Every policy named, with the side and whether it allowed or denied, in a fixed order:
        /// egress allowed, egress denied, ingress allowed, ingress denied.
        package var namedPolicies: [(direction: TrafficDirection, denied: Bool, policy: PolicyReference)] {
            self.egressAllowedBy.map { (.egress, false, $0) } + self.egressDeniedBy.map { (.egress, true, $0) }
                + self.ingressAllowedBy.map { (.ingress, false, $0) } + self.ingressDeniedBy.map { (.ingress, true, $0) }
        }
    }

    // MARK: - Decoding

    /// The IP version's name in logs flowmon wrote before it used Suricata 8's `ip_v`.
    enum LegacyKeys: String, CodingKey { case ipVersion = "ip_version" }

    /// Reads one flow object. `timestamp`, `src_ip`, `dest_ip` and `proto` are required;
    /// everything else may be absent (counts are then 0).
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EVEKey.self)
        self.timestamp = try container.decode(String.self, forKey: .timestamp)
        self.flowID = try container.decodeIfPresent(UInt64.self, forKey: .flowID)
        self.sourceIP = try container.decode(String.self, forKey: .srcIP)
        self.sourcePort = try container.decodeIfPresent(UInt16.self, forKey: .srcPort)
        self.destinationIP = try container.decode(String.self, forKey: .destIP)
        self.destinationPort = try container.decodeIfPresent(UInt16.self, forKey: .destPort)
        self.proto = try container.decode(String.self, forKey: .proto)
        // `ip_v` is Suricata 8's name; logs flowmon wrote before it used that name hold `ip_version`.
        self.ipVersion = try container.decodeIfPresent(Int.self, forKey: .ipVersion)
            ?? decoder.container(keyedBy: LegacyKeys.self).decodeIfPresent(Int.self, forKey: .ipVersion)
        self.icmpType = try container.decodeIfPresent(UInt8.self, forKey: .icmpType)
        self.icmpCode = try container.decodeIfPresent(UInt8.self, forKey: .icmpCode)
        self.responseICMPType = try container.decodeIfPresent(UInt8.self, forKey: .responseICMPType)
        self.responseICMPCode = try container.decodeIfPresent(UInt8.self, forKey: .responseICMPCode)
        self.connState = try container.decodeIfPresent(String.self, forKey: .connState)
        self.source = try container.decodeIfPresent(Endpoint.self, forKey: .source)
        self.destination = try container.decodeIfPresent(Endpoint.self, forKey: .destination)
        self.destinationService = try container.decodeIfPresent(ServiceReference.self, forKey: .destinationService)
        self.policy = try container.decodeIfPresent(PolicyVerdict.self, forKey: .policy)
        self.applicationProtocol = try container.decodeIfPresent(String.self, forKey: .appProto)
        self.sourceNames = try container.decodeIfPresent([String].self, forKey: .srcNames)
        self.destinationNames = try container.decodeIfPresent([String].self, forKey: .destNames)
        if container.contains(.flow) {
            let flow = try container.nestedContainer(keyedBy: EVEKey.self, forKey: .flow)
            self.packetsToServer = try flow.decodeIfPresent(UInt64.self, forKey: .packetsToServer) ?? 0
            self.packetsToClient = try flow.decodeIfPresent(UInt64.self, forKey: .packetsToClient) ?? 0
            self.bytesToServer = try flow.decodeIfPresent(UInt64.self, forKey: .bytesToServer) ?? 0
            self.bytesToClient = try flow.decodeIfPresent(UInt64.self, forKey: .bytesToClient) ?? 0
            self.start = try flow.decodeIfPresent(String.self, forKey: .start)
            self.end = try flow.decodeIfPresent(String.self, forKey: .end)
            self.state = try flow.decodeIfPresent(String.self, forKey: .state)
            self.reason = try flow.decodeIfPresent(String.self, forKey: .reason)
        } else {
            self.packetsToServer = 0
            self.packetsToClient = 0
            self.bytesToServer = 0
            self.bytesToClient = 0
        }
    }
}

/// flowmon's timestamps: `YYYY-MM-DDTHH:MM:SS.ffffff+0000` (UTC, microseconds), read without
/// a `DateFormatter` (fast enough for millions of lines, and independent of the locale).
package enum FlowLogTime {
    /// The instant `text` names, or nil when it is not in flowmon's format.
    package static func parse(_ text: String) -> Date? {
        var text = text
        return text.withUTF8 { bytes -> Date? in
            var index = 0
            var negative = false
            if bytes.count > 0 && bytes[0] == UInt8(ascii: "-") {
                negative = true
                index = 1
            }
            // Fixed layout after the sign: 4+1+2+1+2+1+2+1+2+1+2+1+6+5 = 31 bytes.
            guard bytes.count - index == 31 else { return nil }
            func digits(_ offset: Int, _ count: Int) -> Int? {
                var value = 0
                for position in index + offset ..< index + offset + count {
                    let byte = bytes[position]
                    guard byte >= 0x30 && byte <= 0x39 else { return nil }
                    value = value * 10 + Int(byte - 0x30)
                }
                return value
            }
            func byte(_ offset: Int) -> UInt8 { bytes[index + offset] }
            guard byte(4) == UInt8(ascii: "-"), byte(7) == UInt8(ascii: "-"), byte(10) == UInt8(ascii: "T"),
                  byte(13) == UInt8(ascii: ":"), byte(16) == UInt8(ascii: ":"), byte(19) == UInt8(ascii: "."),
                  byte(26) == UInt8(ascii: "+"),
                  let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
                  let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
                  let micros = digits(20, 6), digits(27, 4) == 0,
                  (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
            else { return nil }
            let days = daysFromCivil(year: negative ? -year : year, month: month, day: day)
            let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second
            return Date(timeIntervalSince1970: Double(seconds) + Double(micros) / 1_000_000)
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
