import Agent
import Foundation
import Testing

/// Forms real policy files take (Policies/real/) that the loader once refused or reported
/// badly: host policies, port-less ports, VRRP and IGMP, the same object twice, a directory
/// with bad files, templates and rule arrays.
@Suite struct PolicyRealFormsTests {
    typealias S = PolicyTestSupport

    static let hostPolicy = """
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata: {name: host-fw}
        spec:
          description: "lock down the nodes"
          nodeSelector: {matchLabels: {type: ingress-worker}}
          ingress: [{fromEntities: [cluster], toPorts: [{ports: [{port: "22", protocol: TCP}]}]}]
          egress:
          - toPorts:
            - ports:
              - {port: "6443", protocol: TCP}
              - protocol: VRRP
              - {port: "0", protocol: IGMP}
              - protocol: UDP
              - {port: "", protocol: ANY}
        """

    @Test func hostPolicyIsAcceptedWithOneNotice() throws {
        let set = try S.load(Self.hostPolicy + "\n---\n" + Self.hostPolicy.replacingOccurrences(of: "host-fw", with: "host-fw-2"),
                             file: "host.yaml")
        #expect(set.documents.map(\.name) == ["host-fw", "host-fw-2"])
        #expect(S.ciliumRules(set)[0].nodeSelector == LabelSelector(matchLabels: ["type": "ingress-worker"]))
        // Said once for the load, naming the first place and how many more.
        #expect(set.notices == [
            "read but not evaluated: host policies (nodeSelector): flowmon judges pods' traffic only; these rules select no endpoint and the nodes' own traffic is not judged; at host.yaml: document 1: spec.nodeSelector (line 6), and 1 more place",
        ])
    }

    @Test func portsWithoutPortAndTheExtendedProtocols() throws {
        let set = try S.load(Self.hostPolicy)
        let ports = S.ciliumRules(set)[0].egress![0].toPorts![0].ports
        #expect(ports == [
            PortProtocol(port: .number(6443), protocol: .tcp),
            PortProtocol(port: .number(0), protocol: .vrrp),
            PortProtocol(port: .number(0), protocol: .igmp),
            PortProtocol(port: .number(0), protocol: .udp),
            PortProtocol(port: .number(0), protocol: .any),
        ])
        // Compiled as Cilium does: VRRP is IP protocol 112, IGMP 2, each without a port.
        #expect(TransportProtocol.allCases.map(\.rawValue) == ["TCP", "UDP", "SCTP", "VRRP", "IGMP", "ANY"])
        #expect(!TransportProtocol.vrrp.hasPorts && !TransportProtocol.igmp.hasPorts && TransportProtocol.udp.hasPorts)
    }

    static let webPolicy = """
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: web, namespace: prod, labels: {copy: "1"}}
        spec:
          podSelector: {matchLabels: {app: web}}
          ingress: [{from: [{podSelector: {}}]}]
        """

    @Test func identicalDocumentsAreOnePolicy() throws {
        // kubectl apply of the same object twice leaves one object: not a duplicate.
        let set = try S.load(Self.webPolicy + "\n---\n" + Self.webPolicy.replacingOccurrences(of: "copy: \"1\"", with: "copy: \"2\""),
                             file: "twice.yaml")
        #expect(set.documents.count == 1)
        #expect(set.notices == [
            "twice.yaml: skipped: NetworkPolicy 'prod/web' (document 2): identical to twice.yaml (document 1, line 3); applying the same object twice is one policy",
        ])
        // Two different specs under one name stay an error.
        let different = Self.webPolicy + "\n---\n" + Self.webPolicy.replacingOccurrences(of: "app: web", with: "app: api")
        #expect(S.errorLine(different, file: "twice.yaml")
            == "twice.yaml: document 2: metadata.name: duplicate NetworkPolicy 'prod/web': already defined differently in twice.yaml (document 1, line 3) (line 10)")
    }

    @Test func aDirectoryReportsEveryBadFileAndLoadsTheRest() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let files = [
            "a.yaml": Self.webPolicy,
            // A good document, then a bad one: the file adds nothing, not even its notices or names.
            "b.yaml": "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: shared}\n"
                + "spec: {endpointSelector: {}, egress: [{toFQDNs: [{matchName: a.example}]}]}\n---\n"
                + "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: b}\nspec: {endpointSelector: {}, ingress: [{fromEndpoint: []}]}\n",
            "c.yaml": Self.webPolicy.replacingOccurrences(of: "name: web", with: "name: api"),
            "d.json": "[{\"endpointSelector\": {}}]",
            "e.yaml": "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: shared}\nspec: {endpointSelector: {}}\n",
        ]
        for (name, text) in files { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let set = PolicyLoader.loadEach(paths: [directory.path, directory.path + "/missing.yaml"])
        #expect(set.documents.map(\.name) == ["web", "api", "shared"])
        #expect(set.notices.isEmpty)
        #expect(set.errors.map(\.file) == [directory.path + "/b.yaml", directory.path + "/d.json", directory.path + "/missing.yaml"])
        // load(paths:) reads every file too, and throws the first error with the others.
        do {
            _ = try PolicyLoader.load(paths: [directory.path])
            Issue.record("loaded without error")
        } catch {
            #expect(error.lines.count == 2)
            #expect(error.lines[0].hasPrefix(directory.path + "/b.yaml: document 2: spec.ingress[0].fromEndpoint: unknown field"))
            #expect(error.lines[1].hasPrefix(directory.path + "/d.json: document 1: a JSON rule array"))
        }
    }

    @Test(arguments: [
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: \"{{.Name}}\"\nspec: {endpointSelector: {}}",
         "t.yaml: this looks like a Go/Helm template ('{{.Name}}'), not a policy: render it first (helm template, or the tool that fills it in) and check the output (line 4)"),
        ("# {{ not this one }}\nspec:\n  egress:\n  - toCIDR: [{{ .ExternalCIDR }}]\n",
         "t.yaml: this looks like a Go/Helm template ('{{ .ExternalCIDR }}'), not a policy: render it first (helm template, or the tool that fills it in) and check the output (line 4)"),
        ("[{\n  \"labels\": [{\"key\": \"name\", \"value\": \"r\"}],\n  \"endpointSelector\": {\"matchLabels\": {\"app\": \"a\"}}\n}]",
         "t.yaml: document 1: a JSON rule array of the old `cilium policy import` format, not a Kubernetes object: wrap the rules in a CiliumNetworkPolicy (apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata.name, and the rules as its specs) (line 1)"),
        ("- a\n- b\n",
         "t.yaml: document 1: a list of 2 items, not a Kubernetes object: flowmon reads objects with apiVersion and kind (several in one file as YAML documents separated by --- or as a kind: List) (line 1)"),
    ] as [(String, String)])
    func formatsThatAreNotPolicies(text: String, expected: String) {
        #expect(S.errorLine(text) == expected)
    }

    @Test func onlyKafkaL7ProtoAndTLSTerminationAreNoticed() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              egress:
              - toPorts: [{ports: [{port: "53", protocol: ANY}], rules: {dns: [{matchPattern: "*"}]}}]
              - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]
              - toPorts: [{ports: [{port: "443"}], serverNames: [a.example.com]}]
              - toPorts: [{ports: [{port: "9092", protocol: TCP}], rules: {kafka: [{topic: t}]}}]
              - toPorts: [{ports: [{port: "9000", protocol: TCP}], rules: {l7proto: r2d2, l7: [{cmd: READ}]}}]
              - toPorts: [{ports: [{port: "8443", protocol: TCP}], terminatingTLS: {secret: {name: s}}}]
            """), file: "l7.yaml")
        #expect(set.notices == [
            "read but not evaluated: Kafka and l7proto rules (toPorts.rules: kafka, l7proto, l7): flowmon parses neither Kafka nor generic L7 protocols; every request on their ports is allowed; at l7.yaml: document 1: spec.egress[3].toPorts[0].rules (line 11), and 1 more place",
            "read but not evaluated: TLS and listener settings (toPorts: terminatingTLS, originatingTLS, listener): their ports are judged without them; at l7.yaml: document 1: spec.egress[5].toPorts[0].terminatingTLS (line 13)",
        ])
    }
}
