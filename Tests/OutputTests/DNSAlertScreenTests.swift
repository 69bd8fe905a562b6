@testable import Datapath
import Detection
import FlowCore
import L7
@testable import Output
import Testing

/// The worker's side of the DNS detectors: which messages become findings, once per
/// connection for the first query, with the name's bytes kept beside them and the key after
/// the message's `dns` record. Messages are built by hand as RFC 1035 §4.1 lays them out.
struct DNSAlertScreenTests {
    static func message(id: UInt16, name: String, qtype: UInt16 = 1, response: Bool = false, rcode: UInt8 = 0) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), response ? 0x81 : 0x01, response ? 0x80 | rcode : 0x00,
                              0, 1, 0, 0, 0, 0, 0, 0]
        for label in name.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += label.utf8
        }
        bytes += [0, UInt8(qtype >> 8), UInt8(qtype & 0xff), 0, 1]
        return bytes
    }

    final class Worker {
        let renderer = EventRenderer(hubble: false, findingCapacity: 16)
        let flow = UnsafeMutablePointer<FlowEntry>.allocate(capacity: 1)
        let screen: DNSAlertScreen
        var counter: UInt64 = 0

        /// A connection from a pod (identity 300) to `server` (8.8.8.8 unless given), with the
        /// scope an inventory gives (the kube-dns pod 10.244.0.2; `scope` nil: no inventory).
        init(_ settings: DetectorSettings = DetectorSettings(), server: UInt32 = 0x0808_0808, source: Identity = Identity(300),
             scope: DetectionScope? = DetectionScope(resolverPrefixes: [IPPrefix(host: IPAddress(ipv4: 0x0af4_0002))])) {
            self.screen = DNSAlertScreen(settings)!
            if let scope { self.screen.add(scope) }
            let client = IPAddress(ipv4: 0x0af4_000a)
            var entry = FlowEntry(key: FlowKey(lowAddress: client, highAddress: IPAddress(ipv4: server), lowPort: 40000, highPort: 53,
                                               ipProtocol: 17, vni: 0),
                                  initiatorIsLow: true, ipVersion: 4, time: CaptureTime(nanoseconds: 0))
            entry.sourceIdentity = source
            entry.destinationIdentity = .world
            self.flow.initialize(to: entry)
        }

        deinit { self.flow.deallocate() }

        func see(_ bytes: [UInt8], fromInitiator: Bool = true) {
            bytes.withUnsafeBytes { raw in
                guard case .success(let message) = DNSMessage.parse(raw) else {
                    Issue.record("not a DNS message")
                    return
                }
                self.screen.screen(DNSDigest(message), flow: self.flow, fromInitiator: fromInitiator,
                                   time: CaptureTime(nanoseconds: 1), renderer: self.renderer) {
                    self.counter += 1
                    return EmissionKey(event: 7, primary: 0, secondary: self.counter)
                }
            }
        }

        var findings: [ConnectionFinding] { self.renderer.findings!.entries.map(\.finding) }

        func name(_ index: Int) -> String {
            let buffer = self.renderer.findings!
            let facts: DNSFinding
            switch buffer.entries[index].finding {
            case .dnsQuery(let found), .dnsSuspiciousName(let found), .dnsNXDomain(let found): facts = found
            default: return ""
            }
            return String(decoding: buffer.name(of: facts), as: UTF8.self)
        }
    }

    @Test func theFirstQueryOfAConnectionIsAFinding() {
        let worker = Worker()
        worker.see(Self.message(id: 1, name: "example.org"))
        worker.see(Self.message(id: 2, name: "example.org", qtype: 28))
        #expect(worker.findings.count == 1)
        guard case .dnsQuery(let facts) = worker.findings.first else {
            Issue.record("\(worker.findings)")
            return
        }
        #expect(facts.queryType == 1 && facts.nameLength == 11)
        #expect(worker.name(0) == "example.org")
        #expect(worker.renderer.findings!.entries[0].key.primary == 4)  // after the message's `dns` record
        #expect(worker.flow.pointee.raisedAlerts & FlowEntry.raisedDNSQuery != 0)
    }

    /// Only a pod's query to a resolver outside the scope goes to the detectors.
    @Test(arguments: [
        (UInt32(0x0af4_0002), Identity(300), true),  // the kube-dns pod
        (UInt32(0x0a60_000a), Identity(300), true),  // maybe the kube-dns ClusterIP (not known)
        (UInt32(0x0808_0808), Identity.host, true),  // the node itself
        (UInt32(0x0808_0808), Identity(300), false),  // without an inventory: no scope
    ] as [(UInt32, Identity, Bool)])
    func queriesToTheClustersResolversAreNoFinding(server: UInt32, source: Identity, hasScope: Bool) {
        let worker = hasScope ? Worker(server: server, source: source) : Worker(server: server, source: source, scope: nil)
        worker.see(Self.message(id: 1, name: "example.org"))
        #expect(worker.findings.isEmpty)
    }

    @Test func aSuspiciousNameIsAFindingOfItsOwn() {
        let worker = Worker()
        let name = "gq6xp63nynaynfpwck3ld6u6xrxqale5dbattkzhxtqm4rz5br.tunnel.example.net"
        worker.see(Self.message(id: 1, name: name, qtype: 16))
        #expect(worker.findings.count == 2)
        guard case .dnsSuspiciousName(let facts) = worker.findings.last else {
            Issue.record("\(worker.findings)")
            return
        }
        #expect(facts.longestLabel == 50 && facts.entropyMillibits == 4488 && facts.queryType == 16)
        #expect(facts.nameHash == DNSNameShape(name).labelHash)
        #expect(worker.name(1) == name)
        // Just below every test: not suspicious.
        var settings = DetectorSettings()
        settings.tunnelLabelLength = 51
        settings.tunnelEntropyMillibits = 4489
        let below = Worker(settings)
        below.see(Self.message(id: 1, name: name, qtype: 16))
        #expect(below.findings.count == 1)
    }

    @Test func nxdomainAnswersToTheClientAreFindingsOutsideTheIgnoredSuffixes() {
        let worker = Worker()
        worker.see(Self.message(id: 1, name: "qxkzvbw7.com", response: true, rcode: 3), fromInitiator: false)
        worker.see(Self.message(id: 2, name: "qxkzvbw7.com.shop.svc.cluster.local", response: true, rcode: 3), fromInitiator: false)
        worker.see(Self.message(id: 3, name: "cluster.local", response: true, rcode: 3), fromInitiator: false)
        worker.see(Self.message(id: 4, name: "example.com", response: true, rcode: 0), fromInitiator: false)
        worker.see(Self.message(id: 5, name: "example.com", response: true, rcode: 2), fromInitiator: false)
        worker.see(Self.message(id: 6, name: "sent-by-the-client.com", response: true, rcode: 3))
        #expect(worker.findings.count == 1)
        guard case .dnsNXDomain(let facts) = worker.findings.first else {
            Issue.record("\(worker.findings)")
            return
        }
        #expect(facts.rcode == 3)
        #expect(worker.name(0) == "qxkzvbw7.com")
    }

    @Test func disabledDetectorsFindNothing() {
        var settings = DetectorSettings()
        for detector in [AlertDetector.dnsExternalResolver, .dnsTunneling, .dnsNXDomainBurst] { settings.setEnabled(detector, false) }
        #expect(DNSAlertScreen(settings) == nil)
        #expect(DNSAlertScreen(nil) == nil)
        settings.setEnabled(.dnsNXDomainBurst, true)
        let worker = Worker(settings)
        worker.see(Self.message(id: 1, name: "gq6xp63nynaynfpwck3ld6u6xrxqale5dbattkzhxtqm4rz5br.tunnel.example.net"))
        #expect(worker.findings.isEmpty)
    }
}
