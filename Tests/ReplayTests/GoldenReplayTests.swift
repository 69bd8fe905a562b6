import Foundation
import Testing
import TestSupport

/// Golden replays, the suricata-verify recipe: every capture under Captures/ has beside it
/// `<name>.expected.jsonl` (reviewed by a person) and a note on where it came from. Replay
/// output must match byte for byte, since it depends only on the capture.
///
/// To accept new output after a deliberate change: `FLOWMON_RECORD=1 swift test --filter GoldenReplayTests`,
/// then review `git diff Captures/` line by line before committing.
///
/// The captures are replayed in process, or, when `FLOWMON_BINARY` names a binary (scripts/test
/// does so with the release build), by `flowmon replay` run from that binary.
struct GoldenReplayTests {
    static var captures: [String] {
        Fixture.captureFiles(in: Fixture.captures)
            // Regressions have their own tests; alert fixtures are replayed with their
            // inventory, policies and alert settings by AlertReplayTests; the corpus is replayed
            // by ReplayCorpusTests (its 33 files in Captures/real/ have golden files there); the
            // advisor's generated node is its input (PolicyAdviceSafetyTests).
            .filter {
                !$0.path.contains("/regressions/") && !$0.path.contains("/alerts/") && !$0.path.contains("/corpus/")
                    && !$0.path.contains("/advisor/")
            }
            .map { String($0.path.dropFirst(Fixture.captures.path.count + 1)) }
    }

    @Test func everyFixtureHasAGoldenFile() {
        #expect(!Self.captures.isEmpty)
    }

    @Test(arguments: captures)
    func replayMatchesGoldenFile(relativePath: String) throws {
        let capture = Fixture.captures.appendingPathComponent(relativePath)
        let golden = capture.deletingPathExtension().appendingPathExtension("expected.jsonl")
        let lines: [String]
        if let binary = FlowmonTestSupport.givenBinary {
            let result = try run(binary, ["replay", capture.path])
            #expect(result.status <= 1, "no crash: \(result.status) \(result.stderr)")
            lines = result.stdout.split(separator: "\n").map(String.init)
        } else {
            lines = try replay(capture).lines
        }
        // Error messages name the capture by the path it was opened with; golden files hold
        // it relative to Captures/ so they do not depend on where the repository lives.
        let actual = (lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n"))
            .replacingOccurrences(of: Fixture.captures.path + "/", with: "")
        if ProcessInfo.processInfo.environment["FLOWMON_RECORD"] == "1" {
            try actual.write(to: golden, atomically: true, encoding: .utf8)
            return
        }
        let expected = try #require(try? String(contentsOf: golden, encoding: .utf8),
                                    "missing \(golden.lastPathComponent): record it with FLOWMON_RECORD=1 and review it")
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(actualLines.count == expectedLines.count, "\(relativePath): line count")
        for (index, (a, e)) in zip(actualLines, expectedLines).enumerated() where a != e {
            Issue.record("\(relativePath) line \(index + 1) differs:\n  expected \(e)\n  actual   \(a)")
            break
        }
    }
}
