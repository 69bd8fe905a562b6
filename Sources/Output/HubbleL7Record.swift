import Datapath
import FlowCore
import L7

/// Writes one Hubble L7 flow (`"Type":"L7"`, `event_type.type` 129, Cilium's
/// `MessageTypeAccessLog`), the line Hubble makes of a Cilium proxy access-log record
/// (pkg/hubble/parser/seven `Decode`): the message's sender as `source` and `IP.source`,
/// `l7.type` REQUEST or RESPONSE, `is_reply` for a response, `latency_ns` for a response
/// paired with its request, the verdict (FORWARDED, or for a request the L7 rules refuse
/// AUDIT, or DROPPED with `--verdict-as-enforced`), the traffic direction of the rules that
/// judged it (else of the enforcing side), the names each end looked up for the other
/// (`source_names`, `destination_names`) and Hubble's `Summary`; the protocol's own object
/// (`dns`, `http`) comes from `record`.
enum HubbleL7Record {
    static func append(_ flow: FlowEntry, fromInitiator: Bool, time: CaptureTime, isResponse: Bool, latency: Int64,
                       verdict: L7Verdict, names: NameSets, annotations: FlowAnnotations, interfaces: InterfaceNames?,
                       summary: String, to out: inout JSONBuffer, record: (inout JSONBuffer) -> Void) {
        let asIPv6 = flow.ipVersion == 6
        out.append(raw: "{\"flow\":{\"time\":")
        out.appendQuotedRFC3339(time)
        out.append(raw: ",\"verdict\":")
        out.append(raw: ApplicationFields.verdictName(verdict, annotations: annotations))
        out.append(raw: ",\"IP\":{\"source\":")
        out.appendQuoted(fromInitiator ? flow.sourceAddress : flow.destinationAddress, asIPv6: asIPv6)
        out.append(raw: ",\"destination\":")
        out.appendQuoted(fromInitiator ? flow.destinationAddress : flow.sourceAddress, asIPv6: asIPv6)
        out.append(raw: asIPv6 ? ",\"ipVersion\":\"IPv6\"}" : ",\"ipVersion\":\"IPv4\"}")
        if flow.hasPorts, flow.ipProtocol == IPProtocolNumber.tcp || flow.ipProtocol == IPProtocolNumber.udp {
            out.append(raw: flow.ipProtocol == IPProtocolNumber.tcp ? ",\"l4\":{\"TCP\":{" : ",\"l4\":{\"UDP\":{")
            out.append(raw: "\"source_port\":")
            out.append(UInt64(fromInitiator ? flow.sourcePort : flow.destinationPort))
            out.append(raw: ",\"destination_port\":")
            out.append(UInt64(fromInitiator ? flow.destinationPort : flow.sourcePort))
            out.append(raw: "}}")
        }
        let (sender, senderEndpoint) = fromInitiator ? (flow.sourceIdentity, flow.sourceEndpoint)
            : (flow.destinationIdentity, flow.destinationEndpoint)
        let (receiver, receiverEndpoint) = fromInitiator ? (flow.destinationIdentity, flow.destinationEndpoint)
            : (flow.sourceIdentity, flow.sourceEndpoint)
        out.append(raw: ",\"source\":")
        annotations.appendHubbleEndpoint(identity: sender, endpoint: senderEndpoint, to: &out)
        out.append(raw: ",\"destination\":")
        annotations.appendHubbleEndpoint(identity: receiver, endpoint: receiverEndpoint, to: &out)
        interfaces?.appendHubble(flow, to: &out)
        out.append(raw: ",\"Type\":\"L7\",\"node_name\":")
        out.appendString(annotations.nodeName)
        // Each end's names as the other end looked them up (Hubble's seven parser: `source_names`
        // are the destination endpoint's names for the source address): a request's source is
        // the initiator, a response's the responder.
        names.withJSON(fromInitiator ? flow.sourceNameSet : flow.destinationNameSet) { json in
            out.append(raw: ",\"source_names\":")
            out.append(raw: json)
        }
        names.withJSON(fromInitiator ? flow.destinationNameSet : flow.sourceNameSet) { json in
            out.append(raw: ",\"destination_names\":")
            out.append(raw: json)
        }
        out.append(raw: ",\"l7\":{\"type\":")
        out.append(raw: isResponse ? "\"RESPONSE\"" : "\"REQUEST\"")
        if latency > 0 {
            out.append(raw: ",\"latency_ns\":\"")
            out.append(latency)
            out.append(byte: UInt8(ascii: "\""))
        }
        out.append(byte: UInt8(ascii: ","))
        record(&out)
        out.append(raw: "},\"event_type\":{\"type\":129}")
        // A request to a ClusterIP service port names the service, as Hubble's L7 parser does
        // for the proxy's destination (`GetServiceByAddr`).
        if fromInitiator { annotations.appendDestinationService(flow.destinationService, to: &out) }
        if let direction = Self.direction(flow, verdict: verdict) {
            out.append(raw: ",\"traffic_direction\":\"")
            out.append(raw: direction.name)
            out.append(byte: UInt8(ascii: "\""))
        }
        out.append(raw: isResponse ? ",\"is_reply\":true" : ",\"is_reply\":false")
        out.append(raw: ",\"Summary\":")
        out.appendString(summary)
        out.append(raw: "},\"node_name\":")
        out.appendString(annotations.nodeName)
        out.append(raw: ",\"time\":")
        out.appendQuotedRFC3339(time)
        out.append(byte: UInt8(ascii: "}"))
    }

    /// Where a proxy would have seen the message: the side whose L7 rules judged it, else the
    /// client's egress when its policy was consulted, else the server's ingress; unknown (left
    /// out) when neither end is a local endpoint.
    static func direction(_ flow: FlowEntry, verdict: L7Verdict) -> TrafficDirection? {
        if verdict.outcome != .notEvaluated { return verdict.direction }
        if flow.egressEvaluated { return .egress }
        if flow.ingressEvaluated { return .ingress }
        return nil
    }
}
