@testable import Agent
import Datapath
import Detection
import FlowCore
import Testing

/// The DNS detectors' keys in `--alerts-config`: every key read into the settings, every
/// mistake named by its path and line, and the cluster's resolvers the scope is built with.
struct AlertsConfigDNSTests {
    static func load(_ text: String) throws(AgentError) -> AlertsConfiguration {
        try AlertsConfigLoader.load(text: text, file: "alerts.yaml")
    }

    @Test func defaults() throws {
        let settings = try Self.load("").settings
        for detector in [AlertDetector.dnsExternalResolver, .dnsTunneling, .dnsNXDomainBurst] {
            #expect(settings.isEnabled(detector))
        }
        #expect(settings.connectionChecks.contains(.dnsMessages))
        #expect(settings.tunnelNameLength == 120 && settings.tunnelLabelLength == 52)
        #expect(settings.tunnelEntropyLength == 24 && settings.tunnelEntropyMillibits == 4000)
        #expect(settings.tunnelNames == 10 && settings.tunnelWindow == 60_000_000_000)
        #expect(settings.nxdomainNames == 20 && settings.nxdomainWindow == 60_000_000_000)
        #expect(settings.nxdomainClusterDomain == "cluster.local" && settings.nxdomainIgnoredSuffixes.isEmpty)
        #expect(settings.severity(of: .dnsExternalResolver) == 2 && settings.severity(of: .dnsNXDomainBurst) == 3)
    }

    @Test func everyKeyIsRead() throws {
        let configuration = try Self.load("""
            dns_external_resolver:
              severity: 1
              cluster_defaults: false
              resolvers: [{cidr: 10.96.0.10}, {namespace: dns, selector: {matchLabels: {app: unbound}}}]
            dns_tunneling: {name_length: 100, label_length: 40, entropy: 3.75, entropy_length: 20, names: 3, window: 2m}
            dns_nxdomain_burst: {enabled: false, names: 50, window: 30s, cluster_domain: K8s.Example.Corp., ignore_suffixes: [.Cluster.Local., ec2.internal]}
            """)
        let settings = configuration.settings
        #expect(settings.severity(of: .dnsExternalResolver) == 1)
        #expect(!configuration.includesDefaultResolvers)
        #expect(configuration.resolverPrefixes == [IPPrefix(host: IPAddress(text: "10.96.0.10")!)])
        #expect(configuration.resolverWorkloads.map(\.namespace) == ["dns"])
        #expect(settings.tunnelNameLength == 100 && settings.tunnelLabelLength == 40)
        #expect(settings.tunnelEntropyMillibits == 3750 && settings.tunnelEntropyLength == 20)
        #expect(settings.tunnelNames == 3 && settings.tunnelWindow == 120_000_000_000)
        #expect(!settings.isEnabled(.dnsNXDomainBurst) && settings.isEnabled(.dnsTunneling))
        #expect(settings.nxdomainNames == 50 && settings.nxdomainWindow == 30_000_000_000)
        #expect(settings.nxdomainClusterDomain == "k8s.example.corp")
        #expect(settings.nxdomainIgnoredSuffixes == ["cluster.local", "ec2.internal"])
        #expect(try Self.load("dns_tunneling: {entropy: 4}").settings.tunnelEntropyMillibits == 4000)
    }

    @Test(arguments: [
        ("dns_tunneling: {entropy: high}", "alerts.yaml: document 1: dns_tunneling.entropy: expected bits per character such as 4.0, found a string (line 1)"),
        ("dns_tunneling: {entropy: 7.5}", "alerts.yaml: document 1: dns_tunneling.entropy: 7.5 is out of range (1.0…6.0 bits per character) (line 1)"),
        ("dns_tunneling: {label_length: 64}", "alerts.yaml: document 1: dns_tunneling.label_length: 64 is out of range (8…63) (line 1)"),
        ("dns_tunneling: {name_length: 300}", "alerts.yaml: document 1: dns_tunneling.name_length: 300 is out of range (16…253) (line 1)"),
        ("dns_tunneling: {names: 0}", "alerts.yaml: document 1: dns_tunneling.names: 0 is out of range (1…4096) (line 1)"),
        ("dns_tunneling: {length: 10}", "alerts.yaml: document 1: dns_tunneling.length: unknown field 'length' (allowed: enabled, severity, name_length, label_length, entropy, entropy_length, names, window) (line 1)"),
        ("dns_nxdomain_burst: {window: soon}", "alerts.yaml: document 1: dns_nxdomain_burst.window: expected seconds or a duration such as 30s, 5m or 1h, found 'soon' (line 1)"),
        ("dns_nxdomain_burst: {ignore_suffixes: [\".\"]}", "alerts.yaml: document 1: dns_nxdomain_burst.ignore_suffixes[0]: expected a domain name such as cluster.local (line 1)"),
        ("dns_nxdomain_burst: {cluster_domain: \"a b\"}", "alerts.yaml: document 1: dns_nxdomain_burst.cluster_domain: expected a domain name such as cluster.local (line 1)"),
        ("dns_nxdomain_burst: {ignore_suffixes: cluster.local}", "alerts.yaml: document 1: dns_nxdomain_burst.ignore_suffixes: expected a list, found a string (line 1)"),
        ("dns_external_resolver: {resolvers: [{cidr: 8.8.8.8/40}]}", "alerts.yaml: document 1: dns_external_resolver.resolvers[0].cidr: '8.8.8.8/40' is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/64) (line 1)"),
        ("dns_external_resolver: {resolvers: [{cidr: 10.96.0.10, namespace: x}]}", "alerts.yaml: document 1: dns_external_resolver.resolvers[0]: 'cidr' cannot be combined with 'namespace' or 'selector' (line 1)"),
        ("dns_external_resolver: {cluster_defaults: maybe}", "alerts.yaml: document 1: dns_external_resolver.cluster_defaults: expected a boolean, found a string (line 1)"),
        ("dns_external_resolver: {severity: 0}", "alerts.yaml: document 1: dns_external_resolver.severity: 0 is out of range (1…255) (line 1)"),
    ])
    func mistakesAreNamed(text: String, message: String) {
        #expect(throws: (any Error).self) { try Self.load(text) }
        do {
            _ = try Self.load(text)
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    // MARK: The cluster's resolvers

    static let inventory = Inventory(pods: [
        Pod(name: "coredns-1", namespace: "kube-system", labels: ["k8s-app": "kube-dns"], ips: [IPAddress(text: "10.244.0.2")!],
            nodeName: "node-a"),
        Pod(name: "web-1", namespace: "shop", labels: ["app": "web"], ips: [IPAddress(text: "10.244.0.10")!], nodeName: "node-a"),
        Pod(name: "unbound-1", namespace: "dns", labels: ["app": "unbound"], ips: [IPAddress(text: "10.244.0.53")!],
            nodeName: "node-a"),
    ])
    static let kubeDNS = Service(name: "kube-dns", namespace: "kube-system", clusterIPs: [IPAddress(text: "10.96.0.10")!],
                                 selector: ["k8s-app": "kube-dns"])

    static func scope(_ text: String, services: [Service]) throws -> DetectionScope {
        let tables = try AgentTables.build(inventory: Self.inventory, policies: [], nodeName: "node-a", services: services)
        return try Self.load(text).scope(endpoints: tables.endpoints, inventory: Self.inventory, services: services)
    }

    static func address(_ text: String) -> IPAddress { IPAddress(text: text)! }

    @Test func theDefaultsAreKubeDNSAndNodeLocalDNS() throws {
        let scope = try Self.scope("", services: [Self.kubeDNS])
        #expect(scope.resolversKnown)
        for resolver in ["10.96.0.10", "10.244.0.2", "169.254.20.10"] {
            #expect(scope.isClusterResolver(Self.address(resolver), identity: .world), "\(resolver)")
        }
        #expect(!scope.isClusterResolver(Self.address("10.244.0.53"), identity: .world))
        #expect(!scope.isClusterResolver(Self.address("8.8.8.8"), identity: .world))
    }

    /// Without the kube-dns Service (no --services) its ClusterIP is not known: internal
    /// addresses are given the benefit of the doubt, public ones are judged.
    @Test func withoutTheServiceInternalAddressesAreNotJudged() throws {
        let scope = try Self.scope("", services: [])
        #expect(!scope.resolversKnown)
        #expect(scope.isClusterResolver(Self.address("10.96.0.10"), identity: .world))
        #expect(scope.isClusterResolver(Self.address("fd00:10:96::a"), identity: .world))
        #expect(!scope.isClusterResolver(Self.address("8.8.8.8"), identity: .world))
        #expect(!scope.isClusterResolver(Self.address("2001:4860:4860::8888"), identity: .world))
    }

    @Test func configuredResolversAddToOrReplaceTheDefaults() throws {
        let added = try Self.scope("dns_external_resolver: {resolvers: [{namespace: dns}, {cidr: 192.168.0.0/16}]}", services: [])
        #expect(added.resolversKnown)
        #expect(added.resolverIdentities.count == 1)
        #expect(added.isClusterResolver(Self.address("192.168.3.4"), identity: .world))
        #expect(added.isClusterResolver(Self.address("10.244.0.2"), identity: .world))
        let replaced = try Self.scope("dns_external_resolver: {cluster_defaults: false, resolvers: [{cidr: 1.1.1.1}]}",
                                      services: [Self.kubeDNS])
        #expect(replaced.isClusterResolver(Self.address("1.1.1.1"), identity: .world))
        #expect(!replaced.isClusterResolver(Self.address("10.96.0.10"), identity: .world))
        #expect(!replaced.isClusterResolver(Self.address("169.254.20.10"), identity: .world))
    }
}
