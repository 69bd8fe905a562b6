import Datapath
import Decoding
import Detection
import FlowCore

/// Everything a `stats` record reports, as plain numbers.
public struct StatsSnapshot: Sendable {
    public var time: CaptureTime
    public var capture: CaptureCounters
    public var decode: DecodeCounters
    public var flows: FlowTableCounters
    public var activeFlows: Int
    public var fragments: FragmentCounters
    /// The input error that ended the run early, if any (e.g. a truncated file).
    public var inputError: String?
    /// The detectors' counters, when alerts are on.
    public var alerts: AlertCounters?
    /// Per interface of a live capture, by name (`stats.capture.interfaces`).
    public var interfaces: [(name: String, counts: InterfaceCounters.Counts)] = []
    /// Reloads of the inventory and policies in a live capture (`stats.agent`); nil in replay.
    public var agentReloads: (reloads: UInt64, errors: UInt64)?
    /// The application layer's counts (`stats.l7`), when it is on.
    public var application: ApplicationCounters?

    public init(time: CaptureTime, capture: CaptureCounters, decode: DecodeCounters, flows: FlowTableCounters,
                activeFlows: Int, fragments: FragmentCounters, inputError: String? = nil) {
        self.time = time
        self.capture = capture
        self.decode = decode
        self.flows = flows
        self.activeFlows = activeFlows
        self.fragments = fragments
        self.inputError = inputError
    }
}

extension StatsSnapshot {
    /// Suricata's `stats.uptime`, in whole seconds: capture time from the first packet to this
    /// record (0 before any packet). Capture time, not the clock, so a replay's stats are the
    /// same on every run; in a live capture packets carry the clock's time, so it is the time
    /// since the first packet.
    public var uptime: UInt64 {
        guard let first = self.capture.firstPacketTime, self.time > first else { return 0 }
        return UInt64((self.time.nanoseconds - first.nanoseconds) / 1_000_000_000)
    }
}

/// Writes an `event_type: "stats"` record, grouped like Suricata's stats event
/// (`stats.capture`, `stats.decoder`, `stats.flow`), with every non-zero decoder anomaly
/// under its stable dotted name in `stats.anomalies`. Checked against `schema/stats.schema.json`.
public enum StatsRecord {
    public static func append(_ s: StatsSnapshot, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, s.time)
        out.append(.eventType, name: "stats")
        out.open(.stats)
        out.append(.uptime, s.uptime)
        out.open(.capture)
        if let datapath = s.capture.datapath { out.append(.datapath, name: datapath.name) }
        out.append(.packets, s.capture.packets)
        out.append(.bytes, s.capture.bytes)
        out.append(.filteredOut, s.capture.filteredOut)
        out.append(.kernelDropped, s.capture.kernelDropped)
        out.append(.interfaceDropped, s.capture.interfaceDropped)
        out.append(.ringDropped, s.capture.ringDropped)
        if s.capture.seenElsewhere > 0 { out.append(.seenElsewhere, s.capture.seenElsewhere) }
        if s.capture.kernelAggregation {
            out.open(.aggregated)
            out.append(.packets, s.capture.aggregatedPackets)
            out.append(.bytes, s.capture.aggregatedBytes)
            out.append(byte: UInt8(ascii: "}"))
        }
        // Suricata's own names for the capture counters (`stats.capture` of its EVE schema).
        out.append(.kernelPackets, s.capture.received)
        out.append(.kernelDrops, s.capture.kernelDropped)
        out.append(.kernelInterfaceDrops, s.capture.interfaceDropped)
        out.append(.errors, UInt64(s.inputError == nil ? 0 : 1))
        out.open(.unsupportedLinkTypes)
        for i in 0..<s.capture.unsupportedLinkTypeCount {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(byte: UInt8(ascii: "\""))
            out.append(UInt64(s.capture.unsupportedLinkTypes[i].linkType))
            out.append(raw: "\":")
            out.append(s.capture.unsupportedLinkTypes[i].packets)
        }
        if s.capture.otherUnsupportedLinkTypes > 0 {
            out.append(key: "other")
            out.append(s.capture.otherUnsupportedLinkTypes)
        }
        out.append(byte: UInt8(ascii: "}"))
        if let error = s.inputError {
            out.append(key: .error)
            out.appendString(error)
        }
        if !s.interfaces.isEmpty {
            out.open(.interfaces)
            for (index, interface) in s.interfaces.enumerated() {
                if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.appendString(interface.name)
                out.append(byte: UInt8(ascii: ":"))
                out.append(byte: UInt8(ascii: "{"))
                out.append(.packets, interface.counts.packets)
                out.append(.bytes, interface.counts.bytes)
                out.append(.seenElsewhere, interface.counts.seenElsewhere)
                out.append(.ringDropped, interface.counts.ringDropped)
                out.append(byte: UInt8(ascii: "}"))
            }
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(byte: UInt8(ascii: "}"))
        let d = s.decode
        out.open(.decoder)
        out.append(.pkts, d.packets)
        out.append(.bytes, d.bytes)
        out.append(.ipv4, d.ipv4)
        out.append(.ipv6, d.ipv6)
        out.append(.tcp, d.tcp)
        out.append(.udp, d.udp)
        out.append(.sctp, d.sctp)
        out.append(.icmpv4, d.icmpv4)
        out.append(.icmpv6, d.icmpv6)
        out.append(.otherIP, d.otherIP)
        out.append(.nonIP, d.nonIP)
        out.append(.vlan, d.vlanTagged)
        out.append(.mpls, d.mpls)
        out.append(.tunnel, d.tunneled)
        out.append(.fragments, d.fragments)
        out.append(byte: UInt8(ascii: "}"))
        out.open(.anomalies)
        for anomaly in DecodeAnomaly.allCases where d.count(of: anomaly) > 0 {
            out.append(key: anomaly.name)
            out.append(d.count(of: anomaly))
        }
        out.append(byte: UInt8(ascii: "}"))
        let f = s.flows
        out.open(.flow)
        out.append(.created, f.created)
        out.append(.emitted, f.ended)
        out.append(.active, UInt64(s.activeFlows))
        out.append(.timeout, f.timedOut)
        out.append(.evicted, f.evicted)
        out.append(.tcpReuse, f.tcpReuse)
        out.append(.shutdown, f.shutdown)
        out.append(.relatedICMP, f.relatedICMP)
        if f.createdFromKernel > 0 { out.append(.createdFromKernel, f.createdFromKernel) }
        out.append(byte: UInt8(ascii: "}"))
        out.open(.fragments)
        out.append(.datagrams, s.fragments.datagrams)
        out.append(.attributed, s.fragments.attributed)
        out.append(.orphaned, s.fragments.orphaned)
        out.append(.evicted, s.fragments.evicted)
        out.append(byte: UInt8(ascii: "}"))
        if let alerts = s.alerts { appendAlerts(alerts, to: &out) }
        if let application = s.application {
            out.open(.l7)
            application.forEach { name, count in
                out.append(key: name)
                out.append(count)
            }
            out.append(byte: UInt8(ascii: "}"))
        }
        if let agent = s.agentReloads {
            out.open(.agent)
            out.append(.reloads, agent.reloads)
            out.append(.reloadErrors, agent.errors)
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(raw: "}}")
    }

    /// `"alerts":{"raised":{"policy_violation":0,…},"aggregated":…,"allowlisted":…,
    /// "events_dropped":…,"trackers_evicted":…,"aggregates_evicted":…,"folded":…,
    /// "held_released_early":…,"rate_limited":…}`.
    static func appendAlerts(_ a: AlertCounters, to out: inout JSONBuffer) {
        out.open(.alerts)
        out.open(.raised)
        for kind in AlertKind.allCases {
            out.append(key: kind.name)
            out.append(a.raised[Int(kind.rawValue)])
        }
        out.append(byte: UInt8(ascii: "}"))
        out.append(.aggregated, a.aggregated)
        out.append(.allowlisted, a.allowlisted)
        out.append(.eventsDropped, a.eventsDropped)
        out.append(.trackersEvicted, a.trackersEvicted)
        out.append(.aggregatesEvicted, a.aggregatesEvicted)
        out.append(.folded, a.folded)
        out.append(.heldReleasedEarly, a.heldReleasedEarly)
        out.append(.rateLimited, a.rateLimited)
        out.append(byte: UInt8(ascii: "}"))
    }
}
