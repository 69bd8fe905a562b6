import Agent
import Datapath
import FlowCore
import Foundation
import Testing

struct IdentityAllocationTests {
    typealias F = InventoryFixtures

    @Test func labelFilterFollowsCiliumDefaults() {
        for kept in ["app", "version", "k8s-app", "job-name", "security.example.com/pci", "app.kubernetes.io/name",
                     "io.kubernetes.pod.namespace", "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name",
                     "io.cilium.k8s.policy.cluster", "io.cilium.k8s.policy.serviceaccount", "topology.kubernetes.io/zone"] {
            #expect(SecurityLabels.isIdentityRelevant(key: kept), "\(kept)")
        }
        for dropped in ["pod-template-hash", "controller-revision-hash", "pod-template-generation", "io.kubernetes.container.name",
                        "kubernetes.io/os", "k8s.io/foo", "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index",
                        "batch.kubernetes.io/job-completion-index", "failure-domain.beta.kubernetes.io/zone",
                        "annotation.kubectl.kubernetes.io/last-applied", "etcd_node",
                        "io.cilium.k8s.namespace.labels.failure-domain.beta.kubernetes.io/zone"] {
            #expect(!SecurityLabels.isIdentityRelevant(key: dropped), "\(dropped)")
        }
    }

    @Test func podLabelSet() {
        let pod = Pod(name: "web-1", namespace: "shop",
                      labels: ["app": "web", "pod-template-hash": "7d4f9c", "io.cilium.k8s.policy.serviceaccount": "spoofed",
                               "statefulset.kubernetes.io/pod-name": "web-1"],
                      serviceAccount: "web")
        let labels = SecurityLabels.forPod(pod, namespaceLabels: ["kubernetes.io/metadata.name": "shop", "team": "red"])
        #expect(labels.map(\.description) == [
            "k8s:app=web",
            "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop",
            "k8s:io.cilium.k8s.namespace.labels.team=red",
            "k8s:io.cilium.k8s.policy.cluster=default",
            "k8s:io.cilium.k8s.policy.serviceaccount=web",
            "k8s:io.kubernetes.pod.namespace=shop",
        ])
        #expect(labels[0].tuple == ("k8s", "app", "web"))
    }

    @Test func podsDifferingOnlyInTemplateHashShareAnIdentity() throws {
        let inventory = try F.loadPods([
            F.pod("web-aaaaa-1", labels: ["app": "web", "pod-template-hash": "bbbbbbb"], ips: ["10.244.0.5"]),
            F.pod("web-ccccc-2", labels: ["app": "web", "pod-template-hash": "ccccccc"], ips: ["10.244.0.6"]),
            F.pod("db-0", labels: ["app": "db", "controller-revision-hash": "x", "statefulset.kubernetes.io/pod-name": "db-0"],
                  ips: ["10.244.0.7"]),
            F.pod("db-1", labels: ["app": "db", "controller-revision-hash": "y", "statefulset.kubernetes.io/pod-name": "db-1"],
                  ips: ["10.244.0.8"]),
            F.pod("web-other-ns", namespace: "staging", labels: ["app": "web"], ips: ["10.244.0.9"]),
            F.pod("web-other-sa", labels: ["app": "web"], ips: ["10.244.0.10"], serviceAccount: "web"),
        ])
        let table = try EndpointTable.build(inventory: inventory, localNode: nil)
        let ids = table.endpoints.dropFirst(1).prefix(6).map(\.identity)
        #expect(ids[0] == ids[1])
        #expect(ids[2] == ids[3])
        #expect(Set([ids[0], ids[2], ids[4], ids[5]]).count == 4)
        // Each label set at its home, 256 + FNV-1a-64(canonical text) mod 65280, as Python
        // computes it independently: h = 0xcbf29ce484222325; per byte h = ((h ^ b) * 0x100000001b3) mod 2^64.
        // "k8s:app=db;k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop;
        //  k8s:io.cilium.k8s.policy.cluster=default;k8s:io.kubernetes.pod.namespace=shop" → 3055, and so on.
        #expect(ids[2] == Identity(3055))
        #expect(ids[5] == Identity(37696))
        #expect(ids[0] == Identity(21537))
        #expect(ids[4] == Identity(8647))
        #expect(table.identities[Identity(21537)] == [
            "k8s:app=web",
            "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop",
            "k8s:io.cilium.k8s.policy.cluster=default",
            "k8s:io.kubernetes.pod.namespace=shop",
        ])
    }

    @Test func allocationIsDeterministicAndIndependentOfFileOrder() throws {
        let pods = [
            F.pod("a", labels: ["app": "a"], ips: ["10.244.0.5"]),
            F.pod("b", labels: ["app": "b"], ips: ["10.244.0.6"]),
            F.pod("c", namespace: "other", labels: ["app": "a"], ips: ["10.244.0.7"]),
        ]
        let forward = try EndpointTable.build(inventory: F.loadPods(pods), localNode: nil)
        let backward = try EndpointTable.build(inventory: F.loadPods(pods.reversed()), localNode: nil)
        #expect(forward.identities == backward.identities)
        let again = try EndpointTable.build(inventory: F.loadPods(pods), localNode: nil)
        #expect(forward.endpoints.map(\.identity) == again.endpoints.map(\.identity))
    }

    @Test func namespaceLabelsAreIncluded() throws {
        let pods = F.write(F.podList([F.pod("a", namespace: "shop", labels: ["app": "a"], ips: ["10.244.0.5"]),
                                      F.pod("b", namespace: "prod", labels: ["app": "a"], ips: ["10.244.0.6"])]))
        let namespaces = F.write(#"{"kind":"List","items":[{"kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop","env":"prod","kubernetes.io/os":"x"}}},{"kind":"Namespace","metadata":{"name":"prod"}}]}"#,
                                 name: "namespaces.json")
        let table = try EndpointTable.build(inventory: InventoryLoader.load(pods: pods, namespaces: namespaces, nodes: nil),
                                            localNode: nil)
        #expect(table.endpoints[1].labels == [
            "k8s:app=a",
            "k8s:io.cilium.k8s.namespace.labels.env=prod",
            "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop",
            "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/os=x",
            "k8s:io.cilium.k8s.policy.cluster=default",
            "k8s:io.kubernetes.pod.namespace=shop",
        ])
        // A namespace in the file without labels contributes none.
        #expect(table.endpoints[2].labels == ["k8s:app=a", "k8s:io.cilium.k8s.policy.cluster=default",
                                              "k8s:io.kubernetes.pod.namespace=prod"])
    }

    @Test func hostNetworkPodsTakeHostOrRemoteNode() throws {
        let inventory = try F.loadPods([
            F.pod("proxy-a", ips: ["172.18.0.2"], node: "node-a", hostIP: "172.18.0.2", hostNetwork: true),
            F.pod("proxy-b", ips: ["172.18.0.3"], node: "node-b", hostIP: "172.18.0.3", hostNetwork: true),
            F.pod("web", labels: ["app": "web"], ips: ["10.244.1.5"], node: "node-b", hostIP: "172.18.0.3"),
        ])
        let table = try EndpointTable.build(inventory: inventory, localNode: "node-a")
        #expect(table.endpoints[1].identity == .host && table.endpoints[1].labels == ["reserved:host"] && table.endpoints[1].isLocal)
        #expect(table.endpoints[2].identity == .remoteNode && table.endpoints[2].labels == ["reserved:remote-node"])
        let web = table.endpoints[3].identity
        #expect(web >= .firstAllocated && web <= IdentityAllocator.lastAllocated && !table.endpoints[3].isLocal)
        #expect(!table.identities.keys.contains { !$0.isReserved && $0 != web && $0.rawValue < 0x0100_0000 })

        // Without a local node every pod (and node) is local.
        let anyNode = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(anyNode.localNode == nil)
        #expect(anyNode.endpoints[1].identity == .host && anyNode.endpoints[2].identity == .host)
        #expect(anyNode.endpoints.dropFirst().allSatisfy { $0.isLocal })
    }

    @Test func localNodeSelection() throws {
        let one = try F.loadPods([F.pod("a", ips: ["10.244.0.5"], node: "only")])
        #expect(try EndpointTable.build(inventory: one, localNode: nil).localNode == "only")
        let two = try F.loadPods([F.pod("a", ips: ["10.244.0.5"], node: "node-a"), F.pod("b", ips: ["10.244.0.6"], node: "node-b")])
        #expect(try EndpointTable.build(inventory: two, localNode: nil).localNode == nil)
        #expect(try EndpointTable.build(inventory: two, localNode: "node-b").localNode == "node-b")
        do {
            _ = try EndpointTable.build(inventory: two, localNode: "node-z")
            Issue.record("expected an error")
        } catch {
            #expect(error.description == "--node-name: no node or pod has the node name \"node-z\" (known nodes: node-a, node-b)")
        }
    }

    @Test func reservedIdentitiesHaveReservedLabels() throws {
        let table = try EndpointTable.build(inventory: Inventory(), localNode: nil)
        #expect(table.identities[.host] == ["reserved:host"])
        #expect(table.identities[.world] == ["reserved:world"])
        #expect(table.identities[.remoteNode] == ["reserved:remote-node"])
        #expect(table.identities[.worldIPv4] == ["reserved:world-ipv4"])
        #expect(table.identities[.worldIPv6] == ["reserved:world-ipv6"])
        #expect(table.identities[.initializing] == ["reserved:init"])
        // Cilium's labels for 7: an API server on a remote node (pkg/identity/numericidentity.go).
        #expect(table.labelTuples(of: .kubeAPIServer).map(\.key) == ["kube-apiserver", "remote-node"])
        #expect(table.endpoints.count == 1)
    }

    @Test func demoInventoryIdentities() throws {
        let inventory = try InventoryLoader.load(pods: F.demoPods, namespaces: nil, nodes: nil)
        let table = try EndpointTable.build(inventory: inventory, localNode: "kind-worker-0")
        #expect(table.isDualStack)
        func identity(_ namespace: String, _ pod: String) -> Identity? { table.endpoint(namespace: namespace, pod: pod)?.identity }
        // Replicas share their identity; host-network pods are host or remote-node.
        #expect(identity("kube-system", "coredns-cdp5fjv8tn-9c6kf") == identity("kube-system", "coredns-cdp5fjv8tn-gtwns"))
        #expect(identity("platform", "redis-0") == identity("platform", "redis-4"))
        #expect(identity("monitoring", "fluent-bit-sbs96") == identity("monitoring", "fluent-bit-645zj"))
        #expect(identity("kube-system", "kube-proxy-grcx2") == .host)
        #expect(identity("kube-system", "kube-proxy-xvtq5") == .remoteNode)
        #expect(identity("kube-system", "kube-apiserver-kind-control-plane-xpltq") == .remoteNode)
        let allocated = table.identities.keys.filter { !$0.isReserved }.sorted()
        // 9 label sets: the finished batch-job-1 (phase Succeeded) has no endpoint and no identity.
        #expect(allocated.count == 9)
        #expect(allocated.allSatisfy { $0 >= .firstAllocated && $0 <= IdentityAllocator.lastAllocated })
        #expect(table.identities[identity("platform", "redis-0")!] == [
            "k8s:app.kubernetes.io/name=redis",
            "k8s:app=redis",
            "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=platform",
            "k8s:io.cilium.k8s.policy.cluster=default",
            "k8s:io.cilium.k8s.policy.serviceaccount=redis",
            "k8s:io.kubernetes.pod.namespace=platform",
            "k8s:security.example.com/pci=true",
            "k8s:version=v3",
        ])
    }

    /// Labels sort as their printed forms do, byte by byte (Hubble's order), though they are
    /// compared without printing them: a key that is a prefix of another, an empty value, a
    /// source that is a prefix of another, non-ASCII bytes.
    @Test func labelsSortAsTheirPrintedForms() {
        var labels: [SecurityLabel] = []
        for source in ["k8s", "k8sx", "reserved", "k"] {
            for key in ["app", "app.x", "app=", "appz", "ap", "é", ""] {
                for value in ["", "web", "we", "web-1", "z", "é"] {
                    labels.append(SecurityLabel(source: source, key: key, value: value))
                }
            }
        }
        let expected = labels.map(\.description).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(labels.shuffled().sorted().map(\.description) == expected)
        #expect(labels.reversed().sorted().map(\.description) == expected)
        for (left, right) in zip(labels, labels.shuffled()) {
            #expect((left < right) == left.description.utf8.lexicographicallyPrecedes(right.description.utf8))
        }
    }
}
