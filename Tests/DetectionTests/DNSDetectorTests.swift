@testable import Datapath
@testable import Detection
import FlowCore
import Testing

/// The DNS detectors on literal times: the cluster's resolvers, thresholds at their edge
/// (one below: nothing; at it: one alert), windows, the allow-list and the enable flags.
struct DNSDetectorTests {
    static let pod = Identity(300), node = Identity.host, coreDNS = Identity(301)
    static let podAddress: UInt32 = 0x0af4_000a  // 10.244.0.10
    static let coreDNSAddress: UInt32 = 0x0af4_0002  // 10.244.0.2
    static let google: UInt32 = 0x0808_0808  // 8.8.8.8
    static let kubeDNSService: UInt32 = 0x0a60_000a  // 10.96.0.10

    static func flow(from source: UInt32, identity: Identity = pod, to destination: UInt32,
                     destinationIdentity: Identity = .world, sourcePort: UInt16 = 40000, at seconds: Double) -> FlowEntry {
        var entry = DetectorEngineTests.flow(from: source, to: destination, port: 53, at: seconds, ipProtocol: 17)
        entry.key = FlowKey(lowAddress: IPAddress(ipv4: source), highAddress: IPAddress(ipv4: destination),
                            lowPort: sourcePort, highPort: 53, ipProtocol: 17, vni: 0)
        entry.flowID = UInt64(sourcePort)
        entry.sourceIdentity = identity
        entry.destinationIdentity = destinationIdentity
        return entry
    }

    static func time(_ seconds: Double) -> CaptureTime { DetectorEngineTests.time(seconds) }

    static func name(_ hash: UInt64) -> DNSFinding {
        var finding = DNSFinding()
        finding.nameHash = hash
        finding.queryType = 16
        return finding
    }

    /// The scope an inventory with the kube-dns pod gives (resolver addresses not known: no --services).
    static let scope = DetectionScope(resolverPrefixes: [IPPrefix(host: IPAddress(ipv4: 0xa9fe_140a)),
                                                         IPPrefix(host: IPAddress(ipv4: coreDNSAddress))])

    static func kinds(_ collect: DetectorEngineTests.Collector) -> [AlertKind] { collect.alerts.map(\.0) }

    // MARK: dns_external_resolver

    @Test func aPodAskingAPublicResolverAlertsOncePerResolverAndWindow() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let collect = DetectorEngineTests.Collector()
        for (index, port) in [40001, 40002, 40003].enumerated() {
            engine.observe(.dnsQuery(Self.name(1)), flow: Self.flow(from: Self.podAddress, to: Self.google,
                                                                  sourcePort: UInt16(port), at: Double(index)),
                           time: Self.time(Double(index)), scope: Self.scope, emit: collect.callAsFunction)
        }
        #expect(Self.kinds(collect) == [.dnsExternalResolver])
        engine.finish(emit: collect.callAsFunction)
        #expect(collect.alerts.map(\.1) == [1, 3])  // the first, then the summary of all three
    }

    @Test(arguments: [
        // (destination, its identity, source identity, scope knows the resolvers, alerts)
        (coreDNSAddress, coreDNS, pod, false, false),  // the kube-dns pod
        (UInt32(0xa9fe_140a), Identity.world, pod, false, false),  // NodeLocal DNSCache
        (google, Identity.world, node, false, false),  // the node itself
        (google, Identity.world, Identity.remoteNode, false, false),
        (google, Identity.world, Identity(0x0100_0001), false, false),  // a CIDR identity: not a pod
        (kubeDNSService, Identity.world, pod, false, false),  // may be the kube-dns ClusterIP
        (kubeDNSService, Identity.world, pod, true, true),  // resolvers known: it is not one
        (google, Identity.world, pod, false, true),
    ] as [(UInt32, Identity, Identity, Bool, Bool)])
    func whichQueriesAreExternal(destination: UInt32, identity: Identity, source: Identity, known: Bool, alerts: Bool) {
        let scope = DetectionScope(resolverPrefixes: Self.scope.resolverPrefixes, resolversKnown: known)
        let engine = DetectorEngine(settings: DetectorSettings())
        let collect = DetectorEngineTests.Collector()
        engine.observe(.dnsQuery(Self.name(1)),
                       flow: Self.flow(from: Self.podAddress, identity: source, to: destination, destinationIdentity: identity, at: 0),
                       time: Self.time(0), scope: scope, emit: collect.callAsFunction)
        #expect(Self.kinds(collect) == (alerts ? [.dnsExternalResolver] : []))
    }

    @Test func aConfiguredResolverWorkloadIsTheClusters() {
        let scope = DetectionScope(resolverIdentities: [500], resolversKnown: true)
        let engine = DetectorEngine(settings: DetectorSettings())
        let collect = DetectorEngineTests.Collector()
        engine.observe(.dnsQuery(Self.name(1)), flow: Self.flow(from: Self.podAddress, to: 0x0a01_0203, destinationIdentity: Identity(500), at: 0),
                       time: Self.time(0), scope: scope, emit: collect.callAsFunction)
        engine.observe(.dnsQuery(Self.name(1)), flow: Self.flow(from: Self.podAddress, to: 0x0a01_0204, destinationIdentity: Identity(501), at: 1),
                       time: Self.time(1), scope: scope, emit: collect.callAsFunction)
        #expect(Self.kinds(collect) == [.dnsExternalResolver])
    }

    // MARK: dns_tunneling and dns_nxdomain_burst: distinct names per source

    @Test(arguments: [AlertKind.dnsTunneling, .dnsNXDomainBurst])
    func distinctNamesFireAtTheThresholdExactly(kind: AlertKind) {
        var settings = DetectorSettings()
        settings.tunnelNames = 4
        settings.nxdomainNames = 4
        let engine = DetectorEngine(settings: settings)
        let collect = DetectorEngineTests.Collector()
        func observe(_ hash: UInt64, at seconds: Double) {
            let finding: ConnectionFinding = kind == .dnsTunneling ? .dnsSuspiciousName(Self.name(hash)) : .dnsNXDomain(Self.name(hash))
            engine.observe(finding, flow: Self.flow(from: Self.podAddress, to: Self.coreDNSAddress, destinationIdentity: Self.coreDNS,
                                                    sourcePort: UInt16(41000 + Int(seconds * 10)), at: seconds),
                           time: Self.time(seconds), scope: Self.scope, emit: collect.callAsFunction)
        }
        // Three distinct names (one of them twice): N-1, no alert.
        for (index, hash) in [1, 2, 2, 3].enumerated() { observe(UInt64(hash), at: Double(index)) }
        #expect(collect.alerts.isEmpty)
        // The fourth distinct name: one alert; more names in the window do not fire again.
        observe(4, at: 4)
        #expect(Self.kinds(collect) == [kind])
        observe(5, at: 5)
        observe(6, at: 6)
        #expect(collect.alerts.count == 1)
    }

    @Test(arguments: [AlertKind.dnsTunneling, .dnsNXDomainBurst])
    func namesOlderThanTheWindowAreForgotten(kind: AlertKind) {
        var settings = DetectorSettings()
        settings.tunnelNames = 3
        settings.tunnelWindow = 10_000_000_000
        settings.nxdomainNames = 3
        settings.nxdomainWindow = 10_000_000_000
        let engine = DetectorEngine(settings: settings)
        let collect = DetectorEngineTests.Collector()
        // 0 s, 6 s, 12 s: never three names within 10 s.
        for (index, at) in [0.0, 6, 12, 18].enumerated() {
            let finding: ConnectionFinding = kind == .dnsTunneling
                ? .dnsSuspiciousName(Self.name(UInt64(index + 1))) : .dnsNXDomain(Self.name(UInt64(index + 1)))
            engine.observe(finding, flow: Self.flow(from: Self.podAddress, to: Self.coreDNSAddress, at: at), time: Self.time(at),
                           scope: Self.scope, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.isEmpty)
        // Two more within 10 s of 18 s: three in the window.
        let finding: ConnectionFinding = kind == .dnsTunneling ? .dnsSuspiciousName(Self.name(99)) : .dnsNXDomain(Self.name(99))
        engine.observe(finding, flow: Self.flow(from: Self.podAddress, to: Self.coreDNSAddress, at: 20), time: Self.time(20),
                       scope: Self.scope, emit: collect.callAsFunction)
        #expect(Self.kinds(collect) == [kind])
    }

    @Test func sourcesAreCountedApart() {
        var settings = DetectorSettings()
        settings.nxdomainNames = 2
        let engine = DetectorEngine(settings: settings)
        let collect = DetectorEngineTests.Collector()
        engine.observe(.dnsNXDomain(Self.name(1)), flow: Self.flow(from: Self.podAddress, to: Self.coreDNSAddress, at: 0),
                       time: Self.time(0), scope: Self.scope, emit: collect.callAsFunction)
        engine.observe(.dnsNXDomain(Self.name(2)), flow: Self.flow(from: Self.podAddress + 1, to: Self.coreDNSAddress, at: 1),
                       time: Self.time(1), scope: Self.scope, emit: collect.callAsFunction)
        #expect(collect.alerts.isEmpty)
    }

    // MARK: Allow-list and enable flags

    @Test(arguments: [
        ConnectionFinding.dnsQuery(DNSDetectorTests.name(1)), .dnsSuspiciousName(DNSDetectorTests.name(1)),
        .dnsNXDomain(DNSDetectorTests.name(1)),
    ])
    func allowListedSourcesAndDisabledDetectorsRaiseNothing(finding: ConnectionFinding) {
        var settings = DetectorSettings()
        settings.tunnelNames = 1
        settings.nxdomainNames = 1
        let flow = Self.flow(from: Self.podAddress, to: Self.google, at: 0)
        let firing = DetectorEngine(settings: settings)
        let collect = DetectorEngineTests.Collector()
        firing.observe(finding, flow: flow, time: Self.time(0), scope: Self.scope, emit: collect.callAsFunction)
        #expect(collect.alerts.count == 1)

        var allowed = settings
        allowed.allowedPrefixes = [IPPrefix(host: IPAddress(ipv4: Self.podAddress))]
        let byAddress = DetectorEngine(settings: allowed)
        byAddress.observe(finding, flow: flow, time: Self.time(0), scope: Self.scope, emit: collect.callAsFunction)
        #expect(byAddress.allowlisted == 1)
        let byIdentity = DetectorEngine(settings: settings)
        byIdentity.observe(finding, flow: flow, time: Self.time(0),
                           scope: DetectionScope(allowedIdentities: [Self.pod.rawValue], resolverPrefixes: Self.scope.resolverPrefixes),
                           emit: collect.callAsFunction)
        #expect(byIdentity.allowlisted == 1)

        var disabled = settings
        for detector in [AlertDetector.dnsExternalResolver, .dnsTunneling, .dnsNXDomainBurst] { disabled.setEnabled(detector, false) }
        #expect(!disabled.connectionChecks.contains(.dnsMessages))
        DetectorEngine(settings: disabled).observe(finding, flow: flow, time: Self.time(0), scope: Self.scope,
                                                   emit: collect.callAsFunction)
        #expect(collect.alerts.count == 1)
    }

    /// The alert carries what was found (for the record's `dns_tunnel`, `dns` objects).
    @Test func theFireCarriesTheFinding() {
        var settings = DetectorSettings()
        settings.tunnelNames = 1
        let engine = DetectorEngine(settings: settings)
        var facts = Self.name(7)
        facts.longestLabel = 50
        facts.entropyMillibits = 4488
        var fires: [AlertFire] = []
        engine.observe(.dnsSuspiciousName(facts), flow: Self.flow(from: Self.podAddress, to: Self.coreDNSAddress, at: 0),
                       time: Self.time(0), scope: Self.scope) { fire, _ in fires.append(fire) }
        #expect(fires.first?.dns == facts)
        #expect(fires.first?.distinct == 1)
        #expect(fires.first?.window == settings.tunnelWindow)
    }
}
