import Decoding
import FlowCore

/// What the datapath's per-connection checks find, for the detectors (`Detection`) to judge:
/// Cilium's datapath raises such events from its own checks (drop notifications, identity
/// mismatches) and leaves counting and alerting to the agent.
public enum ConnectionFinding: Sendable, Equatable {
    /// A TCP packet whose flags no stack sends in a normal connection; once per connection.
    case invalidTCPFlags(InvalidTCPFlags)
    /// A tunnelled packet whose VNI is not its sender's identity; once per connection.
    case tunnelMismatch(vni: UInt32, senderIdentity: UInt32)
    /// A new ICMP/ICMPv6 echo-request conversation (sweep detection).
    case echoRequest
    /// A new connection that policy would drop.
    case wouldDrop
    /// A new connection from the pod CIDRs whose source is no known pod, node or service.
    case spoofedSource
    /// A new connection from a sensitive workload to `world`.
    case worldEgress
    /// A connection attempt that failed or was never answered (`FlowEntry.isFailedAttempt`),
    /// found when it ends: scans and floods.
    case failedAttempt
    /// A connection that policy would drop can no longer be a failed attempt
    /// (`FlowEntry.isAnswered`): no port scan counts it, so its held violation need not wait.
    case answered
    /// The first DNS query a connection's initiator sent (external resolver detection).
    case dnsQuery(DNSFinding)
    /// A DNS query whose name is very long or high-entropy (tunnelling detection).
    case dnsSuspiciousName(DNSFinding)
    /// An NXDOMAIN answer to the connection's initiator, outside the ignored suffixes.
    case dnsNXDomain(DNSFinding)
}

/// Which per-connection checks the datapath runs (the detectors that use them are enabled).
public struct ConnectionChecks: OptionSet, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    public static let invalidTCPFlags = ConnectionChecks(rawValue: 1 << 0)
    /// Tunnel identities and spoofed pod-CIDR sources.
    public static let spoofedSources = ConnectionChecks(rawValue: 1 << 1)
    public static let echoRequests = ConnectionChecks(rawValue: 1 << 2)
    public static let wouldDrop = ConnectionChecks(rawValue: 1 << 3)
    public static let worldEgress = ConnectionChecks(rawValue: 1 << 4)
    public static let failedAttempts = ConnectionChecks(rawValue: 1 << 5)
    /// DNS messages the application layer reads (queries, names, NXDOMAIN answers).
    public static let dnsMessages = ConnectionChecks(rawValue: 1 << 6)
    /// When a connection with a would-be drop is answered (folding policy violations into scans).
    public static let answers = ConnectionChecks(rawValue: 1 << 7)
}

extension DatapathProgram {
    /// The per-connection checks, on numbers only: invalid TCP flags and tunnel identities on
    /// any packet (each once per connection); on a new connection, echo requests (sweeps),
    /// would-be drops, spoofed pod-CIDR sources, and sensitive workloads reaching `world`.
    @inline(__always)
    func check<Sink: DatapathEventSink>(_ flow: UnsafeMutablePointer<FlowEntry>, isNew: Bool,
                                        summary: borrowing PacketSummary, time: CaptureTime, sink: Sink) {
        let checks = self.checks
        if summary.tcpHeaderLength > 0, flow.pointee.raisedAlerts & FlowEntry.raisedInvalidFlags == 0,
           checks.contains(.invalidTCPFlags), let invalid = InvalidTCPFlags(summary.tcpFlags) {
            flow.pointee.raisedAlerts |= FlowEntry.raisedInvalidFlags
            self.find(.invalidTCPFlags(invalid), flow.pointee, time: time, sink: sink)
        }
        if summary.tunnel.hasVNI, flow.pointee.hasPolicyVerdict,
           flow.pointee.raisedAlerts & FlowEntry.raisedTunnelMismatch == 0, checks.contains(.spoofedSources),
           self.scope.checksTunnelIdentity {
            // The sender of this packet: the initiator or the responder.
            let fromInitiator = summary.source == flow.pointee.sourceAddress
            let sender = fromInitiator ? flow.pointee.sourceIdentity : flow.pointee.destinationIdentity
            let vni = summary.tunnelVNI
            if !sender.matchesTunnelIdentity(vni) {
                flow.pointee.raisedAlerts |= FlowEntry.raisedTunnelMismatch
                self.find(.tunnelMismatch(vni: vni, senderIdentity: sender.rawValue), flow.pointee, time: time, sink: sink)
            }
        }
        if flow.pointee.raisedAlerts & (FlowEntry.raisedWouldDrop | FlowEntry.raisedAnswered) == FlowEntry.raisedWouldDrop,
            checks.contains(.answers), flow.pointee.isAnswered {
            flow.pointee.raisedAlerts |= FlowEntry.raisedAnswered
            self.find(.answered, flow.pointee, time: time, sink: sink)
        }
        guard isNew else { return }
        if flow.pointee.isEchoRequest && checks.contains(.echoRequests) {
            self.find(.echoRequest, flow.pointee, time: time, sink: sink)
        }
        guard self.policy != nil else { return }
        if checks.contains(.wouldDrop) && flow.pointee.wouldDrop != nil {
            flow.pointee.raisedAlerts |= FlowEntry.raisedWouldDrop
            self.find(.wouldDrop, flow.pointee, time: time, sink: sink)
        }
        if checks.contains(.spoofedSources) && flow.pointee.sourceEndpoint == 0
            && (flow.pointee.sourceIdentity.isWorld || flow.pointee.sourceIdentity == .unknown)
            && self.scope.isInPodCIDR(flow.pointee.sourceAddress) {
            self.find(.spoofedSource, flow.pointee, time: time, sink: sink)
        }
        if checks.contains(.worldEgress) && flow.pointee.egressEvaluated
            && flow.pointee.destinationIdentity.isWorldOrCIDR
            && self.scope.sensitiveIdentities.contains(flow.pointee.sourceIdentity.rawValue) {
            self.find(.worldEgress, flow.pointee, time: time, sink: sink)
        }
    }

    @inline(__always)
    func find<Sink: DatapathEventSink>(_ finding: ConnectionFinding, _ flow: FlowEntry, time: CaptureTime, sink: Sink) {
        sink.receive(.finding(finding, flow, time: time, key: self.nextPacketKey()))
    }
}

/// TCP flag combinations no stack sends: none of FIN/SYN/RST/PSH/ACK/URG (NULL scan); FIN
/// alone (FIN scan); FIN+PSH+URG without SYN/RST/ACK (XMAS); SYN+FIN or SYN+RST, never valid
/// together (RFC 9293 §3.10).
public enum InvalidTCPFlags: Sendable, Equatable {
    case null, fin, xmas, synFin, synRst

    /// The combination `flags` make, or nil for one a stack sends.
    @inline(__always)
    public init?(_ flags: UInt16) {
        let core = flags & 0x3f
        let syn: UInt16 = 0x02, fin: UInt16 = 0x01, rst: UInt16 = 0x04, psh: UInt16 = 0x08, ack: UInt16 = 0x10,
            urg: UInt16 = 0x20
        if core == 0 {
            self = .null
        } else if core & (syn | fin) == syn | fin {
            self = .synFin
        } else if core & (syn | rst) == syn | rst {
            self = .synRst
        } else if core & ack != 0 {
            return nil
        } else if core == fin {
            self = .fin
        } else if core & (fin | psh | urg) == fin | psh | urg && core & (syn | rst) == 0 {
            self = .xmas
        } else {
            return nil
        }
    }
}

extension Identity {
    /// A `world` address: a reserved world identity, or a CIDR identity (local scope) that
    /// CIDR policies carve out of world.
    public var isWorldOrCIDR: Bool {
        self.isWorld || self.rawValue & Identity.scopeMask == Identity.localScopeFlag
    }

    /// An identity allocated for a workload's labels (cluster scope, 256 and up): a pod's, not a
    /// reserved one (`host`, `remote-node`, `world`, ...: host-network pods have the node's), a
    /// CIDR identity or an FQDN pseudo-identity.
    public var isWorkload: Bool {
        self.rawValue >= Identity.firstAllocated.rawValue && self.rawValue & Identity.scopeMask == 0
    }
}

extension FlowEntry {
    public static let raisedInvalidFlags: UInt8 = 1
    public static let raisedTunnelMismatch: UInt8 = 2
    public static let raisedDNSQuery: UInt8 = 4
    /// A would-be drop was found (`.wouldDrop`), and then that it was answered (`.answered`).
    public static let raisedWouldDrop: UInt8 = 8
    public static let raisedAnswered: UInt8 = 16

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

    /// A TCP connection whose originator has sent an ACK (its handshake went on: RFC 9293
    /// §3.5), or a UDP flow the responder has sent on: it can no longer be a failed attempt.
    public var isAnswered: Bool {
        if self.key.ipProtocol == 6 { return self.flagsToServer & 0x10 != 0 }
        if self.key.ipProtocol == 17 { return self.history.has(ConnectionHistory.sent, fromInitiator: false) }
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
