import Agent
import Datapath
import FlowCore
import Foundation

/// A small declarative cluster for the semantics tables: namespaces with labels, pods with
/// labels, an address and named container ports, all on one node ("node-1").
///
/// `load(_:)` goes through the real loaders and the same wiring as `AgentState.load`
/// (FlowMonitor/AgentState.swift): `InventoryLoader` on kubectl-shaped JSON →
/// `EndpointTable.build` → CIDR identities for every CIDR the policies name →
/// `PolicyCompiler.compile` → the ipcache. AgentTests cannot import FlowMonitor (Package.swift
/// gives the target Agent, Datapath and FlowCore only), so the ~20 lines of wiring are
/// replicated here; the end-to-end tests (ReplayTests/PolicyProbeTests) run the real
/// `AgentState` and `PolicyContext` through the `flowmon` binary.
struct SemanticsCluster {
    struct Namespace {
        var name: String
        var labels: [String: String]
    }

    struct Pod {
        var namespace: String
        var name: String
        var labels: [String: String]
        var ip: String
        /// (name, containerPort, protocol)
        var ports: [(String, Int, String)]
    }

    var namespaces: [Namespace]
    var pods: [Pod]
    var nodeName = "node-1"
    var nodeIP = "192.168.1.10"
    /// Other nodes (name, InternalIP): their addresses resolve to `remote-node`.
    var remoteNodes: [(String, String)] = [("node-2", "192.168.1.11")]

    /// The upstream netpol e2e model (kubernetes test/e2e/network/netpol/model.go): namespaces
    /// x, y, z (labeled `ns: <name>` and `kubernetes.io/metadata.name: <name>`), pods a, b, c in
    /// each (labeled `pod: <name>`), each serving 80 and 81 over TCP and UDP on container
    /// ports named `serve-<port>-<protocol>`.
    static let xyz: SemanticsCluster = {
        let names = ["x", "y", "z"]
        let namespaces = names.map { Namespace(name: $0, labels: ["ns": $0, "kubernetes.io/metadata.name": $0]) }
        var pods: [Pod] = []
        for (n, ns) in names.enumerated() {
            for (p, pod) in ["a", "b", "c"].enumerated() {
                pods.append(Pod(namespace: ns, name: pod, labels: ["pod": pod], ip: "10.0.\(n + 1).\(p + 1)",
                                ports: [("serve-80-tcp", 80, "TCP"), ("serve-81-tcp", 81, "TCP"),
                                        ("serve-80-udp", 80, "UDP"), ("serve-81-udp", 81, "UDP")]))
            }
        }
        return SemanticsCluster(namespaces: namespaces, pods: pods)
    }()

    static let podNames: [String] = ["x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"]

    func podsJSON() -> String {
        func json(_ value: Any) -> String {
            String(decoding: try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys]), as: UTF8.self)
        }
        let items: [[String: Any]] = self.pods.map { pod in
            [
                "apiVersion": "v1", "kind": "Pod",
                "metadata": ["name": pod.name, "namespace": pod.namespace, "labels": pod.labels],
                "spec": ["nodeName": self.nodeName,
                         "containers": [["name": "main",
                                         "ports": pod.ports.map { ["name": $0.0, "containerPort": $0.1, "protocol": $0.2] }]]],
                "status": ["podIP": pod.ip, "podIPs": [["ip": pod.ip]], "hostIP": self.nodeIP],
            ]
        }
        return json(["apiVersion": "v1", "kind": "List", "items": items])
    }

    func namespacesJSON() -> String {
        let items: [[String: Any]] = self.namespaces.map {
            ["apiVersion": "v1", "kind": "Namespace", "metadata": ["name": $0.name, "labels": $0.labels]]
        }
        let object: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": items]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func nodesJSON() -> String {
        let items: [[String: Any]] = ([(self.nodeName, self.nodeIP)] + self.remoteNodes).map { node in
            ["apiVersion": "v1", "kind": "Node", "metadata": ["name": node.0, "labels": ["kubernetes.io/hostname": node.0]],
             "status": ["addresses": [["type": "InternalIP", "address": node.1]]]]
        }
        let object: [String: Any] = ["apiVersion": "v1", "kind": "List", "items": items]
        return String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func load(_ policies: String) throws -> SemanticsAgent {
        let inventory = try InventoryLoader.load(podsJSON: ("pods.json", Data(self.podsJSON().utf8)),
                                                 namespacesJSON: ("namespaces.json", Data(self.namespacesJSON().utf8)),
                                                 nodesJSON: ("nodes.json", Data(self.nodesJSON().utf8)))
        let policySet = policies.isEmpty ? PolicySet(documents: [], notices: [])
            : try PolicyLoader.load(text: policies, file: "policies.yaml")
        let tables = try AgentTables.build(inventory: inventory, policies: policySet.documents, nodeName: self.nodeName)
        return SemanticsAgent(cluster: self, endpoints: tables.endpoints, compiled: tables.compiled, ipcache: tables.ipcache)
    }
}

enum SemanticsProtocol: UInt8 {
    case icmp = 1
    case igmp = 2
    case tcp = 6
    case udp = 17
    case sctp = 132
    case icmpv6 = 58
    case vrrp = 112
}

/// What flowmon would report for one new connection (the fields of a flow record's `policy`).
struct SemanticsVerdict: CustomStringConvertible {
    var egress: PolicyDecision?
    var ingress: PolicyDecision?
    /// `POLICY_DENIED`, `POLICY_DENY`, or nil when forwarded.
    var dropReason: String?
    var dropDirection: TrafficDirection?
    /// The flow record's `policy_match_type` as `FlowRecord.appendPolicy` picks it: the
    /// dropping side's, else the ingress decision's whenever ingress was evaluated (even when
    /// not enforced, which gives "none"), else the egress decision's.
    var recordMatchType: PolicyMatchType
    /// The match type of the entry that decided: the dropping side's, else the enforced
    /// ingress side's, else the egress side's (what Hubble's policy-verdict event of the
    /// enforcing side carries).
    var matchType: PolicyMatchType
    /// "Kind/namespace/name" of `egress_allowed_by`/`egress_denied_by` and the ingress equivalents.
    var egressPolicies: [String]
    var ingressPolicies: [String]

    var allowed: Bool { self.dropReason == nil }

    /// The policies of the deciding side: the dropping side's, else both sides' allow lists.
    var policies: [String] {
        if let direction = self.dropDirection { return direction == .egress ? self.egressPolicies : self.ingressPolicies }
        return self.egressPolicies + self.ingressPolicies
    }

    var description: String {
        "\(self.dropReason ?? "FORWARDED") dir=\(self.dropDirection.map { "\($0.name)" } ?? "-") match=\(self.matchType.name) "
            + "egress=\(self.egress.map { "\($0.outcome.name)" } ?? "-") \(self.egressPolicies) "
            + "ingress=\(self.ingress.map { "\($0.outcome.name)" } ?? "-") \(self.ingressPolicies)"
    }
}

struct SemanticsAgent {
    let cluster: SemanticsCluster
    let endpoints: EndpointTable
    let compiled: CompiledPolicies
    let ipcache: IPCache

    /// "x/a" → the pod's address; "host" → the node's address; otherwise an address literal.
    func address(_ name: String) -> IPAddress {
        if name == "host" { return IPAddress(text: self.cluster.nodeIP)! }
        if let node = self.cluster.remoteNodes.first(where: { $0.0 == name }) { return IPAddress(text: node.1)! }
        if let pod = self.cluster.pods.first(where: { "\($0.namespace)/\($0.name)" == name }) {
            return IPAddress(text: pod.ip)!
        }
        guard let address = IPAddress(text: name) else { fatalError("unknown endpoint \(name)") }
        return address
    }

    func identity(_ name: String) -> Identity { self.ipcache.lookup(self.address(name)).identity }

    /// The datapath's own decision, `PolicySnapshot.judge` (what `DatapathProgram.classify` calls),
    /// with no services: the egress decision at the source when it is a local endpoint, the
    /// ingress decision at the destination likewise; the port is the ICMP type for ICMP. The
    /// verdict and drop reason follow `FlowEntry.wouldDrop` (egress first) and the match type
    /// `FlowRecord.appendPolicy`.
    func verdict(from: String, to: String, port: UInt16, proto: SemanticsProtocol = .tcp) -> SemanticsVerdict {
        let judgement = PolicySnapshot(ipcache: self.ipcache, policies: self.compiled.table)
            .judge(source: self.address(from), destination: self.address(to), port: port, ipProtocol: proto.rawValue)
        let egress = judgement.egress.evaluated ? judgement.egress.decision : nil
        let ingress = judgement.ingress.evaluated ? judgement.ingress.decision : nil
        var drop: (TrafficDirection, PolicyDecision)?
        if let egress, !egress.isAllowed { drop = (.egress, egress) } else if let ingress, !ingress.isAllowed { drop = (.ingress, ingress) }
        let recordDeciding = drop?.1 ?? ingress ?? egress ?? PolicyDecision(outcome: .notEnforced)
        let deciding = drop?.1 ?? (ingress.map { $0.outcome == .notEnforced } ?? true ? egress : ingress)
            ?? ingress ?? PolicyDecision(outcome: .notEnforced)
        func names(_ decision: PolicyDecision?) -> [String] {
            guard let decision, decision.policySet != 0 else { return [] }
            return self.compiled.policySets[Int(decision.policySet)].map {
                [$0.kind.rawValue, $0.namespace, $0.name].compactMap { $0 }.joined(separator: "/")
            }
        }
        return SemanticsVerdict(
            egress: egress, ingress: ingress,
            dropReason: drop.map { $0.1.outcome == .deniedExplicitly ? "POLICY_DENY" : "POLICY_DENIED" },
            dropDirection: drop?.0, recordMatchType: recordDeciding.matchType, matchType: deciding.matchType,
            egressPolicies: names(egress), ingressPolicies: names(ingress))
    }

    /// The reachability matrix over `pods` (rows: source, columns: destination), "1" allowed, "." dropped.
    func matrix(port: UInt16, proto: SemanticsProtocol = .tcp, pods: [String] = SemanticsCluster.podNames) -> [String] {
        pods.map { from in
            String(pods.map { to in self.verdict(from: from, to: to, port: port, proto: proto).allowed ? "1" : "." })
        }
    }
}

/// Builds an expected reachability matrix the way upstream's reachability.go does: start
/// from all-allowed, then apply `Expect`/`ExpectPeer`/`ExpectAllIngress`/`ExpectAllEgress`.
struct Reachability {
    static let pods = SemanticsCluster.podNames
    var cells: [[Bool]]

    init(_ defaultValue: Bool = true) {
        self.cells = Array(repeating: Array(repeating: defaultValue, count: Self.pods.count), count: Self.pods.count)
    }

    /// A peer: "x/a" one pod, "x/*" a namespace, "*/a" a pod name in every namespace, "*" all.
    static func matches(_ peer: String, _ pod: String) -> Bool {
        if peer == "*" { return true }
        let p = peer.split(separator: "/").map(String.init)
        let q = pod.split(separator: "/").map(String.init)
        return (p[0] == "*" || p[0] == q[0]) && (p[1] == "*" || p[1] == q[1])
    }

    func expectPeer(_ from: String, _ to: String, _ value: Bool) -> Reachability {
        var copy = self
        for (i, source) in Self.pods.enumerated() where Self.matches(from, source) {
            for (j, destination) in Self.pods.enumerated() where Self.matches(to, destination) {
                copy.cells[i][j] = value
            }
        }
        return copy
    }

    func expect(_ from: String, _ to: String, _ value: Bool) -> Reachability { self.expectPeer(from, to, value) }
    func expectAllIngress(_ pod: String, _ value: Bool) -> Reachability { self.expectPeer("*", pod, value) }
    func expectAllEgress(_ pod: String, _ value: Bool) -> Reachability { self.expectPeer(pod, "*", value) }

    var rows: [String] { self.cells.map { String($0.map { $0 ? "1" : "." }) } }
}
