import Datapath
import Decoding
import FlowCore

/// Writes an `event_type: "flow"` record: Suricata EVE's flow event (`output-json-flow.c`)
/// plus Zeek's `conn_state`. The key names are a public contract, checked against
/// `schema/flow.schema.json`: add keys, never rename them.
///
///     {"timestamp":…,"flow_id":…,"event_type":"flow","src_ip":…,"src_port":…,"dest_ip":…,
///      "dest_port":…,"proto":"TCP", ["icmp_type"…,] ["vlan":[…],] ["tunnel":{…},]
///      "flow":{…},["tcp":{…},]"conn_state":"SF"}
///
/// `src` is always the initiator; `timestamp` is the flow's last packet time. `flow.alerted`
/// is Suricata's: whether any alert was raised about the connection.
public enum FlowRecord {
    /// Appends the record; returns the buffer position of the `flow.alerted` value, so a
    /// record written before its alerts were decided (a pipeline worker's) can be marked later.
    @discardableResult
    public static func append(_ flow: FlowEntry, reason: FlowEndReason, alerted: Bool = false,
                              annotations: FlowAnnotations? = nil, to out: inout JSONBuffer) -> Int {
        out.append(raw: "{\"timestamp\":")
        out.appendQuotedTimestamp(flow.end)
        out.append(raw: ",\"flow_id\":")
        out.append(flow.flowID)
        out.append(raw: ",\"event_type\":\"flow\"")
        appendConnection(flow, to: &out)
        out.append(raw: ",\"flow\":{\"pkts_toserver\":")
        out.append(flow.packetsToServer)
        out.append(raw: ",\"pkts_toclient\":")
        out.append(flow.packetsToClient)
        out.append(raw: ",\"bytes_toserver\":")
        out.append(flow.bytesToServer)
        out.append(raw: ",\"bytes_toclient\":")
        out.append(flow.bytesToClient)
        out.append(raw: ",\"start\":")
        out.appendQuotedTimestamp(flow.start)
        out.append(raw: ",\"end\":")
        out.appendQuotedTimestamp(flow.end)
        out.append(raw: ",\"age\":")
        out.append(flow.end.seconds - flow.start.seconds)
        out.append(raw: ",\"state\":\"")
        out.append(raw: flow.phase.name)
        out.append(raw: "\",\"reason\":\"")
        out.append(raw: reason.name)
        out.append(raw: "\",\"alerted\":")
        let alertedAt = out.count
        out.append(raw: alerted ? "true}" : "false}")
        if flow.ipProtocol == IPProtocolNumber.tcp {
            appendTCP(flow, to: &out)
        }
        out.append(raw: ",\"conn_state\":\"")
        out.append(raw: flow.connState)
        out.append(byte: UInt8(ascii: "\""))
        if let annotations, flow.sourceIdentity != .unknown || flow.destinationIdentity != .unknown {
            out.append(raw: ",\"source\":")
            annotations.appendEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
            out.append(raw: ",\"destination\":")
            annotations.appendEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
            annotations.appendDestinationService(flow.destinationService, to: &out)
            if flow.hasPolicyVerdict { appendPolicy(flow, annotations: annotations, to: &out) }
        }
        out.append(byte: UInt8(ascii: "}"))
        return alertedAt
    }

    /// The connection's EVE fields, shared by flow and alert records: `src_ip`, `src_port`,
    /// `dest_ip`, `dest_port`, `proto`, `ip_v` (Suricata 8's name for the IP version), ICMP
    /// type/code, `vlan`, `tunnel`.
    static func appendConnection(_ flow: FlowEntry, to out: inout JSONBuffer) {
        let asIPv6 = flow.ipVersion == 6
        out.append(raw: ",\"src_ip\":")
        out.appendQuoted(flow.sourceAddress, asIPv6: asIPv6)
        if flow.hasPorts {
            out.append(raw: ",\"src_port\":")
            out.append(UInt64(flow.sourcePort))
        }
        out.append(raw: ",\"dest_ip\":")
        out.appendQuoted(flow.destinationAddress, asIPv6: asIPv6)
        if flow.hasPorts {
            out.append(raw: ",\"dest_port\":")
            out.append(UInt64(flow.destinationPort))
        }
        out.append(raw: ",\"proto\":")
        appendProtocol(flow.ipProtocol, to: &out)
        out.append(raw: ",\"ip_v\":")
        out.append(UInt64(flow.ipVersion))
        if flow.hasICMP {
            out.append(raw: ",\"icmp_type\":")
            out.append(UInt64(flow.icmpType))
            out.append(raw: ",\"icmp_code\":")
            out.append(UInt64(flow.icmpCode))
        }
        if flow.hasResponseICMP {
            out.append(raw: ",\"response_icmp_type\":")
            out.append(UInt64(flow.responseICMPType))
            out.append(raw: ",\"response_icmp_code\":")
            out.append(UInt64(flow.responseICMPCode))
        }
        if flow.vlanCount > 0 {
            out.append(raw: ",\"vlan\":[")
            out.append(UInt64(flow.vlanIDs.0))
            if flow.vlanCount > 1 {
                out.append(byte: UInt8(ascii: ","))
                out.append(UInt64(flow.vlanIDs.1))
            }
            if flow.vlanCount > 2 {
                out.append(byte: UInt8(ascii: ","))
                out.append(UInt64(flow.vlanIDs.2))
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        if flow.tunnel != .none {
            out.append(raw: ",\"tunnel\":{\"src_ip\":")
            out.appendQuoted(flow.tunnelSource)
            out.append(raw: ",\"dest_ip\":")
            out.appendQuoted(flow.tunnelDestination)
            if flow.tunnel.hasVNI {
                out.append(raw: ",\"vni\":")
                out.append(UInt64(flow.tunnelVNI))
                if flow.hasResponseTunnel && flow.responseTunnelVNI != flow.tunnelVNI {
                    out.append(raw: ",\"response_vni\":")
                    out.append(UInt64(flow.responseTunnelVNI))
                }
            }
            out.append(raw: ",\"type\":\"")
            out.append(raw: flow.tunnel.name)
            out.append(raw: "\",\"depth\":")
            out.append(UInt64(flow.tunnelDepth))
            out.append(byte: UInt8(ascii: "}"))
        }
    }

    /// The `policy` object: the verdict as Hubble names it (`FORWARDED`; `AUDIT` for a
    /// connection policy would drop, since flowmon observes and does not enforce, or
    /// `DROPPED` with `--verdict-as-enforced`), Cilium's drop reason and the direction that
    /// drops, Hubble's `policy_match_type` number, each evaluated side's decision, and the
    /// policies responsible in Hubble's `*_allowed_by` / `*_denied_by` lists.
    static func appendPolicy(_ flow: FlowEntry, annotations: FlowAnnotations, to out: inout JSONBuffer) {
        out.append(raw: ",\"policy\":{\"verdict\":\"")
        let drop = flow.wouldDrop
        if drop == nil {
            out.append(raw: "FORWARDED\"")
        } else {
            out.append(raw: annotations.verdictAsEnforced ? "DROPPED\"" : "AUDIT\"")
            out.append(raw: ",\"drop_reason_desc\":\"")
            out.append(raw: drop!.explicitDeny ? "POLICY_DENY\"" : "POLICY_DENIED\"")
            out.append(raw: ",\"traffic_direction\":\"")
            out.append(raw: drop!.direction.name)
            out.append(byte: UInt8(ascii: "\""))
        }
        // The match type of the deciding entry: the dropping side's, else the enforced ingress
        // side's, else egress's.
        let ingressDecided = flow.ingressEvaluated && flow.ingressDecision.outcome != .notEnforced
        let deciding = drop?.decision ?? (ingressDecided ? flow.ingressDecision : flow.egressDecision)
        out.append(raw: ",\"policy_match_type\":")
        out.append(UInt64(deciding.matchType.rawValue))
        if flow.egressEvaluated { appendDecision(flow.egressDecision, key: ",\"egress\":{\"decision\":\"", to: &out) }
        if flow.ingressEvaluated { appendDecision(flow.ingressDecision, key: ",\"ingress\":{\"decision\":\"", to: &out) }
        if flow.egressEvaluated { annotations.appendPolicies(of: flow.egressDecision, direction: .egress, hubble: false, to: &out) }
        if flow.ingressEvaluated { annotations.appendPolicies(of: flow.ingressDecision, direction: .ingress, hubble: false, to: &out) }
        out.append(byte: UInt8(ascii: "}"))
    }

    static func appendDecision(_ decision: PolicyDecision, key: StaticString, to out: inout JSONBuffer) {
        out.append(raw: key)
        out.append(raw: decision.outcome.name)
        out.append(raw: "\",\"match_type\":\"")
        out.append(raw: decision.matchType.name)
        out.append(raw: "\"}")
    }

    /// EVE's `tcp` object: flags as two hex digits (Suricata's `tcp_flags`), one boolean
    /// per flag that was seen (absent flags are omitted, as Suricata does), and the state.
    static func appendTCP(_ flow: FlowEntry, to out: inout JSONBuffer) {
        let all = flow.flagsToServer | flow.flagsToClient
        out.append(raw: ",\"tcp\":{\"tcp_flags\":\"")
        out.append(hex: UInt8(truncatingIfNeeded: all))
        out.append(raw: "\",\"tcp_flags_ts\":\"")
        out.append(hex: UInt8(truncatingIfNeeded: flow.flagsToServer))
        out.append(raw: "\",\"tcp_flags_tc\":\"")
        out.append(hex: UInt8(truncatingIfNeeded: flow.flagsToClient))
        out.append(byte: UInt8(ascii: "\""))
        if all & TCPFlag.syn != 0 { out.append(raw: ",\"syn\":true") }
        if all & TCPFlag.fin != 0 { out.append(raw: ",\"fin\":true") }
        if all & TCPFlag.rst != 0 { out.append(raw: ",\"rst\":true") }
        if all & TCPFlag.psh != 0 { out.append(raw: ",\"psh\":true") }
        if all & TCPFlag.ack != 0 { out.append(raw: ",\"ack\":true") }
        if all & TCPFlag.urg != 0 { out.append(raw: ",\"urg\":true") }
        if all & TCPFlag.ece != 0 { out.append(raw: ",\"ecn\":true") }
        if all & TCPFlag.cwr != 0 { out.append(raw: ",\"cwr\":true") }
        out.append(raw: ",\"state\":\"")
        out.append(raw: flow.tcpState.eveName(initiatorSentFIN: flow.history.has(ConnectionHistory.fin, fromInitiator: true)))
        out.append(raw: "\"}")
    }

    /// `proto` as EVE prints it: the IANA keyword for common protocols, else the number.
    static func appendProtocol(_ number: UInt8, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "\""))
        if let name = IPProtocolNumber.eveName(number) {
            out.append(raw: name)
        } else {
            out.append(UInt64(number))
        }
        out.append(byte: UInt8(ascii: "\""))
    }
}
