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
        out.appendMember("bytes", s.capture.bytes)
        out.appendMember("filtered_out", s.capture.filteredOut)
        out.appendMember("kernel_dropped", s.capture.kernelDropped)
        out.appendMember("interface_dropped", s.capture.interfaceDropped)
        out.appendMember("ring_dropped", s.capture.ringDropped)
        // Suricata's own names for the capture counters (`stats.capture` of its EVE schema).
        out.appendMember("kernel_packets", s.capture.received)
        out.appendMember("kernel_drops", s.capture.kernelDropped)
        out.appendMember("kernel_ifdrops", s.capture.interfaceDropped)
        out.appendMember("errors", UInt64(s.inputError == nil ? 0 : 1))
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
        out.appendMember("bytes", d.bytes)
        out.appendMember("ipv4", d.ipv4)
        out.appendMember("ipv6", d.ipv6)
        out.appendMember("tcp", d.tcp)
        out.appendMember("udp", d.udp)
        out.appendMember("sctp", d.sctp)
        out.appendMember("icmpv4", d.icmpv4)
        out.appendMember("icmpv6", d.icmpv6)
        out.appendMember("other_ip", d.otherIP)
        out.appendMember("non_ip", d.nonIP)
        out.appendMember("vlan", d.vlanTagged)
        out.appendMember("mpls", d.mpls)
        out.appendMember("tunnel", d.tunneled)
        out.appendMember("fragments", d.fragments)
        out.append(raw: "},\"anomalies\":{")
        var first = true
        for anomaly in DecodeAnomaly.allCases where d.count(of: anomaly) > 0 {
            out.appendMember(anomaly.name, d.count(of: anomaly), first: first)
            first = false
        }
        let f = s.flows
        out.append(raw: "},\"flow\":{\"created\":")
        out.append(f.created)
        out.appendMember("emitted", f.ended)
        out.appendMember("active", UInt64(s.activeFlows))
        out.appendMember("timeout", f.timedOut)
        out.appendMember("evicted", f.evicted)
        out.appendMember("tcp_reuse", f.tcpReuse)
        out.appendMember("shutdown", f.shutdown)
        out.appendMember("related_icmp", f.relatedICMP)
        out.append(raw: "},\"fragments\":{\"datagrams\":")
        out.append(s.fragments.datagrams)
        out.appendMember("attributed", s.fragments.attributed)
        out.appendMember("orphaned", s.fragments.orphaned)
        out.appendMember("evicted", s.fragments.evicted)
        out.append(byte: UInt8(ascii: "}"))
        if let alerts = s.alerts { appendAlerts(alerts, to: &out) }
        out.append(raw: "}}")
    }

    /// `"alerts":{"raised":{"policy_violation":0,…},"aggregated":…,"allowlisted":…,
    /// "events_dropped":…,"trackers_evicted":…,"aggregates_evicted":…}`.
    static func appendAlerts(_ a: AlertCounters, to out: inout JSONBuffer) {
        out.append(raw: ",\"alerts\":{\"raised\":{")
        for kind in AlertKind.allCases {
            out.appendMember(kind.name, a.raised[Int(kind.rawValue)], first: kind.rawValue == 0)
        }
        out.append(raw: "},\"aggregated\":")
        out.append(a.aggregated)
        out.appendMember("allowlisted", a.allowlisted)
        out.appendMember("events_dropped", a.eventsDropped)
        out.appendMember("trackers_evicted", a.trackersEvicted)
        out.appendMember("aggregates_evicted", a.aggregatesEvicted)
        out.append(byte: UInt8(ascii: "}"))
    }
}

extension JSONBuffer {
    /// `,"name":value`, or `"name":value` for the `first` counter of its object.
    mutating func appendMember(_ name: StaticString, _ value: UInt64, first: Bool = false) {
        self.append(raw: first ? "\"" : ",\"")
        self.append(raw: name)
        self.append(raw: "\":")
        self.append(value)
    }
}
