import Datapath
import Decoding
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
        out.append(raw: "{\"timestamp\":")
        out.appendQuotedTimestamp(s.time)
        out.append(raw: ",\"event_type\":\"stats\",\"stats\":{\"uptime\":")
        out.append(s.uptime)
        out.append(raw: ",\"capture\":{\"packets\":")
        out.append(s.capture.packets)
        out.append(raw: ",\"bytes\":")
        out.append(s.capture.bytes)
        out.append(raw: ",\"filtered_out\":")
        out.append(s.capture.filteredOut)
        out.append(raw: ",\"kernel_dropped\":")
        out.append(s.capture.kernelDropped)
        out.append(raw: ",\"interface_dropped\":")
        out.append(s.capture.interfaceDropped)
        out.append(raw: ",\"ring_dropped\":")
        out.append(s.capture.ringDropped)
        // Suricata's own names for the capture counters (`stats.capture` of its EVE schema).
        out.append(raw: ",\"kernel_packets\":")
        out.append(s.capture.received)
        out.append(raw: ",\"kernel_drops\":")
        out.append(s.capture.kernelDropped)
        out.append(raw: ",\"kernel_ifdrops\":")
        out.append(s.capture.interfaceDropped)
        out.append(raw: ",\"errors\":")
        out.append(UInt64(s.inputError == nil ? 0 : 1))
        out.append(raw: ",\"unsupported_link_types\":{")
        for i in 0..<s.capture.unsupportedLinkTypeCount {
            if i > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(byte: UInt8(ascii: "\""))
            out.append(UInt64(s.capture.unsupportedLinkTypes[i].linkType))
            out.append(raw: "\":")
            out.append(s.capture.unsupportedLinkTypes[i].packets)
        }
        if s.capture.otherUnsupportedLinkTypes > 0 {
            if s.capture.unsupportedLinkTypeCount > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(raw: "\"other\":")
            out.append(s.capture.otherUnsupportedLinkTypes)
        }
        out.append(byte: UInt8(ascii: "}"))
        if let error = s.inputError {
            out.append(raw: ",\"error\":")
            out.appendString(error)
        }
        let d = s.decode
        out.append(raw: "},\"decoder\":{\"pkts\":")
        out.append(d.packets)
        out.append(raw: ",\"bytes\":")
        out.append(d.bytes)
        out.append(raw: ",\"ipv4\":")
        out.append(d.ipv4)
        out.append(raw: ",\"ipv6\":")
        out.append(d.ipv6)
        out.append(raw: ",\"tcp\":")
        out.append(d.tcp)
        out.append(raw: ",\"udp\":")
        out.append(d.udp)
        out.append(raw: ",\"sctp\":")
        out.append(d.sctp)
        out.append(raw: ",\"icmpv4\":")
        out.append(d.icmpv4)
        out.append(raw: ",\"icmpv6\":")
        out.append(d.icmpv6)
        out.append(raw: ",\"other_ip\":")
        out.append(d.otherIP)
        out.append(raw: ",\"non_ip\":")
        out.append(d.nonIP)
        out.append(raw: ",\"vlan\":")
        out.append(d.vlanTagged)
        out.append(raw: ",\"mpls\":")
        out.append(d.mpls)
        out.append(raw: ",\"tunnel\":")
        out.append(d.tunneled)
        out.append(raw: ",\"fragments\":")
        out.append(d.fragments)
        out.append(raw: "},\"anomalies\":{")
        var first = true
        for anomaly in DecodeAnomaly.allCases where d.count(of: anomaly) > 0 {
            if !first { out.append(byte: UInt8(ascii: ",")) }
            first = false
            out.append(byte: UInt8(ascii: "\""))
            out.append(raw: anomaly.name)
            out.append(raw: "\":")
            out.append(d.count(of: anomaly))
        }
        let f = s.flows
        out.append(raw: "},\"flow\":{\"created\":")
        out.append(f.created)
        out.append(raw: ",\"emitted\":")
        out.append(f.ended)
        out.append(raw: ",\"active\":")
        out.append(UInt64(s.activeFlows))
        out.append(raw: ",\"timeout\":")
        out.append(f.timedOut)
        out.append(raw: ",\"evicted\":")
        out.append(f.evicted)
        out.append(raw: ",\"tcp_reuse\":")
        out.append(f.tcpReuse)
        out.append(raw: ",\"shutdown\":")
        out.append(f.shutdown)
        out.append(raw: ",\"related_icmp\":")
        out.append(f.relatedICMP)
        out.append(raw: "},\"fragments\":{\"datagrams\":")
        out.append(s.fragments.datagrams)
        out.append(raw: ",\"attributed\":")
        out.append(s.fragments.attributed)
        out.append(raw: ",\"orphaned\":")
        out.append(s.fragments.orphaned)
        out.append(raw: ",\"evicted\":")
        out.append(s.fragments.evicted)
        out.append(byte: UInt8(ascii: "}"))
        if let alerts = s.alerts { appendAlerts(alerts, to: &out) }
        out.append(raw: "}}")
    }

    /// `"alerts":{"raised":{"policy_violation":0,…},"aggregated":…,"allowlisted":…,
    /// "events_dropped":…,"trackers_evicted":…,"aggregates_evicted":…}`.
    static func appendAlerts(_ a: AlertCounters, to out: inout JSONBuffer) {
        out.append(raw: ",\"alerts\":{\"raised\":{")
        for kind in AlertKind.allCases {
            if kind.rawValue > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.append(byte: UInt8(ascii: "\""))
            out.append(raw: kind.name)
            out.append(raw: "\":")
            out.append(a.raised[Int(kind.rawValue)])
        }
        out.append(raw: "},\"aggregated\":")
        out.append(a.aggregated)
        out.append(raw: ",\"allowlisted\":")
        out.append(a.allowlisted)
        out.append(raw: ",\"events_dropped\":")
        out.append(a.eventsDropped)
        out.append(raw: ",\"trackers_evicted\":")
        out.append(a.trackersEvicted)
        out.append(raw: ",\"aggregates_evicted\":")
        out.append(a.aggregatesEvicted)
        out.append(byte: UInt8(ascii: "}"))
    }
}
