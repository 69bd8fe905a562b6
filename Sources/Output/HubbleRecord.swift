import Datapath
import Decoding
import FlowCore

/// Writes one line in the shape `hubble observe -o json` prints (a `GetFlowsResponse`:
/// `{"flow":{...},"node_name":...,"time":...}`, proto field names, enums as strings, zero
/// fields omitted; cilium api/v1/flow/flow.proto), so `hubble observe --input-file` can
/// filter and print flowmon's verdicts.
///
/// One record per policy decision taken for a new connection: a policy-verdict event
/// (`event_type.type` 5) with verdict `FORWARDED` or, for a would-be drop, `AUDIT` (Cilium's
/// audit mode); with `--verdict-as-enforced` a would-be drop is a drop event (`type` 1,
/// `sub_type` = drop reason) with verdict `DROPPED`.
public enum HubbleRecord {
    public static func append(_ flow: FlowEntry, direction: TrafficDirection, decision: PolicyDecision,
                              firstPacketFlags: UInt16, nodeName: String, annotations: FlowAnnotations,
                              to out: inout JSONBuffer) {
        let allowed = decision.isAllowed
        let dropReason: UInt64 = decision.outcome == .deniedExplicitly ? 181 : 133
        let asDrop = !allowed && annotations.verdictAsEnforced
        out.append(raw: "{\"flow\":{\"time\":")
        out.appendQuotedRFC3339(flow.start)
        out.append(raw: ",\"verdict\":\"")
        out.append(raw: allowed ? "FORWARDED\"" : (asDrop ? "DROPPED\"" : "AUDIT\""))
        if !allowed {
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
        annotations.appendEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
        out.append(raw: ",\"destination\":")
        annotations.appendEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
        out.append(raw: ",\"Type\":\"L3_L4\",\"node_name\":")
        out.appendString(nodeName)
        if asDrop {
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
        if decision.matchType != .none {
            out.append(raw: ",\"policy_match_type\":")
            out.append(UInt64(decision.matchType.rawValue))
        }
        if !allowed {
            out.append(raw: decision.outcome == .deniedExplicitly ? ",\"drop_reason_desc\":\"POLICY_DENY\"" : ",\"drop_reason_desc\":\"POLICY_DENIED\"")
        }
        out.append(raw: ",\"is_reply\":false")
        annotations.appendPolicies(of: decision, direction: direction, hubble: true, to: &out)
        if flow.ipProtocol == IPProtocolNumber.tcp {
            out.append(raw: ",\"Summary\":\"TCP Flags: ")
            appendFlagNames(firstPacketFlags, separator: ", ", to: &out)
            out.append(byte: UInt8(ascii: "\""))
        }
        out.append(raw: "},\"node_name\":")
        out.appendString(nodeName)
        out.append(raw: ",\"time\":")
        out.appendQuotedRFC3339(flow.start)
        out.append(byte: UInt8(ascii: "}"))
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

    static func appendFlagNames(_ flags: UInt16, separator: StaticString, to out: inout JSONBuffer) {
        var first = true
        var bit: UInt16 = 1
        while bit <= TCPFlag.ns {
            if flags & bit != 0 {
                if !first { out.append(raw: separator) }
                first = false
                out.append(raw: flagName(bit))
            }
            bit <<= 1
        }
    }
}
