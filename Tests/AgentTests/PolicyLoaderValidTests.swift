import Agent
import L7
import FlowCore
import Testing

/// Valid inputs and the model values they must give.
@Suite struct PolicyLoaderValidTests {
    typealias S = PolicyTestSupport

    @Test func cnpBasics() throws {
        let set = try S.load("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata:
              name: web
            spec:
              description: allow front
              endpointSelector:
                matchLabels: {app: web, "k8s:tier": front}
              enableDefaultDeny: {ingress: false}
            """)
        #expect(set.documents.count == 1)
        #expect(set.notices.isEmpty)
        let doc = set.documents[0]
        #expect(doc.kind == .ciliumNetworkPolicy)
        #expect(doc.name == "web")
        #expect(doc.namespace == "default")
        #expect(doc.source == PolicySource(file: "t.yaml", documentIndex: 1))
        let rule = S.ciliumRules(set)[0]
        #expect(rule.endpointSelector == LabelSelector(matchLabels: ["app": "web", "k8s:tier": "front"]))
        #expect(rule.nodeSelector == nil)
        #expect(rule.ingress == nil && rule.egress == nil && rule.ingressDeny == nil && rule.egressDeny == nil)
        #expect(rule.enableDefaultDenyIngress == false)
        #expect(rule.enableDefaultDenyEgress == nil)
        #expect(rule.description == "allow front")
        #expect(rule.index == 0)
    }

    /// nil (absent), [] (empty) and [{}] (one empty selector) stay apart.
    @Test(arguments: [
        ("ingress: []", [CiliumIngressRule]()),
        ("ingress: [{}]", [CiliumIngressRule()]),
        ("ingress: [{fromEndpoints: []}]", [CiliumIngressRule(fromEndpoints: [])]),
        ("ingress: [{fromEndpoints: [{}]}]", [CiliumIngressRule(fromEndpoints: [LabelSelector()])]),
        ("ingress: [{fromEndpoints: ~, toPorts: [{ports: [{port: '0'}]}]}]",
         [CiliumIngressRule(toPorts: [PortRule(ports: [PortProtocol(port: .number(0))])])]),
        ("ingress: [{toPorts: [{}]}]", [CiliumIngressRule(toPorts: [PortRule(ports: [])])]),
    ] as [(String, [CiliumIngressRule])])
    func nilEmptyAndEmptySelector(body: String, expected: [CiliumIngressRule]) throws {
        let set = try S.load(S.cnp("  endpointSelector: {}\n  " + body))
        #expect(S.ciliumRules(set)[0].ingress == expected)
    }

    @Test func absentIngressIsNil() throws {
        let set = try S.load(S.cnp("  endpointSelector: {}\n  ingress: null\n  egress: []"))
        #expect(S.ciliumRules(set)[0].ingress == nil)
        #expect(S.ciliumRules(set)[0].egress == [])
    }

    @Test func specAndSpecs() throws {
        let set = try S.load("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: multi, namespace: prod}
            spec:
              endpointSelector: {matchLabels: {app: a}}
            specs:
            - endpointSelector: {matchLabels: {app: b}}
              egressDeny: [{toEntities: [world]}]
            - endpointSelector: {matchLabels: {app: c}}
              ingressDeny: [{fromEntities: [cluster, remote-node, kube-apiserver]}]
            """)
        let rules = S.ciliumRules(set)
        #expect(rules.map(\.index) == [0, 1, 2])
        #expect(rules.map { $0.endpointSelector?.matchLabels["app"] } == ["a", "b", "c"])
        #expect(rules[1].egressDeny == [CiliumEgressRule(toEntities: [.world])])
        #expect(rules[2].ingressDeny == [CiliumIngressRule(fromEntities: [.cluster, .remoteNode, .kubeAPIServer])])
        #expect(set.documents[0].namespace == "prod")
    }

    @Test func specsOnly() throws {
        let set = try S.load("""
            apiVersion: cilium.io/v2
            kind: CiliumNetworkPolicy
            metadata: {name: only-specs}
            specs:
            - endpointSelector: {}
            """)
        #expect(S.ciliumRules(set).map(\.index) == [1])
    }

    @Test func portsNamedRangesProtocols() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              ingress:
              - toPorts:
                - ports:
                  - port: "80"
                  - port: 8080
                    endPort: 8090
                    protocol: TCP
                  - port: HTTP-Alt
                  - {port: "53", protocol: UDP}
                  - {port: "9000", protocol: SCTP, endPort: 0}
                  - {port: "1", protocol: ANY}
                  - {port: "2", protocol: ""}
            """))
        let rule = S.ciliumRules(set)[0].ingress![0].toPorts![0]
        #expect(!rule.hasL7Rules)
        #expect(rule.ports == [
            PortProtocol(port: .number(80)),
            PortProtocol(port: .number(8080), endPort: 8090, protocol: .tcp),
            PortProtocol(port: .name("http-alt")),
            PortProtocol(port: .number(53), protocol: .udp),
            PortProtocol(port: .number(9000), protocol: .sctp),
            PortProtocol(port: .number(1), protocol: .any),
            PortProtocol(port: .number(2), protocol: .any),
        ])
    }

    @Test func emptyL7RulesAreNotL7() throws {
        let set = try S.load(S.cnp("  endpointSelector: {}\n  egress: [{toPorts: [{ports: [{port: '53'}], rules: {}}]}]"))
        #expect(S.ciliumRules(set)[0].egress![0].toPorts![0].hasL7Rules == false)
    }

    @Test(arguments: [
        ("{type: 8}", ICMPField(family: .ipv4, type: 8)),
        ("{type: '0'}", ICMPField(family: .ipv4, type: 0)),
        ("{type: EchoRequest}", ICMPField(family: .ipv4, type: 8)),
        ("{family: IPv6, type: EchoRequest}", ICMPField(family: .ipv6, type: 128)),
        ("{type: EchoReply}", ICMPField(family: .ipv4, type: 0)),
        ("{family: IPv6, type: EchoReply}", ICMPField(family: .ipv6, type: 129)),
        ("{type: DestinationUnreachable}", ICMPField(family: .ipv4, type: 3)),
        ("{family: IPv6, type: DestinationUnreachable}", ICMPField(family: .ipv6, type: 1)),
        ("{type: TimeExceeded}", ICMPField(family: .ipv4, type: 11)),
        ("{family: IPv6, type: TimeExceeded}", ICMPField(family: .ipv6, type: 3)),
        ("{type: ParameterProblem}", ICMPField(family: .ipv4, type: 12)),
        ("{family: IPv6, type: ParameterProblem}", ICMPField(family: .ipv6, type: 4)),
        ("{type: Redirect}", ICMPField(family: .ipv4, type: 5)),
        ("{family: IPv6, type: RedirectMessage}", ICMPField(family: .ipv6, type: 137)),
        ("{type: RouterAdvertisement}", ICMPField(family: .ipv4, type: 9)),
        ("{family: IPv6, type: RouterAdvertisement}", ICMPField(family: .ipv6, type: 134)),
        ("{type: RouterSelection}", ICMPField(family: .ipv4, type: 10)),
        ("{family: IPv6, type: RouterSolicitation}", ICMPField(family: .ipv6, type: 133)),
        ("{family: IPv6, type: NeighborSolicitation}", ICMPField(family: .ipv6, type: 135)),
        ("{family: IPv6, type: NeighborAdvertisement}", ICMPField(family: .ipv6, type: 136)),
        ("{type: Timestamp}", ICMPField(family: .ipv4, type: 13)),
        ("{type: TimestampReply}", ICMPField(family: .ipv4, type: 14)),
        ("{family: IPv6, type: 255}", ICMPField(family: .ipv6, type: 255)),
    ] as [(String, ICMPField)])
    func icmpTypes(field: String, expected: ICMPField) throws {
        let set = try S.load(S.cnp("  endpointSelector: {}\n  egress: [{icmps: [{fields: [\(field)]}]}]"))
        #expect(S.ciliumRules(set)[0].egress![0].icmps == [ICMPRule(fields: [expected])])
    }

    @Test func entitiesAllCases() throws {
        let names = Entity.allCases.map(\.rawValue).joined(separator: ", ")
        let set = try S.load(S.cnp("  endpointSelector: {}\n  ingress: [{fromEntities: [\(names)]}]"))
        #expect(S.ciliumRules(set)[0].ingress![0].fromEntities == Entity.allCases)
    }

    @Test func cidrsAndCIDRSets() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              egress:
              - toCIDR: [10.0.0.0/8, 192.168.1.7, "2001:db8::/32", 10.1.2.3/16]
              - toCIDRSet:
                - cidr: 0.0.0.0/0
                  except: [10.0.0.0/8, 172.16.0.0/12, 0.0.0.0/0]
                - cidr: 2001:db8::/32
                  except: ["2001:db8:1::/48"]
            """))
        let egress = S.ciliumRules(set)[0].egress!
        let cidrs = egress[0].toCIDR!
        #expect(cidrs.map(\.text) == ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32", "10.1.2.3/16"])
        #expect(cidrs[0].prefix.address == IPAddress(ipv4: 0x0a00_0000) && cidrs[0].prefix.length == 8 && cidrs[0].isIPv4)
        #expect(cidrs[1].prefix.address == IPAddress(ipv4: 0xc0a8_0107) && cidrs[1].prefix.length == 32)
        #expect(cidrs[2].prefix.address == IPAddress(high: 0x2001_0db8_0000_0000, low: 0) && cidrs[2].prefix.length == 32 && !cidrs[2].isIPv4)
        // Cilium masks host bits silently; the text stays as written.
        #expect(cidrs[3].prefix.address == IPAddress(ipv4: 0x0a01_0000) && cidrs[3].prefix.length == 16)
        let sets = egress[1].toCIDRSet!
        #expect(sets.count == 2)
        #expect(sets[0].cidr.prefix.length == 0 && sets[0].except.map(\.text) == ["10.0.0.0/8", "172.16.0.0/12", "0.0.0.0/0"])
        #expect(sets[1].except[0].prefix.address == IPAddress(high: 0x2001_0db8_0001_0000, low: 0))
        #expect(sets[1].except[0].prefix.length == 48)
    }

    @Test func selectorsWithExpressionsAndSources() throws {
        let set = try S.load(S.cnp("""
              endpointSelector:
                matchExpressions:
                - {key: "k8s:io.kubernetes.pod.namespace", operator: In, values: [prod, staging]}
                - {key: app.kubernetes.io/name, operator: NotIn, values: [db]}
                - {key: "any:team", operator: Exists}
                - {key: "reserved:host", operator: DoesNotExist, values: []}
              ingress:
              - fromEndpoints: [{matchLabels: {"reserved:host": ""}}, {matchLabels: {"cidr:10.0.0.0/8": ""}}]
            """))
        let rule = S.ciliumRules(set)[0]
        #expect(rule.endpointSelector?.matchExpressions == [
            LabelSelectorRequirement(key: "k8s:io.kubernetes.pod.namespace", operator: .in, values: ["prod", "staging"]),
            LabelSelectorRequirement(key: "app.kubernetes.io/name", operator: .notIn, values: ["db"]),
            LabelSelectorRequirement(key: "any:team", operator: .exists, values: []),
            LabelSelectorRequirement(key: "reserved:host", operator: .doesNotExist, values: []),
        ])
        #expect(rule.ingress![0].fromEndpoints == [LabelSelector(matchLabels: ["reserved:host": ""]),
                                                   LabelSelector(matchLabels: ["cidr:10.0.0.0/8": ""])])
    }

    @Test func clusterwideWithNodeSelector() throws {
        let set = try S.load("""
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata: {name: host-fw}
            spec:
              nodeSelector: {matchLabels: {"kubernetes.io/os": linux}}
              ingress: [{fromNodes: [{}], toPorts: [{ports: [{port: "22", protocol: TCP}]}]}]
            """)
        let doc = set.documents[0]
        #expect(doc.kind == .ciliumClusterwideNetworkPolicy)
        #expect(doc.namespace == nil)
        let rule = S.ciliumRules(set)[0]
        #expect(rule.endpointSelector == nil)
        #expect(rule.nodeSelector == LabelSelector(matchLabels: ["kubernetes.io/os": "linux"]))
        #expect(rule.ingress![0].fromNodes == [LabelSelector()])
    }

    @Test func unevaluatedFieldsGiveNotices() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              egress:
              - toFQDNs: [{matchName: example.com}, {matchPattern: "*.example.org"}]
                toPorts: [{ports: [{port: "443"}]}]
              - toGroups: [{aws: {securityGroupsIds: [sg-1]}}]
              - toServices: [{k8sService: {serviceName: db, namespace: prod}}]
              - toCIDRSet: [{cidrGroupRef: office}]
              - toEndpoints: [{}]
                toRequires: [{matchLabels: {team: a}}]
                authentication: {mode: required}
            """), file: "n.yaml")
        let egress = S.ciliumRules(set)[0].egress!
        #expect(egress[0].toFQDNs?.map(\.description) == ["matchName: example.com", "matchPattern: *.example.org"])
        #expect(egress[0].toEndpoints == nil)
        #expect(egress[1] == CiliumEgressRule(toEndpoints: []))
        #expect(egress[2] == CiliumEgressRule(toEndpoints: []))
        #expect(egress[3] == CiliumEgressRule(toEndpoints: []))
        #expect(egress[4] == CiliumEgressRule(toEndpoints: [LabelSelector()]))
        #expect(set.notices == [
            "read but not evaluated: toGroups: flowmon has no cloud provider groups; these rules select no peer; at n.yaml: document 1: spec.egress[1].toGroups (line 10)",
            "read but not evaluated: toServices: these rules select no peer; at n.yaml: document 1: spec.egress[2].toServices (line 11)",
            "read but not evaluated: cidrGroupRef: flowmon has no CiliumCIDRGroup objects; these items select no address; at n.yaml: document 1: spec.egress[3].toCIDRSet[0].cidrGroupRef (line 12)",
            "read but not evaluated: toRequires: it is ignored (Cilium deprecated it); at n.yaml: document 1: spec.egress[4].toRequires (line 14)",
            "read but not evaluated: authentication: these rules apply as if no authentication were required; at n.yaml: document 1: spec.egress[4].authentication (line 15)",
        ])
    }

    @Test func acceptedUnevaluatedRuleFields() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              labels: [{key: owner, value: team-a, source: k8s}]
              log: {value: web-policy}
              ingress:
              - fromEndpoints: [{}]
                toPorts:
                - ports: [{port: "443"}]
                  terminatingTLS: {secret: {name: tls}}
                  serverNames: [a.example.com]
            """))
        #expect(S.ciliumRules(set)[0].ingress![0].toPorts
            == [PortRule(ports: [PortProtocol(port: .number(443))], l7: L7RuleSet(serverNames: [try FQDNSelector(matchPattern: "a.example.com")]))])
    }

    @Test func kubernetesPolicy() throws {
        let set = try S.load("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: db, namespace: prod}
            spec:
              podSelector: {matchLabels: {app: db}}
              policyTypes: [Ingress, Egress]
              ingress:
              - from:
                - podSelector: {matchLabels: {app: web}}
                  namespaceSelector: {matchLabels: {team: a}}
                - namespaceSelector: {}
                - ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.0/16]}
                ports:
                - port: 5432
                - {protocol: UDP, port: dns}
                - {protocol: SCTP, port: 1000, endPort: 2000}
                - {protocol: TCP}
              - {}
              egress: []
            """)
        let spec = try #require(S.kubernetesSpec(set))
        #expect(spec.podSelector == LabelSelector(matchLabels: ["app": "db"]))
        #expect(spec.policyTypes == [.ingress, .egress])
        #expect(spec.egress == [])
        let ingress = try #require(spec.ingress)
        #expect(ingress.count == 2)
        #expect(ingress[1] == KubernetesIngressRule())
        let from = try #require(ingress[0].from)
        #expect(from[0] == KubernetesPeer(podSelector: LabelSelector(matchLabels: ["app": "web"]),
                                          namespaceSelector: LabelSelector(matchLabels: ["team": "a"])))
        #expect(from[1] == KubernetesPeer(namespaceSelector: LabelSelector()))
        #expect(from[2].ipBlock?.cidr.text == "10.0.0.0/8")
        #expect(from[2].ipBlock?.except.map(\.text) == ["10.1.0.0/16"])
        #expect(ingress[0].ports == [
            KubernetesPort(protocol: .tcp, port: .number(5432)),
            KubernetesPort(protocol: .udp, port: .name("dns")),
            KubernetesPort(protocol: .sctp, port: .number(1000), endPort: 2000),
            KubernetesPort(protocol: .tcp),
        ])
    }

    @Test func kubernetesDefaults() throws {
        let set = try S.load("""
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: deny-all}
            spec:
              podSelector: {}
            """)
        let spec = try #require(S.kubernetesSpec(set))
        #expect(spec == KubernetesNetworkPolicySpec(podSelector: LabelSelector()))
        #expect(set.documents[0].namespace == "default")
    }

    @Test func multiDocumentWithSkippedKindsAndEmptyDocuments() throws {
        let set = try S.load("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web}
            ---
            ---
            apiVersion: cilium.io/v1
            kind: CiliumNetworkPolicy
            metadata: {name: old}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: np}
            ---
            kind: Service
            apiVersion: v1
            """, file: "multi.yaml")
        #expect(set.documents.map(\.name) == ["np"])
        #expect(set.documents[0].source.documentIndex == 4)
        #expect(set.notices == [
            "multi.yaml: skipped: Deployment 'web' (document 1): not a network policy",
            "multi.yaml: skipped: CiliumNetworkPolicy 'old' (document 3): apiVersion 'cilium.io/v1' is not cilium.io/v2",
            "multi.yaml: skipped: Service (document 5): not a network policy",
        ])
    }

    @Test func listDocumentsAreExpanded() throws {
        let set = try S.load("""
            apiVersion: v1
            kind: List
            items:
            - {apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: a, namespace: x}, spec: {endpointSelector: {}}}
            - {apiVersion: v1, kind: ConfigMap, metadata: {name: c}}
            - {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: b}, spec: {}}
            ---
            apiVersion: networking.k8s.io/v1
            kind: NetworkPolicy
            metadata: {name: d}
            """, file: "l.yaml")
        #expect(set.documents.map(\.name) == ["a", "b", "d"])
        #expect(set.documents.map(\.source.documentIndex) == [1, 3, 4])
        #expect(set.notices == ["l.yaml: skipped: ConfigMap 'c' (document 2): not a network policy"])
    }

    @Test func jsonInput() throws {
        let set = try S.load("""
            {
            \t"apiVersion": "v1",
            \t"kind": "List",
            \t"items": [
            \t\t{
            \t\t\t"apiVersion": "cilium.io/v2",
            \t\t\t"kind": "CiliumNetworkPolicy",
            \t\t\t"metadata": {"name": "j", "namespace": "prod"},
            \t\t\t"spec": {
            \t\t\t\t"endpointSelector": {"matchLabels": {"app": "web"}},
            \t\t\t\t"ingress": [{"fromEndpoints": [{}], "toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}]}]}],
            \t\t\t\t"egress": [],
            \t\t\t\t"enableDefaultDeny": {"egress": true}
            \t\t\t}
            \t\t}
            \t]
            }
            """, file: "p.json")
        let rule = S.ciliumRules(set)[0]
        #expect(set.documents[0].name == "j")
        #expect(rule.ingress == [CiliumIngressRule(fromEndpoints: [LabelSelector()],
                                                   toPorts: [PortRule(ports: [PortProtocol(port: .number(8080), protocol: .tcp)])])])
        #expect(rule.egress == [])
        #expect(rule.enableDefaultDenyEgress == true)
    }

    @Test func sameNameInOtherNamespaceOrKindIsNoDuplicate() throws {
        let set = try S.load("""
            {apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: a, namespace: x}, spec: {endpointSelector: {}}}
            ---
            {apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata: {name: a, namespace: y}, spec: {endpointSelector: {}}}
            ---
            {apiVersion: networking.k8s.io/v1, kind: NetworkPolicy, metadata: {name: a, namespace: x}}
            ---
            {apiVersion: cilium.io/v2, kind: CiliumClusterwideNetworkPolicy, metadata: {name: a}, spec: {endpointSelector: {}}}
            """)
        #expect(set.documents.count == 4)
    }
}
