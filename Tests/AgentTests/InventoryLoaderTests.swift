import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// Test inputs: JSON text written to a temporary file, and the repository's captures.
enum InventoryFixtures {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demoPods = repository.appendingPathComponent("Captures/demo/demo-cluster.pods.json").path

    /// Writes `text` to a fresh temporary file named `name` and returns its path.
    static func write(_ text: String, name: String = "pods.json") -> String {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("flowmon-inventory-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try! Data(text.utf8).write(to: url)
        return url.path
    }

    /// A `kubectl get pods -A -o json` list of the given pod objects.
    static func podList(_ items: [String]) -> String {
        #"{"apiVersion":"v1","kind":"List","items":["# + items.joined(separator: ",") + #"],"metadata":{"resourceVersion":""}}"#
    }

    static func pod(_ name: String, namespace: String = "shop", labels: [String: String] = [:], ips: [String] = [],
                    node: String? = "node-a", hostIP: String? = "172.18.0.2", hostNetwork: Bool = false,
                    serviceAccount: String? = nil, owner: (kind: String, name: String)? = nil) -> String {
        func quoted(_ text: String) -> String { "\"" + text + "\"" }
        var metadata = [#""name":"# + quoted(name), #""namespace":"# + quoted(namespace)]
        if !labels.isEmpty {
            metadata.append(#""labels":{"# + labels.sorted { $0.key < $1.key }.map { quoted($0.key) + ":" + quoted($0.value) }
                .joined(separator: ",") + "}")
        }
        if let owner {
            metadata.append(#""ownerReferences":[{"apiVersion":"apps/v1","kind":"# + quoted(owner.kind) + #","name":"#
                + quoted(owner.name) + #","uid":"x","controller":true,"blockOwnerDeletion":true}]"#)
        }
        var spec = [#""containers":[{"name":"main","image":"busybox","ports":[{"name":"http","containerPort":8080},{"containerPort":9090},{"name":"dns","containerPort":53,"protocol":"UDP"}]}]"#]
        if let node { spec.append(#""nodeName":"# + quoted(node)) }
        if hostNetwork { spec.append(#""hostNetwork":true"#) }
        if let serviceAccount { spec.append(#""serviceAccountName":"# + quoted(serviceAccount)) }
        var status = [#""phase":"Running""#]
        if let hostIP { status.append(#""hostIP":"# + quoted(hostIP)) }
        if let first = ips.first {
            status.append(#""podIP":"# + quoted(first))
            status.append(#""podIPs":["# + ips.map { #"{"ip":"# + quoted($0) + "}" }.joined(separator: ",") + "]")
        }
        return #"{"apiVersion":"v1","kind":"Pod","metadata":{"# + metadata.joined(separator: ",") + #"},"spec":{"#
            + spec.joined(separator: ",") + #"},"status":{"# + status.joined(separator: ",") + "}}"
    }

    static func loadPods(_ items: [String]) throws -> Inventory {
        try InventoryLoader.load(pods: write(podList(items)), namespaces: nil, nodes: nil)
    }

    /// The error `body` throws, as printed.
    static func message(_ body: () throws(AgentError) -> Inventory) -> String? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.description
        }
    }
}

struct InventoryLoaderTests {
    typealias F = InventoryFixtures

    @Test func demoPodsFileLoads() throws {
        let inventory = try InventoryLoader.load(pods: F.demoPods, namespaces: nil, nodes: nil)
        // 32 pods, less the finished batch-job-1 (phase Succeeded).
        #expect(inventory.pods.count == 31)
        #expect(inventory.notices == ["\(F.demoPods): skipped 1 pod in phase Succeeded or Failed (Cilium has no endpoint for a finished pod; its address may belong to a running pod now)"])
        #expect(inventory.namespaces.count == 8)
        #expect(Set(inventory.namespaces.map(\.name)) == ["kube-system", "monitoring", "platform", "shop", "ingress-nginx",
                                                          "default", "payments", "batch"])
        #expect(inventory.nodes.map(\.name) == ["kind-worker-0", "kind-worker-1", "kind-control-plane"])
        #expect(inventory.nodes[0].internalIPs == [IPAddress(text: "172.18.0.2")!])
        #expect(inventory.warnings.isEmpty)

        let coredns = inventory.pods[0]
        #expect(coredns.name == "coredns-cdp5fjv8tn-9c6kf" && coredns.namespace == "kube-system")
        #expect(coredns.ips.map(\.text) == ["10.244.0.2", "fd00:10:244::2"])
        #expect(coredns.hostIPs.map(\.text) == ["172.18.0.2"])
        #expect(coredns.nodeName == "kind-worker-0" && coredns.serviceAccount == "coredns" && !coredns.hostNetwork)
        #expect(coredns.workload == Workload(name: "coredns", kind: "Deployment"))
        #expect(coredns.namedPorts == [NamedPort(name: "main", port: 53, ipProtocol: 17)])
        #expect(coredns.location == "$.items[0]")

        let byName = Dictionary(inventory.pods.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["kube-proxy-grcx2"]?.hostNetwork == true)
        #expect(byName["kube-proxy-grcx2"]?.workload == Workload(name: "kube-proxy", kind: "DaemonSet"))
        #expect(byName["redis-0"]?.workload == Workload(name: "redis", kind: "StatefulSet"))
        #expect(byName["kube-apiserver-kind-control-plane-xpltq"]?.workload == nil)
        // Pending pods without addresses are fine; finished pods are left out.
        #expect(byName["batch-job-0-2j4v5"]?.ips == [] && byName["batch-job-0-2j4v5"]?.nodeName == nil)
        #expect(byName["batch-job-1-4nw49"] == nil)
    }

    /// A finished pod (a completed Job's, an evicted one) still lists the address it had, which
    /// a running pod may have now: it is left out, and counted once; two running pods that
    /// claim one address still give the warning.
    @Test func finishedPodsAreLeftOut() throws {
        func finished(_ pod: String, phase: String) -> String {
            pod.replacingOccurrences(of: #""phase":"Running""#, with: #""phase":"\#(phase)""#)
        }
        let path = F.write(F.podList([
            finished(F.pod("report-1", namespace: "batch", ips: ["10.244.1.5"]), phase: "Succeeded"),
            finished(F.pod("evicted", ips: ["10.244.1.6"]), phase: "Failed"),
            F.pod("web-1", labels: ["app": "web"], ips: ["10.244.1.5"]),
            F.pod("web-2", labels: ["app": "web"], ips: ["10.244.1.6"]),
            F.pod("web-3", labels: ["app": "web"], ips: ["10.244.1.6"]),
            finished(F.pod("pending", ips: []), phase: "Pending"),
        ]))
        let inventory = try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil)
        #expect(inventory.pods.map(\.name) == ["web-1", "web-2", "web-3", "pending"])
        #expect(inventory.pods[0].ips == [IPAddress(text: "10.244.1.5")!])
        #expect(inventory.notices == ["\(path): skipped 2 pods in phase Succeeded or Failed (Cilium has no endpoint for a finished pod; its address may belong to a running pod now)"])
        #expect(inventory.warnings == ["\(path): $.items[4]: 10.244.1.6 is claimed by shop/web-2 and shop/web-3; using shop/web-2"])
        // The namespace of a finished pod only is not implied.
        #expect(!inventory.namespaces.contains { $0.name == "batch" })
        let table = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(table.ipCache().lookup(IPAddress(text: "10.244.1.5")!).endpoint == table.podEndpoints["shop/web-1"])
    }

    @Test func generatedThousandPodFileLoads() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-inventory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let pcap = directory.appendingPathComponent("big.pcap").path
        let podsFile = directory.appendingPathComponent("big.pods.json").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", F.repository.appendingPathComponent("Benchmarks/gen_cluster_pcap.py").path,
                             "--packets", "200", "--flows", "50", "--pods", "1000", "--seed", "3", "--quiet",
                             "--out", pcap, "--pods-out", podsFile]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)

        let inventory = try InventoryLoader.load(pods: podsFile, namespaces: nil, nodes: nil)
        #expect(inventory.pods.count >= 1000)
        #expect(inventory.warnings.isEmpty)
        let table = try EndpointTable.build(inventory: inventory, localNode: "kind-worker-0")
        #expect(table.endpoints.count == 1 + inventory.pods.count + inventory.nodes.count)
        let cache = table.ipCache()
        for pod in inventory.pods where !pod.hostNetwork {
            for ip in pod.ips {
                let value = cache.lookup(ip)
                #expect(table.endpoints[Int(value.endpoint)].podName == pod.name)
                #expect(value.isLocalEndpoint == (pod.nodeName == "kind-worker-0"))
            }
        }
    }

    @Test func missingFile() {
        #expect(F.message { () throws(AgentError) in
            try InventoryLoader.load(pods: "/nonexistent/pods.json", namespaces: nil, nodes: nil)
        } == "/nonexistent/pods.json: file not found")
    }

    @Test func notJSONGivesLineAndColumn() {
        let path = F.write("{\"kind\": \"List\",\n  \"items\": [1,, 2]}")
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil) }
            == "\(path): not JSON: invalid value at column 15 (line 2)")
        let empty = F.write("  \n")
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: empty, namespaces: nil, nodes: nil) }
            == "\(empty): empty file, expected JSON (kubectl get ... -o json)")
    }

    @Test func wrongTopLevelKind() {
        let policy = F.write(#"{"apiVersion":"cilium.io/v2","kind":"CiliumNetworkPolicy","metadata":{"name":"x"}}"#)
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: policy, namespaces: nil, nodes: nil) }
            == "\(policy): $.kind: expected a List of Pod (kubectl get pods -A -o json), found \"CiliumNetworkPolicy\"")
        let array = F.write("[]")
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: array, namespaces: nil, nodes: nil) }
            == "\(array): $: expected a List object (kubectl get pods -A -o json), found an array")
        // The namespaces file given as the pods file.
        let namespaces = F.write(#"{"kind":"List","items":[{"kind":"Namespace","metadata":{"name":"shop"}}]}"#)
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: namespaces, namespaces: nil, nodes: nil) }
            == "\(namespaces): $.items[0].kind: expected \"Pod\", found \"Namespace\"")
        let noItems = F.write(#"{"kind":"List"}"#)
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: noItems, namespaces: nil, nodes: nil) }
            == "\(noItems): $.items: missing")
    }

    @Test func wrongTypeNamesThePath() {
        let hostNetwork = F.write(F.podList([F.pod("a", ips: ["10.0.0.1"]),
                                             #"{"kind":"Pod","metadata":{"name":"b","namespace":"x"},"spec":{"hostNetwork":"yes"}}"#]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: hostNetwork, namespaces: nil, nodes: nil) }
            == "\(hostNetwork): $.items[1].spec.hostNetwork: expected a boolean, found a string \"yes\"")
        let labels = F.write(F.podList([#"{"metadata":{"name":"b","namespace":"x","labels":{"app.kubernetes.io/name":7}}}"#]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: labels, namespaces: nil, nodes: nil) }
            == "\(labels): $.items[0].metadata.labels[\"app.kubernetes.io/name\"]: expected a string, found the number 7")
        let podIPs = F.write(F.podList([#"{"metadata":{"name":"b","namespace":"x"},"status":{"podIPs":{"ip":"10.0.0.1"}}}"#]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: podIPs, namespaces: nil, nodes: nil) }
            == "\(podIPs): $.items[0].status.podIPs: expected an array, found an object")
        let noName = F.write(F.podList([#"{"metadata":{"namespace":"x"}}"#]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: noName, namespaces: nil, nodes: nil) }
            == "\(noName): $.items[0].metadata.name: missing")
        let port = F.write(F.podList([#"{"metadata":{"name":"b","namespace":"x"},"spec":{"containers":[{"ports":[{"name":"p","containerPort":70000}]}]}}"#]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: port, namespaces: nil, nodes: nil) }
            == "\(port): $.items[0].spec.containers[0].ports[0].containerPort: port 70000 is out of range 1-65535")
    }

    @Test func badIPAddress() {
        let path = F.write(F.podList([F.pod("a", ips: ["10.0.0.1"]), F.pod("b"), F.pod("c"), F.pod("d", ips: ["10.0.0.300"])]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil) }
            == "\(path): $.items[3].status.podIPs[0].ip: not an IP address: \"10.0.0.300\"")
        let host = F.write(F.podList([F.pod("a", hostIP: "fd00::1::2")]))
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: host, namespaces: nil, nodes: nil) }
            == "\(host): $.items[0].status.hostIP: not an IP address: \"fd00::1::2\"")
        let nodes = F.write(#"{"kind":"List","items":[{"kind":"Node","metadata":{"name":"n"},"status":{"addresses":[{"type":"Hostname","address":"n"},{"type":"InternalIP","address":"172.18.0.256"}]}}]}"#,
                            name: "nodes.json")
        #expect(F.message { () throws(AgentError) in try InventoryLoader.load(pods: nil, namespaces: nil, nodes: nodes) }
            == "\(nodes): $.items[0].status.addresses[1].address: not an IP address: \"172.18.0.256\"")
    }

    /// Two pods with one namespace/name (two dumps joined, say): Kubernetes cannot have that, so
    /// the later one is dropped with a warning naming both places, and the first keeps its IPs.
    @Test func aDuplicatePodNameIsAWarningAndTheFirstPodKeepsIt() throws {
        let path = F.write(F.podList([F.pod("web", ips: ["10.244.1.5"]), F.pod("db", ips: ["10.244.1.6"]),
                                      F.pod("web", ips: ["10.244.1.7"])]))
        let inventory = try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil)
        #expect(inventory.warnings == ["\(path): $.items[2]: pod shop/web appears again (first at $.items[0]); using the first"])
        #expect(inventory.pods.map(\.name) == ["web", "db"])
        #expect(inventory.pods[0].ips.map(\.text) == ["10.244.1.5"])
    }

    /// 10 MB of labels on one pod loads (no quadratic work, no limit tripped by honest data) and
    /// every label arrives.
    @Test func tenMegabytesOfLabelsLoad() throws {
        var labels: [String: String] = [:]
        var size = 0
        var index = 0
        while size < 10_000_000 {
            let key = "example.com/label-\(index)", value = String(repeating: "v", count: 60)
            labels[key] = value
            size += key.utf8.count + value.utf8.count + 6
            index += 1
        }
        let inventory = try F.loadPods([F.pod("big", labels: labels, ips: ["10.244.1.9"])])
        #expect(inventory.pods.count == 1)
        #expect(inventory.pods[0].labels.count == labels.count)
    }

    /// A pods file cut in the middle (a `kubectl` interrupted) names the file and the place.
    @Test func aTruncatedPodsFileIsNamed() throws {
        let text = F.podList([F.pod("web", ips: ["10.244.1.5"]), F.pod("db", ips: ["10.244.1.6"])])
        let path = F.write(String(text.prefix(text.utf8.count * 2 / 3)))
        let message = try #require(F.message { () throws(AgentError) in
            try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil)
        })
        #expect(message.hasPrefix(path + ":") && !message.contains("\n"), "\(message)")
    }

    @Test func duplicateIPIsAWarningAndTheFirstPodKeepsIt() throws {
        let path = F.write(F.podList([
            F.pod("web-1", ips: ["10.244.1.5", "fd00::5"]),
            F.pod("proxy", ips: ["172.18.0.2"], hostNetwork: true),
            F.pod("web-2", ips: ["10.244.1.5", "fd00::6"]),
            F.pod("agent", ips: ["172.18.0.2"], hostNetwork: true),
        ]))
        let inventory = try InventoryLoader.load(pods: path, namespaces: nil, nodes: nil)
        #expect(inventory.warnings == ["\(path): $.items[2]: 10.244.1.5 is claimed by shop/web-1 and shop/web-2; using shop/web-1"])
        #expect(inventory.pods[0].ips.map(\.text) == ["10.244.1.5", "fd00::5"])
        #expect(inventory.pods[2].ips.map(\.text) == ["fd00::6"])
        #expect(inventory.pods[3].ips.map(\.text) == ["172.18.0.2"])
    }

    @Test func workloadsFromOwnerReferences() throws {
        let inventory = try F.loadPods([
            F.pod("web-7d4f9c-x1", labels: ["pod-template-hash": "7d4f9c"], owner: ("ReplicaSet", "web-7d4f9c")),
            F.pod("api-5b8c7d9f4-q2", owner: ("ReplicaSet", "api-5b8c7d9f4")),
            F.pod("legacy-v1-abc", owner: ("ReplicaSet", "legacy-v1")),
            F.pod("backup-28934400-zz", owner: ("Job", "backup-28934400")),
            F.pod("migrate-x", owner: ("Job", "migrate")),
            F.pod("db-0", owner: ("StatefulSet", "db")),
            F.pod("agent-x", owner: ("DaemonSet", "agent")),
            F.pod("bare"),
        ])
        #expect(inventory.pods.map(\.workload) == [
            Workload(name: "web", kind: "Deployment"),
            Workload(name: "api", kind: "Deployment"),
            Workload(name: "legacy-v1", kind: "ReplicaSet"),
            Workload(name: "backup", kind: "CronJob"),
            Workload(name: "migrate", kind: "Job"),
            Workload(name: "db", kind: "StatefulSet"),
            Workload(name: "agent", kind: "DaemonSet"),
            nil,
        ])
        // A pod-template-hash that is not the ReplicaSet's suffix: the ReplicaSet itself.
        #expect(InventoryLoader.workload(ownerKind: "ReplicaSet", ownerName: "web-7d4f9c", podTemplateHash: "other")
            == Workload(name: "web-7d4f9c", kind: "ReplicaSet"))
        #expect(inventory.pods[0].namedPorts == [NamedPort(name: "http", port: 8080, ipProtocol: 6),
                                                 NamedPort(name: "dns", port: 53, ipProtocol: 17)])
    }

    @Test func namespacesAndNodesFiles() throws {
        let pods = F.write(F.podList([F.pod("a", namespace: "shop", ips: ["10.244.0.5"], node: "node-a"),
                                      F.pod("b", namespace: "extra", ips: ["10.244.1.5"], node: "node-c", hostIP: "172.18.0.9")]))
        let namespaces = F.write(#"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop","team":"red"}}}]}"#,
                                 name: "namespaces.json")
        let nodes = F.write(#"{"kind":"NodeList","items":[{"kind":"Node","metadata":{"name":"node-a","labels":{"kubernetes.io/os":"linux"}},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.2"},{"type":"InternalIP","address":"fc00:f853::2"},{"type":"Hostname","address":"node-a"}]}},{"kind":"Node","metadata":{"name":"node-b"},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.3"}]}}]}"#,
                            name: "nodes.json")
        let inventory = try InventoryLoader.load(pods: pods, namespaces: namespaces, nodes: nodes)
        #expect(inventory.namespaces == [Namespace(name: "shop", labels: ["kubernetes.io/metadata.name": "shop", "team": "red"]),
                                         Namespace(name: "extra", labels: ["kubernetes.io/metadata.name": "extra"])])
        #expect(inventory.nodes.map(\.name) == ["node-a", "node-b", "node-c"])
        #expect(inventory.nodes[0].internalIPs.map(\.text) == ["172.18.0.2", "fc00:f853::2"])
        #expect(inventory.nodes[2].internalIPs.map(\.text) == ["172.18.0.9"])
        #expect(inventory.warnings == [
            "\(namespaces): namespace \"extra\" of pod extra/b is not in the file; assuming its only label is kubernetes.io/metadata.name=extra",
            "\(nodes): node \"node-c\" of pod extra/b is not in the file; taking its addresses from the pods",
        ])
    }

    @Test func addressText() {
        for text in ["10.0.0.1", "0.0.0.0", "255.255.255.255", "fd00:10:244::1:5", "::", "::1", "2001:db8::", "1:2:3:4:5:6:7:8",
                     "fe80::1:0:0:1", "2001:db8:0:1:1:1:1:1"] {
            #expect(IPAddress(text: text).map(\.text) == text)
        }
        #expect(IPAddress(text: "::ffff:10.1.2.3") == IPAddress(ipv4: 0x0a01_0203))
        #expect(IPAddress(text: "2001:DB8:0:0:0:0:0:1").map(\.text) == "2001:db8::1")
        #expect(IPAddress(text: "1:0:0:2:0:0:0:3").map(\.text) == "1:0:0:2::3")
        for bad in ["", "10.0.0", "10.0.0.1.2", "10.0.0.256", "010.0.0.1", "1::2::3", "1:2:3:4:5:6:7:8:9", "fe80::1%eth0", "1:", ":1",
                    "12345::", "10.0.0.1 ", "g::1", "1:2:3:4:5:6:7::8:9"] {
            #expect(IPAddress(text: bad) == nil, "\(bad)")
        }
        #expect((try? IPPrefix.parse("10.1.2.3/8", allowBareAddress: false).get())?.masked.description == "10.0.0.0/8")
        #expect((try? IPPrefix.parse("fd00::1/64", allowBareAddress: false).get())?.masked.description == "fd00::/64")
        #expect((try? IPPrefix.parse("10.0.0.0/33", allowBareAddress: false).get()) == nil)
        #expect((try? IPPrefix.parse("10.0.0.0/08", allowBareAddress: false).get()) == nil)
    }
}
