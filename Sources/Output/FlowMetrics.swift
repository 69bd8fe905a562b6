import Datapath
import Decoding
import FlowCore

/// One worker's counts for the Hubble metric families (`--metrics-address`, docs/metrics.md),
/// kept where the events are rendered (`EventRenderer.receive`) in one fixed block allocated at
/// start: counting is an add at a computed index, no allocation, no lock. The worker hands its
/// block to the merger with each epoch and gets a zeroed one back; the merger adds it to the
/// run's totals, which the metrics page reads under the merger's lock.
///
/// What one increment is (Hubble counts per-packet monitor events; flowmon counts per
/// connection): `flowsProcessed` and `policyVerdicts` one per Hubble event flowmon derives
/// for a new connection (the lines `--hubble` writes: a policy-verdict event per enforced
/// direction, and with `--verdict-as-enforced` a drop event per would-be drop); `drops` one per
/// such drop event; `flowsEnded`, `tcpFlags`, `icmp` and `ports` one per connection that ended
/// (its flow record).
package final class FlowMetrics {
    /// Hubble's `protocol` label (cilium pkg/hubble/api/v1 `FlowProtocol`), by index.
    package static let protocols = ["TCP", "UDP", "ICMPv4", "ICMPv6", "SCTP", "Unknown L4"]
    /// `hubble_flows_processed_total`'s `type` (cilium pkg/hubble/metrics/flow).
    package static let eventTypes = ["PolicyVerdict", "Drop"]
    /// The flow's `verdict` (flow.proto `Verdict`).
    package static let verdicts = ["FORWARDED", "AUDIT", "DROPPED"]
    /// `drop_reason_desc` of a policy drop: no allow under default deny (133), a deny rule (181).
    package static let dropReasons = ["POLICY_DENIED", "POLICY_DENY"]
    /// `hubble_tcp_flags_total`'s `flag` values.
    package static let tcpFlags = ["SYN", "SYN-ACK", "FIN", "RST"]
    /// `family` values (flow.proto `IPVersion`).
    package static let families = ["IPv4", "IPv6"]
    /// `flowmon_flows_total`'s `reason` values, in `index(of:)` order.
    package static let endReasons: [FlowEndReason] = [.timeout, .evicted, .tcpReuse, .shutdown]
    /// The protocols `ports` counts by destination port (TCP, UDP, SCTP: indexes 0, 1, 4 of `protocols`).
    package static let portProtocols = [0, 1, 4]

    /// `PolicyMatchType.allCases.count`, once: `allCases` builds an array at every call.
    static let matchTypes = PolicyMatchType.allCases.count
    static let flowsProcessedBase = 0
    static let dropsBase = flowsProcessedBase + 6 * 2 * 3
    static let policyVerdictsBase = dropsBase + 2 * 6
    static let tcpFlagsBase = policyVerdictsBase + 2 * matchTypes * 3
    static let flowsEndedBase = tcpFlagsBase + 4 * 2
    static let icmpPortBase = flowsEndedBase + 6 * 4
    static let icmpBase = icmpPortBase + 2
    static let portsBase = icmpBase + 2 * 256 * 256
    package static let count = portsBase + 3 * 65_536

    let counts: UnsafeMutablePointer<UInt64>
    /// The indexes counted since the last `reset` (each once), so that handing a block over
    /// costs what was counted, not the whole block; past `touchedCapacity`, the whole block.
    let touched: UnsafeMutablePointer<Int32>
    var touchedCount = 0
    var overflowed = false
    static let touchedCapacity = 4096

    package init() {
        self.counts = .allocate(capacity: Self.count)
        self.counts.initialize(repeating: 0, count: Self.count)
        self.touched = .allocate(capacity: Self.touchedCapacity)
    }

    deinit {
        self.counts.deallocate()
        self.touched.deallocate()
    }

    @inline(__always)
    func bump(_ index: Int) {
        if self.counts[index] == 0 {
            if self.touchedCount < Self.touchedCapacity {
                self.touched[self.touchedCount] = Int32(truncatingIfNeeded: index)
                self.touchedCount &+= 1
            } else {
                self.overflowed = true
            }
        }
        self.counts[index] &+= 1
    }

    /// Adds `other`'s counts to these.
    package func add(_ other: FlowMetrics) {
        if other.overflowed {
            for index in 0..<Self.count { self.counts[index] &+= other.counts[index] }
        } else {
            for entry in 0..<other.touchedCount {
                let index = Int(other.touched[entry])
                self.counts[index] &+= other.counts[index]
            }
        }
    }

    /// Zeroes every count.
    package func reset() {
        if self.overflowed {
            self.counts.update(repeating: 0, count: Self.count)
        } else {
            for entry in 0..<self.touchedCount { self.counts[Int(self.touched[entry])] = 0 }
        }
        self.touchedCount = 0
        self.overflowed = false
    }

    // MARK: Counting (the packet path)

    /// Index into `protocols` of a connection's protocol.
    static func protocolIndex(_ flow: FlowEntry) -> Int {
        switch flow.ipProtocol {
        case IPProtocolNumber.tcp: 0
        case IPProtocolNumber.udp: 1
        case IPProtocolNumber.icmp: 2
        case IPProtocolNumber.icmpv6: 3
        case IPProtocolNumber.sctp: 4
        default: 5
        }
    }

    /// One Hubble event of a new connection (see `EventRenderer.hubbleEvents`).
    @inline(__always)
    func countHubbleEvent(_ flow: FlowEntry, direction: TrafficDirection, decision: PolicyDecision,
                          event: HubbleRecord.Event, verdictAsEnforced: Bool) {
        let proto = Self.protocolIndex(flow)
        let verdict = decision.isAllowed ? 0 : (verdictAsEnforced ? 2 : 1)
        let type = event == .policyVerdict ? 0 : 1
        self.bump(Self.flowsProcessedBase + (proto * 2 + type) * 3 + verdict)
        if event == .drop {
            let reason = decision.outcome == .deniedExplicitly ? 1 : 0
            self.bump(Self.dropsBase + reason * 6 + proto)
        } else if flow.sourceIdentity != .host {
            // Hubble's policy metric skips verdicts whose source is the host (pkg/hubble/metrics/policy).
            let dir = direction == .egress ? 0 : 1
            let match = Int(decision.matchType.rawValue)
            self.bump(Self.policyVerdictsBase + (dir * Self.matchTypes + match) * 3 + verdict)
        }
    }

    /// A connection that ended: its end reason, the TCP flags it carried, its ICMP type and
    /// code, its destination port.
    @inline(__always)
    func countEnded(_ flow: FlowEntry, reason: FlowEndReason) {
        let proto = Self.protocolIndex(flow)
        self.bump(Self.flowsEndedBase + proto * 4 + Self.index(of: reason))
        let family = flow.ipVersion == 6 ? 1 : 0
        switch proto {
        case 0:
            // SYN: the initiator's; SYN-ACK: the responder's; FIN and RST: once per direction that sent one.
            let flags = (flow.flagsToServer, flow.flagsToClient)
            if flags.0 & TCPFlag.syn != 0 { self.bump(Self.tcpFlagsBase + 0 * 2 + family) }
            if flags.1 & TCPFlag.syn != 0 { self.bump(Self.tcpFlagsBase + 1 * 2 + family) }
            if flags.0 & TCPFlag.fin != 0 { self.bump(Self.tcpFlagsBase + 2 * 2 + family) }
            if flags.1 & TCPFlag.fin != 0 { self.bump(Self.tcpFlagsBase + 2 * 2 + family) }
            if flags.0 & TCPFlag.rst != 0 { self.bump(Self.tcpFlagsBase + 3 * 2 + family) }
            if flags.1 & TCPFlag.rst != 0 { self.bump(Self.tcpFlagsBase + 3 * 2 + family) }
            self.bump(Self.portsBase + Int(flow.destinationPort))
        case 1:
            self.bump(Self.portsBase + 65_536 + Int(flow.destinationPort))
        case 4:
            self.bump(Self.portsBase + 2 * 65_536 + Int(flow.destinationPort))
        case 2, 3:
            self.bump(Self.icmpPortBase + proto - 2)
            if flow.hasICMP {
                self.bump(Self.icmpBase + ((proto - 2) * 256 + Int(flow.icmpType)) * 256 + Int(flow.icmpCode))
            }
        default:
            break
        }
    }

    // MARK: Reading (scrape time)

    /// `hubble_flows_processed_total`: (protocol, type, verdict index) → count.
    package func flowsProcessed(protocol proto: Int, type: Int, verdict: Int) -> UInt64 {
        self.counts[Self.flowsProcessedBase + (proto * 2 + type) * 3 + verdict]
    }

    package func drops(reason: Int, protocol proto: Int) -> UInt64 { self.counts[Self.dropsBase + reason * 6 + proto] }

    package func policyVerdicts(direction: Int, match: PolicyMatchType, action: Int) -> UInt64 {
        self.counts[Self.policyVerdictsBase + (direction * Self.matchTypes + Int(match.rawValue)) * 3 + action]
    }

    package func tcpFlags(flag: Int, family: Int) -> UInt64 { self.counts[Self.tcpFlagsBase + flag * 2 + family] }

    package func flowsEnded(protocol proto: Int, reason: FlowEndReason) -> UInt64 {
        self.counts[Self.flowsEndedBase + proto * 4 + Self.index(of: reason)]
    }

    /// The place of `reason` in `endReasons` (a switch, so that a new reason does not compile
    /// until it has one).
    @inline(__always)
    static func index(of reason: FlowEndReason) -> Int {
        switch reason {
        case .timeout: 0
        case .evicted: 1
        case .tcpReuse: 2
        case .shutdown: 3
        }
    }

    /// Connections by destination port: `protocol` indexes `portProtocols`.
    package func ports(protocol proto: Int, port: Int) -> UInt64 { self.counts[Self.portsBase + proto * 65_536 + port] }

    /// ICMP connections (`family` 0 ICMPv4, 1 ICMPv6), the port-distribution's `port="0"` row.
    package func icmpConnections(family: Int) -> UInt64 { self.counts[Self.icmpPortBase + family] }

    package func icmp(family: Int, type: Int, code: Int) -> UInt64 {
        self.counts[Self.icmpBase + (family * 256 + type) * 256 + code]
    }

    /// Hubble's name of an ICMP type and code (`EchoRequest`, `DestinationUnreachable(Port)`),
    /// the `type` label of `hubble_icmp_total`.
    package static func icmpTypeName(type: UInt8, code: UInt8, v6: Bool) -> String {
        var buffer = JSONBuffer(capacity: 64)
        ICMPNames.append(type: type, code: code, v6: v6, to: &buffer)
        return String(decoding: buffer.bytes, as: UTF8.self)
    }
}
