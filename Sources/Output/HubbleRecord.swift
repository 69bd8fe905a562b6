import Datapath
import Decoding
import FlowCore
import L7

/// Writes one line in the shape `hubble observe -o json` prints (a `GetFlowsResponse`:
/// `{"flow":{...},"node_name":...,"time":...}`, proto field names, enums as strings, zero
/// fields omitted; cilium api/v1/flow/flow.proto), so `hubble observe --input-file` can
/// filter and print flowmon's verdicts.
///
/// Each policy decision taken for a new connection is the monitor events Cilium's datapath
/// sends for it, with the fields Cilium's Hubble parser (pkg/hubble/parser/threefour) and
/// policy correlation (pkg/policy/correlation) give each:
/// - always a policy-verdict event (`event_type.type` 5): verdict `FORWARDED` with
///   `*_allowed_by`; a would-be drop is `AUDIT` (audit mode: the datapath lets the packet
///   through, so no drop reason), or with `--verdict-as-enforced` `DROPPED` with
///   `drop_reason`/`drop_reason_desc` and, for an explicit deny rule, `*_denied_by`;
///   `policy_match_type` when an entry matched; `is_reply: false` unless dropped (a forwarded
///   or audited verdict is taken on a connection's first packet; a drop's is unknown);
/// - then, with `--verdict-as-enforced`, for a drop the drop event (`type` 1, `sub_type` =
///   drop reason, verdict `DROPPED`): no policy fields, no `is_reply`.
/// flowmon's one addition: an `AUDIT` verdict caused by a deny rule names it in `*_denied_by`
/// (Cilium's correlation names policies only on `FORWARDED` and explicit `DROPPED`), so audit
/// mode shows which deny would bite.
public enum HubbleRecord {
    /// The monitor event a line stands for (cilium pkg/monitor/api/types.go).
    public enum Event: Sendable {
        /// `MessageTypePolicyVerdict`, 5.
        case policyVerdict
        /// `MessageTypeDrop`, 1.
        case drop
    }

    /// Whether a decision is followed by a drop event: a would-be drop printed as enforced.
    public static func hasDropEvent(_ decision: PolicyDecision, annotations: FlowAnnotations) -> Bool {
        !decision.isAllowed && annotations.verdictAsEnforced
    }

    public static func append(_ flow: FlowEntry, direction: TrafficDirection, decision: PolicyDecision, event: Event,
                              firstPacketFlags: UInt16, nodeName: String, annotations: FlowAnnotations,
                              interfaces: InterfaceNames? = nil, names: NameSets? = nil, to out: inout JSONBuffer) {
        let allowed = decision.isAllowed
        let dropped = !allowed && annotations.verdictAsEnforced
        let dropReason: UInt64 = decision.outcome == .deniedExplicitly ? 181 : 133
        out.append(raw: "{\"flow\":{\"time\":")
        out.appendQuotedRFC3339(flow.start)
        out.append(raw: ",\"verdict\":\"")
        out.append(raw: allowed ? "FORWARDED\"" : (dropped ? "DROPPED\"" : "AUDIT\""))
        if dropped {
            out.append(raw: ",\"drop_reason\":")
            out.append(dropReason)
        }
        out.append(raw: ",\"IP\":{\"source\":")
        out.appendQuoted(flow.sourceAddress, asIPv6: flow.ipVersion == 6)
        out.append(raw: ",\"destination\":")
        out.appendQuoted(flow.destinationAddress, asIPv6: flow.ipVersion == 6)
        out.append(raw: flow.ipVersion == 6 ? ",\"ipVersion\":\"IPv6\"}" : ",\"ipVersion\":\"IPv4\"}")
        appendLayer4(flow, flags: firstPacketFlags, to: &out)
        out.append(raw: ",\"source\":")
        annotations.appendHubbleEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
        out.append(raw: ",\"destination\":")
        annotations.appendHubbleEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
        interfaces?.appendHubble(flow, to: &out)
        out.append(raw: ",\"Type\":\"L3_L4\",\"node_name\":")
        out.appendString(nodeName)
        // The names the destination had looked up for the source and the source for the
        // destination (Hubble's `source_names` and `destination_names`, what `hubble observe
        // --fqdn` matches; threefour's `resolveNames`).
        names?.withJSON(flow.sourceNameSet) { json in
            out.append(raw: ",\"source_names\":")
            out.append(raw: json)
        }
        names?.withJSON(flow.destinationNameSet) { json in
            out.append(raw: ",\"destination_names\":")
            out.append(raw: json)
        }
        if event == .drop {
            out.append(raw: ",\"event_type\":{\"type\":1,\"sub_type\":")
            out.append(dropReason)
            out.append(byte: UInt8(ascii: "}"))
        } else {
            out.append(raw: ",\"event_type\":{\"type\":5}")
        }
        annotations.appendDestinationService(flow.destinationService, to: &out)
        out.append(raw: ",\"traffic_direction\":\"")
        out.append(raw: direction.name)
        out.append(byte: UInt8(ascii: "\""))
        if event == .policyVerdict && decision.matchType != .none {
            out.append(raw: ",\"policy_match_type\":")
            out.append(UInt64(decision.matchType.rawValue))
        }
        if dropped {
            out.append(raw: decision.outcome == .deniedExplicitly ? ",\"drop_reason_desc\":\"POLICY_DENY\"" : ",\"drop_reason_desc\":\"POLICY_DENIED\"")
        }
        if event == .policyVerdict {
            if !dropped { out.append(raw: ",\"is_reply\":false") }
            annotations.appendPolicies(of: decision, direction: direction, hubble: true, to: &out)
        }
        appendSummary(flow, flags: firstPacketFlags, to: &out)
        out.append(raw: "},\"node_name\":")
        out.appendString(nodeName)
        out.append(raw: ",\"time\":")
        out.appendQuotedRFC3339(flow.start)
        out.append(byte: UInt8(ascii: "}"))
    }

    /// `,"Summary":...` as Cilium's parser writes it from the last layer it decoded:
    /// `TCP Flags: SYN, ACK` (flags in its order SYN ACK RST FIN PSH URG ECE CWR NS), `UDP`,
    /// `SCTP`, `ICMPv4 EchoRequest`, `ICMPv6 DestinationUnreachable(PortUnreachable)` (the
    /// type and code names of gopacket's `ICMPv4TypeCode`/`ICMPv6TypeCode`). Nothing for
    /// other protocols.
    static func appendSummary(_ flow: FlowEntry, flags: UInt16, to out: inout JSONBuffer) {
        switch flow.ipProtocol {
        case IPProtocolNumber.tcp:
            out.append(raw: ",\"Summary\":\"TCP Flags: ")
            var first = true
            for place in 0..<9 {
                let bit = summaryFlag(place)
                guard flags & bit != 0 else { continue }
                if !first { out.append(raw: ", ") }
                first = false
                out.append(raw: flagName(bit))
            }
        case IPProtocolNumber.udp:
            out.append(raw: ",\"Summary\":\"UDP")
        case IPProtocolNumber.sctp:
            out.append(raw: ",\"Summary\":\"SCTP")
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            let v6 = flow.ipProtocol == IPProtocolNumber.icmpv6
            out.append(raw: v6 ? ",\"Summary\":\"ICMPv6 " : ",\"Summary\":\"ICMPv4 ")
            ICMPNames.append(type: flow.icmpType, code: flow.icmpCode, v6: v6, to: &out)
        default:
            return
        }
        out.append(byte: UInt8(ascii: "\""))
    }

    static func appendLayer4(_ flow: FlowEntry, flags: UInt16, to out: inout JSONBuffer) {
        switch flow.ipProtocol {
        case IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.sctp:
            out.append(raw: flow.ipProtocol == IPProtocolNumber.tcp ? ",\"l4\":{\"TCP\":{"
                : flow.ipProtocol == IPProtocolNumber.udp ? ",\"l4\":{\"UDP\":{" : ",\"l4\":{\"SCTP\":{")
            out.append(raw: "\"source_port\":")
            out.append(UInt64(flow.sourcePort))
            out.append(raw: ",\"destination_port\":")
            out.append(UInt64(flow.destinationPort))
            if flow.ipProtocol == IPProtocolNumber.tcp && flags != 0 {
                out.append(raw: ",\"flags\":{")
                var first = true
                var bit: UInt16 = 1
                while bit <= TCPFlag.ns {
                    if flags & bit != 0 {
                        if !first { out.append(byte: UInt8(ascii: ",")) }
                        first = false
                        out.append(byte: UInt8(ascii: "\""))
                        out.append(raw: flagName(bit))
                        out.append(raw: "\":true")
                    }
                    bit <<= 1
                }
                out.append(byte: UInt8(ascii: "}"))
            }
            out.append(raw: "}}")
        case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
            out.append(raw: flow.ipProtocol == IPProtocolNumber.icmp ? ",\"l4\":{\"ICMPv4\":{" : ",\"l4\":{\"ICMPv6\":{")
            var first = true
            if flow.icmpType != 0 {
                out.append(raw: "\"type\":")
                out.append(UInt64(flow.icmpType))
                first = false
            }
            if flow.icmpCode != 0 {
                out.append(raw: first ? "\"code\":" : ",\"code\":")
                out.append(UInt64(flow.icmpCode))
            }
            out.append(raw: "}}")
        default:
            break
        }
    }

    /// TCPFlags field names (flow.proto), by flag bit.
    static func flagName(_ bit: UInt16) -> StaticString {
        switch bit {
        case TCPFlag.fin: "FIN"
        case TCPFlag.syn: "SYN"
        case TCPFlag.rst: "RST"
        case TCPFlag.psh: "PSH"
        case TCPFlag.ack: "ACK"
        case TCPFlag.urg: "URG"
        case TCPFlag.ece: "ECE"
        case TCPFlag.cwr: "CWR"
        default: "NS"
        }
    }

    /// The flag at `place` in the order Cilium's `getTCPFlags` lists them.
    static func summaryFlag(_ place: Int) -> UInt16 {
        switch place {
        case 0: TCPFlag.syn
        case 1: TCPFlag.ack
        case 2: TCPFlag.rst
        case 3: TCPFlag.fin
        case 4: TCPFlag.psh
        case 5: TCPFlag.urg
        case 6: TCPFlag.ece
        case 7: TCPFlag.cwr
        default: TCPFlag.ns
        }
    }
}
