import Datapath
import Decoding
import Detection
import FlowCore
import L7

/// A worker's application layer: reads the payload the capture thread's tap sent with a packet
/// (DNS messages, HTTP/1.x streams, a TLS ClientHello), judges requests by the L7 rules of the
/// policy entry that allowed their connection, and writes the `dns`, `http` and `tls` records
/// and the Hubble L7 flows, keyed after the packet's own events. The connection it owns is the
/// one the datapath just counted the packet in, so the records carry its `flow_id` and endpoints.
/// Allocates, but only for packets that carry application payload.
package final class ApplicationRecorder {
    package let settings: ApplicationSettings
    /// The names flows carry, from the capture thread's name cache.
    package let names: NameSets
    private var tallies = ApplicationCounters()
    /// What this worker's application layer counted.
    package var counters: ApplicationCounters {
        var counters = self.tallies
        let assembly = self.dnsStreams.counters
        counters[.dnsTCPAssembled] = assembly.assembled
        counters[.dnsTCPGap] = assembly.gaps
        counters[.dnsTCPPartial] = assembly.incomplete
        return counters
    }
    /// Per connection (by flow id): the DNS queries waiting for their answer (id → time), for
    /// the answer's latency.
    private var pendingQueries: [UInt64: [UInt16: Int64]] = [:]
    /// Per connection: its HTTP/1.x parser and transactions written so far (Suricata's `tx_id`),
    /// in a box a segment updates in place (a struct taken out of the dictionary and put back
    /// copied its arrays and strings for every segment).
    private var http: [UInt64: HTTPState] = [:]
    /// Per connection: its ClientHello reader, and whether it is done (read or refused).
    private var tls: [UInt64: (reader: TLSClientHelloReader, done: Bool)] = [:]
    /// DNS over TCP: each direction's message spanning segments, as it is assembled.
    private var dnsStreams = DNSStreamAssembler<DNSStream>()
    /// The DNS detectors' findings, when one of them is on.
    package let dnsAlerts: DNSAlertScreen?
    /// HTTP connections whose parser stopped reading both directions since the owner last
    /// emptied this (by the flow's endpoints, initiator first, and the time of the segment it
    /// stopped at): the capture thread's tap need not send their segments any more
    /// (`FlowProcessor` passes them on).
    package var stoppedHTTP: [(source: IPAddress, sourcePort: UInt16, destination: IPAddress, destinationPort: UInt16,
                               time: CaptureTime)] = []

    package init(settings: ApplicationSettings, names: NameSets, detectors: DetectorSettings? = nil) {
        self.settings = settings
        self.names = names
        self.dnsAlerts = DNSAlertScreen(detectors)
    }

    /// One packet's payload on `flow` (the connection the datapath just counted it in).
    package func observe(_ summary: PacketSummary, payload: UnsafeRawBufferPointer,
                         flow: UnsafeMutablePointer<FlowEntry>, time: CaptureTime, renderer: EventRenderer,
                         nextKey: () -> EmissionKey) {
        let fromInitiator = flow.pointee.sourceAddress == summary.source && flow.pointee.sourcePort == summary.sourcePort
        switch AppProtocol(rawValue: summary.applicationProtocol) {
        case .dns:
            let overTCP = summary.ipProtocol == IPProtocolNumber.tcp
            if payload.count < summary.payloadLength { self.tallies.count(.payloadCut) }
            if overTCP {
                let stream = DNSStream(flowID: flow.pointee.flowID, fromInitiator: fromInitiator)
                self.dnsStreams.feed(payload, wireLength: summary.payloadLength, sequence: summary.tcpSequence, key: stream,
                                     time: time.nanoseconds) { bytes in
                    self.dns(bytes, flow: flow, fromInitiator: fromInitiator, time: time, renderer: renderer, nextKey: nextKey)
                }
                if summary.tcpFlags & (TCPFlag.fin | TCPFlag.rst) != 0 { self.endDNSStreams(of: flow.pointee.flowID) }
            } else {
                self.dns(payload, flow: flow, fromInitiator: fromInitiator, time: time, renderer: renderer, nextKey: nextKey)
            }
        case .http:
            let entry = flow.pointee
            let state: HTTPState
            if let known = self.http[entry.flowID] {
                state = known
            } else {
                state = HTTPState(HTTPConnection(limits: HTTPLimits(depth: self.settings.httpDepth)))
                self.http[entry.flowID] = state
            }
            // A cut counts where it is a loss: on a connection still read (the tap stops sending
            // the segments of one no longer read when it learns so, which is not deterministic
            // across workers).
            guard state.connection.isParsing else { return }
            if payload.count < summary.payloadLength { self.tallies.count(.payloadCut) }
            let closing = summary.tcpFlags & (TCPFlag.fin | TCPFlag.rst) != 0
            var key = nextKey()
            key.primary = 4
            state.connection.feed(payload, sequence: summary.tcpSequence, fromClient: fromInitiator,
                                  time: time.nanoseconds) { event in
                self.http(event, flow: entry, transactions: &state.transactions, time: time, key: key, renderer: renderer)
            }
            if closing {
                state.connection.close(fromClient: fromInitiator) { event in
                    self.http(event, flow: entry, transactions: &state.transactions, time: time, key: key,
                              renderer: renderer)
                }
            }
            if !state.connection.isParsing {
                self.stoppedHTTP.append((entry.sourceAddress, entry.sourcePort, entry.destinationAddress, entry.destinationPort,
                                         time))
            }
        case .tls:
            guard fromInitiator else { return }
            let entry = flow.pointee
            // Fed in place; a connection whose ClientHello was read (or refused) reads nothing more.
            guard self.tls[entry.flowID]?.done != true else { return }
            switch self.tls[entry.flowID, default: (TLSClientHelloReader(), false)].reader.feed(payload, sequence: summary.tcpSequence) {
            case .needMore:
                break
            case .hello(let hello):
                self.tls[entry.flowID]?.done = true
                self.tallies.count(.tlsClientHellos)
                let annotations = renderer.annotations(of: entry)
                renderer.flows.beginRecord()
                TLSRecord.append(hello, flow: entry, time: time,
                                 verdict: Self.tlsVerdict(hello.serverName, flow: entry, rules: annotations?.l7Rules),
                                 annotations: annotations, interfaces: renderer.interfaces,
                                 to: &renderer.flows.block.buffer)
                var key = nextKey()
                key.primary = 4
                renderer.flows.endRecord(key)
            case .failed(let error):
                self.tls[entry.flowID]?.done = true
                self.tallies.count(error)
            }
        default:
            break
        }
    }

    /// The connection ended (`key`: its flow record's): the HTTP transactions in progress are
    /// written, ahead of the flow record, and its state goes.
    package func ended(_ flow: FlowEntry, key: EmissionKey, renderer: EventRenderer) {
        // A connection none of whose packets carried application payload has no state here
        // (every packet `observe` read marked its flow's `applicationProtocol`).
        guard flow.applicationProtocol != 0 else { return }
        if !self.pendingQueries.isEmpty { self.pendingQueries[flow.flowID] = nil }
        self.endDNSStreams(of: flow.flowID)
        if !self.tls.isEmpty, let state = self.tls.removeValue(forKey: flow.flowID), !state.done {
            self.tallies.count(.tlsIncomplete)
        }
        guard !self.http.isEmpty, let state = self.http.removeValue(forKey: flow.flowID) else { return }
        state.connection.end { event in
            self.http(event, flow: flow, transactions: &state.transactions, time: flow.end, key: key, renderer: renderer)
        }
    }

    // MARK: Verdicts

    /// A DNS message judged by the `rules.dns` of the client's egress entry (Cilium's DNS proxy
    /// sits on the client's egress; it rejects DNS rules on ingress). A response carries the
    /// verdict of its question.
    static func dnsVerdict(_ digest: DNSDigest, flow: FlowEntry, rules: L7RuleTable?) -> L7Verdict {
        guard let rules, flow.egressEvaluated, flow.egressDecision.l7RuleSet != 0,
            let set = rules[UInt32(flow.egressDecision.l7RuleSet)], set.dns != nil, let query = digest.query
        else { return .notEvaluated }
        return L7Verdict(outcome: set.allowsDNS(queryName: query) ? .allowed : .denied, direction: .egress,
                         policySet: flow.egressDecision.policySet)
    }

    /// An HTTP request judged by the `rules.http` of the client's egress entry and of the
    /// server's ingress entry, each where its side has them (a proxy on each side, as Cilium
    /// runs one per direction): refused when either refuses it.
    static func httpVerdict(_ request: HTTPRequest, flow: FlowEntry, rules: L7RuleTable?) -> L7Verdict {
        guard let rules else { return .notEvaluated }
        var verdict = L7Verdict.notEvaluated
        for direction in [TrafficDirection.egress, .ingress] {
            let evaluated = direction == .egress ? flow.egressEvaluated : flow.ingressEvaluated
            let decision = direction == .egress ? flow.egressDecision : flow.ingressDecision
            guard evaluated, decision.l7RuleSet != 0, let set = rules[UInt32(decision.l7RuleSet)], set.http != nil else { continue }
            let facts = HTTPRequestFacts(method: request.method, path: request.path ?? request.target, host: request.host,
                                         headers: request.headers.map { ($0.name, $0.value) })
            let allowed = set.allows(request: facts)
            if !allowed { return L7Verdict(outcome: .denied, direction: direction, policySet: decision.policySet) }
            if verdict.outcome == .notEvaluated {
                verdict = L7Verdict(outcome: .allowed, direction: direction, policySet: decision.policySet)
            }
        }
        return verdict
    }

    /// A ClientHello judged by the `serverNames` of the entries that allowed its connection.
    static func tlsVerdict(_ serverName: String?, flow: FlowEntry, rules: L7RuleTable?) -> L7Verdict {
        guard let rules else { return .notEvaluated }
        var verdict = L7Verdict.notEvaluated
        for direction in [TrafficDirection.egress, .ingress] {
            let evaluated = direction == .egress ? flow.egressEvaluated : flow.ingressEvaluated
            let decision = direction == .egress ? flow.egressDecision : flow.ingressDecision
            guard evaluated, decision.l7RuleSet != 0, let set = rules[UInt32(decision.l7RuleSet)], set.serverNames != nil else {
                continue
            }
            if !set.allowsServerName(serverName) {
                return L7Verdict(outcome: .denied, direction: direction, policySet: decision.policySet)
            }
            if verdict.outcome == .notEvaluated {
                verdict = L7Verdict(outcome: .allowed, direction: direction, policySet: decision.policySet)
            }
        }
        return verdict
    }

    // MARK: HTTP

    private func http(_ event: HTTPEvent, flow: FlowEntry, transactions: inout UInt64, time: CaptureTime,
                      key: EmissionKey, renderer: EventRenderer) {
        let annotations = renderer.annotations(of: flow)
        switch event {
        case .request(let request):
            self.tallies.count(.httpRequests)
            guard let hubble = renderer.hubble, let annotations else { return }
            let verdict = Self.httpVerdict(request, flow: flow, rules: annotations.l7Rules)
            hubble.beginRecord()
            HubbleL7Record.append(
                flow, fromInitiator: true, time: CaptureTime(nanoseconds: request.time), isResponse: false, latency: 0,
                verdict: verdict, names: self.names, annotations: annotations, interfaces: renderer.interfaces,
                summary: HTTPRecord.hubbleSummary(request, response: nil), to: &hubble.block.buffer
            ) { out in HTTPRecord.appendHubbleRecord(request, response: nil, to: &out) }
            hubble.endRecord(key)
        case .response(let response, let request):
            self.tallies.count(.httpResponses)
            self.transaction(request, response: response, flow: flow, transactions: &transactions, time: time, key: key,
                             renderer: renderer)
            guard let hubble = renderer.hubble, let annotations else { return }
            hubble.beginRecord()
            HubbleL7Record.append(
                flow, fromInitiator: false, time: CaptureTime(nanoseconds: response.time), isResponse: true,
                latency: max(0, response.time - request.time),
                verdict: Self.httpVerdict(request, flow: flow, rules: annotations.l7Rules), names: self.names,
                annotations: annotations, interfaces: renderer.interfaces,
                summary: HTTPRecord.hubbleSummary(request, response: response), to: &hubble.block.buffer
            ) { out in HTTPRecord.appendHubbleRecord(request, response: response, to: &out) }
            hubble.endRecord(key)
        case .unanswered(let request):
            self.transaction(request, response: nil, flow: flow, transactions: &transactions, time: time, key: key,
                             renderer: renderer)
        case .error(let error, _):
            self.tallies.count(error)
        }
    }

    /// The `http` record of one transaction.
    private func transaction(_ request: HTTPRequest, response: HTTPResponse?, flow: FlowEntry, transactions: inout UInt64,
                             time: CaptureTime, key: EmissionKey, renderer: EventRenderer) {
        let annotations = renderer.annotations(of: flow)
        renderer.flows.beginRecord()
        HTTPRecord.append(request, response: response, transaction: transactions, flow: flow, time: time,
                          verdict: Self.httpVerdict(request, flow: flow, rules: annotations?.l7Rules),
                          annotations: annotations, interfaces: renderer.interfaces, to: &renderer.flows.block.buffer)
        renderer.flows.endRecord(key)
        transactions &+= 1
    }

    // MARK: DNS

    /// One direction of a DNS-over-TCP connection.
    private struct DNSStream: Hashable {
        var flowID: UInt64
        var fromInitiator: Bool
    }

    private func endDNSStreams(of flowID: UInt64) {
        self.dnsStreams.end(DNSStream(flowID: flowID, fromInitiator: true))
        self.dnsStreams.end(DNSStream(flowID: flowID, fromInitiator: false))
    }

    private func dns(_ bytes: UnsafeRawBufferPointer, flow: UnsafeMutablePointer<FlowEntry>, fromInitiator: Bool,
                     time: CaptureTime, renderer: EventRenderer, nextKey: () -> EmissionKey) {
        let message: DNSMessage
        switch DNSMessage.parse(bytes) {
        case .success(let parsed): message = parsed
        case .failure(let error):
            self.tallies.count(error)
            return
        }
        self.tallies.count(message.isResponse ? .dnsResponses : .dnsQueries)
        let digest = DNSDigest(message)
        let entry = flow.pointee
        var latency: Int64 = 0
        if digest.isResponse {
            if let asked = self.pendingQueries[entry.flowID]?.removeValue(forKey: digest.id) { latency = time.nanoseconds - asked }
        } else {
            // Bounded: a connection with 64 unanswered queries forgets the rest. In place (a copy
            // taken out and put back copied the connection's table for every query).
            if self.pendingQueries[entry.flowID, default: [:]].count < 64 {
                self.pendingQueries[entry.flowID, default: [:]][digest.id] = time.nanoseconds
            }
        }
        let annotations = renderer.annotations(of: entry)
        let verdict = Self.dnsVerdict(digest, flow: entry, rules: annotations?.l7Rules)
        var key = nextKey()
        key.primary = 4  // after the packet's Hubble policy lines (places 0-3)
        renderer.flows.beginRecord()
        DNSRecord.append(digest, flow: entry, fromInitiator: fromInitiator, time: time, verdict: verdict,
                         annotations: annotations, interfaces: renderer.interfaces, to: &renderer.flows.block.buffer)
        renderer.flows.endRecord(key)
        if let hubble = renderer.hubble, let annotations {
            hubble.beginRecord()
            HubbleL7Record.append(
                entry, fromInitiator: fromInitiator, time: time, isResponse: digest.isResponse, latency: latency,
                verdict: verdict, names: self.names, annotations: annotations, interfaces: renderer.interfaces,
                summary: DNSRecord.hubbleSummary(digest), to: &hubble.block.buffer
            ) { out in DNSRecord.appendHubbleRecord(digest, to: &out) }
            hubble.endRecord(key)
        }
        self.dnsAlerts?.screen(digest, flow: flow, fromInitiator: fromInitiator, time: time, renderer: renderer,
                               nextKey: nextKey)
    }
}

/// One connection's HTTP/1.x parser and the transactions it wrote.
private final class HTTPState {
    var connection: HTTPConnection
    var transactions: UInt64 = 0

    init(_ connection: HTTPConnection) { self.connection = connection }
}

/// What the application layer counted, for `stats.l7`: messages read, the name cache's work,
/// and each way payload was refused, by stable dotted names. A fixed block: copied into every
/// epoch's statistics without allocating.
public struct ApplicationCounters: Sendable {
    public enum Counter: Int, CaseIterable, Sendable {
        case dnsQueries, dnsResponses, dnsTCPAssembled, dnsTCPGap, dnsTCPPartial, dnsCacheLearned, dnsCacheEvicted
        case dnsCacheExpired, dnsCacheAddresses, dnsNameSetsFull
        case httpRequests, httpResponses, tlsClientHellos, tlsIncomplete, payloadCut, unfollowed

        public var name: StaticString {
            switch self {
            case .dnsQueries: "dns.queries"
            case .dnsResponses: "dns.responses"
            case .dnsTCPAssembled: "dns.tcp_assembled"
            case .dnsTCPGap: "dns.tcp_gap"
            case .dnsTCPPartial: "dns.tcp_partial"
            case .dnsCacheLearned: "dns.cache_learned"
            case .dnsCacheEvicted: "dns.cache_evicted"
            case .dnsCacheExpired: "dns.cache_expired"
            case .dnsCacheAddresses: "dns.cache_addresses"
            case .dnsNameSetsFull: "dns.name_sets_full"
            case .httpRequests: "http.requests"
            case .httpResponses: "http.responses"
            case .tlsClientHellos: "tls.client_hellos"
            case .tlsIncomplete: "tls.incomplete"
            case .payloadCut: "payload_cut"
            case .unfollowed: "unfollowed"
            }
        }
    }

    static let dnsErrors = DNSParseError.allCases
    static let httpErrors = HTTPParseError.allCases
    static let tlsErrors = TLSParseError.allCases

    var values = InlineArray<16, UInt64>(repeating: 0)
    var dnsErrorCounts = InlineArray<8, UInt64>(repeating: 0)
    var httpErrorCounts = InlineArray<16, UInt64>(repeating: 0)
    var tlsErrorCounts = InlineArray<8, UInt64>(repeating: 0)

    public init() {}

    public subscript(_ counter: Counter) -> UInt64 {
        get { self.values[counter.rawValue] }
        set { self.values[counter.rawValue] = newValue }
    }

    mutating func count(_ counter: Counter) { self.values[counter.rawValue] &+= 1 }

    mutating func count(_ error: DNSParseError) {
        if let index = Self.dnsErrors.firstIndex(of: error) { self.dnsErrorCounts[index] &+= 1 }
    }

    mutating func count(_ error: HTTPParseError) {
        if let index = Self.httpErrors.firstIndex(of: error) { self.httpErrorCounts[index] &+= 1 }
    }

    mutating func count(_ error: TLSParseError) {
        if let index = Self.tlsErrors.firstIndex(of: error) { self.tlsErrorCounts[index] &+= 1 }
    }

    public mutating func add(_ other: ApplicationCounters) {
        for index in 0..<self.values.count { self.values[index] &+= other.values[index] }
        for index in 0..<self.dnsErrorCounts.count { self.dnsErrorCounts[index] &+= other.dnsErrorCounts[index] }
        for index in 0..<self.httpErrorCounts.count { self.httpErrorCounts[index] &+= other.httpErrorCounts[index] }
        for index in 0..<self.tlsErrorCounts.count { self.tlsErrorCounts[index] &+= other.tlsErrorCounts[index] }
    }

    /// Every counter by name, in a fixed order: the counters, then the refusals that happened.
    public func forEach(_ body: (StaticString, UInt64) -> Void) {
        for counter in Counter.allCases { body(counter.name, self.values[counter.rawValue]) }
        for index in 0..<Self.dnsErrors.count where self.dnsErrorCounts[index] > 0 {
            body(Self.dnsErrors[index].name, self.dnsErrorCounts[index])
        }
        for index in 0..<Self.httpErrors.count where self.httpErrorCounts[index] > 0 {
            body(Self.httpErrors[index].name, self.httpErrorCounts[index])
        }
        for index in 0..<Self.tlsErrors.count where self.tlsErrorCounts[index] > 0 {
            body(Self.tlsErrors[index].name, self.tlsErrorCounts[index])
        }
    }
}
