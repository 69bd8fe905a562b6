import Foundation
import Testing

/// `scripts/test` runs the suites that run the `flowmon` binary a second time, against the
/// release build (users run it; a crash only the optimizer shows is still a crash). Its list is
/// written by hand, so this checks that every suite whose file runs the binary is on it.
@Suite struct BinarySuiteListTests {
    @Test func everySuiteThatRunsFlowmonAlsoRunsAgainstTheReleaseBuild() throws {
        let script = try String(contentsOf: Fixture.root.appendingPathComponent("scripts/test"), encoding: .utf8)
        let listed = Set(script.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "(" || $0 == ")" }).map(String.init))
        let tests = Fixture.root.appendingPathComponent("Tests")
        let walker = try #require(FileManager.default.enumerator(at: tests, includingPropertiesForKeys: nil))
        var runners: [String] = []
        for case let file as URL in walker where file.pathExtension == "swift" {
            let text = try String(contentsOf: file, encoding: .utf8)
            guard text.contains("flowmonBinary") else { continue }
            // The suites the file declares (a line starting `struct …Tests` or `@Suite struct …Tests`).
            for line in text.split(separator: "\n") {
                let declaration = line.trimmingCharacters(in: .whitespaces)
                guard declaration.hasPrefix("struct ") || declaration.hasPrefix("@Suite"),
                      let range = line.range(of: "struct ") else { continue }
                let name = line[range.upperBound...].prefix { $0.isLetter || $0.isNumber }
                if name.hasSuffix("Tests") { runners.append(String(name)) }
            }
        }
        #expect(runners.count >= 20, "found \(runners)")
        let missing = runners.filter { !listed.contains($0) }.sorted()
        #expect(missing.isEmpty, "suites that run flowmon but not against the release build in scripts/test: \(missing)")
    }
}
