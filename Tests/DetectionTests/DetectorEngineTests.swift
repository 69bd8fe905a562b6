@testable import Datapath
import Detection
import FlowCore
import Testing

/// The detectors on literal times: windows, thresholds, aggregation and bounded state.
struct DetectorEngineTests {
    static func flow(from source: UInt32, to destination: UInt32, port: UInt16, at seconds: Double,
                     ipProtocol: UInt8 = 6) -> FlowEntry {
        let low = IPAddress(ipv4: source), high = IPAddress(ipv4: destination)
        var entry = FlowEntry(key: FlowKey(lowAddress: low, highAddress: high, lowPort: 40000, highPort: port,
                                           ipProtocol: ipProtocol, vni: 0),
                              initiatorIsLow: true, ipVersion: 4, time: time(seconds))
        entry.flowID = UInt64(destination) << 16 | UInt64(port)
        return entry
    }

    static func time(_ seconds: Double) -> CaptureTime { CaptureTime(nanoseconds: Int64(seconds * 1e9)) }

    /// Runs events and returns the alerts, as (kind, count, summary).
    final class Collector {
        var alerts: [(AlertKind, UInt64, Bool)] = []
        func callAsFunction(_ fire: AlertFire, _ flow: FlowEntry) { self.alerts.append((fire.kind, fire.count, fire.isSummary)) }
    }

    @Test(arguments: [
        (UInt16(0x00), AlertKind?.some(.tcpNullScan)), (0x01, .tcpFinScan), (0x29, .tcpXmasScan), (0x03, .tcpSynFin),
        (0x13, .tcpSynFin), (0x06, .tcpSynRst), (0x02, nil), (0x12, nil), (0x10, nil), (0x11, nil), (0x04, nil),
        (0x14, nil), (0x18, nil), (0x19, nil), (0x39, nil), (0xc2, nil), (0x40, .tcpNullScan), (0x09, nil),
    ] as [(UInt16, AlertKind?)])
    func invalidFlagCombinations(flags: UInt16, expected: AlertKind?) {
        #expect(InvalidTCPFlags(flags).map(AlertKind.init) == expected)
    }

    @Test func aVerticalScanFiresOnceAtItsThresholdPerWindow() {
        var settings = DetectorSettings()
        settings.scanPorts = 3
        settings.scanWindow = 10_000_000_000
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        // Ports 1, 1, 2: two distinct; port 3 reaches the threshold; 4 and 5 do not fire again.
        for (index, port) in [1, 1, 2, 3, 4, 5].enumerated() {
            engine.observe(.failedAttempt, flow: Self.flow(from: 1, to: 2, port: UInt16(port), at: Double(index)),
                           time: Self.time(Double(index)), scope: .empty, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.map(\.0) == [.verticalPortScan])
        // 10 s after the window opened a new one starts: three more ports fire again, and the
        // aggregation window (60 s) counts it as a repeat of the first.
        for (index, port) in [7, 8, 9].enumerated() {
            let at = 20.0 + Double(index)
            engine.observe(.failedAttempt, flow: Self.flow(from: 1, to: 2, port: UInt16(port), at: at), time: Self.time(at),
                           scope: .empty, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.count == 1)
        engine.advance(to: Self.time(59), emit: collect.callAsFunction)
        #expect(collect.alerts.count == 1)
        engine.advance(to: Self.time(64), emit: collect.callAsFunction)
        #expect(collect.alerts.map(\.1) == [1, 2])
        #expect(collect.alerts.last?.2 == true)
    }

    @Test func aSingleOccurrenceWritesNoSummary() {
        let engine = DetectorEngine(settings: DetectorSettings())
        let collect = Collector()
        engine.observe(.invalidTCPFlags(.synFin), flow: Self.flow(from: 1, to: 2, port: 80, at: 0), time: Self.time(0),
                       scope: .empty, emit: collect.callAsFunction)
        engine.finish(emit: collect.callAsFunction)
        #expect(collect.alerts.count == 1)
        #expect(engine.counters.raised[Int(AlertKind.tcpSynFin.rawValue)] == 1)
    }

    @Test func aFullAggregationTableClosesTheOldestWindowAndCountsIt() {
        var settings = DetectorSettings()
        settings.maxAggregates = 4  // one bucket of four
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        for target in 1...5 {
            for repeatIndex in 0..<2 {
                let at = Double(target) + Double(repeatIndex) * 0.1
                engine.observe(.invalidTCPFlags(.null), flow: Self.flow(from: 1, to: UInt32(100 + target), port: 80, at: at),
                               time: Self.time(at), scope: .empty, emit: collect.callAsFunction)
            }
        }
        // Five first alerts; the fifth key evicted the first window, whose summary (2) came out then.
        #expect(collect.alerts.filter { !$0.2 }.count == 5)
        #expect(collect.alerts.filter(\.2).map(\.1) == [2])
        #expect(engine.aggregatesEvicted == 1)
        engine.finish(emit: collect.callAsFunction)
        #expect(collect.alerts.filter(\.2).count == 5)
    }

    @Test func trackersAreBoundedAndCountTheirEvictions() {
        var settings = DetectorSettings()
        settings.maxTrackers = 4
        settings.scanPorts = 2
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        for target in 0..<64 {
            engine.observe(.failedAttempt, flow: Self.flow(from: 1, to: UInt32(1000 + target), port: 22, at: 0),
                           time: Self.time(0), scope: .empty, emit: collect.callAsFunction)
        }
        #expect(engine.trackersEvicted > 0)
        #expect(collect.alerts.isEmpty || collect.alerts.allSatisfy { $0.0 == .horizontalPortScan })
    }

    @Test func allowListedSourcesRaiseNothingButPolicyViolations() {
        var settings = DetectorSettings()
        settings.allowedPrefixes = [IPPrefix(address: IPAddress(ipv4: 0x0a00_0000), length: 8)]
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        let source: UInt32 = 0x0a00_0001
        engine.observe(.invalidTCPFlags(.null), flow: Self.flow(from: source, to: 2, port: 80, at: 0), time: Self.time(0),
                       scope: .empty, emit: collect.callAsFunction)
        engine.observe(.wouldDrop, flow: Self.flow(from: source, to: 2, port: 80, at: 0), time: Self.time(0),
                       scope: .empty, emit: collect.callAsFunction)
        #expect(collect.alerts.map(\.0) == [.policyViolation])
        #expect(engine.allowlisted == 1)
    }

    /// `observe` says whether an alert was raised about the event's connection (Suricata's
    /// `flow.alerted`): a first occurrence and a repeat folded into a window both were; an
    /// allow-listed source and a scan below its threshold were not.
    @Test func observeSaysWhetherTheConnectionRaisedAnAlert() {
        var settings = DetectorSettings()
        settings.scanPorts = 2
        settings.allowedPrefixes = [IPPrefix(address: IPAddress(ipv4: 0x0a00_0000), length: 8)]
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        func observe(_ input: ConnectionFinding, from source: UInt32, port: UInt16, at seconds: Double) -> Bool {
            engine.observe(input, flow: Self.flow(from: source, to: 2, port: port, at: seconds), time: Self.time(seconds),
                           scope: .empty, emit: collect.callAsFunction)
        }
        #expect(observe(.invalidTCPFlags(.null), from: 1, port: 80, at: 0))
        #expect(observe(.invalidTCPFlags(.null), from: 1, port: 80, at: 1), "a repeat counted into the window")
        #expect(collect.alerts.count == 1)
        #expect(!observe(.invalidTCPFlags(.null), from: 0x0a00_0001, port: 80, at: 2), "allow-listed")
        #expect(!observe(.failedAttempt, from: 3, port: 1, at: 3), "one port of two")
        #expect(observe(.failedAttempt, from: 3, port: 2, at: 4), "the threshold")
        #expect(!observe(.echoRequest, from: 4, port: 0, at: 5))
    }

    @Test func failedAttemptsAreHandshakesTheOriginatorNeverCompleted() {
        var unanswered = Self.flow(from: 1, to: 2, port: 80, at: 0)
        unanswered.history.insert(ConnectionHistory.syn, fromInitiator: true)
        unanswered.flagsToServer = 0x02
        #expect(unanswered.isFailedAttempt)
        var completed = unanswered
        completed.flagsToServer = 0x12
        #expect(!completed.isFailedAttempt)
        var midstream = Self.flow(from: 1, to: 2, port: 80, at: 0)
        midstream.flagsToServer = 0x02
        #expect(!midstream.isFailedAttempt)
        // Answered: no longer able to be a failed attempt (the fold releases its violation).
        #expect(!unanswered.isAnswered && completed.isAnswered)
        var udp = Self.flow(from: 1, to: 2, port: 53, at: 0, ipProtocol: 17)
        udp.history.insert(ConnectionHistory.sent, fromInitiator: true)
        #expect(!udp.isAnswered)
        udp.history.insert(ConnectionHistory.sent, fromInitiator: false)
        #expect(udp.isAnswered)
    }

    @Test func prefixesMatchTheirOwnFamily() {
        let pods = IPPrefix(address: IPAddress(ipv4: 0x0af4_0000), length: 16)
        #expect(pods.contains(IPAddress(ipv4: 0x0af4_0163)))
        #expect(!pods.contains(IPAddress(ipv4: 0x0af5_0001)))
        #expect(!pods.contains(IPAddress(high: 0xfd00_0000_0000_0000, low: 1)))
    }

    @Test func tunnelIdentitiesMatchTheSendersOrTheNodePair() {
        #expect(Identity(261).matchesTunnelIdentity(261))
        #expect(!Identity(261).matchesTunnelIdentity(2))
        #expect(Identity.remoteNode.matchesTunnelIdentity(1))
        #expect(Identity.host.matchesTunnelIdentity(6))
        #expect(!Identity(261).matchesTunnelIdentity(1))
    }
}

extension DetectorEngineTests {
    /// The window slides: ports probed across what would be two fixed windows still add up.
    @Test func theScanWindowSlides() {
        var settings = DetectorSettings()
        settings.scanPorts = 4
        settings.scanWindow = 10_000_000_000
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        // Ports at 0 s, 8 s, 9 s, 11 s: in the 10 s window ending at 11 s are 8, 9 and 11 (three);
        // a fifth port at 12 s makes four.
        for (port, at) in [(1, 0.0), (2, 8.0), (3, 9.0), (4, 11.0)] {
            engine.observe(.failedAttempt, flow: Self.flow(from: 1, to: 2, port: UInt16(port), at: at), time: Self.time(at),
                           scope: .empty, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.isEmpty)
        engine.observe(.failedAttempt, flow: Self.flow(from: 1, to: 2, port: 5, at: 12), time: Self.time(12), scope: .empty,
                       emit: collect.callAsFunction)
        #expect(collect.alerts.map(\.0) == [.verticalPortScan])
    }

    /// A flood's half-open count slides in eighths of its window.
    @Test func theFloodCountSlides() {
        var settings = DetectorSettings()
        settings.floodConnections = 10
        settings.floodSources = 1
        settings.floodWindow = 8_000_000_000
        let engine = DetectorEngine(settings: settings)
        let collect = Collector()
        // Five attempts at 0 s and five at 9 s: never ten within 8 s.
        for (index, at) in ([0.0, 0, 0, 0, 0, 9, 9, 9, 9, 9] as [Double]).enumerated() {
            engine.observe(.failedAttempt, flow: Self.flow(from: UInt32(100 + index), to: 2, port: 443, at: at),
                           time: Self.time(at), scope: .empty, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.filter { $0.0 == .synFlood }.isEmpty)
        // Five more at 10 s: ten within the last 8 s.
        for index in 0..<5 {
            engine.observe(.failedAttempt, flow: Self.flow(from: UInt32(200 + index), to: 2, port: 443, at: 10),
                           time: Self.time(10), scope: .empty, emit: collect.callAsFunction)
        }
        #expect(collect.alerts.filter { $0.0 == .synFlood }.count == 1)
    }
}
