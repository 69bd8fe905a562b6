import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// Identity numbers that do not depend on the other label sets (`IdentityAllocator`), and the
/// cluster's own numbers (`--identities`, `ClusterIdentities`).
struct StableIdentityTests {
    typealias F = InventoryFixtures

    /// One pod per name (a name's namespace depends on the name alone: two namespaces).
    static func pods(_ names: [String]) -> [String] {
        names.enumerated().map { index, name in
            F.pod("\(name)-\(index)", namespace: name.utf8.last! % 2 == 0 ? "prod" : "shop", labels: ["app": name],
                  ips: ["10.244.\(index / 200).\(index % 200 + 10)"])
        }
    }

    /// 60 pods of 40 label sets.
    static let apps = (0..<40).map { "app\($0)" } + (0..<20).map { "app\($0 * 2)" }

    /// Label set (canonical text) → number, over the pods of `table`.
    static func numbers(_ table: EndpointTable) -> [String: Identity] {
        var result: [String: Identity] = [:]
        for endpoint in table.endpoints where endpoint.pod != nil {
            result[endpoint.labels.joined(separator: ";")] = endpoint.identity
        }
        return result
    }

    /// Adding a pod of a new label set, or removing every pod of one, leaves every other label
    /// set's number as it was. (Numbered by sorted order, adding `aaa` renumbered them all.)
    @Test func addingOrRemovingPodsRenumbersNoOtherLabelSet() throws {
        let before = Self.numbers(try EndpointTable.build(inventory: F.loadPods(Self.pods(Self.apps)), localNode: nil))
        #expect(before.count == 40)
        for added in ["aaa", "zzz", "app17b", "m"] {
            let after = Self.numbers(try EndpointTable.build(inventory: F.loadPods(Self.pods([added] + Self.apps)), localNode: nil))
            #expect(after.count == before.count + 1)
            for (labels, number) in before { #expect(after[labels] == number, "adding \(added) moved \(labels)") }
        }
        for removed in ["app0", "app13", "app39"] {
            let after = Self.numbers(try EndpointTable.build(inventory: F.loadPods(Self.pods(Self.apps.filter { $0 != removed })),
                                                             localNode: nil))
            #expect(after.count == before.count - 1)
            for (labels, number) in after { #expect(before[labels] == number, "removing \(removed) moved \(labels)") }
        }
    }

    /// Two label sets with the same home: the one whose canonical text sorts first keeps it, the
    /// other moves, and no third set is affected; the moved one returns home when the other goes.
    @Test func aCollisionMovesOnlyTheCollidingSet() throws {
        // Find two label sets with one home (birthday bound: ~300 names for even odds in 65,280).
        var homes: [Identity: [SecurityLabel]] = [:]
        var pair: ([SecurityLabel], [SecurityLabel])?
        for index in 0..<20_000 where pair == nil {
            let labels = [SecurityLabel.k8s("app", "a\(index)")]
            let home = try #require(try IdentityAllocator.allocate(labelSets: [labels]).values.first)
            if let other = homes[home] { pair = (other, labels) } else { homes[home] = labels }
        }
        let (first, second) = try #require(pair)
        let firstText = SecurityLabels.canonical(first), secondText = SecurityLabels.canonical(second)
        let home = try IdentityAllocator.allocate(labelSets: [first])[firstText]!
        let secondAlone = try IdentityAllocator.allocate(labelSets: [second])[secondText]!
        #expect(home == secondAlone)
        let bystander = [SecurityLabel.k8s("app", "bystander")]
        let bystanderAlone = try IdentityAllocator.allocate(labelSets: [bystander])[SecurityLabels.canonical(bystander)]!
        let both = try IdentityAllocator.allocate(labelSets: [second, bystander, first])
        let (winner, loser) = firstText.utf8.lexicographicallyPrecedes(secondText.utf8) ? (firstText, secondText) : (secondText, firstText)
        #expect(both[winner] == home)
        #expect(both[loser] != home && both[loser]! >= .firstAllocated && both[loser]! <= IdentityAllocator.lastAllocated)
        #expect(both[SecurityLabels.canonical(bystander)] == bystanderAlone)
        // A number the cluster uses is never given: the home's owner moves like a loser.
        let avoided = try IdentityAllocator.allocate(labelSets: [first], taken: [home])
        #expect(avoided[firstText] != home)
    }

    @Test func clusterNumbersAreKeptAndAvoided() throws {
        let cluster = try ClusterIdentities.load(sources: [(file: "ids.json", data: Data(#"""
            {"apiVersion":"v1","kind":"List","items":[
              {"apiVersion":"cilium.io/v2","kind":"CiliumIdentity","metadata":{"name":"70000"},
               "security-labels":{"k8s:app":"a","k8s:io.cilium.k8s.policy.cluster":"default","k8s:io.kubernetes.pod.namespace":"shop",
                                  "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name":"shop"}}]}
            """#.utf8))])
        #expect(cluster.numbers == [Identity(70000)])
        var inventory = try F.loadPods([F.pod("a", labels: ["app": "a"], ips: ["10.244.0.5"]),
                                        F.pod("b", labels: ["app": "b"], ips: ["10.244.0.6"])])
        let without = try EndpointTable.build(inventory: inventory, localNode: nil)
        inventory.clusterIdentities = cluster
        let with = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(with.endpoints[1].identity == Identity(70000))  // a cluster id above 65535 (cluster-mesh) is kept
        #expect(with.endpoints[2].identity == without.endpoints[2].identity)
        #expect(with.identities[Identity(70000)]?.first == "k8s:app=a")
        // The home of b taken by the cluster (for a label set no pod has): b moves.
        inventory.clusterIdentities.numbers.insert(without.endpoints[2].identity)
        let moved = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(moved.endpoints[2].identity != without.endpoints[2].identity)
    }

    @Test func endpointsGiveTheirIdentityByNameOrAddress() throws {
        let cluster = try ClusterIdentities.load(sources: [(file: "ceps.json", data: Data(#"""
            {"kind":"CiliumEndpointList","items":[
              {"metadata":{"name":"a","namespace":"shop"},"status":{"identity":{"id":4242,"labels":["k8s:app=a","k8s:extra=x"]},
               "networking":{"addressing":[{"ipv4":"10.244.9.9"}]}}},
              {"metadata":{"name":"renamed","namespace":"shop"},"status":{"identity":{"id":4343},
               "networking":{"addressing":[{"ipv4":"10.244.0.6","ipv6":"fd00::6"}]}}},
              {"metadata":{"name":"pending","namespace":"shop"},"status":{}},
              {"metadata":{"name":"health","namespace":"kube-system"},"status":{"identity":{"id":4,"labels":["reserved:health"]}}}]}
            """#.utf8))])
        #expect(cluster.byEndpoint == ["shop/a": Identity(4242), "shop/renamed": Identity(4343)])
        #expect(cluster.byAddress[IPAddress(text: "fd00::6")!] == Identity(4343))
        #expect(cluster.byLabels == ["k8s:app=a;k8s:extra=x": Identity(4242)])
        var inventory = try F.loadPods([F.pod("a", labels: ["app": "a"], ips: ["10.244.0.5"]),
                                        F.pod("b", labels: ["app": "b"], ips: ["10.244.0.6"]),
                                        F.pod("c", labels: ["app": "a"], ips: ["10.244.0.7"])])
        inventory.clusterIdentities = cluster
        let table = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(table.endpoints[1].identity == Identity(4242))  // by name
        #expect(table.endpoints[2].identity == Identity(4343))  // by address
        #expect(table.endpoints[3].identity == Identity(4242))  // same label set as a
        #expect(table.warnings.isEmpty)
    }

    /// One number names one label set: a CiliumEndpoint listing other labels for a CiliumIdentity's
    /// number does not give two label sets that number.
    @Test func oneNumberNamesOneLabelSet() throws {
        let labels = { (app: String) in
            ["k8s:app=\(app)", "k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=shop",
             "k8s:io.cilium.k8s.policy.cluster=default", "k8s:io.kubernetes.pod.namespace=shop"]
        }
        let identity = #"{"kind":"CiliumIdentity","metadata":{"name":"500"},"security-labels":{"# + labels("a").map { label in
            let parts = label.split(separator: "=", maxSplits: 1)
            return "\"\(parts[0])\":\"\(parts[1])\""
        }.joined(separator: ",") + "}}"
        let endpoint = #"{"kind":"CiliumEndpoint","metadata":{"name":"x","namespace":"shop"},"status":{"identity":{"id":500,"labels":["#
            + labels("b").map { "\"\($0)\"" }.joined(separator: ",") + "]}}}"
        var inventory = try F.loadPods([F.pod("a", labels: ["app": "a"], ips: ["10.244.0.5"]),
                                        F.pod("b", labels: ["app": "b"], ips: ["10.244.0.6"])])
        inventory.clusterIdentities = try ClusterIdentities.load(sources: [(file: "i.json", data: Data(identity.utf8)),
                                                                           (file: "e.json", data: Data(endpoint.utf8))])
        let table = try EndpointTable.build(inventory: inventory, localNode: nil)
        #expect(table.endpoints[1].identity == Identity(500))
        #expect(table.endpoints[2].identity != Identity(500))
        #expect(table.warnings.count == 1 && table.warnings[0].hasPrefix("--identities: identity 500 names the labels k8s:app=a;"),
                "\(table.warnings)")
    }

    @Test(arguments: [
        (#"{"kind":"List","items":[{"kind":"CiliumIdentity","metadata":{"name":"web"},"security-labels":{}}]}"#,
         #"bad.json: $.items[0].metadata.name: expected the numeric identity (1-16777215), found "web""#),
        (#"{"kind":"List","items":[{"kind":"CiliumIdentity","metadata":{"name":"300"}}]}"#,
         #"bad.json: $.items[0].security-labels: missing"#),
        (#"{"kind":"List","items":[{"kind":"CiliumIdentity","metadata":{"name":"300"},"security-labels":{"app":"web"}}]}"#,
         #"bad.json: $.items[0].security-labels.app: expected a label key "source:key" (k8s:app), found "app""#),
        (#"{"kind":"List","items":[{"kind":"CiliumIdentity","metadata":{"name":"300"},"security-labels":{"k8s:app":7}}]}"#,
         #"bad.json: $.items[0].security-labels["k8s:app"]: expected a string, found the number 7"#),
        (#"{"kind":"CiliumEndpoint","metadata":{"name":"a","namespace":"x"},"status":{"identity":{"id":"300"}}}"#,
         #"bad.json: $.status.identity.id: expected an integer, found a string "300""#),
        (#"{"kind":"CiliumEndpoint","metadata":{"name":"a","namespace":"x"},"status":{"identity":{"id":300,"labels":["app"]}}}"#,
         #"bad.json: $.status.identity.labels[0]: expected a label "source:key=value" (k8s:app=web), found "app""#),
        (#"{"kind":"CiliumEndpoint","metadata":{"name":"a","namespace":"x"},"status":{"identity":{"id":300},"networking":{"addressing":[{"ipv4":"10.0.0.300"}]}}}"#,
         #"bad.json: $.status.networking.addressing[0].ipv4: not an IP address: "10.0.0.300""#),
        (#"{"kind":"CiliumEndpoint","metadata":{"name":"a","namespace":"x"},"status":{"identity":{"id":16777216}}}"#,
         #"bad.json: $.status.identity.id: expected a numeric identity 1-16777215, found 16777216"#),
        (#"{"kind":"PodList","items":[]}"#,
         #"bad.json: $.kind: expected a List of CiliumIdentity, CiliumEndpoint (kubectl get ciliumidentities,ciliumendpoints -A -o json), found "PodList""#),
    ])
    func malformedFilesNameFileAndField(_ text: String, _ message: String) {
        do {
            _ = try ClusterIdentities.load(sources: [(file: "bad.json", data: Data(text.utf8))])
            Issue.record("expected an error for \(text)")
        } catch {
            #expect(error.description == message)
        }
    }
}
