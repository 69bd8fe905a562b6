import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// The advisor's choices on a small inventory (node-a is the local node): which labels select a
/// workload, which pods get a policy, how peers and ports are written.
struct PolicyAdvisorTests {
    typealias F = InventoryFixtures

    static let pods = [
        F.pod("web-abc12-1", labels: ["app": "web", "pod-template-hash": "abc12"], ips: ["10.244.0.5"], owner: ("ReplicaSet", "web-abc12")),
        F.pod("web-abc12-2", labels: ["app": "web", "pod-template-hash": "abc12"], ips: ["10.244.1.5"], node: "node-b",
              owner: ("ReplicaSet", "web-abc12")),
        F.pod("api-xyz45-1", labels: ["app": "web", "tier": "api", "pod-template-hash": "xyz45"], ips: ["10.244.0.6"],
              owner: ("ReplicaSet", "api-xyz45")),
        F.pod("db-0", namespace: "data", labels: ["app.kubernetes.io/name": "db", "app": "postgres",
                                                  "statefulset.kubernetes.io/pod-name": "db-0", "controller-revision-hash": "x1"],
              ips: ["10.244.0.7"], owner: ("StatefulSet", "db")),
        F.pod("debug", ips: ["10.244.0.8"]),
        F.pod("twin-a", labels: ["app": "twin"], ips: ["10.244.0.9"]),
        F.pod("twin-b", labels: ["app": "twin"], ips: ["10.244.0.10"]),
        F.pod("agent", labels: ["app": "agent"], ips: ["172.18.0.2"], hostNetwork: true),
    ]

    static func inputs() throws -> AdvisorInputs {
        let inventory = try F.loadPods(Self.pods)
        let tables = try AgentTables.build(inventory: inventory, policies: [], nodeName: "node-a")
        return AdvisorInputs(inventory: inventory, endpoints: tables.endpoints, ipcache: tables.ipcache)
    }

    static func connection(_ from: String, _ to: String, _ ipProtocol: UInt8 = 6, _ port: UInt16) -> ObservedConnection {
        ObservedConnection(source: IPAddress(text: from)!, destination: IPAddress(text: to)!, ipProtocol: ipProtocol, port: port)
    }

    @Test func stableLabelsLeavePerPodAndRolloutLabelsOut() {
        let pod = Pod(name: "db-0", namespace: "data",
                      labels: ["app": "db", "statefulset.kubernetes.io/pod-name": "db-0", "controller-revision-hash": "x",
                               "pod-template-hash": "y", "pod-template-generation": "3", "kubernetes.io/os": "linux",
                               "io.cilium.k8s.policy.serviceaccount": "spoof", "apps.kubernetes.io/pod-index": "0"])
        #expect(AdvisorWorkloads.stableLabels(pod) == ["app": "db"])
        var job = Pod(name: "backup-28934400-x", namespace: "ops", labels: ["app": "backup", "job-name": "backup-28934400"])
        job.workload = Workload(name: "backup", kind: "CronJob")
        #expect(AdvisorWorkloads.stableLabels(job) == ["app": "backup"], "a CronJob's job-name changes every run")
    }

    @Test func selectorsSelectExactlyTheWorkload() throws {
        let inventory = try F.loadPods(Self.pods)
        let (workloads, byPod) = AdvisorWorkloads.build(inventory.pods)
        func workload(of pod: String) -> AdvisorWorkload {
            workloads[byPod[inventory.pods.firstIndex { $0.name == pod }!]!]
        }
        let web = workload(of: "web-abc12-1")
        #expect(web.descriptions == ["Deployment web"] && web.pods.count == 2)
        // `app: web` alone would also select the api pods: tier must be absent.
        #expect(web.selector == AdvisedSelector(matchLabels: ["app": "web"], absentKeys: ["tier"]))
        #expect(workload(of: "api-xyz45-1").selector == AdvisedSelector(matchLabels: ["app": "web", "tier": "api"]))
        // app.kubernetes.io/name is preferred, and enough.
        #expect(workload(of: "db-0").selector == AdvisedSelector(matchLabels: ["app.kubernetes.io/name": "db"]))
        // No stable label: no selector.
        #expect(workload(of: "debug").selector == nil)
        // Two bare pods no label tells apart: one workload.
        let twin = workload(of: "twin-a")
        #expect(twin.name == "twin-a+twin-b" && twin.pods.count == 2 && twin.selector == AdvisedSelector(matchLabels: ["app": "twin"]))
        // Host-network pods are no workload.
        #expect(byPod[inventory.pods.firstIndex { $0.name == "agent" }!] == nil)
    }

    @Test func peersPortsAndSubjects() throws {
        let observations: [ObservedConnection: Int] = [
            Self.connection("10.244.0.5", "10.244.0.7", 6, 5432): 3,  // web -> data/db
            Self.connection("10.244.0.5", "10.244.0.7", 6, 5433): 1,  // a neighbouring port: a range
            Self.connection("10.244.0.5", "198.51.100.7", 6, 443): 1,  // world
            Self.connection("10.244.0.5", "10.244.0.6", 1, 8): 1,  // ICMP echo to api
            Self.connection("172.18.0.2", "10.244.0.5", 6, 8080): 2,  // from this node: no rule
            Self.connection("10.244.0.8", "10.244.0.5", 6, 8080): 1,  // from debug (no labels): its namespace
            Self.connection("10.244.1.5", "10.244.0.7", 6, 5432): 1,  // remote web pod -> db
        ]
        let advice = PolicyAdvisor.advise(observations, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium, input: "t.pcap"))
        #expect(advice.connections == 10 && advice.connectionsAdvised == 10)
        #expect(advice.policies.map(\.fileName) == ["data.db-advised.yaml", "shop.api-advised.yaml", "shop.web-advised.yaml"])
        #expect(advice.warnings == ["shop/debug: no stable label selects it, so no policy is advised for it"])
        let web = advice.policies[2].yaml
        #expect(web.contains("""
              endpointSelector:
                matchLabels:
                  app: "web"
                matchExpressions:
                - key: "tier"
                  operator: DoesNotExist
            """))
        #expect(web.contains("""
              - toEndpoints:
                - matchLabels:
                    app.kubernetes.io/name: "db"
                    k8s:io.kubernetes.pod.namespace: "data"
                toPorts:
                - ports:
                  - port: "5432"
                    endPort: 5433
                    protocol: TCP
            """))
        #expect(web.contains("""
              - toEndpoints:
                - matchLabels:
                    app: "web"
                    tier: "api"
                icmps:
                - fields:
                  - type: 8
                    family: IPv4
            """))
        #expect(web.contains("  - toCIDR:\n    - 198.51.100.7/32\n"))
        #expect(web.contains("""
              ingress:
              - fromEndpoints:
                - matchLabels:
                    k8s:io.kubernetes.pod.namespace: "shop"
                toPorts:
            """))
        #expect(web.contains("#   this node (always allowed in, no rule needed): TCP 8080 (2)\n"))
        // db is reached from web pods on this node and on another: one peer, its selector.
        let db = advice.policies[0].yaml
        #expect(db.contains("# Ingress: 5 connections:\n#   shop/web: TCP 5432 (4), TCP 5433 (1)\n"))
        #expect(db.contains("  egress:\n  - {}\n"), "nothing observed going out: nothing allowed")
    }

    @Test func manyWorldAddressesBecomeTheWorldEntity() throws {
        var observations: [ObservedConnection: Int] = [:]
        for host in 1...5 { observations[Self.connection("10.244.0.5", "198.51.100.\(host)", 17, 443)] = 1 }
        observations[Self.connection("10.244.0.5", "198.51.100.9", 6, 80)] = 1
        let inputs = try Self.inputs()
        let few = PolicyAdvisor.advise(observations, inputs: inputs, options: AdvisorOptions(format: .cilium, maxCIDRs: 8)).policies[0].yaml
        // Exactly adjacent addresses merge: .2/.3 make a /31, .4/.5 another; .1 has no neighbour.
        #expect(few.contains("  - toCIDR:\n    - 198.51.100.1/32\n    - 198.51.100.2/31\n    - 198.51.100.4/31\n"))
        let many = PolicyAdvisor.advise(observations, inputs: inputs, options: AdvisorOptions(format: .cilium, maxCIDRs: 3)).policies[0].yaml
        #expect(many.contains("""
              - toEntities:
                - world
                toPorts:
                - ports:
                  - port: "80"
                    protocol: TCP
                  - port: "443"
                    protocol: UDP
            """))
        let kubernetes = PolicyAdvisor.advise(observations, inputs: inputs, options: AdvisorOptions(format: .kubernetes, maxCIDRs: 3))
        #expect(kubernetes.policies[0].yaml.contains("    - ipBlock:\n        cidr: 0.0.0.0/0\n"))
    }

    @Test func manyPortsBecomeTheWholeProtocol() throws {
        var observations: [ObservedConnection: Int] = [:]
        for port in stride(from: UInt16(1000), to: 1040, by: 2) { observations[Self.connection("10.244.0.5", "10.244.0.7", 6, port)] = 1 }
        let yaml = PolicyAdvisor.advise(observations, inputs: try Self.inputs(), options: AdvisorOptions(format: .cilium, maxPorts: 16))
            .policies.first { $0.name == "web-advised" }!.yaml
        #expect(yaml.contains("      - port: \"0\"\n        protocol: TCP\n"))
    }

    /// NetworkPolicy cannot name ICMP: the peer is allowed on every protocol.
    @Test func kubernetesICMP() throws {
        let advice = PolicyAdvisor.advise([Self.connection("10.244.0.5", "10.244.0.6", 1, 8): 1], inputs: try Self.inputs(),
                                          options: AdvisorOptions(format: .kubernetes))
        let web = try #require(advice.policies.first { $0.name == "web-advised" }).yaml
        // The last rule of the file: the peer, and no ports.
        #expect(web.hasSuffix("""
              egress:
              - to:
                - podSelector:
                    matchLabels:
                      app: "web"
                      tier: "api"

            """))
        #expect(web.contains("# A NetworkPolicy cannot name ICMP"))
    }
}

/// Which workloads the advisor leaves alone unless `includeSystem` (SystemComponents' rule), and
/// the minimum observation, on the library's API.
struct PolicyAdvisorSafetyTests {
    @Test func systemComponents() {
        func pod(_ namespace: String, _ labels: [String: String]) -> Pod { Pod(name: "p", namespace: namespace, labels: labels) }
        #expect(SystemComponents.reason(pod("kube-system", ["app": "anything"])) == "namespace kube-system")
        #expect(SystemComponents.reason(pod("kube-node-lease", [:])) == "namespace kube-node-lease")
        #expect(SystemComponents.reason(pod("dns", ["k8s-app": "kube-dns"])) == "k8s-app=kube-dns: cluster DNS")
        #expect(SystemComponents.reason(pod("net", ["app.kubernetes.io/name": "cilium-operator"])) == "app.kubernetes.io/name=cilium-operator: CNI or service proxy")
        #expect(SystemComponents.reason(pod("mon", ["app": "node-exporter"])) == "app=node-exporter: monitoring")
        #expect(SystemComponents.reason(pod("mon", ["app.kubernetes.io/part-of": "kube-prometheus", "app": "grafana"])) == "app.kubernetes.io/part-of=kube-prometheus")
        #expect(SystemComponents.reason(pod("cp", ["component": "etcd"])) == "component=etcd: control plane")
        // An application that happens to share a word with them is not one.
        #expect(SystemComponents.reason(pod("shop", ["app": "prometheus-exporter-for-shop", "component": "api"])) == nil)
        #expect(SystemComponents.reason(pod("monitoring", ["app": "web"])) == nil)
    }

    static let pods = [
        InventoryFixtures.pod("web-1", labels: ["app": "web"], ips: ["10.244.0.5"]),
        InventoryFixtures.pod("db-1", labels: ["app": "db"], ips: ["10.244.0.7"]),
        InventoryFixtures.pod("coredns-1", namespace: "kube-system", labels: ["k8s-app": "kube-dns"], ips: ["10.244.0.53"]),
    ]

    @Test func skippedWorkloadsGetNoPolicyAndSayWhy() throws {
        let inventory = try InventoryFixtures.loadPods(Self.pods)
        let tables = try AgentTables.build(inventory: inventory, policies: [], nodeName: "node-a")
        let inputs = AdvisorInputs(inventory: inventory, endpoints: tables.endpoints, ipcache: tables.ipcache)
        let web = PolicyAdvisorTests.connection("10.244.0.5", "10.244.0.7", 6, 5432)
        let dns = PolicyAdvisorTests.connection("10.244.0.5", "10.244.0.53", 17, 53)
        let second: Int64 = 1_000_000_000
        // web seen for 20 minutes, db (at the other end of one of its connections) for 1 s.
        let timing = [web: ObservedSpan(first: 0, last: second), dns: ObservedSpan(first: 0, last: 1200 * second)]
        let advice = PolicyAdvisor.advise([web: 1, dns: 1], timing: timing, inputs: inputs,
                                          options: AdvisorOptions(format: .cilium, minObservation: .seconds(600)))
        #expect(advice.policies.map(\.fileName) == ["shop.web-1-advised.yaml"])
        #expect(advice.seen == ObservedSpan(first: 0, last: 1200 * second))
        #expect(advice.skipped == [
            SkippedWorkload(namespace: "kube-system", name: "coredns-1",
                            reason: "system component (namespace kube-system): not advised without --include-system"),
            SkippedWorkload(namespace: "shop", name: "db-1",
                            reason: "seen for 1.0 s, less than --min-observation 10m00s: too little traffic to lock it down"),
        ])
        let everything = PolicyAdvisor.advise([web: 1, dns: 1], timing: timing, inputs: inputs,
                                              options: AdvisorOptions(format: .cilium, includeSystem: true))
        #expect(everything.policies.map(\.fileName) == ["kube-system.coredns-1-advised.yaml", "shop.db-1-advised.yaml", "shop.web-1-advised.yaml"])
        #expect(everything.skipped.isEmpty)
    }
}
