import Foundation
import Testing
import TestSupport

/// The flowmon container's capability set (deploy/kubernetes/30-daemonset.yaml) against the kernel:
/// flowmon started as root with exactly those capabilities in its bounding set and
/// no_new_privs (what the container runtime gives a container with `drop: [ALL]`, `add: [...]`
/// and allowPrivilegeEscalation: false) captures with eBPF, and after `--user` holds CAP_BPF and
/// CAP_NET_ADMIN only (to attach to pods created later); without either it says why and
/// captures with libpcap, and then holds no capability at all after `--user`; without what
/// libpcap or `--user` needs it fails with an error naming what is missing.
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

    /// CAP_NET_ADMIN (bit 12) and CAP_BPF (bit 39), as /proc/PID/status shows a set of them.
    static let attachingCapabilities = "0000008000001000"

    @Test func theDaemonSetsCapabilitiesCaptureWithEBPFAndKeepOnlyWhatAttachingNeeds() throws {
        guard Self.canRun else { return }
        let capabilities = try Self.daemonSetCapabilities()
        let run = try Self.capture(with: capabilities, ["--promiscuous", "--buffer-size", "256"])
        #expect(run.exit == 0, "\(run.stderr)")
        #expect(run.stderr.contains("flowmon: datapath: eBPF"), "\(run.stderr)")
        #expect(run.status["Name"] != nil, "flowmon had ended before its status was read: \(run.stderr)")
        let nobody = "65534\t65534\t65534\t65534"
        #expect(run.status["Uid"] == nobody, "\(run.status)")
        for (set, expected) in [("CapEff", Self.attachingCapabilities), ("CapPrm", Self.attachingCapabilities),
                                ("CapInh", "0000000000000000"), ("CapAmb", "0000000000000000")] {
            #expect(run.status[set] == expected, "\(set) after --user: \(run.status[set] ?? "?")")
        }
        #expect(run.status["NoNewPrivs"] == "1")
    }

    /// What each capability does: without BPF or NET_ADMIN flowmon says which is missing and
    /// captures with libpcap (holding no capability after `--user`); without NET_RAW as well it
    /// fails naming it; without SETUID or SETGID `--user` fails.
    @Test func eachOfTheCapabilitiesHasItsUse() throws {
        guard Self.canRun else { return }
        let capabilities = try Self.daemonSetCapabilities()
        #expect(Set(capabilities) == ["BPF", "NET_ADMIN", "NET_RAW", "SETUID", "SETGID"])
        for missing in ["BPF", "NET_ADMIN"] {
            let run = try Self.capture(with: capabilities.filter { $0 != missing })
            #expect(run.exit == 0, "without \(missing): \(run.stderr)")
            #expect(run.stderr.contains("flowmon: datapath: libpcap (eBPF not available: the eBPF datapath needs CAP_\(missing),"),
                    "without \(missing): \(run.stderr)")
            for set in ["CapEff", "CapPrm", "CapInh", "CapAmb"] {
                #expect(run.status[set] == "0000000000000000", "without \(missing), \(set) after --user: \(run.status[set] ?? "?")")
            }
        }
        for missing in [["BPF", "NET_RAW"], ["SETUID"], ["SETGID"]] {
            let run = try Self.capture(with: capabilities.filter { !missing.contains($0) })
            #expect(run.exit == 1, "without \(missing): \(run.stderr)")
            let expected = missing.contains("NET_RAW") ? "permission denied capturing on 'lo': flowmon needs CAP_NET_RAW"
                : "cannot drop privileges to 'nobody': "
            #expect(run.stderr.contains(expected), "without \(missing): \(run.stderr)")
        }
    }
}
