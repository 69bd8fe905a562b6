import Agent
import Foundation
import Testing

/// Invalid inputs and the exact error line each must give.
@Suite struct PolicyLoaderInvalidTests {
    typealias S = PolicyTestSupport

    /// `spec` bodies of a CNP named `p` in namespace default; lines count from 1 at `apiVersion`
    /// (the body starts on line 6).
    @Test(arguments: [
        ("  endpointSelector: {}\n  ingress: [{fromEndpoint: []}]",
         "t.yaml: document 1: spec.ingress[0].fromEndpoint: unknown field 'fromEndpoint' (allowed: fromEndpoints, fromCIDR, fromCIDRSet, fromEntities, fromNodes, fromRequires, toPorts, icmps, fromGroups, authentication) (line 7)"),
        ("  endpointSelector: {}\n  ingressDeny: [{authentication: {mode: required}}]",
         "t.yaml: document 1: spec.ingressDeny[0].authentication: unknown field 'authentication' (allowed: fromEndpoints, fromCIDR, fromCIDRSet, fromEntities, fromNodes, fromRequires, toPorts, icmps, fromGroups) (line 7)"),
        ("  endpointSelector: {}\n  egressDeny: [{toFQDNs: [{matchName: a.com}]}]",
         "t.yaml: document 1: spec.egressDeny[0].toFQDNs: unknown field 'toFQDNs' (allowed: toEndpoints, toCIDR, toCIDRSet, toEntities, toNodes, toRequires, toPorts, icmps, toServices, toGroups) (line 7)"),
        ("  endpointSelector: {}\n  egressDeny: [{toPorts: [{ports: [{port: '80'}], rules: {http: [{}]}}]}]",
         "t.yaml: document 1: spec.egressDeny[0].toPorts[0].rules: unknown field 'rules' (allowed: ports) (line 7)"),
        ("  endpointSelector: {matchLabel: {app: a}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabel: unknown field 'matchLabel' (allowed: matchLabels, matchExpressions) (line 6)"),
        ("  endpointSelector: {}\n  egress: {toEntities: [world]}",
         "t.yaml: document 1: spec.egress: expected a list, found a map (line 7)"),
        ("  endpointSelector: []",
         "t.yaml: document 1: spec.endpointSelector: expected a map, found a list (line 6)"),
        ("  endpointSelector: {matchLabels: {version: 1.0}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabels.version: expected a string, found a number with a fraction (line 6)"),
        ("  endpointSelector: {matchLabels: {enabled: yes}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabels.enabled: expected a string, found a boolean (line 6)"),
        ("  endpointSelector: {}\n  enableDefaultDeny: {ingress: 'false'}",
         "t.yaml: document 1: spec.enableDefaultDeny.ingress: expected a boolean, found a string (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: [80]}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].port: expected a string or an integer, found a list (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: -1}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].port: port -1 is out of range 0-65535 (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: 'a-very-long-port-name'}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].port: port 'a-very-long-port-name' is neither a number nor a valid port name (IANA_SVC_NAME: at most 15 lowercase letters, digits and '-', at least one letter, no leading, trailing or double '-') (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: http, endPort: 90}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].endPort: endPort cannot be used with the named port 'http' (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: '80', protocol: tcp}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].protocol: protocol 'tcp' is not one of TCP, UDP, SCTP, VRRP, IGMP, ANY (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: '80', protocol: ICMPv6}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].protocol: protocol 'ICMPv6' is not allowed in toPorts; use icmps for ICMP (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: '112', protocol: VRRP}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].port: protocol VRRP has no ports; leave port out (or 0) for it (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{protocol: IGMP, endPort: 10}]}]}]",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].ports[0].endPort: protocol IGMP has no ports; leave port out (or 0) for it (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toEntities: [world], toCIDR: [10.0.0.0/8]}]",
         "t.yaml: document 1: spec.egress[0].toCIDR: toEntities and toCIDR cannot be combined in one rule (Cilium allows one kind of peer per rule; write separate rules) (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toFQDNs: [{matchName: a.com}], toEndpoints: [{}]}]",
         "t.yaml: document 1: spec.egress[0].toEndpoints: toFQDNs and toEndpoints cannot be combined in one rule (Cilium allows one kind of peer per rule; write separate rules) (line 7)"),
        ("  endpointSelector: {}\n  ingress: [{fromNodes: [{}], fromGroups: [{aws: {}}]}]",
         "t.yaml: document 1: spec.ingress[0].fromGroups: fromNodes and fromGroups cannot be combined in one rule (Cilium allows one kind of peer per rule; write separate rules) (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toServices: [{k8sService: {serviceName: a}}], toPorts: [{ports: [{port: '80'}]}]}]",
         "t.yaml: document 1: spec.egress[0].toPorts: toServices and toPorts cannot be combined in one rule (Cilium does not support it) (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDRSet: [{cidr: 10.0.0.0/8, cidrGroupRef: office}]}]",
         "t.yaml: document 1: spec.egress[0].toCIDRSet[0].cidrGroupRef: cidr and cidrGroupRef cannot both be set (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDRSet: [{cidr: 10.0.0.0}]}]",
         "t.yaml: document 1: spec.egress[0].toCIDRSet[0].cidr: invalid CIDR '10.0.0.0': missing '/prefix-length' (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDR: [10.0.0.256/8]}]",
         "t.yaml: document 1: spec.egress[0].toCIDR[0]: invalid CIDR '10.0.0.256/8': '10.0.0.256' is not an IPv4 or IPv6 address (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDR: ['::ffff:10.0.0.0/104']}]",
         "t.yaml: document 1: spec.egress[0].toCIDR[0]: invalid CIDR '::ffff:10.0.0.0/104': IPv4-mapped IPv6 addresses are not supported; write the IPv4 form (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDR: ['10.0.0.0/08']}]",
         "t.yaml: document 1: spec.egress[0].toCIDR[0]: invalid CIDR '10.0.0.0/08': prefix length '08' is not a number (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toCIDRSet: [{cidr: 10.0.0.0/16, except: [10.0.0.0/8]}]}]",
         "t.yaml: document 1: spec.egress[0].toCIDRSet[0].except[0]: except '10.0.0.0/8' is not inside cidr '10.0.0.0/16' (line 7)"),
        ("  endpointSelector: {}\n  egress: [{icmps: [{fields: [{family: IPv4, type: RouterSolicitation}]}]}]",
         "t.yaml: document 1: spec.egress[0].icmps[0].fields[0].type: ICMP type 'RouterSolicitation' is not a known IPv4 type name (known: EchoReply, DestinationUnreachable, Redirect, Echo, EchoRequest, RouterAdvertisement, RouterSelection, TimeExceeded, ParameterProblem, Timestamp, TimestampReply, Photuris, ExtendedEchoRequest, ExtendedEchoReply) (line 7)"),
        // `Echo` is an ICMPv4 name only (Cilium's pkg/policy/api/icmp.go).
        ("  endpointSelector: {}\n  egress: [{icmps: [{fields: [{family: IPv6, type: Echo}]}]}]",
         "t.yaml: document 1: spec.egress[0].icmps[0].fields[0].type: ICMP type 'Echo' is not a known IPv6 type name (known: DestinationUnreachable, PacketTooBig, TimeExceeded, ParameterProblem, EchoRequest, EchoReply, MulticastListenerQuery, MulticastListenerReport, MulticastListenerDone, RouterSolicitation, RouterAdvertisement, NeighborSolicitation, NeighborAdvertisement, RedirectMessage, RouterRenumbering, ICMPNodeInformationQuery, ICMPNodeInformationResponse, InverseNeighborDiscoverySolicitation, InverseNeighborDiscoveryAdvertisement, HomeAgentAddressDiscoveryRequest, HomeAgentAddressDiscoveryReply, MobilePrefixSolicitation, MobilePrefixAdvertisement, DuplicateAddressRequestCodeSuffix, DuplicateAddressConfirmationCodeSuffix, ExtendedEchoRequest, ExtendedEchoReply) (line 7)"),
        ("  endpointSelector: {}\n  egress: [{icmps: [{fields: [{family: IPv4}]}]}]",
         "t.yaml: document 1: spec.egress[0].icmps[0].fields[0].type: required field is missing (line 7)"),
        ("  endpointSelector: {matchExpressions: [{key: app, operator: NotIn}]}",
         "t.yaml: document 1: spec.endpointSelector.matchExpressions[0].values: values must not be empty for operator NotIn (line 6)"),
        ("  endpointSelector: {matchExpressions: [{key: app, operator: DoesNotExist, values: [a]}]}",
         "t.yaml: document 1: spec.endpointSelector.matchExpressions[0].values: values must be empty for operator DoesNotExist (line 6)"),
        ("  endpointSelector: {matchExpressions: [{operator: Exists}]}",
         "t.yaml: document 1: spec.endpointSelector.matchExpressions[0].key: required field is missing (line 6)"),
        ("  endpointSelector: {matchLabels: {'k8z:app': a}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabels: invalid label key 'k8z:app': unknown label source 'k8z' (allowed: k8s, any, reserved, cidr, cidrgroup, fqdn, container, unspec, node, kvstore, cilium-generated) (line 6)"),
        ("  endpointSelector: {matchLabels: {'Example.com/app': a}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabels: invalid label key 'Example.com/app': the prefix must be a lowercase RFC 1123 subdomain (at most 253 characters of a-z, 0-9, '-' and '.', each part starting and ending with a letter or digit) (line 6)"),
        ("  endpointSelector: {matchLabels: {'a/b/c': a}}",
         "t.yaml: document 1: spec.endpointSelector.matchLabels: invalid label key 'a/b/c': at most one '/' is allowed (line 6)"),
        ("  endpointSelector: {}\n  log: {value: 'this log value is much longer than thirty-two'}",
         "t.yaml: document 1: spec.log.value: log value is 45 characters long (at most 32) (line 7)"),
        ("  endpointSelector: {}\n  egress: [{toFQDNs: [{matchName: a.com, matchPattern: '*.a.com'}]}]",
         "t.yaml: document 1: spec.egress[0].toFQDNs[0].matchPattern: matchName and matchPattern cannot both be set (line 7)"),
    ] as [(String, String)])
    func ciliumSpec(body: String, expected: String) {
        #expect(S.errorLine(S.cnp(body)) == expected)
    }

    @Test(arguments: [
        // Whole documents.
        ("kind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {endpointSelector: {}}",
         "t.yaml: document 1: apiVersion: required field is missing (line 1)"),
        ("- a\n- b", "t.yaml: document 1: a list of 2 items, not a Kubernetes object: flowmon reads objects with apiVersion and kind (several in one file as YAML documents separated by --- or as a kind: List) (line 1)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: Web_1}\nspec: {endpointSelector: {}}",
         "t.yaml: document 1: metadata.name: invalid name 'Web_1': must be a lowercase RFC 1123 subdomain (at most 253 characters of a-z, 0-9, '-' and '.', each part starting and ending with a letter or digit) (line 3)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, namespace: a.b}\nspec: {endpointSelector: {}}",
         "t.yaml: document 1: metadata.namespace: invalid namespace 'a.b': must be a lowercase RFC 1123 label (at most 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit) (line 3)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a, labels: {app: 1}}\nspec: {endpointSelector: {}}",
         "t.yaml: document 1: metadata.labels.app: expected a string, found an integer (line 3)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspec: {endpointSelector: {}}\nstatus: {}\nextra: 1",
         "t.yaml: document 1: extra: unknown field 'extra' (allowed: apiVersion, kind, metadata, spec, specs, status) (line 6)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: a}\nspecs: [{endpointSelector: {}}, {}]",
         "t.yaml: document 1: specs[1]: a rule needs endpointSelector (line 4)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: a}\nspec: {}",
         "t.yaml: document 1: spec: a rule needs endpointSelector or nodeSelector (line 4)"),
        ("apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: a}\nspec: {nodeSelector: {}, ingress: [{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: []}}]}]}",
         "t.yaml: document 1: spec.ingress[0].toPorts[0].rules: host policies (nodeSelector) do not support L7 rules (line 4)"),
        ("---\napiVersion: v1\nkind: List\nitems: {a: b}",
         "t.yaml: document 1: items: expected a list, found a map (line 4)"),
        ("apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod}\n- {apiVersion: networking.k8s.io/v1, metadata: {name: x}}",
         "t.yaml: document 2: kind: required field is missing (line 5)"),
        // Kubernetes.
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {matchLabels: {'k8s:app': a}}}",
         "t.yaml: document 1: spec.podSelector.matchLabels: invalid label key 'k8s:app': the name part must be 63 characters or less, consist of letters, digits, '-', '_' or '.', and start and end with a letter or digit (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {ingress: [{from: [{}]}]}",
         "t.yaml: document 1: spec.ingress[0].from[0]: a peer needs podSelector, namespaceSelector or ipBlock (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.0.0.0/8]}}]}]}",
         "t.yaml: document 1: spec.egress[0].to[0].ipBlock.except[0]: except '10.0.0.0/8' is not a strict subset of cidr '10.0.0.0/8' (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {egress: [{to: [{ipBlock: {cidr: 10.0.0.0/8, except: [10.1.0.1/16]}}]}]}",
         "t.yaml: document 1: spec.egress[0].to[0].ipBlock.except[0]: invalid CIDR '10.1.0.1/16': host bits are set (the network is '10.1.0.0/16') (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {egress: [{to: [{ipBlock: {cidr: '2001:db8::1/64'}}]}]}",
         "t.yaml: document 1: spec.egress[0].to[0].ipBlock.cidr: invalid CIDR '2001:db8::1/64': host bits are set (the network is '2001:db8::/64') (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {ingress: [{ports: [{port: 0}]}]}",
         "t.yaml: document 1: spec.ingress[0].ports[0].port: port 0 is out of range 1-65535 (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {ingress: [{ports: [{endPort: 90}]}]}",
         "t.yaml: document 1: spec.ingress[0].ports[0].endPort: endPort requires port (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {ingress: [{ports: [{port: 90, endPort: 89}]}]}",
         "t.yaml: document 1: spec.ingress[0].ports[0].endPort: endPort 89 is less than port 90 (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {ingress: [{ports: [{port: Http}]}]}",
         "t.yaml: document 1: spec.ingress[0].ports[0].port: port 'Http' is neither a number nor a valid port name (IANA_SVC_NAME: at most 15 lowercase letters, digits and '-', at least one letter, no leading, trailing or double '-') (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {policyTypes: [Ingress, Ingress]}",
         "t.yaml: document 1: spec.policyTypes[1]: policy type 'Ingress' is listed twice (line 4)"),
        ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: a}\nspec: {podSelector: {}, ingres: []}",
         "t.yaml: document 1: spec.ingres: unknown field 'ingres' (allowed: podSelector, policyTypes, ingress, egress) (line 4)"),
        // YAML syntax.
        ("a: b\n c: d", "t.yaml: YAML syntax error: mapping values are not allowed in this context (line 2)"),
        ("a: [b", "t.yaml: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence (line 2)"),
        ("a: *nothing", "t.yaml: YAML syntax error: found undefined alias (line 1)"),
    ] as [(String, String)])
    func document(text: String, expected: String) {
        #expect(S.errorLine(text) == expected)
    }

    @Test func duplicateAcrossFiles() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-policy-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory.appendingPathComponent("sub"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let policy = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: web\n  namespace: prod\nspec: {endpointSelector: {}}\n"
        try policy.write(to: directory.appendingPathComponent("a.yaml"), atomically: true, encoding: .utf8)
        let other = policy.replacingOccurrences(of: "endpointSelector: {}", with: "endpointSelector: {matchLabels: {app: web}}")
        try ("---\n" + other).write(to: directory.appendingPathComponent("sub/b.yml"), atomically: true, encoding: .utf8)
        try "not: [policy".write(to: directory.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        #expect(try PolicyLoader.policyFiles(at: directory.path) == [directory.path + "/a.yaml", directory.path + "/sub/b.yml"])
        do {
            _ = try PolicyLoader.load(paths: [directory.path])
            Issue.record("loaded without error")
        } catch {
            #expect(error.description == "\(directory.path)/sub/b.yml: document 1: metadata.name: duplicate CiliumNetworkPolicy 'prod/web': already defined differently in \(directory.path)/a.yaml (document 1, line 4) (line 5)")
        }
    }

    @Test func missingPath() {
        do {
            _ = try PolicyLoader.load(paths: ["/nonexistent/flowmon/policies"])
            Issue.record("loaded without error")
        } catch {
            #expect(error.description == "/nonexistent/flowmon/policies: no such file or directory")
        }
    }
}
