import Datapath
import FlowCore

/// What Cilium's proxy would have decided about one L7 request under the connection's policy:
/// nothing when no `rules.dns`/`rules.http` apply to its port (the connection's L3/L4 verdict
/// is all there is), else allowed or refused by them, with the policies that had rules there.
public struct L7Verdict: Sendable, Equatable {
    public enum Outcome: UInt8, Sendable {
        /// No L7 rule applies: not redirected to a proxy.
        case notEvaluated
        /// A rule allows the request (the proxy forwards it).
        case allowed
        /// Rules apply and none allows it: Cilium's DNS proxy answers REFUSED, Envoy 403.
        case denied
    }

    public var outcome: Outcome
    /// Which side's rules judged it.
    public var direction: TrafficDirection
    /// The policies whose L7 rules applied (agent table index; 0 = none).
    public var policySet: UInt32

    public init(outcome: Outcome = .notEvaluated, direction: TrafficDirection = .egress, policySet: UInt32 = 0) {
        self.outcome = outcome
        self.direction = direction
        self.policySet = policySet
    }

    public static let notEvaluated = L7Verdict()
}

/// The fields the application records (`dns`, `http`, `tls`) share with each other.
enum ApplicationFields {
    /// `src_*`/`dest_*` of the message's sender and receiver (not the connection's initiator
    /// and responder), `proto`, `ip_v`.
    static func appendPacketEnds(_ flow: FlowEntry, fromInitiator: Bool, to out: inout JSONBuffer) {
        let asIPv6 = flow.ipVersion == 6
        out.append(key: .srcIP)
        out.appendQuoted(fromInitiator ? flow.sourceAddress : flow.destinationAddress, asIPv6: asIPv6)
        out.append(.srcPort, UInt64(fromInitiator ? flow.sourcePort : flow.destinationPort))
        out.append(key: .destIP)
        out.appendQuoted(fromInitiator ? flow.destinationAddress : flow.sourceAddress, asIPv6: asIPv6)
        out.append(.destPort, UInt64(fromInitiator ? flow.destinationPort : flow.sourcePort))
        out.append(key: .proto)
        FlowRecord.appendProtocol(flow.ipProtocol, to: &out)
        out.append(.ipVersion, UInt64(flow.ipVersion))
    }

    /// `source`/`destination` endpoints of the message's sender and receiver, as on flow records.
    static func appendEndpoints(_ flow: FlowEntry, fromInitiator: Bool, annotations: FlowAnnotations?,
                                to out: inout JSONBuffer) {
        guard let annotations, flow.sourceIdentity != .unknown || flow.destinationIdentity != .unknown else { return }
        let (sender, senderEndpoint) = fromInitiator ? (flow.sourceIdentity, flow.sourceEndpoint)
            : (flow.destinationIdentity, flow.destinationEndpoint)
        let (receiver, receiverEndpoint) = fromInitiator ? (flow.destinationIdentity, flow.destinationEndpoint)
            : (flow.sourceIdentity, flow.sourceEndpoint)
        out.append(key: .source)
        annotations.appendEndpoint(identity: sender, endpoint: senderEndpoint, to: &out)
        out.append(key: .destination)
        annotations.appendEndpoint(identity: receiver, endpoint: receiverEndpoint, to: &out)
    }

    /// `"l7":{"verdict":…,"traffic_direction":…,"egress_allowed_by":[…]}` when L7 rules judged
    /// the message: `FORWARDED`, or for a refused request `AUDIT` (`DROPPED` with
    /// `--verdict-as-enforced`), as for connections.
    static func appendVerdict(_ verdict: L7Verdict, annotations: FlowAnnotations?, to out: inout JSONBuffer) {
        guard verdict.outcome != .notEvaluated else { return }
        out.append(raw: ",\"l7\":{\"verdict\":")
        out.append(raw: Self.verdictName(verdict, annotations: annotations))
        out.append(raw: ",\"traffic_direction\":\"")
        out.append(raw: verdict.direction.name)
        out.append(byte: UInt8(ascii: "\""))
        if let annotations {
            let decision = PolicyDecision(outcome: verdict.outcome == .allowed ? .allowed : .deniedExplicitly,
                                          policySet: verdict.policySet)
            annotations.appendPolicies(of: decision, direction: verdict.direction, hubble: false, to: &out)
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    /// The Hubble verdict of an L7 message, quoted.
    static func verdictName(_ verdict: L7Verdict, annotations: FlowAnnotations?) -> StaticString {
        guard verdict.outcome == .denied else { return "\"FORWARDED\"" }
        return annotations?.verdictAsEnforced == true ? "\"DROPPED\"" : "\"AUDIT\""
    }
}
