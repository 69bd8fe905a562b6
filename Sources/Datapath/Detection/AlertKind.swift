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

    public var signatureID: UInt64 {
        switch self {
        case .policyViolation: 9_100_001
        case .verticalPortScan: 9_100_002
        case .horizontalPortScan: 9_100_003
        case .synFlood: 9_100_004
        case .tcpNullScan: 9_100_010
        case .tcpFinScan: 9_100_011
        case .tcpXmasScan: 9_100_012
        case .tcpSynFin: 9_100_013
        case .tcpSynRst: 9_100_014
        case .spoofedSource: 9_100_020
        case .tunnelIdentityMismatch: 9_100_021
        case .worldEgress: 9_100_030
        case .icmpSweep: 9_100_040
        }
    }

    public var signature: StaticString {
        switch self {
        case .policyViolation: "FLOWMON POLICY connection would be dropped by network policy"
        case .verticalPortScan: "FLOWMON SCAN vertical port scan (many ports on one host)"
        case .horizontalPortScan: "FLOWMON SCAN horizontal port scan (one port on many hosts)"
        case .synFlood: "FLOWMON DOS SYN flood / half-open connection surge"
        case .tcpNullScan: "FLOWMON SCAN TCP NULL scan (no flags)"
        case .tcpFinScan: "FLOWMON SCAN TCP FIN scan (FIN without ACK)"
        case .tcpXmasScan: "FLOWMON SCAN TCP XMAS scan (FIN+PSH+URG)"
        case .tcpSynFin: "FLOWMON TCP invalid flags SYN+FIN"
        case .tcpSynRst: "FLOWMON TCP invalid flags SYN+RST"
        case .spoofedSource: "FLOWMON SPOOF source in pod CIDR belongs to no known pod, node or service"
        case .tunnelIdentityMismatch: "FLOWMON SPOOF tunnel identity differs from the inner source's identity"
        case .worldEgress: "FLOWMON EGRESS sensitive workload connected to world"
        case .icmpSweep: "FLOWMON SCAN ICMP echo sweep (many hosts)"
        }
    }

    /// Suricata's classification description for the alert's class type.
    public var category: StaticString {
        switch self {
        case .policyViolation: "Potential Corporate Privacy Violation"
        case .verticalPortScan, .horizontalPortScan, .icmpSweep, .tcpNullScan, .tcpFinScan, .tcpXmasScan:
            "Detection of a Network Scan"
        case .synFlood: "Attempted Denial of Service"
        case .tcpSynFin, .tcpSynRst: "Potentially Bad Traffic"
        case .spoofedSource, .tunnelIdentityMismatch: "Misc Attack"
        case .worldEgress: "Attempted Information Leak"
        }
    }

    /// Severity as Suricata numbers it (1 = highest), before configuration overrides.
    public var defaultSeverity: UInt8 {
        switch self {
        case .synFlood, .spoofedSource, .tunnelIdentityMismatch: 1
        case .policyViolation, .verticalPortScan, .horizontalPortScan, .worldEgress,
             .tcpNullScan, .tcpFinScan, .tcpXmasScan, .tcpSynFin, .tcpSynRst: 2
        case .icmpSweep: 3
        }
    }

    /// The detector that raises it, as named in the alerts configuration and in `stats`.
    public var detector: AlertDetector {
        switch self {
        case .policyViolation: .policyViolation
        case .verticalPortScan, .horizontalPortScan: .portScan
        case .synFlood: .synFlood
        case .tcpNullScan, .tcpFinScan, .tcpXmasScan, .tcpSynFin, .tcpSynRst: .invalidTCPFlags
        case .spoofedSource, .tunnelIdentityMismatch: .spoofedSource
        case .worldEgress: .worldEgress
        case .icmpSweep: .icmpSweep
        }
    }

    /// The stable name used in `stats.alerts` and in docs/alerts.md.
    public var name: StaticString {
        switch self {
        case .policyViolation: "policy_violation"
        case .verticalPortScan: "port_scan_vertical"
        case .horizontalPortScan: "port_scan_horizontal"
        case .synFlood: "syn_flood"
        case .tcpNullScan: "tcp_null_scan"
        case .tcpFinScan: "tcp_fin_scan"
        case .tcpXmasScan: "tcp_xmas_scan"
        case .tcpSynFin: "tcp_syn_fin"
        case .tcpSynRst: "tcp_syn_rst"
        case .spoofedSource: "spoofed_source"
        case .tunnelIdentityMismatch: "tunnel_identity_mismatch"
        case .worldEgress: "world_egress"
        case .icmpSweep: "icmp_sweep"
        }
    }

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
            let unreachable: UInt8 = self.ipVersion == 6 ? 1 : 3
            return !self.history.has(ConnectionHistory.sent, fromInitiator: false) && self.hasResponseICMP
                && self.responseICMPType == unreachable
        }
        return false
    }

    /// The connection started with an ICMP echo request (type 8) or ICMPv6 echo request (128).
    public var isEchoRequest: Bool {
        self.hasICMP && (self.ipVersion == 4 ? self.icmpType == 8 : self.icmpType == 128)
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
