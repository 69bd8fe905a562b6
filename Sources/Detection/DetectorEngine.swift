import Datapath
import FlowCore

/// The detectors: counting windows over packet time, aggregation of repeats, bounded state.
/// Fed one connection event at a time in capture order (the pipeline merges the workers'
/// events first), so its alerts are the same with any number of workers. Single-threaded;
/// allocates nothing after `init`.
public final class DetectorEngine {
    public let settings: DetectorSettings
    let vertical: DistinctTracker
    let horizontal: DistinctTracker
    let flood: DistinctTracker
    let sweep: DistinctTracker
    let tunnel: DistinctTracker
    let nxdomain: DistinctTracker
    let aggregator: AlertAggregator
    /// Policy violations waiting for the scan detectors (nil: folding is off).
    let violations: ViolationHold?
    let rateLimit: SourceRateLimit
    /// Alerts written, by `AlertKind` (first occurrences and summaries).
    public private(set) var raised = [UInt64](repeating: 0, count: AlertKind.allCases.count)
    /// Occurrences counted into an open window instead of written.
    public private(set) var aggregated: UInt64 = 0
    /// Occurrences from allow-listed sources, not alerted.
    public private(set) var allowlisted: UInt64 = 0
    /// Policy violations counted in a scan's alert instead of written.
    public private(set) var folded: UInt64 = 0

    public init(settings: DetectorSettings) {
        self.settings = settings
        let capacity = settings.maxTrackers
        self.vertical = DistinctTracker(capacity: capacity, threshold: settings.scanPorts, window: settings.scanWindow)
        self.horizontal = DistinctTracker(capacity: capacity, threshold: settings.scanHosts, window: settings.scanWindow)
        self.flood = DistinctTracker(capacity: capacity, threshold: settings.floodSources, window: settings.floodWindow)
        self.sweep = DistinctTracker(capacity: capacity, threshold: settings.sweepHosts, window: settings.sweepWindow)
        self.tunnel = DistinctTracker(capacity: capacity, threshold: settings.tunnelNames, window: settings.tunnelWindow)
        self.nxdomain = DistinctTracker(capacity: capacity, threshold: settings.nxdomainNames, window: settings.nxdomainWindow)
        self.aggregator = AlertAggregator(capacity: settings.maxAggregates, window: settings.aggregationWindow)
        self.violations = settings.foldsPolicyViolations
            ? ViolationHold(capacity: settings.maxHeld, hold: settings.foldHold ?? DetectorSettings.defaultFoldHold) : nil
        self.rateLimit = SourceRateLimit(capacity: settings.maxAggregates, limit: settings.rateLimitCount,
                                         window: settings.rateLimitWindow)
    }

    /// Alert lines the per-source rate limit suppressed.
    public var rateLimited: UInt64 { self.rateLimit.suppressed }

    /// Policy violations handed back before their hold ended because the hold was full.
    public var heldReleasedEarly: UInt64 { self.violations?.releasedEarly ?? 0 }

    /// Counting windows given up because their table was full, over all detectors.
    public var trackersEvicted: UInt64 {
        self.vertical.evicted &+ self.horizontal.evicted &+ self.flood.evicted &+ self.sweep.evicted
            &+ self.tunnel.evicted &+ self.nxdomain.evicted
    }

    /// Aggregation windows closed early because their table was full (their summary is written then).
    public var aggregatesEvicted: UInt64 { self.aggregator.evicted }

    /// Handles one event about `flow` at packet time `time`; `emit` receives each alert to write.
    /// Returns whether an alert was raised about `flow` (written now, or counted into an open
    /// aggregation window): Suricata's `flow.alerted` for that connection. An allow-listed
    /// source, or a scan or flood counted below its threshold, raises none.
    @discardableResult
    public func observe(_ finding: ConnectionFinding, flow: FlowEntry, time: CaptureTime, scope: DetectionScope,
                        emit: (AlertFire, FlowEntry) -> Void) -> Bool {
        let source = flow.sourceAddress
        if finding != .wouldDrop, finding != .answered, self.isAllowlisted(source, identity: flow.sourceIdentity, scope: scope) {
            self.allowlisted &+= 1
            return false
        }
        let target = flow.destinationAddress
        switch finding {
        case .wouldDrop, .worldEgress:
            let kind: AlertKind = finding == .wouldDrop ? .policyViolation : .worldEgress
            let key = TrackerKey(first: source, second: target, port: flow.destinationPort, ipProtocol: flow.ipProtocol)
            if kind == .policyViolation, let violations = self.violations, self.mayBeScanned(flow, scope: scope) {
                // A scan of this source that already alerted takes it; else it waits for the scans.
                if self.foldIntoOpenScan(flow, time: time.nanoseconds) { return true }
                violations.add(AlertFire(kind: kind, time: time), key: key, flow: flow) { held in
                    self.note(held.fire, key: held.key, flow: held.flow, emit: emit)
                }
                return true
            }
            self.note(AlertFire(kind: kind, time: time), key: key, flow: flow, emit: emit)
            return true
        case .spoofedSource:
            let key = TrackerKey(first: source, second: .zero, port: 0, ipProtocol: 0)
            self.note(AlertFire(kind: .spoofedSource, time: time), key: key, flow: flow, emit: emit)
            return true
        case .invalidTCPFlags(let flags):
            let key = TrackerKey(first: source, second: target, port: 0, ipProtocol: flow.ipProtocol)
            self.note(AlertFire(kind: AlertKind(flags), time: time), key: key, flow: flow, emit: emit)
            return true
        case .tunnelMismatch(let vni, let sender):
            var fire = AlertFire(kind: .tunnelIdentityMismatch, time: time)
            fire.distinct = UInt64(vni)
            fire.sources = UInt64(sender)
            let key = TrackerKey(first: source, second: target, port: UInt16(truncatingIfNeeded: vni), ipProtocol: 0)
            self.note(fire, key: key, flow: flow, emit: emit)
            return true
        case .echoRequest:
            guard self.settings.isEnabled(.icmpSweep) else { return false }
            return self.countDistinct(.icmpSweep, in: self.sweep, key: TrackerKey(first: source, second: .zero, port: 0, ipProtocol: flow.ipProtocol),
                                      value: Self.hash(target), threshold: self.settings.sweepHosts, time: time, flow: flow, emit: emit)
        case .dnsQuery(let dns):
            // A pod (an allocated identity: not the node, whose own resolver legitimately asks
            // upstream) asking a resolver that is not the cluster's; once per (pod, resolver,
            // port, protocol) and aggregation window.
            guard self.settings.isEnabled(.dnsExternalResolver), flow.sourceIdentity.isWorkload,
                !scope.isClusterResolver(target, identity: flow.destinationIdentity)
            else { return false }
            let key = TrackerKey(first: source, second: target, port: flow.destinationPort, ipProtocol: flow.ipProtocol)
            var fire = AlertFire(kind: .dnsExternalResolver, time: time)
            fire.dns = dns
            self.note(fire, key: key, flow: flow, emit: emit)
            return true
        case .dnsSuspiciousName(let dns):
            guard self.settings.isEnabled(.dnsTunneling) else { return false }
            return self.countDistinct(.dnsTunneling, in: self.tunnel, key: TrackerKey(first: source, second: .zero, port: 0, ipProtocol: 0),
                                      value: dns.nameHash, threshold: self.settings.tunnelNames, time: time, flow: flow,
                                      dns: dns, emit: emit)
        case .dnsNXDomain(let dns):
            guard self.settings.isEnabled(.dnsNXDomainBurst) else { return false }
            return self.countDistinct(.dnsNXDomainBurst, in: self.nxdomain, key: TrackerKey(first: source, second: .zero, port: 0, ipProtocol: 0),
                                      value: dns.nameHash, threshold: self.settings.nxdomainNames, time: time, flow: flow,
                                      dns: dns, emit: emit)
        case .answered:
            // Not a probe: its violation, if held, is written (or taken by a scan that alerted) now.
            self.violations?.take(flowID: flow.flowID) { held in self.release(held, emit: emit) }
            return false
        case .failedAttempt:
            let start = flow.start
            var alerted = false
            if self.settings.isEnabled(.portScan) {
                let vertical = self.countDistinct(
                    .verticalPortScan, in: self.vertical,
                    key: TrackerKey(first: source, second: target, port: 0, ipProtocol: flow.ipProtocol),
                    value: UInt64(flow.destinationPort), threshold: self.settings.scanPorts, time: start, flow: flow, emit: emit)
                let horizontal = self.countDistinct(
                    .horizontalPortScan, in: self.horizontal,
                    key: TrackerKey(first: source, second: .zero, port: flow.destinationPort, ipProtocol: flow.ipProtocol),
                    value: Self.hash(target), threshold: self.settings.scanHosts, time: start, flow: flow, emit: emit)
                alerted = vertical || horizontal
            }
            if self.settings.isEnabled(.synFlood) && flow.ipProtocol == 6 {
                let connections = UInt64(self.settings.floodConnections), sources = self.settings.floodSources
                let key = TrackerKey(first: .zero, second: target, port: flow.destinationPort, ipProtocol: 6)
                let result = self.flood.note(key, value: Self.hash(source), time: start.nanoseconds) { attempts, distinct in
                    attempts >= connections && distinct >= sources
                }
                if result.fires {
                    var fire = AlertFire(kind: .synFlood, time: start)
                    fire.distinct = result.attempts
                    fire.sources = UInt64(result.distinct)
                    fire.window = self.settings.floodWindow
                    self.note(fire, key: key, flow: flow, emit: emit)
                    alerted = true
                }
            }
            return alerted
        }
    }

    /// Hands back the policy violations whose hold has ended and closes the aggregation
    /// windows that ended by `time` (called once per second of packet time).
    public func advance(to time: CaptureTime, emit: (AlertFire, FlowEntry) -> Void) {
        self.releaseViolations(endingBy: time.nanoseconds, emit: emit)
        self.closeWindows(endingBy: time.nanoseconds, emit: emit)
    }

    /// Hands back every held violation and closes every window (end of input or shutdown).
    public func finish(emit: (AlertFire, FlowEntry) -> Void) {
        self.releaseViolations(endingBy: nil, emit: emit)
        self.closeWindows(endingBy: nil, emit: emit)
    }

    private func closeWindows(endingBy time: Int64?, emit: (AlertFire, FlowEntry) -> Void) {
        self.aggregator.close(endingBy: time) { fire, flow in
            self.deliver(fire, flow: flow, emit: emit)
        }
    }

    /// Held violations whose hold ended: a scan that alerted about its source meanwhile (and
    /// whose aggregation window is still open) takes it; else it is alerted as usual.
    private func releaseViolations(endingBy time: Int64?, emit: (AlertFire, FlowEntry) -> Void) {
        self.violations?.release(endingBy: time) { held in self.release(held, emit: emit) }
    }

    private func release(_ held: ViolationHold.Held, emit: (AlertFire, FlowEntry) -> Void) {
        if !self.foldIntoOpenScan(held.flow, time: held.fire.firstSeen.nanoseconds) {
            self.note(held.fire, key: held.key, flow: held.flow, emit: emit)
        }
    }

    /// Whether a scan detector could explain a violation on `flow`: the port scans count TCP
    /// and UDP attempts, the sweep echo requests, and neither alerts on an allow-listed source.
    private func mayBeScanned(_ flow: FlowEntry, scope: DetectionScope) -> Bool {
        let counted = flow.isEchoRequest ? self.settings.isEnabled(.icmpSweep)
            : (flow.ipProtocol == 6 || flow.ipProtocol == 17) && self.settings.isEnabled(.portScan)
        return counted && !self.isAllowlisted(flow.sourceAddress, identity: flow.sourceIdentity, scope: scope)
    }

    /// Counts a violation at `time` into a scan alert about its source whose aggregation window
    /// is open (the alert is written; its summary will show the count); returns whether it did.
    private func foldIntoOpenScan(_ flow: FlowEntry, time: Int64) -> Bool {
        if flow.isEchoRequest {
            let key = TrackerKey(first: flow.sourceAddress, second: .zero, port: 0, ipProtocol: flow.ipProtocol)
            guard self.aggregator.fold(into: .icmpSweep, key: key, time: time) else { return false }
        } else {
            let vertical = TrackerKey(first: flow.sourceAddress, second: flow.destinationAddress, port: 0, ipProtocol: flow.ipProtocol)
            let horizontal = TrackerKey(first: flow.sourceAddress, second: .zero, port: flow.destinationPort,
                                        ipProtocol: flow.ipProtocol)
            guard self.aggregator.fold(into: .verticalPortScan, key: vertical, time: time)
                || self.aggregator.fold(into: .horizontalPortScan, key: horizontal, time: time)
            else { return false }
        }
        self.folded &+= 1
        return true
    }

    /// Takes the held violations a scan alert of `kind` about `key`, firing at `time`, explains:
    /// same source and protocol, the scanned host (vertical), port (horizontal) or an echo
    /// request (sweep), started within the scan's window.
    private func foldHeld(into kind: AlertKind, key: TrackerKey, time: CaptureTime, window: Int64) -> UInt64 {
        guard let violations = self.violations else { return 0 }
        let since = time.nanoseconds &- window
        let taken = violations.fold { held in
            let flow = held.flow
            guard flow.sourceAddress == key.first, flow.ipProtocol == key.ipProtocol,
                held.fire.firstSeen.nanoseconds > since
            else { return false }
            switch kind {
            case .verticalPortScan: return !flow.isEchoRequest && flow.destinationAddress == key.second
            case .horizontalPortScan: return !flow.isEchoRequest && flow.destinationPort == key.port
            case .icmpSweep: return flow.isEchoRequest
            default: return false
            }
        }
        self.folded &+= taken
        return taken
    }

    /// Writes an alert line unless the source's rate limit suppresses it; a written line says
    /// how many of the source's lines were suppressed before it.
    private func deliver(_ alert: AlertFire, flow: FlowEntry, emit: (AlertFire, FlowEntry) -> Void) {
        let admitted = self.rateLimit.admit(flow.sourceAddress, time: alert.lastSeen.nanoseconds)
        guard admitted.written else { return }
        var alert = alert
        alert.rateLimited = admitted.suppressedBefore
        self.raised[Int(alert.kind.rawValue)] &+= 1
        emit(alert, flow)
    }

    /// Scans, sweeps and DNS names: counts `value` in the key's window and alerts once when
    /// `threshold` distinct values are reached; returns whether it did.
    private func countDistinct(_ kind: AlertKind, in tracker: DistinctTracker, key: TrackerKey, value: UInt64,
                               threshold: Int, time: CaptureTime, flow: FlowEntry, dns: DNSFinding? = nil,
                               emit: (AlertFire, FlowEntry) -> Void) -> Bool {
        let result = tracker.note(key, value: value, time: time.nanoseconds) { _, distinct in distinct >= threshold }
        guard result.fires else { return false }
        var fire = AlertFire(kind: kind, time: time)
        fire.distinct = UInt64(result.distinct)
        fire.window = tracker.window
        fire.dns = dns
        if kind == .verticalPortScan || kind == .horizontalPortScan || kind == .icmpSweep {
            fire.folded = self.foldHeld(into: kind, key: key, time: time, window: tracker.window)
        }
        self.note(fire, key: key, flow: flow, emit: emit)
        return true
    }

    private func note(_ fire: AlertFire, key: TrackerKey, flow: FlowEntry,
                      emit: (AlertFire, FlowEntry) -> Void) {
        var written = false
        self.aggregator.note(fire, key: key, flow: flow) { alert, alertFlow in
            if !alert.isSummary { written = true }
            self.deliver(alert, flow: alertFlow, emit: emit)
        }
        if !written { self.aggregated &+= 1 }
    }

    private func isAllowlisted(_ address: IPAddress, identity: Identity, scope: DetectionScope) -> Bool {
        if self.settings.allowedPrefixes.containsAddress(address) { return true }
        return identity != .unknown && scope.allowedIdentities.contains(identity.rawValue)
    }

    @inline(__always)
    static func hash(_ address: IPAddress) -> UInt64 {
        TrackerKey(first: address, second: .zero, port: 0, ipProtocol: 0).hash
    }
}
