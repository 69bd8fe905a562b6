import Datapath
import Decoding
import Detection
import FlowCore
import Metrics
import Output

/// The run's metrics as the merger keeps them (`--metrics-address`): the workers' `FlowMetrics`
/// summed epoch by epoch, the latest counters (`StatsSnapshot`, as a `stats` record would have
/// them) and the inventory reloads. Only touched under the merger's lock; the page is written
/// from it at scrape time (docs/metrics.md lists every family).
final class MetricsReport {
    let flows = FlowMetrics()
    var statistics: StatsSnapshot?
    var reloads = (succeeded: UInt64(0), failed: UInt64(0))

    /// Takes an epoch's counts: the workers' `FlowMetrics` (zeroed for reuse) and counters.
    /// Allocates nothing (a single pass writes epochs on its packet path).
    func absorb(_ epoch: [Merger.Epoch], capture: CaptureCounters, time: CaptureTime?) {
        var statistics = StatsSnapshot(combining: [], capture: capture, time: time ?? self.statistics?.time ?? .zero)
        // By index: `for … in` an array of epochs (large values) allocates in a debug build.
        for index in 0..<epoch.count {
            if let metrics = epoch[index].metrics { self.flows.add(metrics) }
            if let shard = epoch[index].statistics { statistics.add(shard) }
        }
        self.statistics = statistics
    }

    /// The page: Hubble's families (names and labels of cilium pkg/hubble/metrics), then flowmon's.
    /// `interface` is the capture socket's interface (`any` when several are observed);
    /// `interfaces` the packets per interface, when the capture says where each was seen;
    /// `alerts` the detectors' counters, if any.
    func page(interface: String, interfaces: [(name: String, counts: InterfaceCounters.Counts)], version: String,
              alerts: AlertCounters?) -> String {
        var page = MetricsPage()
        self.hubbleFamilies(&page)
        self.flowmonFamilies(&page, interface: interface, interfaces: interfaces, version: version, alerts: alerts)
        return page.text
    }

    func hubbleFamilies(_ page: inout MetricsPage) {
        let f = self.flows
        let capture = self.statistics?.capture ?? CaptureCounters()
        page.family("hubble_flows_processed_total", .counter,
                    help: "Hubble events derived per new connection: a policy verdict per enforced direction, a drop per enforced would-be drop")
        for proto in 0..<FlowMetrics.protocols.count {
            for type in 0..<FlowMetrics.eventTypes.count {
                for verdict in 0..<FlowMetrics.verdicts.count {
                    let value = f.flowsProcessed(protocol: proto, type: type, verdict: verdict)
                    guard value > 0 else { continue }
                    page.sample("hubble_flows_processed_total",
                                [("protocol", FlowMetrics.protocols[proto]), ("type", FlowMetrics.eventTypes[type]),
                                 ("subtype", ""), ("verdict", FlowMetrics.verdicts[verdict])], value)
                }
            }
        }
        page.family("hubble_drop_total", .counter, help: "Drop events (with --verdict-as-enforced: connections policy would drop)")
        for reason in 0..<FlowMetrics.dropReasons.count {
            for proto in 0..<FlowMetrics.protocols.count {
                let value = f.drops(reason: reason, protocol: proto)
                guard value > 0 else { continue }
                page.sample("hubble_drop_total", [("reason", FlowMetrics.dropReasons[reason]),
                                                  ("protocol", FlowMetrics.protocols[proto])], value)
            }
        }
        page.family("hubble_policy_verdicts_total", .counter, help: "Policy verdict events, one per enforced direction of a new connection")
        for direction in 0..<2 {
            for match in PolicyMatchType.allCases {
                for action in 0..<FlowMetrics.verdicts.count {
                    let value = f.policyVerdicts(direction: direction, match: match, action: action)
                    guard value > 0 else { continue }
                    page.sample("hubble_policy_verdicts_total",
                                [("direction", direction == 0 ? "egress" : "ingress"), ("match", "\(match.name)".lowercased()),
                                 ("action", FlowMetrics.verdicts[action].lowercased())], value)
                }
            }
        }
        page.family("hubble_lost_events_total", .counter, help: "Packets lost before flowmon tracked them, by where (as the lost records' source)")
        page.sample("hubble_lost_events_total", [("source", capture.datapath?.kernelLossSource ?? "kernel")], capture.kernelDropped)
        page.sample("hubble_lost_events_total", [("source", "interface")], capture.interfaceDropped)
        page.sample("hubble_lost_events_total", [("source", "ring_buffer")], capture.ringDropped)
        page.family("hubble_tcp_flags_total", .counter,
                    help: "Ended TCP connections by flag: SYN from the initiator, SYN-ACK from the responder, FIN and RST once per direction that sent one")
        for flag in 0..<FlowMetrics.tcpFlags.count {
            for family in 0..<2 {
                let value = f.tcpFlags(flag: flag, family: family)
                guard value > 0 else { continue }
                page.sample("hubble_tcp_flags_total", [("flag", FlowMetrics.tcpFlags[flag]), ("family", FlowMetrics.families[family])], value)
            }
        }
        page.family("hubble_icmp_total", .counter, help: "Ended ICMP connections by the type and code of their first message")
        for family in 0..<2 {
            for type in 0..<256 {
                for code in 0..<256 {
                    let value = f.icmp(family: family, type: type, code: code)
                    guard value > 0 else { continue }
                    let name = FlowMetrics.icmpTypeName(type: UInt8(type), code: UInt8(code), v6: family == 1)
                    page.sample("hubble_icmp_total", [("family", FlowMetrics.families[family]), ("type", name)], value)
                }
            }
        }
        page.family("hubble_port_distribution_total", .counter, help: "Ended connections by destination port (ICMP: port 0)")
        for (row, proto) in FlowMetrics.portProtocols.enumerated() {
            for port in 0..<65_536 {
                let value = f.ports(protocol: row, port: port)
                guard value > 0 else { continue }
                page.sample("hubble_port_distribution_total", [("protocol", FlowMetrics.protocols[proto]), ("port", "\(port)")], value)
            }
        }
        for family in 0..<2 where f.icmpConnections(family: family) > 0 {
            page.sample("hubble_port_distribution_total", [("protocol", FlowMetrics.protocols[2 + family]), ("port", "0")],
                        f.icmpConnections(family: family))
        }
    }

    func flowmonFamilies(_ page: inout MetricsPage, interface: String, interfaces: [(name: String, counts: InterfaceCounters.Counts)],
                         version: String, alerts: AlertCounters?) {
        let s = self.statistics
        let capture = s?.capture ?? CaptureCounters()
        page.family("flowmon_build_info", .gauge, help: "Always 1; the version of flowmon serving these metrics")
        page.sample("flowmon_build_info", [("version", version)], 1)
        page.family("flowmon_packets_total", .counter, help: "Packets read from the capture (stats.capture.packets), by interface")
        page.family("flowmon_bytes_total", .counter, help: "Bytes on the wire of the packets read (stats.capture.bytes), by interface")
        if interfaces.isEmpty {
            page.sample("flowmon_packets_total", [("interface", interface)], capture.packets)
            page.sample("flowmon_bytes_total", [("interface", interface)], capture.bytes)
        } else {
            for observed in interfaces {
                page.sample("flowmon_packets_total", [("interface", observed.name)], observed.counts.packets)
                page.sample("flowmon_bytes_total", [("interface", observed.name)], observed.counts.bytes)
            }
            page.family("flowmon_seen_elsewhere_packets_total", .counter,
                        help: "Packets read at an interface but counted where they were seen first, at another (stats.capture.interfaces)")
            for observed in interfaces {
                page.sample("flowmon_seen_elsewhere_packets_total", [("interface", observed.name)], observed.counts.seenElsewhere)
            }
        }
        page.family("flowmon_filtered_packets_total", .counter, help: "Packets the capture filter rejected (stats.capture.filtered_out)")
        page.sample("flowmon_filtered_packets_total", [("interface", interface)], capture.filteredOut)
        page.family("flowmon_dropped_packets_total", .counter,
                    help: "Packets lost before flowmon read them: the kernel's capture buffer was full, or the interface dropped them")
        page.sample("flowmon_dropped_packets_total", [("interface", interface), ("cause", "kernel")], capture.kernelDropped)
        page.sample("flowmon_dropped_packets_total", [("interface", interface), ("cause", "interface")], capture.interfaceDropped)
        page.family("flowmon_ring_dropped_packets_total", .counter, help: "Packets read but dropped because a worker's ring was full")
        page.sample("flowmon_ring_dropped_packets_total", [], capture.ringDropped)
        page.family("flowmon_active_flows", .gauge, help: "Connections being tracked (stats.flow.active)")
        page.sample("flowmon_active_flows", [], UInt64(s?.activeFlows ?? 0))
        page.family("flowmon_flows_created_total", .counter, help: "Connections tracked since start (stats.flow.created)")
        page.sample("flowmon_flows_created_total", [], s?.flows.created ?? 0)
        page.family("flowmon_flows_total", .counter, help: "Flow records written, by protocol and end reason")
        for proto in 0..<FlowMetrics.protocols.count {
            for reason in FlowMetrics.endReasons {
                let value = self.flows.flowsEnded(protocol: proto, reason: reason)
                guard value > 0 else { continue }
                page.sample("flowmon_flows_total", [("protocol", FlowMetrics.protocols[proto]), ("reason", "\(reason.name)")], value)
            }
        }
        page.family("flowmon_flow_table_evictions_total", .counter,
                    help: "Connections ended early to make room in a full flow table (--max-flows; stats.flow.evicted)")
        page.sample("flowmon_flow_table_evictions_total", [], s?.flows.evicted ?? 0)
        page.family("flowmon_fragment_table_evictions_total", .counter,
                    help: "Fragmented datagrams forgotten to make room in the fragment table (stats.fragments.evicted)")
        page.sample("flowmon_fragment_table_evictions_total", [], s?.fragments.evicted ?? 0)
        page.family("flowmon_decoder_anomalies_total", .counter, help: "Packets with a decoder anomaly, by anomaly (stats.anomalies)")
        if let decode = s?.decode {
            for anomaly in DecodeAnomaly.allCases where decode.count(of: anomaly) > 0 {
                page.sample("flowmon_decoder_anomalies_total", [("anomaly", "\(anomaly.name)")], decode.count(of: anomaly))
            }
        }
        if let alerts {
            page.family("flowmon_alerts_total", .counter, help: "Alerts raised, by kind (stats.alerts.raised)")
            for kind in AlertKind.allCases {
                page.sample("flowmon_alerts_total", [("kind", "\(kind.name)")], alerts.raised[Int(kind.rawValue)])
            }
            page.family("flowmon_alerts_suppressed_total", .counter,
                        help: "Alerts not written: policy violations folded into a scan alert, lines over the per-source rate limit")
            page.sample("flowmon_alerts_suppressed_total", [("reason", "folded")], alerts.folded)
            page.sample("flowmon_alerts_suppressed_total", [("reason", "rate_limited")], alerts.rateLimited)
        }
        page.family("flowmon_inventory_reloads_total", .counter, help: "Inventory and policy reloads (SIGHUP), by result")
        page.sample("flowmon_inventory_reloads_total", [("result", "success")], self.reloads.succeeded)
        page.sample("flowmon_inventory_reloads_total", [("result", "failure")], self.reloads.failed)
    }
}
