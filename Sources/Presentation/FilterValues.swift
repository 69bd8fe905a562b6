import Datapath
import FlowCore
import FlowLog

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
