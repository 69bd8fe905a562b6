import Agent
import Datapath
import FlowCore
import Foundation
import Testing

struct IPCacheEntriesTests {
    typealias F = InventoryFixtures

    private func ip(_ text: String) -> IPAddress { IPAddress(text: text)! }

    private func dualStackTable() throws -> EndpointTable {
        let pods = F.write(F.podList([
            F.pod("web-1", labels: ["app": "web"], ips: ["10.244.0.5", "fd00:10:244::5"], node: "node-a", hostIP: "172.18.0.2"),
            F.pod("web-2", labels: ["app": "web"], ips: ["10.244.1.5", "fd00:10:244::1:5"], node: "node-b", hostIP: "172.18.0.3"),
            F.pod("proxy", ips: ["172.18.0.3"], node: "node-b", hostIP: "172.18.0.3", hostNetwork: true),
        ]))
        let nodes = F.write(#"{"kind":"List","items":[{"kind":"Node","metadata":{"name":"node-a"},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.2"},{"type":"InternalIP","address":"fc00:f853:ccd:e793::2"}]}},{"kind":"Node","metadata":{"name":"node-b"},"status":{"addresses":[{"type":"InternalIP","address":"172.18.0.3"}]}}]}"#,
                            name: "nodes.json")
        return try EndpointTable.build(inventory: InventoryLoader.load(pods: pods, namespaces: nil, nodes: nodes), localNode: "node-a")
    }

    @Test func podsNodesAndWorldInDualStack() throws {
        let table = try dualStackTable()
        #expect(table.isDualStack)
        let cache = table.ipCache()
        let web = table.endpoints[1].identity
        #expect(web >= .firstAllocated && web == table.endpoints[2].identity)

        #expect(cache.lookup(ip("10.244.0.5")) == IPCacheValue(identity: web, endpoint: 1, isLocalEndpoint: true))
        #expect(cache.lookup(ip("fd00:10:244::5")) == IPCacheValue(identity: web, endpoint: 1, isLocalEndpoint: true))
        #expect(cache.lookup(ip("10.244.1.5")) == IPCacheValue(identity: web, endpoint: 2, isLocalEndpoint: false))
        // Endpoints: 0 none, 1-3 pods, 4 node-a, 5 node-b.
        #expect(table.endpoints.count == 6)
        #expect(table.endpoints[4].nodeName == "node-a" && table.endpoints[4].labels == ["reserved:host"])
        #expect(cache.lookup(ip("172.18.0.2")) == IPCacheValue(identity: .host, endpoint: 4, isLocalEndpoint: true))
        #expect(cache.lookup(ip("fc00:f853:ccd:e793::2")) == IPCacheValue(identity: .host, endpoint: 4, isLocalEndpoint: true))
        #expect(cache.lookup(ip("172.18.0.3")) == IPCacheValue(identity: .remoteNode, endpoint: 5, isLocalEndpoint: false))
        #expect(cache.lookup(ip("198.18.0.1")) == IPCacheValue(identity: .worldIPv4))
        #expect(cache.lookup(ip("2001:db8::1")) == IPCacheValue(identity: .worldIPv6))
        #expect(table.warnings.isEmpty)
    }

    @Test func singleStackWorldIsTwo() throws {
        let table = try EndpointTable.build(inventory: F.loadPods([F.pod("a", ips: ["10.244.0.5"])]), localNode: nil)
        #expect(!table.isDualStack)
        let entries = table.ipCacheEntries(extraCIDRs: [])
        #expect(entries.filter { $0.prefix.length == 0 }.map(\.value.identity) == [.world, .world])
        #expect(table.ipCache().lookup(ip("8.8.8.8")).identity == .world)
        #expect(table.ipCache().lookup(ip("2001:db8::1")).identity == .world)
    }

    @Test func cidrIdentitiesAreLocalScopeAndLabelled() throws {
        var table = try dualStackTable()
        let cidrs: [IPPrefix] = [
            IPPrefix(address: ip("10.0.0.0"), length: 8), IPPrefix(address: ip("192.0.2.7"), length: 24),
            IPPrefix(address: ip("2001:db8::"), length: 32), IPPrefix(address: ip("10.0.0.0"), length: 8),
            IPPrefix(host: ip("10.244.0.5")), IPPrefix(address: ip("0.0.0.0"), length: 0),
        ]
        let allocated = table.addCIDRIdentities(cidrs)
        #expect(allocated.map(\.identity.rawValue) == [0x0100_0001, 0x0100_0002, 0x0100_0003, 0x0100_0004])
        #expect(allocated.allSatisfy { $0.identity.isLocalScope })
        #expect(table.identities[Identity(0x0100_0001)] == ["cidr:10.0.0.0/8", "reserved:world-ipv4"])
        #expect(table.identities[Identity(0x0100_0002)] == ["cidr:10.244.0.5/32", "reserved:world-ipv4"])
        #expect(table.identities[Identity(0x0100_0003)] == ["cidr:192.0.2.0/24", "reserved:world-ipv4"])
        #expect(table.identities[Identity(0x0100_0004)] == ["cidr:2001-db8--0/32", "reserved:world-ipv6"])

        let cache = IPCache(table.ipCacheEntries(extraCIDRs: cidrs))
        #expect(cache.lookup(ip("10.9.9.9")).identity == Identity(0x0100_0001))
        #expect(cache.lookup(ip("10.9.9.9")).endpoint == 0)
        #expect(cache.lookup(ip("192.0.2.200")).identity == Identity(0x0100_0003))
        #expect(cache.lookup(ip("2001:db8:1::1")).identity == Identity(0x0100_0004))
        // Pods inside a CIDR keep their own identity (longest match), and a CIDR equal to a
        // pod address does not replace it.
        #expect(cache.lookup(ip("10.244.0.5")).identity == table.endpoints[1].identity)
        #expect(cache.lookup(ip("10.244.1.5")).identity == table.endpoints[1].identity)
        #expect(!table.endpoints[1].identity.isReserved)
        #expect(cache.lookup(ip("198.18.0.1")).identity == .worldIPv4)
    }

    @Test func nodeAddressClaimedByAPodIsAWarning() throws {
        let pods = F.write(F.podList([F.pod("odd", ips: ["172.18.0.2"], node: "node-a", hostIP: "172.18.0.2")]))
        let table = try EndpointTable.build(inventory: InventoryLoader.load(pods: pods, namespaces: nil, nodes: nil), localNode: nil)
        #expect(table.warnings == ["inventory: node node-a: 172.18.0.2 is claimed by shop/odd and node node-a; using shop/odd"])
        #expect(table.ipCache().lookup(ip("172.18.0.2")).identity == table.endpoints[1].identity)
        #expect(table.endpoints[1].podName == "odd" && !table.endpoints[1].identity.isReserved)
    }

    @Test func demoInventoryResolves() throws {
        let inventory = try InventoryLoader.load(pods: F.demoPods, namespaces: nil, nodes: nil)
        let table = try EndpointTable.build(inventory: inventory, localNode: "kind-worker-0")
        let cache = table.ipCache()
        let coredns = cache.lookup(ip("10.244.0.2"))
        #expect(table.endpoints[Int(coredns.endpoint)].podName == "coredns-cdp5fjv8tn-9c6kf" && coredns.isLocalEndpoint)
        #expect(cache.lookup(ip("fd00:10:244::1:2")).identity == coredns.identity)
        #expect(!cache.lookup(ip("fd00:10:244::1:2")).isLocalEndpoint)
        #expect(cache.lookup(ip("172.18.0.2")).identity == .host)
        #expect(cache.lookup(ip("172.18.0.4")).identity == .remoteNode)
        #expect(cache.lookup(ip("198.18.5.5")).identity == .worldIPv4)
        #expect(cache.lookup(ip("10.96.0.10")).identity == .worldIPv4)
    }
}
