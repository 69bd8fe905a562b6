import Agent
import Foundation
import Testing

/// Every file in `Policies/invalid/` fails to load with exactly the line in its sibling
/// `<name>.expected` (paths shown relative to the repository root). Run with
/// `FLOWMON_POLICY_WRITE_EXPECTED=1` to rewrite the `.expected` files after a deliberate
/// message change, then review the diff.
@Suite struct PolicyInvalidFilesTests {
    static let directory = PolicyTestSupport.repositoryRoot.appendingPathComponent("Policies/invalid")

    static var files: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { !$0.hasSuffix(".expected") && !$0.hasPrefix(".") }.sorted()
    }

    @Test func thereAreEnoughInvalidFiles() {
        #expect(Self.files.count >= 15)
    }

    @Test(arguments: PolicyInvalidFilesTests.files)
    func invalidFile(name: String) throws {
        let path = Self.directory.appendingPathComponent(name).path
        let rootPrefix = PolicyTestSupport.repositoryRoot.path + "/"
        var actual = "(loaded without error)"
        do {
            _ = try PolicyLoader.load(paths: [path])
        } catch {
            actual = error.description.replacingOccurrences(of: rootPrefix, with: "")
        }
        let expectedPath = path + ".expected"
        if ProcessInfo.processInfo.environment["FLOWMON_POLICY_WRITE_EXPECTED"] == "1" {
            try (actual + "\n").write(toFile: expectedPath, atomically: true, encoding: .utf8)
            return
        }
        let expected = try String(contentsOfFile: expectedPath, encoding: .utf8)
            .trimmingCharacters(in: .newlines)
        #expect(actual == expected)
    }

    /// A directory load walks the tree in sorted order and reports every invalid file, each
    /// with its own error, instead of stopping at the first.
    @Test func directoryLoadReportsEveryInvalidFileInSortedOrder() throws {
        let expected = try Self.files.map { name in
            try String(contentsOfFile: Self.directory.appendingPathComponent(name + ".expected").path, encoding: .utf8)
                .trimmingCharacters(in: .newlines)
        }
        do {
            _ = try PolicyLoader.load(paths: [Self.directory.path])
            Issue.record("loaded without error")
        } catch {
            #expect(error.lines.map { $0.replacingOccurrences(of: PolicyTestSupport.repositoryRoot.path + "/", with: "") } == expected)
        }
    }
}
