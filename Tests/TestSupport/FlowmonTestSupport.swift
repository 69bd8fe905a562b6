import Foundation

/// What the test targets share: where the repository, its real-capture corpus and the built
/// `flowmon` are, a scratch directory, and running a program to its end.
public enum FlowmonTestSupport {
    /// The repository root (this file is Tests/TestSupport/FlowmonTestSupport.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// The 60 real captures from public test suites, with their provenance in its MANIFEST.md
    /// (`Captures/real/` holds the 33 of them that have golden files).
    public static let realCaptures = root.appendingPathComponent("Captures/corpus")

    /// The `flowmon` executable the tests run: `FLOWMON_BINARY` when set (scripts/test runs the
    /// suites that drive the CLI a second time against the release build that way; a relative
    /// path is taken from the repository root), else the one built next to the test bundle.
    public static var flowmonBinary: URL {
        if let givenBinary { return givenBinary }
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if directory.lastPathComponent.hasSuffix(".xctest") { directory = directory.deletingLastPathComponent() }
        let candidate = directory.appendingPathComponent("flowmon")
        if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        return Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("flowmon")
    }

    /// `FLOWMON_BINARY`, when set.
    public static var givenBinary: URL? {
        guard let path = ProcessInfo.processInfo.environment["FLOWMON_BINARY"], !path.isEmpty else { return nil }
        return URL(fileURLWithPath: path, relativeTo: root).absoluteURL
    }

    /// A new directory `<prefix>-<UUID>` under the system's temporary directory.
    public static func temporaryDirectory(prefix: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs a program to its end and returns its exit status, standard output and standard
    /// error. Both are read while it runs, so a full pipe cannot stall it.
    public static func run(_ executable: URL, _ arguments: [String],
                           standardInput: FileHandle? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if let standardInput { process.standardInput = standardInput }
        try process.run()
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        group.enter()
        DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        process.waitUntilExit()
        group.wait()
        return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
    }
}
