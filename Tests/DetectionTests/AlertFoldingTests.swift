@testable import Datapath
import Detection
import FlowCore
import Testing

/// Folding policy violations into the scan that explains them, and the per-source rate limit,
/// on literal times (docs/alerts.md, "Folding" and "Rate limit").
struct AlertFoldingTests {
    typealias Flow = DetectorEngineTests

    final class Lines {
        var fires: [AlertFire] = []
        var sources: [UInt32] = []
        func callAsFunction(_ fire: AlertFire, _ flow: FlowEntry) {
            self.fires.append(fire)
            self.sources.append(flow.sourceAddress.ipv4Value)
        }
        func kinds(_ kind: AlertKind) -> [AlertFire] { self.fires.filter { $0.kind == kind } }
    }

    /// A scanner probing `ports` ports of host 2 at 0.1 s steps: each probe is a new connection
    /// policy denies (a violation when it starts), and a failed attempt judged `judgedAfter`
    /// seconds later (the refused connection's timeout), as the pipeline hands them over.
    static func scan(_ engine: DetectorEngine, ports: Int, from source: UInt32 = 1, judgedAfter: Double = 10,
                     lines: Lines) {
        var events: [(Double, ConnectionFinding, FlowEntry)] = []
        for index in 0..<ports {
            let at = Double(index) * 0.1
            let flow = Flow.flow(from: source, to: 2, port: UInt16(1000 + index), at: at)
            events.append((at, .wouldDrop, flow))
            events.append((at + judgedAfter, .failedAttempt, flow))
        }
        var second = 0.0
        for (at, finding, flow) in events.sorted(by: { $0.0 < $1.0 }) {
            while second + 1 <= at {
                second += 1
                engine.advance(to: Flow.time(second), emit: lines.callAsFunction)
            }
            engine.observe(finding, flow: flow, time: Flow.time(at), scope: .empty, emit: lines.callAsFunction)
        }
        engine.finish(emit: lines.callAsFunction)
    }

    @Test func aScanFoldsTheViolationsItExplains() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let lines = Lines()
        Self.scan(engine, ports: 30, lines: lines)
        #expect(lines.kinds(.policyViolation).isEmpty)
        let scans = lines.kinds(.verticalPortScan)
        // Fired at the 15th refused probe: all 30 violations were held then (the last started at
        // +2.9 s, the 15th attempt was judged at +11.4 s).
        #expect(scans.map(\.folded) == [30])
        #expect(scans.map(\.isSummary) == [false])
        #expect(engine.counters.folded == 30)
        #expect(engine.counters.raised[Int(AlertKind.policyViolation.rawValue)] == 0)
    }

    /// Without folding, the same events give one line per violation (the old behaviour).
    @Test func withoutFoldingEveryViolationIsWritten() {
        var settings = DetectorSettings()
        settings.foldsPolicyViolations = false
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        Self.scan(engine, ports: 30, lines: lines)
        #expect(lines.kinds(.policyViolation).count == 30)
        #expect(lines.kinds(.verticalPortScan).map(\.folded) == [0])
    }

    /// A probe judged after the hold ended is written; a scan that has alerted takes the
    /// violations that come later in its aggregation window, and its summary counts them.
    @Test func violationsAfterTheHoldOrAfterTheAlertAreWrittenOrCountedInTheSummary() {
        var settings = DetectorSettings()
        settings.foldHold = 5_000_000_000
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        // Judged 10 s after they start: a 5 s hold has ended before the scan decides.
        Self.scan(engine, ports: 20, judgedAfter: 10, lines: lines)
        #expect(lines.kinds(.policyViolation).count == 20)
        #expect(lines.kinds(.verticalPortScan).map(\.folded) == [0])

        let later = DetectorEngine(settings: settings)
        let more = Lines()
        for index in 0..<15 {
            let at = Double(index) * 0.1
            later.observe(.failedAttempt, flow: Flow.flow(from: 1, to: 2, port: UInt16(index), at: at), time: Flow.time(at),
                          scope: .empty, emit: more.callAsFunction)
        }
        #expect(more.kinds(.verticalPortScan).count == 1)
        // Three denied connections to the scanned host after the alert: folded at once.
        for index in 0..<3 {
            let at = 5.0 + Double(index)
            later.observe(.wouldDrop, flow: Flow.flow(from: 1, to: 2, port: UInt16(2000 + index), at: at), time: Flow.time(at),
                          scope: .empty, emit: more.callAsFunction)
        }
        later.finish(emit: more.callAsFunction)
        #expect(more.kinds(.policyViolation).isEmpty)
        #expect(more.kinds(.verticalPortScan).map(\.folded) == [0, 3])
        #expect(more.kinds(.verticalPortScan).map(\.isSummary) == [false, true])
        #expect(more.kinds(.verticalPortScan).map(\.count) == [1, 1])
    }

    /// Violations of another source, or to another host, are not the scan's: written after the hold.
    @Test func violationsTheScanDoesNotExplainAreWritten() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let lines = Lines()
        engine.observe(.wouldDrop, flow: Flow.flow(from: 7, to: 2, port: 1000, at: 0), time: Flow.time(0), scope: .empty,
                       emit: lines.callAsFunction)
        engine.observe(.wouldDrop, flow: Flow.flow(from: 1, to: 3, port: 1000, at: 0.5), time: Flow.time(0.5), scope: .empty,
                       emit: lines.callAsFunction)
        #expect(lines.fires.isEmpty, "held")
        engine.advance(to: Flow.time(31), emit: lines.callAsFunction)
        #expect(lines.fires.isEmpty, "held for 32 s")
        engine.advance(to: Flow.time(33), emit: lines.callAsFunction)
        #expect(lines.kinds(.policyViolation).count == 2)
        #expect(lines.sources == [7, 1])
        Self.scan(engine, ports: 20, lines: lines)
        #expect(lines.kinds(.policyViolation).count == 2)
        #expect(lines.kinds(.verticalPortScan).map(\.folded) == [20])
    }

    /// What no scan detector counts (SCTP, an allow-listed source) is written at once.
    @Test func violationsNoScanCanExplainAreNotHeld() {
        var settings = DetectorSettings()
        settings.allowedPrefixes = [IPPrefix(address: IPAddress(ipv4: 8), length: 32)]
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        engine.observe(.wouldDrop, flow: Flow.flow(from: 1, to: 2, port: 80, at: 0, ipProtocol: 132), time: Flow.time(0),
                       scope: .empty, emit: lines.callAsFunction)
        engine.observe(.wouldDrop, flow: Flow.flow(from: 8, to: 2, port: 80, at: 0), time: Flow.time(0),
                       scope: .empty, emit: lines.callAsFunction)
        engine.observe(.wouldDrop, flow: Flow.flow(from: 1, to: 2, port: 80, at: 0), time: Flow.time(0),
                       scope: .empty, emit: lines.callAsFunction)
        #expect(lines.sources == [1, 8])
    }

    /// A connection that shows it is no probe (its originator went on with the handshake, or a
    /// UDP reply) has its violation written at once, not at the end of the hold.
    @Test func anAnsweredConnectionsViolationIsWrittenAtOnce() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let lines = Lines()
        let flow = Flow.flow(from: 1, to: 2, port: 443, at: 0)
        let other = Flow.flow(from: 1, to: 2, port: 444, at: 0)
        engine.observe(.wouldDrop, flow: flow, time: Flow.time(0), scope: .empty, emit: lines.callAsFunction)
        engine.observe(.wouldDrop, flow: other, time: Flow.time(0), scope: .empty, emit: lines.callAsFunction)
        #expect(lines.fires.isEmpty)
        #expect(!engine.observe(.answered, flow: flow, time: Flow.time(0.01), scope: .empty, emit: lines.callAsFunction))
        #expect(lines.kinds(.policyViolation).count == 1)
        engine.observe(.answered, flow: flow, time: Flow.time(0.02), scope: .empty, emit: lines.callAsFunction)
        #expect(lines.kinds(.policyViolation).count == 1, "once")
        engine.finish(emit: lines.callAsFunction)
        #expect(lines.kinds(.policyViolation).count == 2)
    }

    /// A held violation let go after a later one of the same connection key opened the
    /// aggregation window is counted in it, and the summary starts at the earlier one.
    @Test func aViolationLetGoLateCountsInTheWindowFromItsOwnTime() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let lines = Lines()
        var unanswered = Flow.flow(from: 1, to: 2, port: 443, at: 0)
        unanswered.flowID = 1
        var answered = Flow.flow(from: 1, to: 2, port: 443, at: 5)
        answered.flowID = 2
        engine.observe(.wouldDrop, flow: unanswered, time: Flow.time(0), scope: .empty, emit: lines.callAsFunction)
        engine.observe(.wouldDrop, flow: answered, time: Flow.time(5), scope: .empty, emit: lines.callAsFunction)
        engine.observe(.answered, flow: answered, time: Flow.time(5), scope: .empty, emit: lines.callAsFunction)
        engine.advance(to: Flow.time(33), emit: lines.callAsFunction)
        engine.finish(emit: lines.callAsFunction)
        let violations = lines.kinds(.policyViolation)
        #expect(violations.map(\.count) == [1, 2])
        #expect(violations.last?.firstSeen == Flow.time(0))
        #expect(violations.last?.lastSeen == Flow.time(5))
    }

    @Test func aFullHoldWritesItsOldestViolationEarly() {
        var settings = DetectorSettings()
        settings.maxHeld = 16
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        for index in 0..<20 {
            engine.observe(.wouldDrop, flow: Flow.flow(from: 9, to: UInt32(100 + index), port: 80, at: 0), time: Flow.time(0),
                           scope: .empty, emit: lines.callAsFunction)
        }
        #expect(lines.kinds(.policyViolation).count == 4)
        #expect(engine.counters.heldReleasedEarly == 4)
    }

    /// Violations handed back because their connection was answered free their place: a hold
    /// of 16 takes 16 more after 12 were answered, without writing any early.
    @Test func answeredViolationsFreeTheirPlaceInTheHold() {
        var settings = DetectorSettings()
        settings.maxHeld = 16
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        var flows: [FlowEntry] = []
        for index in 0..<16 {
            var flow = Flow.flow(from: 9, to: UInt32(100 + index), port: 80, at: 0)
            flow.flowID = UInt64(1 + index)
            flows.append(flow)
            engine.observe(.wouldDrop, flow: flow, time: Flow.time(0), scope: .empty, emit: lines.callAsFunction)
        }
        for flow in flows.prefix(12) {
            engine.observe(.answered, flow: flow, time: Flow.time(0.1), scope: .empty, emit: lines.callAsFunction)
        }
        #expect(lines.kinds(.policyViolation).count == 12)
        for index in 0..<12 {
            var flow = Flow.flow(from: 9, to: UInt32(200 + index), port: 80, at: 0.2)
            flow.flowID = UInt64(100 + index)
            engine.observe(.wouldDrop, flow: flow, time: Flow.time(0.2), scope: .empty, emit: lines.callAsFunction)
        }
        #expect(lines.kinds(.policyViolation).count == 12)
        #expect(engine.counters.heldReleasedEarly == 0)
        engine.finish(emit: lines.callAsFunction)
        #expect(lines.kinds(.policyViolation).count == 28)
    }

    /// Suricata's `type limit, track by_src`: the first `count` lines of a source in a window
    /// that starts at its first line; the rest counted, and the source's next line says how
    /// many; other sources are not affected.
    @Test func theRateLimitCapsEachSourceAndCountsWhatItSuppressed() {
        var settings = DetectorSettings()
        settings.rateLimitCount = 3
        settings.rateLimitWindow = 10_000_000_000
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        // Ten distinct SYN+FIN probes (one alert each) from source 1 in 1 s, one from source 5.
        for index in 0..<10 {
            let at = Double(index) * 0.1
            engine.observe(.invalidTCPFlags(.synFin), flow: Flow.flow(from: 1, to: UInt32(100 + index), port: 80, at: at),
                           time: Flow.time(at), scope: .empty, emit: lines.callAsFunction)
        }
        engine.observe(.invalidTCPFlags(.synFin), flow: Flow.flow(from: 5, to: 100, port: 80, at: 1), time: Flow.time(1),
                       scope: .empty, emit: lines.callAsFunction)
        #expect(lines.sources == [1, 1, 1, 5])
        #expect(engine.counters.rateLimited == 7)
        #expect(lines.fires.map(\.rateLimited) == [0, 0, 0, 0])
        // A new window (10 s after the first line): written again, saying 7 were suppressed.
        engine.observe(.invalidTCPFlags(.synFin), flow: Flow.flow(from: 1, to: 300, port: 80, at: 10.5),
                       time: Flow.time(10.5), scope: .empty, emit: lines.callAsFunction)
        #expect(lines.sources.last == 1)
        #expect(lines.fires.last?.rateLimited == 7)
        #expect(engine.counters.raised[Int(AlertKind.tcpSynFin.rawValue)] == 5)
    }

    /// The datapath reports answered connections only when folding needs it.
    @Test func answersAreCheckedOnlyWhenFolding() {
        var settings = DetectorSettings()
        #expect(settings.connectionChecks.contains(.answers))
        settings.foldsPolicyViolations = false
        #expect(!settings.connectionChecks.contains(.answers))
        settings.foldsPolicyViolations = true
        settings.setEnabled(.policyViolation, false)
        #expect(!settings.connectionChecks.contains(.answers))
    }

    @Test func aRateLimitOfZeroIsOff() {
        var settings = DetectorSettings()
        settings.rateLimitCount = 0
        let engine = DetectorEngine(settings: settings)
        let lines = Lines()
        for index in 0..<500 {
            engine.observe(.invalidTCPFlags(.synFin), flow: Flow.flow(from: 1, to: UInt32(100 + index), port: 80, at: 0),
                           time: Flow.time(0), scope: .empty, emit: lines.callAsFunction)
        }
        #expect(lines.fires.count == 500)
        #expect(engine.counters.rateLimited == 0)
    }
}
