import Foundation
import TestSupport
import Testing

/// `flowmon policy check` over every real policy file in Policies/real/ (Cilium's examples, the
/// cilium-cli connectivity manifests, the NetworkPolicy recipes, the Kubernetes docs), through
/// the built binary: no crash, no hang, and the outcome `Policies/real/EXPECTED.tsv` gives for
/// the file — accepted with its policies and one notice per feature read but not evaluated, or
/// rejected with the exact message (file, field or format, line).
@Suite struct RealPolicyCompatibilityTests {
    static let directory = Fixture.root.appendingPathComponent("Policies/real")
    /// A run longer than this is a hang (`timeout` exits 124).
    static let timeLimit = 60

    struct Expectation: Sendable, CustomTestStringConvertible {
        var path: String
        var accept: Bool
        var kind: String
        var policies: Int
        var notEvaluated: [String]
        var message: String
        var testDescription: String { self.path }
    }

    static let expectations: [Expectation] = {
        guard let text = try? String(contentsOf: directory.appendingPathComponent("EXPECTED.tsv"), encoding: .utf8) else { return [] }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.dropFirst().map { line in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            return Expectation(path: fields[0], accept: fields[1] == "accept", kind: fields[2], policies: Int(fields[3]) ?? 0,
                               notEvaluated: fields[4].split(separator: ";").map(String.init), message: fields[5])
        }
    }()

    /// The policy files of a directory, relative to it, sorted.
    static func policyFiles(in directory: URL) -> [String] {
        let walker = FileManager.default.enumerator(atPath: directory.path)
        return (walker?.compactMap { $0 as? String } ?? [])
            .filter { ["yaml", "yml", "json"].contains(($0 as NSString).pathExtension) }.sorted()
    }

    static func check(_ paths: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try FlowmonTestSupport.run(URL(fileURLWithPath: "/usr/bin/timeout"),
                                   ["\(Self.timeLimit)", Fixture.flowmonBinary.path, "policy", "check"] + paths)
    }

    /// The features a run said it reads but does not evaluate, as many times as it said each.
    static func notEvaluated(_ stderr: String) -> [String] {
        let prefix = "flowmon: notice: read but not evaluated: "
        return stderr.split(separator: "\n").filter { $0.hasPrefix(prefix) }.map { line in
            let feature = line.dropFirst(prefix.count).prefix { $0 != ":" }
            return String(feature.prefix { $0 != "(" }).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func everyFileHasAReviewedExpectation() throws {
        let files = Self.policyFiles(in: Self.directory)
        #expect(files.count == 229)
        #expect(Self.expectations.map(\.path) == files)
        // The copy is the shared corpus, file for file, when that is beside the repository.
        let shared = Fixture.root.deletingLastPathComponent().appendingPathComponent("shared/policies/real")
        guard FileManager.default.fileExists(atPath: shared.path) else {
            print("RealPolicyCompatibilityTests: ../shared/policies/real is absent; the copy in Policies/real is not compared with it")
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "../shared/policies/real must be present in CI")
            return
        }
        #expect(Self.policyFiles(in: shared) == files)
        for file in files {
            #expect(FileManager.default.contentsEqual(atPath: shared.appendingPathComponent(file).path,
                                                      andPath: Self.directory.appendingPathComponent(file).path), "\(file)")
        }
    }

    @Test(arguments: RealPolicyCompatibilityTests.expectations)
    func policyCheck(_ expected: Expectation) throws {
        let path = Self.directory.appendingPathComponent(expected.path).path
        let result = try Self.check([path])
        #expect(result.status != 124, "hang: no answer in \(Self.timeLimit) s")
        #expect(result.status < 128, "crash: status \(result.status)\n\(result.stderr)")
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("flowmon: error: ") }
        // Each feature read but not evaluated is said once, and no other.
        #expect(Self.notEvaluated(result.stderr) == expected.notEvaluated, "\(result.stderr)")
        if expected.accept {
            #expect(result.status == 0, "\(result.stderr)")
            #expect(errors.isEmpty)
            let count = expected.policies
            #expect(result.stdout.split(separator: "\n").last.map(String.init) == "\(count) polic\(count == 1 ? "y" : "ies") valid")
            if expected.kind == "other-kinds" {
                #expect(result.stderr.contains("\(path): skipped: "))
            }
        } else {
            #expect(result.status == 1)
            #expect(errors == ["flowmon: error: \(path): \(expected.message)"], "\(result.stderr)")
            #expect(expected.message.hasSuffix(")") && expected.message.contains("(line "), "every rejection names a line")
            switch expected.kind {
            case "template": #expect(expected.message.contains("Go/Helm template") && expected.message.contains("render it first"))
            case "rule-array": #expect(expected.message.contains("JSON rule array of the old `cilium policy import` format"))
            default: #expect(expected.message.contains("document 1: spec."), "a field path")
            }
        }
    }

    /// The whole directory at once: every bad file reported, the others loaded, each feature
    /// read but not evaluated said once.
    @Test func theDirectoryReportsEveryBadFileAndGoesOn() throws {
        let result = try Self.check([Self.directory.path])
        #expect(result.status == 1)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("flowmon: error: ") }
        let rejected = Self.expectations.filter { !$0.accept }
        for expected in rejected {
            #expect(errors.contains("flowmon: error: \(Self.directory.path)/\(expected.path): \(expected.message)"), "\(expected.path)")
        }
        // The other errors: examples that reuse a name with another spec (alternatives, not
        // meant to be applied together), which one load cannot hold both of.
        let others = errors.filter { line in !rejected.contains { line.contains("/\($0.path): ") } }
        #expect(others.allSatisfy { $0.contains(": metadata.name: duplicate ") && $0.contains("already defined differently in") }, "\(others)")
        let features = Self.notEvaluated(result.stderr)
        #expect(features.count == Set(features).count, "\(features)")
        #expect(Set(features) == Set(Self.expectations.flatMap(\.notEvaluated)))
        let valid = Self.expectations.filter(\.accept).reduce(0) { $0 + $1.policies } - others.count
        #expect(result.stdout.split(separator: "\n").last.map(String.init)
            == "\(valid) policies valid; \(rejected.count + others.count) files with errors")
    }
}

extension RealPolicyCompatibilityTests {
    /// `replay --policies` over the directory stops before any packet, listing every bad file.
    @Test func replayStopsListingEveryBadFile() throws {
        let result = try FlowmonTestSupport.run(Fixture.flowmonBinary, [
            "replay", Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path, "--policies", Self.directory.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("flowmon: error: ") }
        for expected in Self.expectations where !expected.accept {
            #expect(errors.contains("flowmon: error: \(Self.directory.path)/\(expected.path): \(expected.message)"), "\(expected.path)")
        }
    }
}
