import Foundation
import Testing

/// Quieter alerts through the real CLI (docs/alerts.md, "Folding" and "Rate limit"): a scan
/// whose probes policy denies is one alert counting the violations, not one line per probe; a
/// source that does not scan still gets its violation; the per-source rate limit caps and
/// counts; and the output is the same with 1, 2 and 3 workers.
struct AlertFoldingReplayTests {
    static let capture = "scan-with-violations.pcap"

    static func kinds(_ run: AlertReplayTests.Run) -> [String] {
        run.alerts.compactMap { ($0["alert"] as? [String: Any])?["kind"] as? String }
    }

    static func folded(_ alert: [String: Any]?) -> Int? {
        (alert?["scan"] as? [String: Any])?["folded_policy_violations"] as? Int
    }

    /// shop/cart-1 scans 30 ports of payments/api-1, every probe denied: one scan alert with
    /// 30 folded violations, no violation line of cart-1; web-1's one denied connection is
    /// written. Every denied connection's flow record still says `alerted`.
    @Test(arguments: [1, 2, 3])
    func aScanOfDeniedPortsIsOneAlertCountingItsViolations(workers: Int) throws {
        let result = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments, workers: workers)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(Self.kinds(result) == ["port_scan_vertical", "policy_violation"], "\(result.alertLines)")
        let scan = result.alerts("port_scan_vertical").first
        #expect(scan?["src_ip"] as? String == "10.244.0.11")
        #expect(Self.folded(scan) == 30)
        let violations = result.alerts("policy_violation")
        #expect(violations.map { "\($0["src_ip"] ?? "") \($0["dest_port"] ?? "")" } == ["10.244.0.10 9090"])
        #expect(result.alertStats?["folded"] as? Int == 30)
        #expect((result.alertStats?["raised"] as? [String: Int])?["policy_violation"] == 1)
        let validation = try validateAgainstSchemas(result.lines)
        #expect(validation.status == 0, "\(validation.report)")

        let flows = result.records.filter { $0["event_type"] as? String == "flow" }
        let denied = flows.filter { ($0["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT" }
        #expect(denied.count == 31)
        #expect(denied.allSatisfy { ($0["flow"] as? [String: Any])?["alerted"] as? Bool == true })
    }

    @Test func theOutputIsTheSameWithOneTwoAndThreeWorkers() throws {
        let one = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments, workers: 1)
        #expect(one.alertLines.count == 2)
        for workers in [2, 3] {
            let other = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments, workers: workers)
            #expect(other.lines == one.lines, "\(workers) workers")
        }
    }

    /// A denied connection that is answered (cart-1's TLS sessions to payments/api-1) is no
    /// probe: its violation is not held, and is written before the connection's flow record
    /// (which comes 10 s after the connection closes), as without folding.
    @Test func anAnsweredViolationIsNotHeldBackBehindItsFlowRecord() throws {
        let result = try AlertReplayTests.replay("policy-violation.pcap", AlertReplayTests.clusterArguments)
        #expect(result.status == 0, "\(result.stderr)")
        let first = try #require(result.alerts("policy_violation").first)
        let flowID = try #require(first["flow_id"] as? Int)
        let alertLine = try #require(result.records.firstIndex { $0["event_type"] as? String == "alert" && $0["flow_id"] as? Int == flowID })
        let flowLine = try #require(result.records.firstIndex { $0["event_type"] as? String == "flow" && $0["flow_id"] as? Int == flowID })
        #expect(alertLine < flowLine)
        #expect(result.records[(flowLine + 1)...].contains { $0["event_type"] as? String == "flow" }, "the replay goes on after it")
    }

    /// Folding off: the old behaviour, one line per denied connection beside the scan alert.
    @Test func withoutFoldingEveryDeniedProbeIsALine() throws {
        let result = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments,
                                                 config: "fold_policy_violations: {enabled: false}\n")
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.alerts("policy_violation").count == 31)
        #expect(result.alerts("port_scan_vertical").map(Self.folded) == [0])
        #expect(result.alertStats?["folded"] as? Int == 0)
    }

    /// `count` 5 per 1 s window (folding off, so cart-1 raises 31 lines: its 30 violations at
    /// +0.00..+1.45 s and the scan, stamped +0.70 s): the window opened at +0.00 s writes 5
    /// and suppresses 15; the one opened at +1.00 s writes 5, its first line saying 15 were
    /// suppressed, and suppresses the 5 after them and the scan. web-1 is not limited.
    @Test func theRateLimitCapsEachSourceAndCountsWhatItSuppressed() throws {
        let result = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments,
                                                 config: "fold_policy_violations: {enabled: false}\nrate_limit: {count: 5, window: 1}\n")
        #expect(result.status == 0, "\(result.stderr)")
        let cart = result.alerts.filter { $0["src_ip"] as? String == "10.244.0.11" }
        #expect(cart.count == 10)
        let suppressedBefore = cart.map { ($0["alert"] as? [String: Any])?["rate_limited"] as? Int ?? 0 }
        #expect(suppressedBefore == [0, 0, 0, 0, 0, 15, 0, 0, 0, 0])
        #expect(result.alertStats?["rate_limited"] as? Int == 21)
        #expect(result.alerts.filter { $0["src_ip"] as? String == "10.244.0.10" }.count == 1)
        let validation = try validateAgainstSchemas(result.lines)
        #expect(validation.status == 0, "\(validation.report)")

        let unlimited = try AlertReplayTests.replay(Self.capture, AlertReplayTests.clusterArguments,
                                                    config: "fold_policy_violations: {enabled: false}\nrate_limit: {count: 0}\n")
        #expect(unlimited.alerts.count == 32)
        #expect(unlimited.alertStats?["rate_limited"] as? Int == 0)
    }
}
