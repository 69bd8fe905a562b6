import Agent
import Datapath
import FlowCore
import Foundation
import L7
import Testing

/// `toFQDNs`, `toPorts.rules` and `serverNames`: what the loader accepts and rejects (with
/// Cilium's checks), and what the compiler puts in the map entries and tables.
@Suite struct PolicyL7Tests {
    typealias S = PolicyTestSupport

    static func egress(_ items: String) -> String { S.cnp("  endpointSelector: {}\n  egress: \(items)") }

    // MARK: Loader

    @Test(arguments: [
        (egress("[{toFQDNs: [{matchPattern: 'api.[a-z].com'}]}]"),
         "t.yaml: document 1: spec.egress[0].toFQDNs[0].matchPattern: invalid characters in matchPattern 'api.[a-z].com': only 0-9, a-z, A-Z, '.', '-', '_' and '*' are allowed (line 7)"),
        (egress("[{toFQDNs: [{matchName: '*.a.com'}]}]"),
         "t.yaml: document 1: spec.egress[0].toFQDNs[0].matchName: invalid characters in matchName '*.a.com': only 0-9, a-z, A-Z, '.', '-' and '_' are allowed (line 7)"),
        (egress("[{toFQDNs: [{matchName: 'a..com'}]}]"),
         "t.yaml: document 1: spec.egress[0].toFQDNs[0].matchName: matchName 'a..com' has an empty label (a leading '.' or '..'); Cilium's CRD requires ^([-a-zA-Z0-9_]+[.]?)+$ (line 7)"),
        (egress("[{toFQDNs: [{}]}]"),
         "t.yaml: document 1: spec.egress[0].toFQDNs[0]: an FQDN selector needs matchName or matchPattern (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{path: '/a('}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.http[0].path: invalid regular expression '/a(': expected ')' (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{method: '(?!GET)'}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.http[0].method: invalid regular expression '(?!GET)': a lookahead is not RE2 syntax (Cilium and Envoy use RE2) (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '80'}], rules: {http: [{}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].ports[0]: L7 rules can only apply to TCP (not ANY) except for DNS rules (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '53', protocol: UDP}], rules: {http: [{}], dns: [{}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules: multiple L7 protocol rule types specified in single rule (http, dns) (line 7)"),
        (egress("[{toPorts: [{rules: {dns: [{matchName: a.com}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.dns: port 53 must be specified for DNS rules (line 7)"),
        (S.cnp("  endpointSelector: {}\n  ingress: [{toPorts: [{ports: [{port: '53'}], rules: {dns: [{matchPattern: '*'}]}}]}]"),
         "t.yaml: document 1: spec.ingress[0].toPorts[0].rules.dns: DNS rules are not allowed on ingress (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '53'}], rules: {dns: [{matchPattern: 'a b'}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.dns[0].matchPattern: invalid characters in matchPattern 'a b': only 0-9, a-z, A-Z, '.', '-', '_' and '*' are allowed (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '9000', protocol: TCP}], rules: {l7: [{a: b}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.l7: 'l7' may only be specified when a 'l7proto' is also specified (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{headerMatches: [{value: x}]}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.http[0].headerMatches[0].name: Header name missing (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '80', protocol: TCP}], rules: {http: [{headerMatches: [{name: a, mismatch: DROP}]}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.http[0].headerMatches[0].mismatch: Invalid header action: DROP (allowed: LOG, ADD, DELETE, REPLACE, or none) (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '9092', protocol: TCP}], rules: {kafka: [{topc: a}]}}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].rules.kafka[0].topc: unknown field 'topc' (allowed: role, apiKey, apiVersion, clientID, topic) (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '443', protocol: TCP}], serverNames: ['']}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].serverNames[0]: empty server name is not allowed (line 7)"),
        (egress("[{toPorts: [{ports: [{port: '443', protocol: TCP}], serverNames: ['a/b']}]}]"),
         "t.yaml: document 1: spec.egress[0].toPorts[0].serverNames[0]: invalid characters in server name 'a/b': only 0-9, a-z, A-Z, '.', '-', '_' and '*' are allowed (line 7)"),
    ] as [(String, String)])
    func rejected(text: String, expected: String) {
        #expect(S.errorLine(text) == expected)
    }

    @Test func rulesAreCompiledIntoTheModel() throws {
        let set = try S.load(S.cnp("""
              endpointSelector: {}
              egress:
              - toFQDNs: [{matchName: API.example.com.}, {matchPattern: "**.example.org"}]
                toPorts:
                - ports: [{port: "443", protocol: TCP}]
                  serverNames: ["*.example.org"]
              - toEndpoints: [{}]
                toPorts:
                - ports: [{port: "53", protocol: ANY}]
                  rules: {dns: [{matchPattern: "*.example.org"}, {}]}
              - toEndpoints: [{}]
                toPorts:
                - ports: [{port: "80", protocol: TCP}]
                  rules:
                    http:
                    - {method: GET, path: "/public/.*", headers: ["X-A: 1"]}
                    - headerMatches: [{name: Authorization, secret: {namespace: ns, name: token}}]
            """))
        let egress = S.ciliumRules(set)[0].egress!
        #expect(egress[0].toFQDNs == [try FQDNSelector(matchName: "api.example.com"), try FQDNSelector(matchPattern: "**.example.org")])
        #expect(egress[0].toPorts?[0].l7?.serverNames == [try FQDNSelector(matchPattern: "*.example.org")])
        #expect(egress[0].toPorts?[0].hasL7Rules == false)
        let dns = try #require(egress[1].toPorts?[0].l7?.dns)
        #expect(dns.map(\.description) == ["dns matchPattern: *.example.org", "dns (any name)"])
        let http = try #require(egress[2].toPorts?[0].l7?.http)
        #expect(http.map(\.description) == ["http method GET, path /public/.*, header X-A: 1",
                                            "http headerMatch Authorization (secret ns/token)"])
        #expect(set.notices == [
            "read but not evaluated: headerMatches secrets: flowmon cannot read Kubernetes Secrets; the header's presence is checked, not its value; at t.yaml: document 1: spec.egress[2].toPorts[0].rules.http[1].headerMatches[0].secret (line 22)",
        ])
    }

    /// More distinct FQDN selectors than the judge's mask holds: one notice naming the first
    /// one left out.
    @Test func selectorsBeyondTheCapacityAreNoticed() throws {
        let names = (0...FQDNSelectorTable.capacity).map { "{matchName: n\($0).example}" }.joined(separator: ", ")
        let set = try S.load(Self.egress("[{toFQDNs: [\(names), {matchName: N0.EXAMPLE.}]}]"), file: "many.yaml")
        #expect(set.notices == [
            "read but not evaluated: toFQDNs selectors beyond the first 64: the policies have 65 distinct selectors and flowmon tracks 64, so 1 select no address; at many.yaml: document 1 (matchName: n64.example), the first of them",
        ])
    }

    // MARK: Compiler

    static let cluster = SemanticsCluster.xyz

    static func compiled(_ policies: String) throws -> SemanticsAgent { try Self.cluster.load(policies) }

    static func cnp(_ name: String, _ namespace: String, _ spec: String) -> String {
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: \(name), namespace: \(namespace)}\nspec:\n\(spec)\n---\n"
    }

    /// toFQDNs peers are map entries for each selector's pseudo-identity, the selectors numbered
    /// once across policies (after normalisation), and egress is in default deny.
    @Test func fqdnPeersCompileToSelectorIdentities() throws {
        let agent = try Self.compiled(
            Self.cnp("a", "x", """
              endpointSelector: {matchLabels: {pod: a}}
              egress:
              - toFQDNs: [{matchName: api.example.com}, {matchPattern: "*.example.org"}]
                toPorts: [{ports: [{port: "443", protocol: TCP}]}]
            """) + Self.cnp("b", "x", """
              endpointSelector: {matchLabels: {pod: b}}
              egress:
              - toFQDNs: [{matchName: API.EXAMPLE.COM.}]
            """))
        let selectors = agent.compiled.fqdnSelectors.selectors
        #expect(selectors.map(\.description) == ["matchName: api.example.com", "matchPattern: *.example.org"])
        let a = try #require(agent.compiled.table.policy(for: agent.identity("x/a")))
        #expect(a.egressEnforced)
        #expect(a.lookup(.egress, remote: .fqdnSelector(0), ipProtocol: 6, port: 443).decision.outcome == .allowed)
        #expect(a.lookup(.egress, remote: .fqdnSelector(1), ipProtocol: 6, port: 443).decision.outcome == .allowed)
        #expect(a.lookup(.egress, remote: .fqdnSelector(1), ipProtocol: 6, port: 80).decision.outcome == .denied)
        #expect(a.lookup(.egress, remote: .world, ipProtocol: 6, port: 443).decision.outcome == .denied)
        let b = try #require(agent.compiled.table.policy(for: agent.identity("x/b")))
        #expect(b.lookup(.egress, remote: .fqdnSelector(0), ipProtocol: 17, port: 53).decision.matchType == .l3Only)
        #expect(b.lookup(.egress, remote: .fqdnSelector(1), ipProtocol: 6, port: 443).decision.outcome == .denied)
        // The pseudo-identities are outside every range flowmon allocates.
        #expect(Identity.fqdnSelector(63).fqdnSelectorIndex == 63)
        #expect(Identity.fqdnSelector(0) != Identity.unknown && !Identity.fqdnSelector(0).isLocalScope
                && !Identity.fqdnSelector(0).isReserved && Identity.fqdnSelector(0).rawValue > IdentityAllocator.lastAllocated.rawValue)
        #expect(Identity(Identity.localScopeFlag | 1).fqdnSelectorIndex == nil)
    }

    /// An allow entry with L7 rules names its rule set; rule sets of several policies on the
    /// same key are merged (Cilium merges the L7 rules of one L4 filter).
    @Test func l7RulesAreMergedPerEntry() throws {
        let agent = try Self.compiled(
            Self.cnp("get", "x", """
              endpointSelector: {matchLabels: {pod: a}}
              ingress:
              - fromEndpoints: [{matchLabels: {pod: b}}]
                toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]
            """) + Self.cnp("put", "x", """
              endpointSelector: {matchLabels: {pod: a}}
              ingress:
              - fromEndpoints: [{matchLabels: {pod: b}}]
                toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: PUT, path: /x}]}}]
            """))
        let a = try #require(agent.compiled.table.policy(for: agent.identity("x/a")))
        let (decision, entry) = a.lookup(.ingress, remote: agent.identity("x/b"), ipProtocol: 6, port: 80)
        #expect(decision.outcome == .allowed)
        let number = try #require(entry).l7RuleSet
        let rules = try #require(agent.compiled.l7Rules[number])
        #expect(rules.lines == ["http method GET", "http method PUT, path /x"])
        #expect(rules.allows(request: HTTPRequestFacts(method: "PUT", path: "/x")))
        #expect(!rules.allows(request: HTTPRequestFacts(method: "PUT", path: "/y")))
        #expect(agent.compiled.policySets[Int(decision.policySet)].map(\.name) == ["get", "put"])
        // Still an allow at L3/L4, and only there.
        #expect(a.lookup(.ingress, remote: agent.identity("x/b"), ipProtocol: 6, port: 81).decision.outcome == .denied)
    }

    /// Cilium's `wildcardL3L4Rules`: a peer also allowed without L7 rules is allowed every
    /// request; the any-peer entry's rules apply to a peer's own entry on the same port.
    @Test(arguments: [
        // The same peer allowed at L3 only: every request allowed.
        ("  - fromEndpoints: [{matchLabels: {pod: b}}]", "x/b", nil),
        // Any peer allowed on the port without rules: every request allowed for x/b too.
        ("  - toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]", "x/b", nil),
        // Another peer allowed at L3: x/b keeps its rules.
        ("  - fromEndpoints: [{matchLabels: {pod: c}}]", "x/b", ["http method GET"]),
        // Any peer with its own rules on the port: x/b gets both.
        ("  - toPorts: [{ports: [{port: \"80\", protocol: TCP}], rules: {http: [{path: /health}]}}]", "x/b",
         ["http method GET", "http path /health"]),
    ] as [(String, String, [String]?)])
    func l7Wildcarding(other: String, peer: String, expected: [String]?) throws {
        let agent = try Self.compiled(Self.cnp("p", "x", """
              endpointSelector: {matchLabels: {pod: a}}
              ingress:
              - fromEndpoints: [{matchLabels: {pod: b}}]
                toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]
            \(other)
            """))
        let a = try #require(agent.compiled.table.policy(for: agent.identity("x/a")))
        let (decision, entry) = a.lookup(.ingress, remote: agent.identity(peer), ipProtocol: 6, port: 80)
        #expect(decision.outcome == .allowed)
        #expect(agent.compiled.l7Rules[entry?.l7RuleSet ?? 0]?.lines == expected)
    }

    /// An any-peer entry with rules, and a peer allowed on the port without rules: the peer
    /// gets an allow-all entry of its own, the others keep the rules.
    @Test func anyPeerRulesAndOnePeerWithout() throws {
        let agent = try Self.compiled(Self.cnp("p", "x", """
              endpointSelector: {matchLabels: {pod: a}}
              ingress:
              - toPorts: [{ports: [{port: "80", protocol: TCP}], rules: {http: [{method: GET}]}}]
              - fromEndpoints: [{matchLabels: {pod: b}}]
            """))
        let a = try #require(agent.compiled.table.policy(for: agent.identity("x/a")))
        let b = a.lookup(.ingress, remote: agent.identity("x/b"), ipProtocol: 6, port: 80)
        #expect(b.decision.outcome == .allowed && b.entry?.l7RuleSet == 0 && b.entry?.remote == agent.identity("x/b"))
        let c = a.lookup(.ingress, remote: agent.identity("x/c"), ipProtocol: 6, port: 80)
        #expect(agent.compiled.l7Rules[c.entry?.l7RuleSet ?? 0]?.lines == ["http method GET"])
    }

    // MARK: The real corpus

    static let realDirectory = PolicyTestSupport.repositoryRoot.deletingLastPathComponent()
        .appendingPathComponent("shared/policies/real")

    /// The files of ../shared/policies/real that use toFQDNs, `rules` or `serverNames`.
    static func realL7Files() -> [String]? {
        guard FileManager.default.fileExists(atPath: Self.realDirectory.path) else { return nil }
        let files = (try? PolicyLoader.policyFiles(at: Self.realDirectory.path)) ?? []
        return files.filter { file in
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { return false }
            return text.contains("toFQDNs") || text.contains("rules:") || text.contains("\"rules\"") || text.contains("serverNames")
        }
    }

    /// Every real file with FQDN or L7 rules loads (or is a template or an old rule array,
    /// which the loader names as such) and compiles: each `rules` item is compiled (http,
    /// dns) or named in a notice (kafka, l7proto); each toFQDNs selector is in the table; the
    /// endpoints the rules select get entries for the selectors and rule sets for the rules.
    @Test func realPoliciesWithFQDNAndL7RulesCompile() throws {
        guard let files = Self.realL7Files() else {
            print("PolicyL7Tests: ../shared/policies/real is absent; the real FQDN/L7 policies are not checked")
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "../shared/policies/real must be present in CI")
            return
        }
        #expect(files.count >= 30)
        var loaded: [PolicyDocument] = []
        var l7Files = 0
        for file in files {
            let set = PolicyLoader.loadEach(paths: [file])
            if let error = set.errors.first {
                #expect(error.description.contains("Go/Helm template") || error.description.contains("JSON rule array"),
                        "\(error.description)")
                continue
            }
            loaded += set.documents
            let rules = set.documents.flatMap { document -> [CiliumRule] in
                if case .cilium(let rules) = document.body { return rules }
                return []
            }
            let portRules = rules.flatMap { rule in
                (rule.ingress ?? []).flatMap { $0.toPorts ?? [] } + (rule.egress ?? []).flatMap { $0.toPorts ?? [] }
            }
            for portRule in portRules where portRule.hasL7Rules {
                let l7 = try #require(portRule.l7)
                if !l7.unevaluated.isEmpty {
                    #expect(set.notices.contains { $0.hasPrefix("read but not evaluated: Kafka and l7proto rules") }, "\(file)")
                } else {
                    #expect(l7.http != nil || l7.dns != nil, "\(file)")
                }
            }
            if portRules.contains(where: \.hasL7Rules) || rules.contains(where: { rule in (rule.egress ?? []).contains { $0.toFQDNs != nil } }) {
                l7Files += 1
                try Self.checkCompiled(set.documents, file: file)
            }
        }
        #expect(l7Files >= 15)
        // Across the whole corpus the distinct selectors fit in the mask.
        let selectors = PolicyCompiler.fqdnSelectors(in: loaded)
        #expect(selectors.count <= FQDNSelectorTable.capacity)
        print("PolicyL7Tests: \(l7Files) real files with FQDN/L7 rules compiled; \(selectors.count) distinct toFQDNs selectors: \(selectors.map(\.description).joined(separator: ", "))")
    }

    /// Compiles `documents` with one local endpoint per rule subject and per endpoint peer,
    /// labelled with what the selector asks for (its `matchLabels`, and a value for each key an
    /// `Exists` or `In` expression names), and checks the entries of the subjects.
    static func checkCompiled(_ documents: [PolicyDocument], file: String) throws {
        var identityLabels: [Identity: [SecurityLabel]] = [:]
        var subjects: [(Identity, CiliumRule)] = []
        var next: UInt32 = 256
        func endpoint(_ selector: LabelSelector, namespace: String) -> Identity {
            var wanted = selector.matchLabels
            for requirement in selector.matchExpressions {
                switch requirement.operator {
                case .exists: wanted[requirement.key] = "set"
                case .in: wanted[requirement.key] = requirement.values.first ?? ""
                case .notIn, .doesNotExist: continue
                }
            }
            var labels = wanted.map { key, value in
                let parts = key.split(separator: ":", maxSplits: 1).map(String.init)
                let prefixed = parts.count == 2 && ["k8s", "any", "reserved"].contains(parts[0])
                return SecurityLabel(source: prefixed && parts[0] == "reserved" ? "reserved" : "k8s", key: prefixed ? parts[1] : key,
                                     value: value)
            }
            if !labels.contains(where: { $0.key == "io.kubernetes.pod.namespace" }) {
                labels.append(SecurityLabel(source: "k8s", key: "io.kubernetes.pod.namespace", value: namespace))
            }
            let identity = Identity(next)
            next += 1
            identityLabels[identity] = labels
            return identity
        }
        for document in documents {
            guard case .cilium(let rules) = document.body else { continue }
            let namespace = document.namespace ?? "default"
            for rule in rules {
                for selector in (rule.ingress ?? []).flatMap({ $0.fromEndpoints ?? [] }) + (rule.egress ?? []).flatMap({ $0.toEndpoints ?? [] }) {
                    _ = endpoint(selector, namespace: namespace)
                }
                if let selector = rule.endpointSelector {
                    subjects.append((endpoint(selector, namespace: namespace), rule))
                }
            }
        }
        var compiler = PolicyCompiler(inventory: CompilerInventory(identityLabels: identityLabels,
                                                                   localIdentities: Set(identityLabels.keys)))
        let compiled = compiler.compile(documents)
        for (identity, rule) in subjects {
            let policy = compiled.table.policy(for: identity)
            let entries = (policy?.entries(.ingress) ?? []) + (policy?.entries(.egress) ?? [])
            for item in rule.egress ?? [] {
                for selector in item.toFQDNs ?? [] {
                    let index = try #require(compiled.fqdnSelectors.index(of: selector), "\(file): \(selector)")
                    #expect(entries.contains { $0.remote == .fqdnSelector(index) }, "\(file): no entry for \(selector)")
                }
            }
            let ruleSets = (rule.ingress ?? []).flatMap { $0.toPorts ?? [] } + (rule.egress ?? []).flatMap { $0.toPorts ?? [] }
            // (A named port resolves against container ports, which this inventory has none of.)
            if ruleSets.contains(where: { ($0.l7?.http != nil || $0.l7?.dns != nil)
                && $0.ports.contains { if case .number = $0.port { true } else { false } } }) {
                #expect(entries.contains { compiled.l7Rules[$0.l7RuleSet] != nil }, "\(file): no entry with L7 rules")
            }
            for entry in entries { #expect(entry.l7RuleSet == 0 || compiled.l7Rules[entry.l7RuleSet] != nil) }
        }
    }
}
