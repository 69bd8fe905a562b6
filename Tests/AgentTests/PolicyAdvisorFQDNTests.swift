import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// World addresses a workload looked up by name: `toFQDNs` rules and the DNS rule they need
/// (Cilium), the names in the header (NetworkPolicy).
struct PolicyAdvisorFQDNTests {
    typealias F = InventoryFixtures

    static let coreDNS = F.pod("coredns-7c9b-1", namespace: "kube-system", labels: ["k8s-app": "kube-dns", "pod-template-hash": "7c9b"],
                               ips: ["10.244.0.53"], owner: ("ReplicaSet", "coredns-7c9b"))

    static func inputs(withDNS: Bool = true) throws -> AdvisorInputs {
        let inventory = try F.loadPods(PolicyAdvisorTests.pods + (withDNS ? [Self.coreDNS] : []))
        let tables = try AgentTables.build(inventory: inventory, policies: [], nodeName: "node-a")
        return AdvisorInputs(inventory: inventory, endpoints: tables.endpoints, ipcache: tables.ipcache)
    }

    static func connection(_ to: String, _ ipProtocol: UInt8 = 6, _ port: UInt16, names: [String] = []) -> ObservedConnection {
        ObservedConnection(source: IPAddress(text: "10.244.0.5")!, destination: IPAddress(text: to)!, ipProtocol: ipProtocol,
                           port: port, names: names)
    }

    /// shop/web: DNS to coredns, then two names resolved to one address (a CNAME chain: the
    /// pod asked for both), one of them to a second address too, a third name on another
    /// address, and an address never looked up.
    static let observations: [ObservedConnection: Int] = [
        Self.connection("10.244.0.53", 17, 53): 4,
        Self.connection("203.0.113.10", 6, 80, names: ["api.example.test"]): 1,
        Self.connection("203.0.113.10", 6, 443, names: ["www.example.test", "api.example.test", "api.example.test"]): 2,
        Self.connection("203.0.113.11", 6, 80, names: ["www.example.test"]): 1,
        Self.connection("198.51.100.7", 6, 80, names: ["Blocked.Example.NET."]): 1,
        Self.connection("203.0.113.20", 6, 80): 1,
    ]

    static func web(_ advice: PolicyAdvice) throws -> String {
        try #require(advice.policies.first { $0.name == "web-advised" }).yaml
    }

    @Test func namedWorldAddressesBecomeToFQDNsWithTheDNSRuleMerged() throws {
        let advice = PolicyAdvisor.advise(Self.observations, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium))
        let web = try Self.web(advice)
        // One DNS rule to kube-dns (the one the pod's DNS traffic produced), with rules.dns on 53.
        #expect(web.contains("""
              egress:
              - toEndpoints:
                - matchLabels:
                    k8s-app: "kube-dns"
                    k8s:io.kubernetes.pod.namespace: "kube-system"
                toPorts:
                - ports:
                  - port: "53"
                    protocol: TCP
                  - port: "53"
                    protocol: UDP
                  rules:
                    dns:
                    - matchPattern: "*"
              - toCIDR:
            """), "\(web)")
        #expect(web.components(separatedBy: "k8s-app: \"kube-dns\"").count == 2, "one rule to kube-dns")
        // Names sorted, deduplicated, canonical; each name with the ports of every connection it named.
        #expect(web.contains("""
              - toFQDNs:
                - matchName: "api.example.test"
                - matchName: "www.example.test"
                toPorts:
                - ports:
                  - port: "80"
                    protocol: TCP
                  - port: "443"
                    protocol: TCP
              - toFQDNs:
                - matchName: "blocked.example.net"
                toPorts:
                - ports:
                  - port: "80"
                    protocol: TCP
            """), "\(web)")
        // Never looked up: stays a CIDR; named addresses are no CIDR.
        #expect(web.contains("  - toCIDR:\n    - 203.0.113.20/32\n"))
        #expect(!web.contains("203.0.113.10/32") && !web.contains("203.0.113.11/32") && !web.contains("198.51.100.7/32"))
        // The header names the peers as seen, and says why the DNS rule is there.
        #expect(web.contains("#   api.example.test, www.example.test (203.0.113.10): TCP 443 (2)\n"), "\(web)")
        #expect(web.contains("#   api.example.test (203.0.113.10): TCP 80 (1)\n"))
        #expect(web.contains("#   www.example.test (203.0.113.11): TCP 80 (1)\n"))
        #expect(web.contains("# toFQDNs allows the addresses DNS answers give for the names, as Cilium's DNS proxy sees them"))
        #expect(advice.policies.first { $0.name == "web-advised" }?.egressRules == 4)
    }

    @Test func withoutDNSTrafficTheDNSRuleGoesToTheInventorysKubeDNS() throws {
        let named = [Self.connection("203.0.113.10", 6, 80, names: ["api.example.test"]): 1]
        let web = try Self.web(PolicyAdvisor.advise(named, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium)))
        #expect(web.contains("""
              - toEndpoints:
                - matchLabels:
                    k8s-app: "kube-dns"
                    k8s:io.kubernetes.pod.namespace: "kube-system"
                toPorts:
                - ports:
                  - port: "53"
                    protocol: TCP
                  - port: "53"
                    protocol: UDP
                  rules:
                    dns:
                    - matchPattern: "*"
            """))
        // The header lists what was seen: no DNS connection.
        #expect(web.contains("# Egress: 1 connection:\n#   api.example.test (203.0.113.10): TCP 80 (1)\n#"))
        // No kube-dns pod in the inventory: Cilium's usual selector, and the header says so.
        let withoutDNS = PolicyAdvisor.advise(named, inputs: try Self.inputs(withDNS: false), options: AdvisorOptions(format: .cilium))
        let fallback = try Self.web(withoutDNS)
        #expect(withoutDNS.warnings.contains { $0.hasPrefix("shop/web-advised: no kube-dns pod (k8s-app: kube-dns) in the inventory") })
        #expect(fallback.contains("    - matchLabels:\n        k8s-app: \"kube-dns\"\n        k8s:io.kubernetes.pod.namespace: \"kube-system\"\n"))
        #expect(fallback.contains("# No kube-dns pod (k8s-app: kube-dns) is in the inventory"))
    }

    /// kube-dns reached on another port too: DNS on 53 through the proxy, the other port plain.
    @Test func theDNSRulesPortsAreOnlyPort53() throws {
        var observations = Self.observations
        observations[Self.connection("10.244.0.53", 6, 9153)] = 1
        let web = try Self.web(PolicyAdvisor.advise(observations, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium)))
        #expect(web.contains("""
                  rules:
                    dns:
                    - matchPattern: "*"
                - ports:
                  - port: "9153"
                    protocol: TCP
            """), "\(web)")
    }

    /// A name no matchName can hold (Cilium's CRD pattern) leaves the address a CIDR, named in the header.
    @Test func invalidNamesStayCIDRs() throws {
        let odd = [Self.connection("203.0.113.10", 6, 80, names: ["we ird.example.test"]): 1]
        let web = try Self.web(PolicyAdvisor.advise(odd, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium)))
        #expect(!web.contains("- toFQDNs:") && !web.contains("rules:"))
        #expect(web.contains("  - toCIDR:\n    - 203.0.113.10/32\n"))
        #expect(web.contains("#   203.0.113.10 resolved as we ird.example.test\n"))
    }

    /// A NetworkPolicy cannot name hosts: ipBlocks, and the names in the header.
    @Test func aNetworkPolicyKeepsAddressesAndNamesThemInItsHeader() throws {
        let advice = PolicyAdvisor.advise(Self.observations, inputs: try Self.inputs(), options: AdvisorOptions(format: .kubernetes))
        let web = try Self.web(advice)
        #expect(!web.contains("- toFQDNs:") && !web.contains("rules:"))
        for address in ["203.0.113.10", "203.0.113.11", "198.51.100.7", "203.0.113.20"] {
            #expect(web.contains("    - ipBlock:\n        cidr: \(address)/32\n"), "\(address)")
        }
        #expect(web.contains("""
            # World addresses looked up by name (a NetworkPolicy cannot name hosts; --format cilium writes toFQDNs):
            #   198.51.100.7 resolved as blocked.example.net
            #   203.0.113.10 resolved as api.example.test, www.example.test
            #   203.0.113.11 resolved as www.example.test

            """), "\(web)")
    }
}
