import FlowLog
import Foundation
import ServiceMap
import Testing

/// The graph model on the demo's flow lines (the output of `scripts/demo`) and on small
/// hand-made records: which node each endpoint lands on, how connections add up into edges,
/// the verdict classes, and that the result does not depend on the order of the records.
struct ServiceMapModelTests {
    static let demoNodeIDs = [
        "default/search", "ingress-nginx/ingress-nginx-controller", "kube-system/coredns", "monitoring/fluent-bit",
        "monitoring/prometheus-k8s", "payments/users", "platform/redis", "shop/recommendations",
        "host", "kube-apiserver",
        "cidr:198.18.0.0/15", "cidr:198.18.250.0/24", "world",
    ]

    @Test func demoNodesAndGroups() throws {
        let map = try MapFixture.demoMap()
        #expect(map.nodes.map(\.id) == Self.demoNodeIDs)
        #expect(map.groups.map(\.id) == ["ns:default", "ns:ingress-nginx", "ns:kube-system", "ns:monitoring", "ns:payments",
                                         "ns:platform", "ns:shop", "cluster", "world"])
        #expect(map.flowCount == 120 && map.hasVerdicts && map.hasEndpoints)

        let redis = try #require(map.nodes.first { $0.id == "platform/redis" })
        #expect(redis.kind == .workload && redis.title == "redis" && redis.subtitle == "StatefulSet")
        #expect(redis.group == MapGroup(kind: .namespace, name: "platform"))
        #expect(redis.pods == ["platform/redis-0", "platform/redis-1", "platform/redis-2", "platform/redis-3", "platform/redis-4"])
        // 256 + FNV-1a-64 of redis's canonical label text mod 65280, as Python computes it (IdentityAllocator).
        #expect(redis.identities == [37107])
        #expect(redis.labels.contains("k8s:security.example.com/pci=true"))
        #expect(redis.connectionsOut == 29 && redis.connectionsIn == 15)

        // world, world-ipv4 and world-ipv6 are one node; each CIDR identity its own.
        let world = try #require(map.nodes.first { $0.id == "world" })
        #expect(world.kind == .world && world.group == .world && world.pods.isEmpty)
        #expect(world.identities.allSatisfy { [2, 9, 10].contains($0) } && world.identities.count >= 2)
        #expect(world.addressCount == 4)
        let cidr = try #require(map.nodes.first { $0.id == "cidr:198.18.0.0/15" })
        #expect(cidr.kind == .cidr && cidr.title == "198.18.0.0/15" && cidr.group == .world)
        #expect(cidr.labels.contains("cidr:198.18.0.0/15"))

        let host = try #require(map.nodes.first { $0.id == "host" })
        #expect(host.kind == .host && host.group == .cluster && host.connectionsOut == 6 && host.connectionsIn == 0)
        // The API server on kind-control-plane (identity 7, from the endpoints of default/kubernetes).
        #expect(map.nodes.first { $0.id == "kube-apiserver" }?.kind == .kubeAPIServer)
    }

    @Test func demoEdgesAndVerdicts() throws {
        let map = try MapFixture.demoMap()
        #expect(map.edges.count == 67)
        #expect(map.links.count == 58)
        #expect(map.edges.reduce(0) { $0 + $1.connections } == 120)
        #expect(map.wouldBeDroppedConnections == 31)
        #expect(map.edges.filter { $0.verdictClass == .wouldBeDropped }.reduce(0) { $0 + $1.connections } == 31)
        #expect(Set(map.edges.map { "\($0.key) \($0.verdictClass.rawValue)" }).count == map.edges.count)

        func edge(_ key: String, _ verdictClass: VerdictClass) throws -> MapEdge {
            try #require(map.edges.first { $0.key == key && $0.verdictClass == verdictClass }, "\(key) \(verdictClass)")
        }
        // HTTPS from the PCI-labelled redis to the world: denied by an explicit rule.
        let https = try edge("platform/redis→cidr:198.18.0.0/15 443/TCP", .wouldBeDropped)
        #expect(https.connections == 3 && https.label == "443/TCP ×3")
        #expect(https.verdicts == ["AUDIT": 3])
        #expect(https.policies == ["egress denied by CiliumNetworkPolicy platform/pci-no-internet"])
        #expect(https.dropReasons == ["EGRESS POLICY_DENY"])
        #expect(https.sourceEndpoints.allSatisfy { $0.hasPrefix("platform/redis-") })
        #expect(https.destinationEndpointCount == https.destinationEndpoints.count && !https.destinationEndpoints.isEmpty)
        // DNS goes through the kube-dns Service to coredns, where policy allows it.
        let dns = try edge("platform/redis→kube-system/coredns 53/UDP", .allowed)
        #expect(dns.connections == 10 && dns.label == "53/UDP ×10")

        // One pair and service with both verdicts: two edges.
        let allowed = try edge("platform/redis→monitoring/fluent-bit 2020/TCP", .allowed)
        let dropped = try edge("platform/redis→monitoring/fluent-bit 2020/TCP", .wouldBeDropped)
        #expect(allowed.connections == 1 && allowed.bytes == 2878 && allowed.verdicts == ["FORWARDED": 1])
        #expect(dropped.connections == 1 && dropped.bytes == 4086 && dropped.verdicts == ["AUDIT": 1])

        // Reserved identities and ICMP.
        #expect(try edge("shop/recommendations→kube-apiserver 6443/TCP", .wouldBeDropped).connections == 1)
        let fromHost = try edge("host→platform/redis 6379/TCP", .allowed)
        #expect(fromHost.connections == 2 && fromHost.bytes == 20460)
        #expect(try edge("payments/users→world IPv6-ICMP echo", .allowed).bytes == 1100)
        // ICMP errors are counted on the connection they answer, not drawn as their own.
        #expect(!map.edges.contains { $0.service.description == "ICMP unreachable" })

        // Links bundle the services of a pair and verdict class, the busiest first.
        let link = try #require(map.links.first { $0.key == "platform/redis→cidr:198.18.0.0/15" && $0.verdictClass == .wouldBeDropped })
        #expect(link.connections == 4)
        #expect(link.edges.map { map.edges[$0].label } == ["443/TCP ×3", "443/UDP ×1"])
    }

    @Test func withoutInventoryEveryAddressIsANode() throws {
        var builder = ServiceMapBuilder()
        builder.add(contentsOf: try FlowLogReader.readAll(path: MapFixture.demoPlainFlows.path))
        let map = builder.build()
        #expect(!map.hasVerdicts && !map.hasEndpoints)
        #expect(map.groups == [.addresses])
        #expect(map.nodes.allSatisfy { $0.kind == .address && $0.id == $0.title && $0.addresses == [$0.id] })
        #expect(map.edges.allSatisfy { $0.verdictClass == .allowed && $0.verdicts.keys.sorted() == ["none"] })
        #expect(map.edges.reduce(0) { $0 + $1.connections } == 120)
        #expect(map.nodes.contains { $0.id == "10.96.0.10" })
    }

    static func record(source: FlowLogRecord.Endpoint?, destination: FlowLogRecord.Endpoint?, port: UInt16? = 80,
                       proto: String = "TCP", icmpType: UInt8? = nil, verdict: FlowLogRecord.Verdict? = nil,
                       time: String = "2025-01-01T00:00:00.000000+0000") -> FlowLogRecord {
        FlowLogRecord(timestamp: time, sourceIP: "10.0.0.1", sourcePort: port == nil ? nil : 40000, destinationIP: "10.0.0.2",
                      destinationPort: port, proto: proto, icmpType: icmpType, bytesToServer: 100, bytesToClient: 50,
                      source: source, destination: destination, policy: verdict.map { FlowLogRecord.PolicyVerdict(verdict: $0) })
    }

    @Test func placements() {
        typealias E = FlowLogRecord.Endpoint
        func id(_ endpoint: E?, _ address: String = "192.0.2.1") -> String {
            ServiceMapBuilder.placement(of: endpoint, address: address).id
        }
        #expect(id(nil, "2001:db8::1") == "2001:db8::1")
        #expect(id(E(identity: 300, namespace: "shop", podName: "web-1", workloads: [.init(name: "web", kind: "Deployment")])) == "shop/web")
        #expect(id(E(identity: 300, namespace: "shop", podName: "debug")) == "shop/debug")
        #expect(ServiceMapBuilder.placement(of: E(identity: 300, namespace: "shop", podName: "debug"), address: "").kind == .pod)
        #expect(id(E(identity: 2, labels: ["reserved:world"])) == "world")
        #expect(id(E(identity: 9, labels: ["reserved:world-ipv4"])) == "world")
        #expect(id(E(identity: 10, labels: ["reserved:world-ipv6"])) == "world")
        #expect(id(E(identity: 16_777_217, labels: ["cidr:10.0.0.0/8", "cidr:10.1.0.0/16", "reserved:world-ipv4"])) == "cidr:10.1.0.0/16")
        #expect(id(E(identity: 16_777_218, labels: ["cidr:fd00--0/64", "reserved:world-ipv6"])) == "cidr:fd00--0/64")
        #expect(id(E(identity: 1, labels: ["reserved:host"])) == "host")
        #expect(id(E(identity: 7, labels: ["reserved:kube-apiserver", "reserved:host"])) == "kube-apiserver")
        #expect(id(E(identity: 6, labels: ["reserved:remote-node"])) == "remote-node")
        #expect(id(E(identity: 4, labels: ["reserved:health"])) == "reserved:health")
        #expect(id(E(identity: 4242, labels: ["k8s:app=x"])) == "identity:4242")
        #expect(id(E(identity: 0, labels: [])) == "identity:0")
        #expect(ServiceMapBuilder.placement(of: E(identity: 1, labels: ["reserved:host"]), address: "").group == .cluster)
    }

    @Test func aggregationServicesAndVerdictClasses() {
        let web = FlowLogRecord.Endpoint(identity: 300, namespace: "shop", podName: "web-1", labels: ["k8s:app=web"],
                                         workloads: [.init(name: "web", kind: "Deployment")])
        let web2 = FlowLogRecord.Endpoint(identity: 300, namespace: "shop", podName: "web-2", labels: ["k8s:app=web"],
                                          workloads: [.init(name: "web", kind: "Deployment")])
        let db = FlowLogRecord.Endpoint(identity: 301, namespace: "data", podName: "db-0", labels: ["k8s:app=db"],
                                        workloads: [.init(name: "db", kind: "StatefulSet")])
        var builder = ServiceMapBuilder()
        builder.add(Self.record(source: web, destination: db, port: 5432, verdict: .forwarded, time: "2025-01-01T00:00:02.000000+0000"))
        builder.add(Self.record(source: web2, destination: db, port: 5432, verdict: .forwarded, time: "2025-01-01T00:00:01.000000+0000"))
        builder.add(Self.record(source: web, destination: db, port: 5432, verdict: .audit))
        builder.add(Self.record(source: web, destination: db, port: 5432, verdict: .dropped))
        builder.add(Self.record(source: web, destination: db, port: 5432, verdict: nil))
        builder.add(Self.record(source: web, destination: db, port: nil, proto: "ICMP", icmpType: 8))
        builder.add(Self.record(source: web, destination: db, port: nil, proto: "GRE"))
        let map = builder.build()
        #expect(map.nodes.map(\.id) == ["data/db", "shop/web"])
        #expect(map.nodes[1].pods == ["shop/web-1", "shop/web-2"])
        #expect(map.edges.map { "\($0.service) \($0.verdictClass.rawValue) \($0.connections)" }
            == ["GRE allowed 1", "ICMP echo allowed 1", "5432/TCP allowed 3", "5432/TCP would-be-dropped 2"])
        let allowed = map.edges[2]
        #expect(allowed.verdicts == ["FORWARDED": 2, "none": 1])
        #expect(allowed.bytes == 450 && allowed.sourceEndpoints == ["shop/web-1", "shop/web-2"])
        #expect(allowed.firstSeen == "2025-01-01T00:00:00.000000+0000" && allowed.lastSeen == "2025-01-01T00:00:02.000000+0000")
        #expect(map.edges[3].verdicts == ["AUDIT": 1, "DROPPED": 1])
        #expect(map.edges[3].label == "5432/TCP ×2")
        #expect(map.links.map { "\($0.key) \($0.verdictClass.rawValue) \($0.connections)" }
            == ["shop/web→data/db allowed 5", "shop/web→data/db would-be-dropped 2"])
    }

    /// The colour of an edge: dropped when any connection was DROPPED, audit when policy would
    /// drop them otherwise, forwarded for FORWARDED or no verdict; a link takes its worst edge's.
    @Test func edgeVerdictsColourTheMap() {
        let web = FlowLogRecord.Endpoint(identity: 300, namespace: "shop", podName: "web-1", labels: ["k8s:app=web"],
                                         workloads: [.init(name: "web", kind: "Deployment")])
        let db = FlowLogRecord.Endpoint(identity: 301, namespace: "data", podName: "db-0", labels: ["k8s:app=db"],
                                        workloads: [.init(name: "db", kind: "StatefulSet")])
        var builder = ServiceMapBuilder()
        builder.add(Self.record(source: web, destination: db, port: 5432, verdict: .forwarded))
        builder.add(Self.record(source: web, destination: db, port: 80, verdict: nil))
        builder.add(Self.record(source: web, destination: db, port: 443, verdict: .audit))
        builder.add(Self.record(source: web, destination: db, port: 6379, verdict: .audit))
        builder.add(Self.record(source: web, destination: db, port: 6379, verdict: .dropped))
        builder.add(Self.record(source: db, destination: web, port: 8080, verdict: .audit))
        let map = builder.build()
        #expect(map.edges.map { "\($0.key) \($0.verdict.rawValue)" } == [
            "data/db→shop/web 8080/TCP audit", "shop/web→data/db 80/TCP forwarded", "shop/web→data/db 443/TCP audit",
            "shop/web→data/db 5432/TCP forwarded", "shop/web→data/db 6379/TCP dropped",
        ])
        #expect(map.links.map { "\($0.key) \(map.verdict(of: $0).rawValue)" }
            == ["data/db→shop/web audit", "shop/web→data/db forwarded", "shop/web→data/db dropped"])
        let dot = DOTMapRenderer.render(map)
        #expect(dot.contains("\"shop/web\" -> \"data/db\" [label=\"6379/TCP ×2\\n443/TCP ×1\", color=\"\(EdgeVerdict.dropped.color)\""))
        #expect(dot.contains("\"data/db\" -> \"shop/web\" [label=\"8080/TCP ×1\", color=\"\(EdgeVerdict.audit.color)\""))
        #expect(Set(EdgeVerdict.allCases.map(\.color)).count == 3)
    }

    /// `dest_names` make a world responder the node of its first name: addresses sharing it are
    /// one node (world or CIDR alike), other names are listed; pods and unnamed world peers stay.
    @Test func worldPeersWithNamesJoinTheirFirstName() {
        typealias E = FlowLogRecord.Endpoint
        let client = E(identity: 300, namespace: "shop", podName: "web-1", workloads: [.init(name: "web", kind: "Deployment")])
        let world = E(identity: 2, labels: ["reserved:world"])
        let cidr = E(identity: 16_777_217, labels: ["cidr:192.0.2.0/24", "reserved:world-ipv4"])
        func record(_ destination: E, _ address: String, _ names: [String]?, app: String? = nil,
                    verdict: FlowLogRecord.Verdict = .forwarded) -> FlowLogRecord {
            var record = Self.record(source: client, destination: destination, verdict: verdict)
            record.destinationIP = address
            record.destinationNames = names
            record.applicationProtocol = app
            return record
        }
        var builder = ServiceMapBuilder()
        builder.add(contentsOf: [
            record(world, "203.0.113.10", ["api.example.test"], app: "http"),
            record(cidr, "192.0.2.7", ["api.example.test", "www.example.test"], app: "tls", verdict: .audit),
            record(world, "203.0.113.20", nil),
            record(cidr, "192.0.2.8", []),
            record(client, "10.0.0.9", ["web.shop.svc.cluster.local"]),
        ])
        let map = builder.build()
        #expect(map.nodes.map(\.id) == ["shop/web", "cidr:192.0.2.0/24", "fqdn:api.example.test", "world"])
        let api = map.nodes[2]
        #expect(api.kind == .fqdn && api.group == .world && api.title == "api.example.test" && api.subtitle == "FQDN")
        #expect(api.addresses == ["192.0.2.7", "203.0.113.10"] && api.addressCount == 2)
        #expect(api.names == ["api.example.test", "www.example.test"] && api.connectionsIn == 2)
        #expect(map.nodes[1].addresses == ["192.0.2.8"] && map.nodes[3].addresses == ["203.0.113.20"])
        #expect(map.edges.map { "\($0.key) \($0.verdictClass.rawValue) \($0.applicationProtocols)" } == [
            "shop/web→cidr:192.0.2.0/24 80/TCP allowed [:]",
            "shop/web→fqdn:api.example.test 80/TCP allowed [\"http\": 1]",
            "shop/web→fqdn:api.example.test 80/TCP would-be-dropped [\"tls\": 1]",
            "shop/web→shop/web 80/TCP allowed [:]",
            "shop/web→world 80/TCP allowed [:]",
        ])
        let details = MapDetails(node: api).plainText
        #expect(details.contains("\naddresses (2): 192.0.2.7, 203.0.113.10\nnames (2): api.example.test, www.example.test"))
    }

    @Test func serviceBackendsJoinTheirWorkload() {
        typealias E = FlowLogRecord.Endpoint
        let client = E(identity: 300, namespace: "shop", podName: "web-1", workloads: [.init(name: "web", kind: "Deployment")])
        let dnsLabels = ["k8s:io.kubernetes.pod.namespace=kube-system", "k8s:k8s-app=kube-dns"]
        let coredns = E(identity: 265, namespace: "kube-system", podName: "coredns-1", labels: dnsLabels,
                        workloads: [.init(name: "coredns", kind: "Deployment")])
        // What --services writes for the destination: the backends' identity, no pod.
        let backends = E(identity: 265, labels: dnsLabels)
        let orphan = E(identity: 777, labels: ["k8s:io.kubernetes.pod.namespace=shop", "k8s:app=cache"])
        let kubeDNS = FlowLogRecord.ServiceReference(name: "kube-dns", namespace: "kube-system")
        let cache = FlowLogRecord.ServiceReference(name: "cache", namespace: "shop")
        var viaService = Self.record(source: client, destination: backends, port: 53, proto: "UDP")
        viaService.destinationIP = "10.96.0.10"
        viaService.destinationService = kubeDNS
        var toOrphan = Self.record(source: client, destination: orphan, port: 6379)
        toOrphan.destinationService = cache
        let noService = Self.record(source: client, destination: orphan, port: 6380)
        let direct = Self.record(source: client, destination: coredns, port: 53, proto: "UDP")

        // The service's record comes first: its workload is only known later.
        var builder = ServiceMapBuilder()
        builder.add(contentsOf: [viaService, toOrphan, noService, direct])
        let map = builder.build()
        // identity:777 lies in its labels' namespace; nodes sort by group, then id.
        #expect(map.nodes.map(\.id) == ["kube-system/coredns", "identity:777", "shop/cache", "shop/web"])
        let dns = map.nodes[0]
        #expect(dns.kind == .workload && dns.services == ["kube-system/kube-dns"] && dns.connectionsIn == 2)
        #expect(dns.pods == ["kube-system/coredns-1"] && !dns.addresses.contains("10.96.0.10"))
        let edge = try? #require(map.edges.first { $0.key == "shop/web→kube-system/coredns 53/UDP" })
        #expect(edge?.connections == 2 && edge?.kubernetesServices == ["kube-system/kube-dns"])
        #expect(edge?.destinationEndpoints == ["kube-system/coredns-1", "service kube-system/kube-dns (10.96.0.10)"])
        // No workload carries 777: the service gets a node of its own, and without a service the identity.
        let service = map.nodes[2]
        #expect(service.kind == .service && service.title == "cache" && service.group == MapGroup(kind: .namespace, name: "shop"))
        let identity = map.nodes[1]
        #expect(identity.kind == .identity && identity.group == MapGroup(kind: .namespace, name: "shop"))
        #expect(map.edges.map(\.key) == ["shop/web→identity:777 6380/TCP", "shop/web→kube-system/coredns 53/UDP", "shop/web→shop/cache 6379/TCP"])

        var reversed = ServiceMapBuilder()
        reversed.add(contentsOf: [direct, noService, toOrphan, viaService])
        #expect(reversed.build() == map)
    }

    @Test func theRecordsOrderDoesNotMatter() throws {
        let records = try FlowLogReader.readAll(path: MapFixture.demoFlows.path)
        var forward = ServiceMapBuilder(), backward = ServiceMapBuilder(), shuffled = ServiceMapBuilder()
        forward.add(contentsOf: records)
        backward.add(contentsOf: records.reversed())
        var generator = SeededGenerator(seed: 7)
        shuffled.add(contentsOf: records.shuffled(using: &generator))
        let map = forward.build()
        #expect(backward.build() == map)
        #expect(shuffled.build() == map)
        #expect(HTMLMapRenderer.render(shuffled.build(), source: "x") == HTMLMapRenderer.render(map, source: "x"))
        #expect(DOTMapRenderer.render(backward.build()) == DOTMapRenderer.render(map))
    }

    @Test func manyFlowsStayFast() {
        // 200,000 connections among 2,000 addresses: linear work (a quadratic step would not end).
        var builder = ServiceMapBuilder()
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            for i in 0..<200_000 {
                var record = Self.record(source: nil, destination: nil, port: UInt16(80 + i % 7))
                record.sourceIP = "10.1.\(i % 40).\(i % 50)"
                record.destinationIP = "10.2.0.\(i % 13)"
                builder.add(record)
            }
        }
        let map = builder.build()
        #expect(map.flowCount == 200_000)
        #expect(map.edges.reduce(0) { $0 + $1.connections } == 200_000)
        #expect(elapsed < .seconds(60), "\(elapsed)")
    }
}

/// SplitMix64: a fixed shuffle on every platform.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { self.state = seed }
    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
