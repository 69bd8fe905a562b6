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
        }
    }

    public var name: StaticString { self.row.name }
    public var signatureID: UInt64 { self.row.signatureID }
    public var signature: StaticString { self.row.signature }
    public var category: StaticString { self.row.category }
    public var defaultSeverity: UInt8 { self.row.defaultSeverity }
    public var detector: AlertDetector { self.row.detector }

    /// The invalid-flag alert for a TCP packet's flags, or nil for a combination a stack
    /// sends. NULL: none of FIN/SYN/RST/PSH/ACK/URG; FIN scan: FIN alone; XMAS: FIN+PSH+URG
    /// without SYN/RST/ACK; SYN+FIN and SYN+RST are never valid together (RFC 9293 §3.10).
    @inline(__always)
    public static func invalidFlags(_ flags: UInt16) -> AlertKind? {
        let core = flags & 0x3f
        let syn: UInt16 = 0x02, fin: UInt16 = 0x01, rst: UInt16 = 0x04, psh: UInt16 = 0x08, ack: UInt16 = 0x10,
            urg: UInt16 = 0x20
        if core == 0 { return .tcpNullScan }
        if core & (syn | fin) == syn | fin { return .tcpSynFin }
        if core & (syn | rst) == syn | rst { return .tcpSynRst }
        if core & ack != 0 { return nil }
        if core == fin { return .tcpFinScan }
        if core & (fin | psh | urg) == fin | psh | urg && core & (syn | rst) == 0 { return .tcpXmasScan }
        return nil
    }
}

/// A detector: what the alerts configuration enables, disables and tunes.
public enum AlertDetector: UInt8, CaseIterable, Sendable {
    case policyViolation = 0, portScan, synFlood, invalidTCPFlags, spoofedSource, worldEgress, icmpSweep

    /// Its key in the alerts configuration file.
    public var configurationKey: String {
        switch self {
        case .policyViolation: "policy_violation"
        case .portScan: "port_scan"
        case .synFlood: "syn_flood"
        case .invalidTCPFlags: "invalid_tcp_flags"
        case .spoofedSource: "spoofed_source"
        case .worldEgress: "world_egress"
        case .icmpSweep: "icmp_sweep"
        }
    }
}

extension Identity {
    /// A `world` address: a reserved world identity, or a CIDR identity (local scope) that
    /// CIDR policies carve out of world.
    public var isWorldOrCIDR: Bool {
        self.isWorld || self.rawValue & Identity.scopeMask == Identity.localScopeFlag
    }
}

extension FlowEntry {
    public static let raisedInvalidFlags: UInt8 = 1
    public static let raisedTunnelMismatch: UInt8 = 2

    /// An attempt the scan and flood detectors count, decided when the connection ends: TCP
    /// whose originator sent a SYN but never an ACK (RFC 9293 §3.5: the handshake was not
    /// completed — unanswered, refused, or a SYN-ACK answered by RST: Zeek's S0, REJ,
    /// RSTOS0, SH and the scanner's RST), or UDP answered only by ICMP destination unreachable.
    public var isFailedAttempt: Bool {
        if self.key.ipProtocol == 6 {
            return self.history.has(ConnectionHistory.syn, fromInitiator: true) && self.flagsToServer & 0x10 == 0
        }
        if self.key.ipProtocol == 17 {
            // ICMP errors are no UDP reply (`applyRelatedError` leaves the history alone).
            let unreachable = self.ipVersion == 6 ? ICMPType.unreachableV6 : ICMPType.unreachable
            return !self.history.has(ConnectionHistory.sent, fromInitiator: false) && self.hasResponseICMP
                && self.responseICMPType == unreachable
        }
        return false
    }

    /// The connection started with an ICMP or ICMPv6 echo request.
    public var isEchoRequest: Bool {
        self.hasICMP && self.icmpType == (self.ipVersion == 4 ? ICMPType.echoRequest : ICMPType.echoRequestV6)
    }
}

extension Identity {
    /// Whether a VXLAN/Geneve VNI carries this sender's identity as Cilium's overlay does: the
    /// identity's low 24 bits; a node's own traffic leaves as `host` (1) and is `remote-node`
    /// (6) on the receiving side, so 1 and 6 stand for each other.
    public func matchesTunnelIdentity(_ vni: UInt32) -> Bool {
        if vni == self.rawValue & 0x00ff_ffff { return true }
        let isNode = self == .host || self == .remoteNode
        return isNode && (vni == Identity.host.rawValue || vni == Identity.remoteNode.rawValue)
    }
}
