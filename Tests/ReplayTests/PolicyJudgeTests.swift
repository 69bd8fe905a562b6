import Agent
import Datapath
import FlowCore
import FlowMonitor
import Foundation
import Testing

/// `flowmon policy explain` reports what the datapath's `PolicySnapshot.judge` decides, for a
/// table of probes that reaches every outcome: every pod, node, ClusterIP and a world address
/// as either end, on TCP, UDP, SCTP and ICMP, with the demo cluster's services and policies
/// plus a deny rule.
struct PolicyJudgeTests {
    static let denyFromWorld = """
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata:
          name: deny-world-ingress
        spec:
          endpointSelector: {}
          ingressDeny:
          - fromEntities: [world]
        """

    @Test func explainReportsTheJudgement() throws {
        let scratch = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let deny = scratch.appendingPathComponent("deny.yaml")
        try Self.denyFromWorld.write(to: deny, atomically: true, encoding: .utf8)
        let demo = Fixture.captures.appendingPathComponent("demo")
        let state = try AgentState.load(AgentConfiguration(
            pods: demo.appendingPathComponent("demo-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path, deny.path],
            services: demo.appendingPathComponent("demo-cluster.services.json").path))
        let snapshot = state.snapshot
        var addresses = state.inventory.pods.compactMap(\.ips.first) + state.inventory.nodes.compactMap(\.internalIPs.first)
        addresses += ["10.96.0.1", "10.96.0.10", "10.96.0.11", "203.0.113.7"].map { IPAddress(text: $0)! }
        let probes: [(UInt8, UInt16)] = [(IPProtocolNumber.tcp, 53), (IPProtocolNumber.tcp, 80), (IPProtocolNumber.tcp, 443),
                                         (IPProtocolNumber.tcp, 6379), (IPProtocolNumber.udp, 53), (IPProtocolNumber.sctp, 2905),
                                         (IPProtocolNumber.icmp, 8)]
        var outcomes: [PolicyDecision.Outcome: Int] = [:]
        var translated = 0
        var notEvaluated = 0
        var notSelected = 0
        for from in addresses {
            for to in addresses where to != from {
                for (ipProtocol, port) in probes {
                    let judgement = snapshot.judge(source: from, destination: to, port: port, ipProtocol: ipProtocol)
                    let explanation = try PolicyExplainer.explain(from: from.text, to: to.text,
                                                                  ipProtocol: ipProtocol, port: port, in: state)
                    let probe = "\(from.text) -> \(to.text) \(ipProtocol)/\(port)"
                    #expect(explanation.from.identity == judgement.source.identity, "\(probe)")
                    #expect(explanation.to.identity == judgement.destination.identity, "\(probe)")
                    #expect(explanation.to.isLocalEndpoint == judgement.destination.isLocalEndpoint, "\(probe)")
                    #expect(explanation.port == judgement.port && explanation.servicePort == port, "\(probe)")
                    #expect(explanation.serviceTranslated == judgement.isTranslated, "\(probe)")
                    #expect((explanation.service == nil) == (judgement.service == 0), "\(probe)")
                    for (explained, judged) in [(explanation.egress, judgement.egress), (explanation.ingress, judgement.ingress)] {
                        #expect(explained.decision == judged.decision, "\(probe) \(explained.direction)")
                        #expect(explained.entry == judged.entry, "\(probe) \(explained.direction)")
                        outcomes[judged.decision.outcome, default: 0] += 1
                        if !judged.evaluated { notEvaluated += 1 } else if !judged.selected { notSelected += 1 }
                    }
                    #expect(explanation.allowed == (judgement.egress.decision.isAllowed && judgement.ingress.decision.isAllowed))
                    if judgement.isTranslated { translated += 1 }
                }
            }
        }
        // The table reaches every outcome, a translated service, and both reasons nothing is enforced.
        for outcome in [PolicyDecision.Outcome.notEnforced, .allowed, .denied, .deniedExplicitly, .allowedFromHost] {
            #expect(outcomes[outcome, default: 0] > 0, "no probe decided \(outcome): \(outcomes)")
        }
        #expect(translated > 0 && notEvaluated > 0 && notSelected > 0, "\(translated) \(notEvaluated) \(notSelected)")
    }
}
