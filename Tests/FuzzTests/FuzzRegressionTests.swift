import Foundation
import FuzzHarness
import Testing

/// Replays what the fuzzers found (`Captures/regressions/<target>/`) and the seed corpora
/// (`Fuzz/corpus/<target>/`) through the fuzz harnesses, without the fuzzer: the same code
/// `flowmon-fuzz` runs (see `scripts/fuzz`). A crash ends the test process; an input that runs
/// longer than `Self.inputTimeLimit` aborts it, naming the file.
@Suite struct FuzzRegressionTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let inputTimeLimit: Double = 60

    /// Regular files in a directory, sorted, except the README.
    static func inputs(_ directory: String) -> [URL] {
        let url = root.appendingPathComponent(directory)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.filter { !$0.hasPrefix(".") && $0 != "README.md" }.sorted().map { url.appendingPathComponent($0) }
    }

    @Test(.timeLimit(.minutes(10)), arguments: FuzzTarget.allCases)
    func regressionsAndSeeds(_ target: FuzzTarget) throws {
        let run = try target.harness(repository: Self.root.path)
        for file in Self.inputs("Captures/regressions/\(target.rawValue)") {
            // Named first: a crash ends the process before any test report.
            FileHandle.standardError.write(Data("FuzzRegressionTests: \(target.rawValue): \(file.lastPathComponent)\n".utf8))
            _ = try Self.guarded(file, run)
        }
        // The seeds too, so that a broken harness fails even while there is no regression.
        let seeds = Self.inputs("Fuzz/corpus/\(target.rawValue)")
        #expect(seeds.count >= 10, "Fuzz/corpus/\(target.rawValue) has \(seeds.count) seeds")
        var accepted: [String] = []
        var rejected: [String] = []
        for file in seeds {
            if try Self.guarded(file, run) { accepted.append(file.lastPathComponent) } else { rejected.append(file.lastPathComponent) }
        }
        // Every seed gets past the first checks (decodes to IP, reads packets, loads), except
        // the broken ones kept to seed the error paths, named as the repository names its
        // broken fixtures.
        let broken = ["invalid-", "malformed-", "damaged-"]
        #expect(rejected.allSatisfy { name in broken.contains { name.hasPrefix($0) } }, "seeds rejected: \(rejected)")
        #expect(accepted.count * 2 > seeds.count, "only \(accepted.count) of \(seeds.count) seeds accepted")
    }

    /// Runs one file through the harness; aborts the process if it does not return in time.
    static func guarded(_ file: URL, _ run: (UnsafeRawBufferPointer) -> Bool) throws -> Bool {
        let data = try Data(contentsOf: file)
        let finished = Finished()
        let path = file.path
        DispatchQueue.global().asyncAfter(deadline: .now() + Self.inputTimeLimit) {
            guard !finished.value else { return }
            FileHandle.standardError.write(Data("FuzzRegressionTests: \(path) still running after \(Self.inputTimeLimit) s: hang\n".utf8))
            abort()
        }
        defer { finished.value = true }
        return data.withUnsafeBytes { run($0) }
    }

    final class Finished: @unchecked Sendable {
        private let lock = NSLock()
        private var flag = false
        var value: Bool {
            get { self.lock.withLock { self.flag } }
            set { self.lock.withLock { self.flag = newValue } }
        }
    }
}
