import Foundation
import Testing
import TestSupport

/// The flowmon container's capability set (deploy/kubernetes/30-daemonset.yaml) against the kernel:
/// flowmon started as root with exactly those capabilities in its bounding set and
/// no_new_privs (what the container runtime gives a container with `drop: [ALL]`, `add: [...]`
/// and allowPrivilegeEscalation: false) captures, and after `--user` holds no capability at
/// all; without any one of them it fails with an error naming what is missing.
/// Needs root (skipped otherwise, never when CI=true) and `setpriv` (util-linux).
@Suite(.serialized) struct DeployCapabilityTests {
    static var canRun: Bool {
        if ProcessInfo.processInfo.environment["CI"] == "true" { return true }
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
            print("DeployCapabilityTests: skipped (needs root and /usr/bin/setpriv)")
            return false
        }
        return true
    }

    /// The capabilities the DaemonSet adds to the flowmon container.
    static func daemonSetCapabilities() throws -> [String] {
        let context = try #require(try DeployManifests().container("flowmon")["securityContext"] as? [String: Any])
        return try #require((context["capabilities"] as? [String: Any])?["add"] as? [String])
    }

    /// Starts `flowmon capture` on loopback for a few seconds as root limited to `capabilities`,
    /// switching to `nobody`; returns its /proc status lines read while it ran, and its end.
    static func capture(with capabilities: [String], _ extra: [String] = []) throws -> (status: [String: String], exit: Int32, stderr: String) {
        let bounding = (["-all"] + capabilities.map { "+" + $0.lowercased() }).joined(separator: ",")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        process.arguments = ["--bounding-set", bounding, "--inh-caps", "-all", "--no-new-privs", "--",
                             FlowmonTestSupport.flowmonBinary.path, "capture", "--interface", "lo", "--duration", "3",
                             "--workers", "1", "--ring-size", "1", "--user", "nobody", "--format", "json"] + extra
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        Thread.sleep(forTimeInterval: 1.5)
        var status: [String: String] = [:]
        if let text = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) {
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: ":", maxSplits: 1)
                if parts.count == 2 { status[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
            }
        }
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (status, process.terminationStatus, stderr)
    }

    @Test func theDaemonSetsCapabilitiesCaptureAndAreAllGoneAfterTheSwitch() throws {
        guard Self.canRun else { return }
        let capabilities = try Self.daemonSetCapabilities()
        let run = try Self.capture(with: capabilities, ["--promiscuous", "--buffer-size", "256"])
        #expect(run.exit == 0, "\(run.stderr)")
        #expect(run.status["Name"] != nil, "flowmon had ended before its status was read: \(run.stderr)")
        let nobody = "65534\t65534\t65534\t65534"
        #expect(run.status["Uid"] == nobody, "\(run.status)")
        for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
            #expect(run.status[set] == "0000000000000000", "\(set) after --user: \(run.status[set] ?? "?")")
        }
        #expect(run.status["NoNewPrivs"] == "1")
    }

    /// Only what is needed: without any one of the DaemonSet's capabilities flowmon fails, with
    /// the error that names what is missing. (NET_ADMIN is not among them: the same capture
    /// with --promiscuous and a 256 MiB buffer succeeds without it.)
    @Test func eachOfTheCapabilitiesIsNeeded() throws {
        guard Self.canRun else { return }
        let capabilities = try Self.daemonSetCapabilities()
        #expect(Set(capabilities) == ["NET_RAW", "SETUID", "SETGID"])
        for missing in capabilities {
            let run = try Self.capture(with: capabilities.filter { $0 != missing })
            #expect(run.exit == 1, "without \(missing): \(run.stderr)")
            let expected = missing == "NET_RAW" ? "permission denied capturing on 'lo': flowmon needs CAP_NET_RAW"
                : "cannot drop privileges to 'nobody': set"
            #expect(run.stderr.contains(expected), "without \(missing): \(run.stderr)")
        }
    }
}
