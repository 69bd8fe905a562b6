import Datapath
import FlowCore

/// The alerts flowmon raises, each with a stable Suricata-style signature id (`gid` 1,
/// `signature_id` in flowmon's private range 9100000–9100999), a fixed signature text and
/// the Suricata classification (`classification.config`) it belongs to. The ids are a
/// public contract: documented in docs/alerts.md, never renumbered.
public enum AlertKind: UInt8, CaseIterable, Sendable {
    /// A connection that policy would drop (Hubble AUDIT / would-be DROPPED).
    case policyViolation = 0
    /// One source, many destination ports on one host (Zeek `Scan::Port_Scan`).
    case verticalPortScan
    /// One source, one port, many hosts (Zeek `Scan::Address_Scan`).
    case horizontalPortScan
    /// Many half-open connections toward one destination port from many sources.
    case synFlood
    /// TCP probes whose flags no stack sends in a normal connection (nmap -sN/-sF/-sX, ...).
    case tcpNullScan
    case tcpFinScan
    case tcpXmasScan
    case tcpSynFin
    case tcpSynRst
    /// A source inside the pod CIDRs that is no known pod, node or service.
    case spoofedSource
    /// A tunnelled packet whose VNI (Cilium's source identity) is not its inner source's identity.
    case tunnelIdentityMismatch
    /// A sensitive workload opening a connection to a `world` address.
    case worldEgress
    /// Echo requests from one source to many hosts.
    case icmpSweep
    /// A pod asking a DNS resolver that is not the cluster's.
    case dnsExternalResolver
    /// A stream of very long or high-entropy DNS query names from one source (tunnelling).
    case dnsTunneling
    /// Many NXDOMAIN answers, for distinct names, to one source (DGA malware, misconfiguration).
    case dnsNXDomainBurst

    public static let generatorID: UInt64 = 1

    /// Everything flowmon states about one kind of alert.
    public struct Row: Sendable {
        /// The stable name used in `stats.alerts`, in `alert.kind` and in docs/alerts.md.
        public let name: StaticString
        public let signatureID: UInt64
        public let signature: StaticString
        /// Suricata's classification description for the alert's class type.
        public let category: StaticString
        /// Severity as Suricata numbers it (1 = highest), before configuration overrides.
        public let defaultSeverity: UInt8
        /// The detector that raises it, as named in the alerts configuration and in `stats`.
        public let detector: AlertDetector
    }

    /// The registry: one row per kind (adding a kind is one case and one row here).
    public var row: Row {
        let scan: StaticString = "Detection of a Network Scan", spoof: StaticString = "Misc Attack",
            badTraffic: StaticString = "Potentially Bad Traffic"
        switch self {
        case .policyViolation: return Row(name: "policy_violation", signatureID: 9_100_001,
            signature: "FLOWMON POLICY connection would be dropped by network policy",
            category: "Potential Corporate Privacy Violation", defaultSeverity: 2, detector: .policyViolation)
        case .verticalPortScan: return Row(name: "port_scan_vertical", signatureID: 9_100_002,
            signature: "FLOWMON SCAN vertical port scan (many ports on one host)",
            category: scan, defaultSeverity: 2, detector: .portScan)
        case .horizontalPortScan: return Row(name: "port_scan_horizontal", signatureID: 9_100_003,
            signature: "FLOWMON SCAN horizontal port scan (one port on many hosts)",
            category: scan, defaultSeverity: 2, detector: .portScan)
        case .synFlood: return Row(name: "syn_flood", signatureID: 9_100_004,
            signature: "FLOWMON DOS SYN flood / half-open connection surge",
            category: "Attempted Denial of Service", defaultSeverity: 1, detector: .synFlood)
        case .tcpNullScan: return Row(name: "tcp_null_scan", signatureID: 9_100_010,
            signature: "FLOWMON SCAN TCP NULL scan (no flags)",
            category: scan, defaultSeverity: 2, detector: .invalidTCPFlags)
        case .tcpFinScan: return Row(name: "tcp_fin_scan", signatureID: 9_100_011,
            signature: "FLOWMON SCAN TCP FIN scan (FIN without ACK)",
            category: scan, defaultSeverity: 2, detector: .invalidTCPFlags)
        case .tcpXmasScan: return Row(name: "tcp_xmas_scan", signatureID: 9_100_012,
            signature: "FLOWMON SCAN TCP XMAS scan (FIN+PSH+URG)",
            category: scan, defaultSeverity: 2, detector: .invalidTCPFlags)
        case .tcpSynFin: return Row(name: "tcp_syn_fin", signatureID: 9_100_013,
            signature: "FLOWMON TCP invalid flags SYN+FIN",
            category: badTraffic, defaultSeverity: 2, detector: .invalidTCPFlags)
        case .tcpSynRst: return Row(name: "tcp_syn_rst", signatureID: 9_100_014,
            signature: "FLOWMON TCP invalid flags SYN+RST",
            category: badTraffic, defaultSeverity: 2, detector: .invalidTCPFlags)
        case .spoofedSource: return Row(name: "spoofed_source", signatureID: 9_100_020,
            signature: "FLOWMON SPOOF source in pod CIDR belongs to no known pod, node or service",
            category: spoof, defaultSeverity: 1, detector: .spoofedSource)
        case .tunnelIdentityMismatch: return Row(name: "tunnel_identity_mismatch", signatureID: 9_100_021,
            signature: "FLOWMON SPOOF tunnel identity differs from the inner source's identity",
            category: spoof, defaultSeverity: 1, detector: .spoofedSource)
        case .worldEgress: return Row(name: "world_egress", signatureID: 9_100_030,
            signature: "FLOWMON EGRESS sensitive workload connected to world",
            category: "Attempted Information Leak", defaultSeverity: 2, detector: .worldEgress)
        case .icmpSweep: return Row(name: "icmp_sweep", signatureID: 9_100_040,
            signature: "FLOWMON SCAN ICMP echo sweep (many hosts)",
            category: scan, defaultSeverity: 3, detector: .icmpSweep)
        case .dnsExternalResolver: return Row(name: "dns_external_resolver", signatureID: 9_100_050,
            signature: "FLOWMON DNS query to a resolver that is not the cluster's",
            category: "Potential Corporate Privacy Violation", defaultSeverity: 2, detector: .dnsExternalResolver)
        case .dnsTunneling: return Row(name: "dns_tunneling", signatureID: 9_100_051,
            signature: "FLOWMON DNS long or high-entropy query names (possible tunnelling)",
            category: "Attempted Information Leak", defaultSeverity: 2, detector: .dnsTunneling)
        case .dnsNXDomainBurst: return Row(name: "dns_nxdomain_burst", signatureID: 9_100_052,
            signature: "FLOWMON DNS burst of NXDOMAIN answers for distinct names",
            category: badTraffic, defaultSeverity: 3, detector: .dnsNXDomainBurst)
        }
    }

    public var name: StaticString { self.row.name }
    public var signatureID: UInt64 { self.row.signatureID }
    public var signature: StaticString { self.row.signature }
    public var category: StaticString { self.row.category }
    public var defaultSeverity: UInt8 { self.row.defaultSeverity }
    public var detector: AlertDetector { self.row.detector }

    /// The alert for an invalid TCP flag combination.
    public init(_ flags: InvalidTCPFlags) {
        switch flags {
        case .null: self = .tcpNullScan
        case .fin: self = .tcpFinScan
        case .xmas: self = .tcpXmasScan
        case .synFin: self = .tcpSynFin
        case .synRst: self = .tcpSynRst
        }
    }
}

/// A detector: what the alerts configuration enables, disables and tunes.
public enum AlertDetector: UInt8, CaseIterable, Sendable {
    case policyViolation = 0, portScan, synFlood, invalidTCPFlags, spoofedSource, worldEgress, icmpSweep
    case dnsExternalResolver, dnsTunneling, dnsNXDomainBurst

    /// Its key in the alerts configuration file, and the datapath checks whose findings it
    /// judges (scans and floods count failed attempts; every detector's alerts mark flows).
    public var row: (configurationKey: String, checks: ConnectionChecks) {
        switch self {
        case .policyViolation: ("policy_violation", .wouldDrop)
        case .portScan: ("port_scan", .failedAttempts)
        case .synFlood: ("syn_flood", .failedAttempts)
        case .invalidTCPFlags: ("invalid_tcp_flags", .invalidTCPFlags)
        case .spoofedSource: ("spoofed_source", .spoofedSources)
        case .worldEgress: ("world_egress", .worldEgress)
        case .icmpSweep: ("icmp_sweep", .echoRequests)
        case .dnsExternalResolver: ("dns_external_resolver", .dnsMessages)
        case .dnsTunneling: ("dns_tunneling", .dnsMessages)
        case .dnsNXDomainBurst: ("dns_nxdomain_burst", .dnsMessages)
        }
    }

    public var configurationKey: String { self.row.configurationKey }
}
