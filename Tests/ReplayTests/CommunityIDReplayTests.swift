import Foundation
import Testing

/// `community_id` through the CLI, against an independent oracle: `scripts/community-id-oracle`,
/// a Python implementation of the Community ID v1 spec on hashlib (not flowmon's code), recomputes
/// every flow and alert record's ID from its printed tuple. (pycommunityid 1.5.0, Corelight's
/// reference package, agreed on the same records when this was written: 8,801 of 8,801.)
struct CommunityIDReplayTests {
    /// The repository's real captures (TCP, UDP, SCTP, ICMP and ICMPv6 including errors and
    /// neighbor discovery, IPv6, tunnels, GRE) and the alert captures (scans, sweeps, DNS).
    static var captures: [URL] {
        (Fixture.captureFiles(in: Fixture.captures.appendingPathComponent("real"))
            + Fixture.captureFiles(in: Fixture.captures.appendingPathComponent("alerts")))
            .filter { !$0.lastPathComponent.hasPrefix("invalid-") }
    }

    /// Replays every capture with `--community-id-seed seed` into `directory`; the output files.
    static func replayAll(seed: Int, into directory: URL) throws -> [URL] {
        var outputs: [URL] = []
        for capture in Self.captures {
            let output = directory.appendingPathComponent("\(capture.lastPathComponent).\(seed).jsonl")
            let result = try run(Fixture.flowmonBinary, ["replay", capture.path, "--community-id-seed", String(seed), "-o", output.path])
            #expect(result.status == 0 || capture.lastPathComponent.contains("truncated") || capture.lastPathComponent.contains("damaged"),
                    "\(capture.lastPathComponent): \(result.stderr)")
            outputs.append(output)
        }
        return outputs
    }

    static func oracle(seed: Int, _ files: [URL]) throws -> (status: Int32, report: String) {
        let result = try run(URL(fileURLWithPath: "/usr/bin/env"),
                             ["python3", Fixture.root.appendingPathComponent("scripts/community-id-oracle").path, String(seed)]
                                + files.map(\.path))
        return (result.status, result.stdout + result.stderr)
    }

    @Test(arguments: [0, 1, 65535])
    func everyRecordMatchesTheOracle(seed: Int) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputs = try Self.replayAll(seed: seed, into: directory)
        let check = try Self.oracle(seed: seed, outputs)
        #expect(check.status == 0, "\(check.report.suffix(2000))")
        let checked = check.report.split(separator: " ").first.flatMap { Int($0) } ?? 0
        #expect(checked > 5000, "\(check.report)")
    }

    /// The seed is hashed: seed 1 gives other IDs than seed 0, and the oracle with the wrong seed fails.
    @Test func theSeedChangesEveryID() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = Fixture.captures.appendingPathComponent("real/eth-icmp-echo-and-errors.pcapng")
        var ids: [Int: [String]] = [:]
        for seed in [0, 1] {
            let result = try run(Fixture.flowmonBinary, ["replay", capture.path, "--community-id-seed", String(seed)])
            try #require(result.status == 0, "\(result.stderr)")
            ids[seed] = result.stdout.split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["community_id"] as? String
            }
            let file = directory.appendingPathComponent("\(seed).jsonl")
            try result.stdout.write(to: file, atomically: true, encoding: .utf8)
            #expect(try Self.oracle(seed: 1 - seed, [file]).status == 1, "seed \(seed) checked as \(1 - seed)")
        }
        #expect(ids[0]!.count >= 5 && ids[0]!.count == ids[1]!.count)
        #expect(zip(ids[0]!, ids[1]!).allSatisfy { $0 != $1 })
        let bad = try run(Fixture.flowmonBinary, ["replay", capture.path, "--community-id-seed", "65536"])
        #expect(bad.status != 0 && bad.stderr.contains("community-id-seed"), "\(bad.stderr)")
    }

    /// An alert carries its connection's ID: the flow record with the same flow_id has the same one.
    @Test func alertsCarryTheirConnectionsID() throws {
        let capture = Fixture.captures.appendingPathComponent("alerts/port-scan-vertical.pcap")
        let result = try run(Fixture.flowmonBinary, ["replay", capture.path])
        try #require(result.status == 0, "\(result.stderr)")
        let records = result.stdout.split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        var flowIDs: [Int: String] = [:]
        for record in records where record["event_type"] as? String == "flow" {
            flowIDs[record["flow_id"] as! Int] = record["community_id"] as? String
        }
        let alerts = records.filter { $0["event_type"] as? String == "alert" }
        #expect(!alerts.isEmpty)
        for alert in alerts {
            let id = try #require(alert["community_id"] as? String)
            if let flowID = alert["flow_id"] as? Int, let flow = flowIDs[flowID] { #expect(flow == id) }
        }
        #expect(alerts.contains { ($0["flow_id"] as? Int).flatMap { flowIDs[$0] } != nil })
    }
}
