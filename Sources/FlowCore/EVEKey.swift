/// The text of a JSON key, kept as a `StaticString` so a writer copies its bytes with no
/// `String` (`JSONBuffer.append(key:)`); the raw value of `EVEKey`.
public struct KeyText: Equatable, ExpressibleByStringLiteral, Sendable {
    public let text: StaticString

    public init(stringLiteral text: StaticString) { self.text = text }

    public static func == (a: Self, b: Self) -> Bool {
        a.text.utf8CodeUnitCount == b.text.utf8CodeUnitCount
            && (0..<a.text.utf8CodeUnitCount).allSatisfy { a.text.utf8Start[$0] == b.text.utf8Start[$0] }
    }
}

/// Every key of flowmon's own JSON records (`event_type` flow, alert, stats and lost: the
/// contracts schema/flow, alert, stats and lost.schema.json), named once: Output writes them,
/// FlowLog reads them, and OutputTests checks this list against the schemas both ways. A key
/// is a name, wherever it is nested (`state` is `flow.state` and `tcp.state`). Not here: the
/// `stats.alerts.raised` keys (`AlertKind.name`), the names of `stats.anomalies`
/// (`DecodeAnomaly.name`) and of `stats.capture.unsupported_link_types`, and the keys of
/// `--hubble` lines, which flow.proto fixes.
public enum EVEKey: KeyText, CaseIterable, Sendable {
    // The connection, in flow and alert records.
    case timestamp, proto, vlan, tunnel, vni, type, depth
    case flowID = "flow_id", eventType = "event_type", inInterface = "in_iface"
    case srcIP = "src_ip", srcPort = "src_port", destIP = "dest_ip", destPort = "dest_port"
    case ipVersion = "ip_v"
    case icmpType = "icmp_type", icmpCode = "icmp_code"
    case responseICMPType = "response_icmp_type", responseICMPCode = "response_icmp_code"
    case responseVNI = "response_vni", communityID = "community_id"
    // The application layer on flow records: the protocol and the peer names; `stats.l7`.
    // (The `dns`, `http` and `tls` records write Suricata's keys as their schemas list them.)
    case appProto = "app_proto", srcNames = "src_names", destNames = "dest_names", l7
    // `flow`, `tcp` and Zeek's `conn_state`.
    case flow, start, end, age, state, reason, alerted
    case packetsToServer = "pkts_toserver", packetsToClient = "pkts_toclient"
    case bytesToServer = "bytes_toserver", bytesToClient = "bytes_toclient"
    case tcp, syn, fin, rst, psh, ack, urg, ecn, cwr
    case tcpFlags = "tcp_flags", tcpFlagsToServer = "tcp_flags_ts", tcpFlagsToClient = "tcp_flags_tc"
    case connState = "conn_state"
    // Endpoints, the destination service and the `policy` object (Hubble's field names).
    case source, destination, identity, namespace, labels, workloads, name, kind
    case podName = "pod_name", destinationService = "destination_service"
    case policy, verdict, egress, ingress, decision
    case dropReason = "drop_reason_desc", trafficDirection = "traffic_direction"
    case policyMatchType = "policy_match_type", matchType = "match_type"
    case egressAllowedBy = "egress_allowed_by", ingressAllowedBy = "ingress_allowed_by"
    case egressDeniedBy = "egress_denied_by", ingressDeniedBy = "ingress_denied_by"
    // `alert` and the detectors' `scan`, `flood` and `spoof`.
    case alert, action, gid, rev, signature, category, severity, count, aggregated, scan, window, flood, spoof
    case signatureID = "signature_id", firstSeen = "first_seen", lastSeen = "last_seen"
    case distinctPorts = "distinct_ports", distinctHosts = "distinct_hosts"
    case halfOpen = "half_open", distinctSources = "distinct_sources"
    case tunnelIdentity = "tunnel_identity", innerSourceIdentity = "inner_source_identity"
    // The DNS alerts: Suricata's `dns{version, queries[{rrname, rrtype}], rcode}` and the detectors'
    // `dns_tunnel` and `nxdomain`.
    case dns, version, queries, rrname, rrtype, rcode, entropy, nxdomain
    case dnsTunnel = "dns_tunnel", nameLength = "name_length", longestLabel = "longest_label"
    case distinctNames = "distinct_names"
    // `stats`.
    case stats, uptime, capture, datapath, packets, bytes, errors, error, decoder, pkts, anomalies, fragments, alerts, interfaces
    case filteredOut = "filtered_out", kernelDropped = "kernel_dropped", interfaceDropped = "interface_dropped"
    case ringDropped = "ring_dropped", seenElsewhere = "seen_elsewhere", kernelPackets = "kernel_packets", kernelDrops = "kernel_drops"
    case kernelInterfaceDrops = "kernel_ifdrops", unsupportedLinkTypes = "unsupported_link_types"
    case ipv4, ipv6, udp, sctp, icmpv4, icmpv6, mpls
    case otherIP = "other_ip", nonIP = "non_ip"
    case created, emitted, active, timeout, evicted, shutdown, datagrams, attributed, orphaned
    case tcpReuse = "tcp_reuse", relatedICMP = "related_icmp", createdFromKernel = "created_from_kernel"
    case raised, allowlisted
    case eventsDropped = "events_dropped", trackersEvicted = "trackers_evicted", aggregatesEvicted = "aggregates_evicted"
    case folded, heldReleasedEarly = "held_released_early", rateLimited = "rate_limited"
    case foldedPolicyViolations = "folded_policy_violations"
    case agent, reloads
    case reloadErrors = "reload_errors"
    // `lost`.
    case lost, total
    case numEventsLost = "num_events_lost"
}
