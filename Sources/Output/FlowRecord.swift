import Datapath
import Decoding
import FlowCore
import L7

/// Writes an `event_type: "flow"` record: Suricata EVE's flow event (`output-json-flow.c`)
/// plus Zeek's `conn_state`. The key names (`EVEKey`) are a public contract, checked against
/// `schema/flow.schema.json`: add keys, never rename them.
///
///     {"timestamp":…,"flow_id":…,"event_type":"flow","src_ip":…,"src_port":…,"dest_ip":…,
///      "dest_port":…,"proto":"TCP", ["icmp_type"…,] ["vlan":[…],] ["tunnel":{…},]
///      "flow":{…},["tcp":{…},]"conn_state":"SF"}
///
/// `src` is always the initiator; `timestamp` is the flow's last packet time. `flow.alerted`
/// is Suricata's: whether any alert was raised about the connection.
public enum FlowRecord {
    /// Appends the record with `flow.alerted` false; returns that value's buffer position, where
    /// the merger marks it once the detectors have decided.
    @discardableResult
    public static func append(_ flow: FlowEntry, reason: FlowEndReason, annotations: FlowAnnotations? = nil,
                              interfaces: InterfaceNames? = nil, names: NameSets? = nil,
                              communityIDSeed: UInt16 = 0, to out: inout JSONBuffer) -> Int {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, flow.end)
        out.append(.flowID, flow.flowID)
        interfaces?.append(.inInterface, index: flow.interfaceIndex, to: &out)
        out.append(.eventType, name: "flow")
        appendConnection(flow, communityIDSeed: communityIDSeed, to: &out)
        if let name = AppProtocol(rawValue: flow.applicationProtocol)?.eveName { out.append(.appProto, name: name) }
        if let names {
            appendNames(names, flow.sourceNameSet, key: .srcNames, to: &out)
            appendNames(names, flow.destinationNameSet, key: .destNames, to: &out)
        }
        out.open(.flow)
        out.append(.packetsToServer, flow.packetsToServer)
        out.append(.packetsToClient, flow.packetsToClient)
        out.append(.bytesToServer, flow.bytesToServer)
        out.append(.bytesToClient, flow.bytesToClient)
        out.append(.start, flow.start)
        out.append(.end, flow.end)
        out.append(.age, flow.end.seconds - flow.start.seconds)
        out.append(.state, name: flow.phase.name)
        out.append(.reason, name: reason.name)
        out.append(key: .alerted)
        let alertedAt = out.count
        out.append(raw: "false}")
        if flow.ipProtocol == IPProtocolNumber.tcp {
            appendTCP(flow, to: &out)
        }
        out.append(.connState, name: flow.connState)
        if let annotations, flow.sourceIdentity != .unknown || flow.destinationIdentity != .unknown {
            out.append(key: .source)
            annotations.appendEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
            out.append(key: .destination)
            annotations.appendEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
            annotations.appendDestinationService(flow.destinationService, to: &out)
            if flow.hasPolicyVerdict { appendPolicy(flow, annotations: annotations, to: &out) }
        }
        out.append(byte: UInt8(ascii: "}"))
        return alertedAt
    }

    /// The connection's EVE fields, shared by flow and alert records: `src_ip`, `src_port`,
    /// `dest_ip`, `dest_port`, `proto`, `ip_v` (Suricata 8's name for the IP version), ICMP
    /// type/code, `vlan`, `tunnel`, and `community_id` (where Suricata writes it, after the
    /// header's fields: `EveAddCommonOptions`), seeded with `communityIDSeed`.
    static func appendConnection(_ flow: FlowEntry, communityIDSeed: UInt16, to out: inout JSONBuffer) {
        let asIPv6 = flow.ipVersion == 6
        out.append(key: .srcIP)
        out.appendQuoted(flow.sourceAddress, asIPv6: asIPv6)
        if flow.hasPorts { out.append(.srcPort, UInt64(flow.sourcePort)) }
        out.append(key: .destIP)
        out.appendQuoted(flow.destinationAddress, asIPv6: asIPv6)
        if flow.hasPorts { out.append(.destPort, UInt64(flow.destinationPort)) }
        out.append(key: .proto)
        appendProtocol(flow.ipProtocol, to: &out)
        out.append(.ipVersion, UInt64(flow.ipVersion))
        if flow.hasICMP {
            out.append(.icmpType, UInt64(flow.icmpType))
            out.append(.icmpCode, UInt64(flow.icmpCode))
        }
        if flow.hasResponseICMP {
            out.append(.responseICMPType, UInt64(flow.responseICMPType))
            out.append(.responseICMPCode, UInt64(flow.responseICMPCode))
        }
        if flow.vlanCount > 0 {
            out.append(key: .vlan)
            out.append(byte: UInt8(ascii: "["))
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
            out.open(.tunnel)
            out.append(key: .srcIP)
            out.appendQuoted(flow.tunnelSource)
            out.append(key: .destIP)
            out.appendQuoted(flow.tunnelDestination)
            if flow.tunnel.hasVNI {
                out.append(.vni, UInt64(flow.tunnelVNI))
                if flow.hasResponseTunnel && flow.responseTunnelVNI != flow.tunnelVNI {
                    out.append(.responseVNI, UInt64(flow.responseTunnelVNI))
                }
            }
            out.append(.type, name: flow.tunnel.name)
            out.append(.depth, UInt64(flow.tunnelDepth))
            out.append(byte: UInt8(ascii: "}"))
        }
        out.append(key: .communityID)
        CommunityID.append(flow, seed: communityIDSeed, to: &out)
    }

    /// `"src_names":[…]` or `"dest_names":[…]`: the names the responder had looked up for the
    /// initiator's address, or the initiator for the responder's, when the connection started
    /// (Hubble's `source_names` and `destination_names`).
    static func appendNames(_ names: NameSets, _ set: UInt16, key: EVEKey, to out: inout JSONBuffer) {
        guard set != 0 else { return }
        names.withJSON(set) { json in
            out.append(key: key)
            out.append(raw: json)
        }
    }

    /// The `policy` object: the verdict as Hubble names it (`FORWARDED`; `AUDIT` for a
    /// connection policy would drop, since flowmon observes and does not enforce, or
    /// `DROPPED` with `--verdict-as-enforced`), Cilium's drop reason and the direction that
    /// drops, Hubble's `policy_match_type` number, each evaluated side's decision, and the
    /// policies responsible in Hubble's `*_allowed_by` / `*_denied_by` lists.
    static func appendPolicy(_ flow: FlowEntry, annotations: FlowAnnotations, to out: inout JSONBuffer) {
        out.open(.policy)
        let drop = flow.wouldDrop
        if drop == nil {
            out.append(.verdict, name: "FORWARDED")
        } else {
            out.append(.verdict, name: annotations.verdictAsEnforced ? "DROPPED" : "AUDIT")
            out.append(.dropReason, name: drop!.decision.outcome == .deniedExplicitly ? "POLICY_DENY" : "POLICY_DENIED")
            out.append(.trafficDirection, name: drop!.direction.name)
        }
        // The match type of the deciding entry: the dropping side's, else the enforced ingress
        // side's, else egress's.
        let ingressDecided = flow.ingressEvaluated && flow.ingressDecision.outcome != .notEnforced
        let deciding = drop?.decision ?? (ingressDecided ? flow.ingressDecision : flow.egressDecision)
        out.append(.policyMatchType, UInt64(deciding.matchType.rawValue))
        if flow.egressEvaluated { appendDecision(flow.egressDecision, key: .egress, to: &out) }
        if flow.ingressEvaluated { appendDecision(flow.ingressDecision, key: .ingress, to: &out) }
        if flow.egressEvaluated { annotations.appendPolicies(of: flow.egressDecision, direction: .egress, hubble: false, to: &out) }
        if flow.ingressEvaluated { annotations.appendPolicies(of: flow.ingressDecision, direction: .ingress, hubble: false, to: &out) }
        out.append(byte: UInt8(ascii: "}"))
    }

    static func appendDecision(_ decision: PolicyDecision, key: EVEKey, to out: inout JSONBuffer) {
        out.open(key)
        out.append(.decision, name: decision.outcome.name)
        out.append(.matchType, name: decision.matchType.name)
        out.append(byte: UInt8(ascii: "}"))
    }

    /// EVE's `tcp` object: flags as two hex digits (Suricata's `tcp_flags`), one boolean
    /// per flag that was seen (absent flags are omitted, as Suricata does), and the state.
    static func appendTCP(_ flow: FlowEntry, to out: inout JSONBuffer) {
        let all = flow.flagsToServer | flow.flagsToClient
        out.open(.tcp)
        out.append(.tcpFlags, hex: UInt8(truncatingIfNeeded: all))
        out.append(.tcpFlagsToServer, hex: UInt8(truncatingIfNeeded: flow.flagsToServer))
        out.append(.tcpFlagsToClient, hex: UInt8(truncatingIfNeeded: flow.flagsToClient))
        if all & TCPFlag.syn != 0 { out.append(.syn, true) }
        if all & TCPFlag.fin != 0 { out.append(.fin, true) }
        if all & TCPFlag.rst != 0 { out.append(.rst, true) }
        if all & TCPFlag.psh != 0 { out.append(.psh, true) }
        if all & TCPFlag.ack != 0 { out.append(.ack, true) }
        if all & TCPFlag.urg != 0 { out.append(.urg, true) }
        if all & TCPFlag.ece != 0 { out.append(.ecn, true) }
        if all & TCPFlag.cwr != 0 { out.append(.cwr, true) }
        out.append(.state, name: flow.tcpState.eveName(initiatorSentFIN: flow.history.has(ConnectionHistory.fin, fromInitiator: true)))
        out.append(byte: UInt8(ascii: "}"))
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
