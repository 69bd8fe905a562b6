import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// The API server's addresses (the endpoints of `default/kubernetes`) and the identities
/// Cilium gives them: host (with `reserved:kube-apiserver`) on the local node, kube-apiserver
/// (7) on a remote node, a labelled CIDR identity outside the cluster.
struct APIServerIdentityTests {
    typealias F = InventoryFixtures

    private func ip(_ text: String) -> IPAddress { IPAddress(text: text)! }

    /// node-a (local, 172.18.0.2) and node-b (172.18.0.3) both run an API server, and one
    /// more answers outside the cluster at 203.0.113.5.
    private func inventory() throws -> Inventory {
        try F.loadPods([
            F.pod("client", labels: ["app": "client"], ips: ["10.244.0.5"], node: "node-a", hostIP: "172.18.0.2"),
            F.pod("apiserver-a", namespace: "kube-system", ips: ["172.18.0.2"], node: "node-a", hostIP: "172.18.0.2",
                  hostNetwork: true),
            F.pod("apiserver-b", namespace: "kube-system", ips: ["172.18.0.3"], node: "node-b", hostIP: "172.18.0.3",
                  hostNetwork: true),
        ])
    }

    private let services = #"""
        {"apiVersion":"v1","kind":"List","items":[
         {"apiVersion":"v1","kind":"Service","metadata":{"name":"kubernetes","namespace":"default"},
          "spec":{"clusterIP":"10.96.0.1","ports":[{"name":"https","port":443,"targetPort":6443}]}},
         {"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"kubernetes","namespace":"default"},
          "subsets":[{"addresses":[{"ip":"172.18.0.2"},{"ip":"172.18.0.3"}],"notReadyAddresses":[{"ip":"172.18.0.9"}]}]},
         {"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
          "metadata":{"name":"kubernetes","namespace":"default","labels":{"kubernetes.io/service-name":"kubernetes"}},
          "addressType":"IPv4","endpoints":[{"addresses":["203.0.113.5"]},
                                            {"addresses":["203.0.113.6"],"conditions":{"ready":false}}]},
         {"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"web","namespace":"shop"},
          "subsets":[{"addresses":[{"ip":"10.244.0.5"}]}]}
        ]}
        """#

    private let policy = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata: {name: to-apiserver, namespace: shop}
        spec:
          endpointSelector: {matchLabels: {app: client}}
          egress:
            - toEntities: [kube-apiserver]
              toPorts: [{ports: [{port: "6443", protocol: TCP}]}]
        """

    @Test func endpointsAndEndpointSlicesInTheServicesFile() throws {
        let loaded = try ServiceLoader.load(json: Data(self.services.utf8), file: "services.json")
        let kubernetes = try #require(loaded.first { $0.isKubernetesAPI })
        #expect(kubernetes.clusterIPs == [ip("10.96.0.1")])
        // Ready addresses only, Endpoints then EndpointSlice, in file order.
        #expect(kubernetes.endpointAddresses == [ip("172.18.0.2"), ip("172.18.0.3"), ip("203.0.113.5")])
        // Endpoints without a Service in the file are kept, with no ClusterIP.
        let web = try #require(loaded.first { $0.name == "web" })
        #expect(web.clusterIPs.isEmpty && web.endpointAddresses == [ip("10.244.0.5")])
        // A services-only file knows no endpoints.
        let bare = try ServiceLoader.load(json: Data(#"{"kind":"ServiceList","items":[{"metadata":{"name":"kubernetes","namespace":"default"}}]}"#.utf8),
                                          file: "services.json")
        #expect(bare[0].endpointAddresses == nil)
        // An EndpointsList alone, and errors that name the field.
        let list = try ServiceLoader.load(json: Data(#"{"kind":"EndpointsList","items":[{"metadata":{"name":"kubernetes","namespace":"default"},"subsets":[{"addresses":[{"ip":"172.18.0.3"}]}]}]}"#.utf8),
                                          file: "endpoints.json")
        #expect(list.map(\.endpointAddresses) == [[ip("172.18.0.3")]])
        func message(_ text: String) -> String? {
            do {
                _ = try ServiceLoader.load(json: Data(text.utf8), file: "services.json")
                return nil
            } catch {
                return error.description
            }
        }
        #expect(message(#"{"kind":"List","items":[{"kind":"Endpoints","metadata":{"name":"a","namespace":"b"},"subsets":[{"addresses":[{"ip":"172.18.0.300"}]}]}]}"#)
            == #"services.json: $.items[0].subsets[0].addresses[0].ip: not an IP address: "172.18.0.300""#)
        #expect(message(#"{"kind":"List","items":[{"kind":"EndpointSlice","metadata":{"name":"a-x","namespace":"b","labels":{"kubernetes.io/service-name":"a"}},"endpoints":[{"addresses":[7]}]}]}"#)
            == "services.json: $.items[0].endpoints[0].addresses[0]: expected a string, found the number 7")
    }

    @Test func theAPIServersAddressesGetTheirIdentities() throws {
        let services = try ServiceLoader.load(json: Data(self.services.utf8), file: "services.json")
        let policies = try PolicyLoader.load(text: self.policy, file: "policies.yaml")
        let tables = try AgentTables.build(inventory: self.inventory(), policies: policies.documents, nodeName: "node-a",
                                           services: services)
        #expect(tables.notices.isEmpty)
        let endpoints = tables.endpoints
        // The local node: host, which gains the label.
        #expect(tables.ipcache.lookup(ip("172.18.0.2")).identity == .host)
        #expect(endpoints.identities[.host] == ["reserved:host", "reserved:kube-apiserver"])
        #expect(endpoints.endpoints[Int(endpoints.nodeEndpoints["node-a"]!)].labels == ["reserved:host", "reserved:kube-apiserver"])
        // A remote node: kube-apiserver (7), no endpoint; Cilium's labels for 7.
        #expect(tables.ipcache.lookup(ip("172.18.0.3")) == IPCacheValue(identity: .kubeAPIServer))
        #expect(endpoints.identities[.kubeAPIServer] == ["reserved:kube-apiserver", "reserved:remote-node"])
        // Outside the cluster: a CIDR identity for the /32 with the label.
        let external = tables.ipcache.lookup(ip("203.0.113.5")).identity
        #expect(external.isLocalScope)
        #expect(endpoints.identities[external] == ["cidr:203.0.113.5/32", "reserved:kube-apiserver", "reserved:world"])
        #expect(tables.ipcache.lookup(ip("203.0.113.6")).identity == .world)

        // toEntities: kube-apiserver allows all three, and nothing else.
        let client = try #require(endpoints.endpoint(namespace: "shop", pod: "client")).identity
        let policy = try #require(tables.compiled.table.policy(for: client))
        for remote in [Identity.host, .kubeAPIServer, external] {
            #expect(policy.lookup(.egress, remote: remote, ipProtocol: 6, port: 6443).decision.outcome == .allowed, "\(remote)")
        }
        for remote in [Identity.remoteNode, .world] {
            #expect(policy.lookup(.egress, remote: remote, ipProtocol: 6, port: 6443).decision.outcome == .denied, "\(remote)")
        }
    }

    @Test func theRemoteNodeEntitySelectsTheAPIServerOnARemoteNode() throws {
        let services = try ServiceLoader.load(json: Data(self.services.utf8), file: "services.json")
        let policies = try PolicyLoader.load(text: self.policy.replacingOccurrences(of: "kube-apiserver", with: "remote-node"),
                                             file: "policies.yaml")
        let tables = try AgentTables.build(inventory: self.inventory(), policies: policies.documents, nodeName: "node-a",
                                           services: services)
        let client = try #require(tables.endpoints.endpoint(namespace: "shop", pod: "client")).identity
        let policy = try #require(tables.compiled.table.policy(for: client))
        #expect(policy.lookup(.egress, remote: .remoteNode, ipProtocol: 6, port: 6443).decision.outcome == .allowed)
        #expect(policy.lookup(.egress, remote: .kubeAPIServer, ipProtocol: 6, port: 6443).decision.outcome == .allowed)
        #expect(policy.lookup(.egress, remote: .host, ipProtocol: 6, port: 6443).decision.outcome == .denied)
    }

    @Test func withoutTheEndpointsOneNoticeNamesThePolicy() throws {
        let policies = try PolicyLoader.load(text: self.policy + "\n---\n" + self.policy.replacingOccurrences(of: "to-apiserver", with: "again"),
                                             file: "policies.yaml")
        let bare = try ServiceLoader.load(json: Data(#"{"kind":"List","items":[{"kind":"Service","metadata":{"name":"kubernetes","namespace":"default"}}]}"#.utf8),
                                          file: "services.json")
        for services in [[], bare] {
            let tables = try AgentTables.build(inventory: self.inventory(), policies: policies.documents, nodeName: "node-a",
                                               services: services)
            #expect(tables.notices == ["policies.yaml: CiliumNetworkPolicy shop/to-apiserver (and 1 more) selects the kube-apiserver entity, but no endpoints of the default/kubernetes service are known, so no address has that identity (pass --services the output of 'kubectl get services,endpoints -A -o json')"])
            #expect(tables.ipcache.lookup(ip("172.18.0.3")).identity == .remoteNode)
            #expect(tables.endpoints.identities[.host] == ["reserved:host"])
        }
        let none = try AgentTables.build(inventory: self.inventory(), policies: [], nodeName: "node-a")
        #expect(none.notices.isEmpty)
    }
}
