import Foundation
import Synchronization
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// What a bounded run of a program gave: how it ended (exit status, or the signal that killed
/// it), its output, and whether it had to be killed at the deadline.
struct BoundedRun {
    var status: Int32
    var killedBySignal: Bool
    var timedOut: Bool
    var stdout: Data
    var stderr: String
    var seconds: Double

    var stdoutText: String { String(decoding: self.stdout, as: UTF8.self) }
    /// Standard output split at `\n` only (a U+2028 inside a line does not end it).
    var stdoutLines: [String] {
        self.stdout.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
    }
    var stderrLines: [Substring] { self.stderr.split(separator: "\n", omittingEmptySubsequences: true) }
    /// Standard error without flowmon's notices about its inputs (`flowmon: notice: …`, e.g. a
    /// finished pod of the demo's pods file left out): what a fault test judges.
    var problemLines: [Substring] { self.stderrLines.filter { !$0.hasPrefix("flowmon: notice: ") } }
    var problems: String { self.problemLines.map { $0 + "\n" }.joined() }
}

/// A child process whose standard output and error are read on other threads while the test
/// works with it (sends it input or a signal); `finish` waits for it, at most until `deadline`,
/// then kills it, so no test can hang.
final class BoundedProcess: @unchecked Sendable {
    let process = Process()
    private let out = Pipe()
    private let err = Pipe()
    private let collected = Mutex<(out: Data, err: Data)>((Data(), Data()))
    private let readers = DispatchGroup()
    private let started = Date()
    private let deadline: Date
    /// Set to leave standard output unread until `startReadingStandardOutput()` (a reader
    /// that stalls, so the child blocks writing).
    private var outputHeld: Bool

    init(_ executable: URL, _ arguments: [String], seconds: Double = 30, holdStandardOutput: Bool = false,
         standardInput: Any? = nil) throws {
        self.deadline = Date().addingTimeInterval(seconds)
        self.outputHeld = holdStandardOutput
        self.process.executableURL = executable
        self.process.arguments = arguments
        self.process.standardOutput = self.out
        self.process.standardError = self.err
        self.process.standardInput = standardInput ?? FileHandle.nullDevice
        try self.process.run()
        self.read(self.err.fileHandleForReading) { data in self.collected.withLock { $0.err.append(data) } }
        if !holdStandardOutput { self.startReadingStandardOutput() }
    }

    /// The read end of the child's standard output (to look at how much is waiting in it).
    var standardOutputDescriptor: Int32 { self.out.fileHandleForReading.fileDescriptor }

    var pid: Int32 { self.process.processIdentifier }

    func startReadingStandardOutput() {
        self.outputHeld = false
        self.read(self.out.fileHandleForReading) { data in self.collected.withLock { $0.out.append(data) } }
    }

    private func read(_ handle: FileHandle, into append: @escaping @Sendable (Data) -> Void) {
        self.readers.enter()
        Thread.detachNewThread { [readers] in
            let fd = handle.fileDescriptor
            var buffer = [UInt8](repeating: 0, count: 65_536)
            while true {
                let count = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                if count > 0 { append(Data(buffer[0..<count])) } else if count == 0 || errno != EINTR { break }
            }
            readers.leave()
        }
    }

    /// Waits until `condition` holds or the process ends or `seconds` pass; returns the condition.
    @discardableResult
    func wait(seconds: Double, until condition: () -> Bool) -> Bool {
        let until = min(self.deadline, Date().addingTimeInterval(seconds))
        while Date() < until {
            if condition() { return true }
            if !self.process.isRunning { return condition() }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return condition()
    }

    /// Standard error so far.
    var stderrSoFar: String { String(decoding: self.collected.withLock { $0.err }, as: UTF8.self) }

    /// Waits for the end (killing the process at the deadline) and returns what it gave.
    func finish() -> BoundedRun {
        if self.outputHeld { self.startReadingStandardOutput() }
        var timedOut = false
        while self.process.isRunning {
            if Date() >= self.deadline {
                timedOut = true
                kill(self.process.processIdentifier, SIGKILL)
                break
            }
            Thread.sleep(forTimeInterval: 0.01)
        }
        self.process.waitUntilExit()
        _ = self.readers.wait(timeout: .now() + 5)
        let (out, err) = self.collected.withLock { $0 }
        return BoundedRun(status: self.process.terminationStatus,
                          killedBySignal: self.process.terminationReason == .uncaughtSignal, timedOut: timedOut,
                          stdout: out, stderr: String(decoding: err, as: UTF8.self),
                          seconds: Date().timeIntervalSince(self.started))
    }
}

/// Runs a program to its end, at most `seconds`.
func runBounded(_ executable: URL, _ arguments: [String], seconds: Double = 30, standardInput: Any? = nil) throws -> BoundedRun {
    try BoundedProcess(executable, arguments, seconds: seconds, standardInput: standardInput).finish()
}

/// Bytes waiting to be read in a pipe.
func bytesWaiting(in descriptor: Int32) -> Int {
    var count: Int32 = 0
    return ioctl(descriptor, UInt(FIONREAD), &count) == 0 ? Int(count) : 0
}

/// Opens the write end of a FIFO once its reader has opened it, without blocking past
/// `seconds` (a reader that never comes must not hang the test); the descriptor is blocking.
func openFIFOForWriting(_ path: String, seconds: Double = 10) -> Int32? {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        let fd = open(path, O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
            return fd
        }
        guard errno == ENXIO || errno == EINTR else { return nil }
        Thread.sleep(forTimeInterval: 0.01)
    }
    return nil
}

/// Writes all of `bytes` to `descriptor`; false on an error (EPIPE included).
@discardableResult
func writeAll(_ descriptor: Int32, _ bytes: some Collection<UInt8>) -> Bool {
    let array = Array(bytes)
    var offset = 0
    while offset < array.count {
        let written = array.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
        if written < 0 {
            if errno == EINTR { continue }
            return false
        }
        offset += written
    }
    return true
}

/// The JSON objects of some JSON lines; a line that is not one JSON object is recorded with
/// its text (so the failing line shows in the test's message).
func parseJSONLines(_ lines: [String]) -> (records: [[String: Any]], bad: [String]) {
    var records: [[String: Any]] = []
    var bad: [String] = []
    for line in lines {
        if let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] {
            records.append(record)
        } else {
            bad.append(line)
        }
    }
    return (records, bad)
}

enum GeneratedCapture {
    /// A capture of a cluster node's traffic made by `Benchmarks/gen_cluster_pcap.py`
    /// (12,000 packets, 1,200 connections over 10 s: about 5 MB, so a replay writes its output
    /// in many pieces), and its pods file, `bigPods`. Made once, in the temporary directory, and
    /// kept for later runs (the generator is deterministic; a file is only ever renamed into
    /// place whole, the capture last).
    static let big: URL? = {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-tests-cluster-12k-seed11.pcap")
        if FileManager.default.fileExists(atPath: file.path) && FileManager.default.fileExists(atPath: bigPods.path) {
            return file
        }
        let partial = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-tests-\(UUID().uuidString)")
        let script = Fixture.root.appendingPathComponent("Benchmarks/gen_cluster_pcap.py")
        guard let result = try? run(URL(fileURLWithPath: "/usr/bin/env"),
                                    ["python3", script.path, "--packets", "12000", "--flows", "1200", "--seed", "11",
                                     "--out", partial.path + ".pcap", "--pods-out", partial.path + ".pods.json", "--quiet"]),
              result.status == 0, rename(partial.path + ".pods.json", bigPods.path) == 0,
              rename(partial.path + ".pcap", file.path) == 0 else {
            try? FileManager.default.removeItem(atPath: partial.path + ".pcap")
            try? FileManager.default.removeItem(atPath: partial.path + ".pods.json")
            return nil
        }
        return file
    }()
    static let bigPods = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-tests-cluster-12k-seed11.pods.json")
    static let packets = 12_000
}

/// Answers every UDP datagram to port 5353 with "answer", and every TCP connection to port
/// 8080 with "served" once the client has sent something: one process for both, no fork per
/// request (socat's forking UDP server does not answer for a while after a datagram, and its
/// SYSTEM child may exit before reading the query).
private let answeringServer = """
    import select, socket
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("0.0.0.0", 5353))
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("0.0.0.0", 8080))
    tcp.listen(8)
    while True:
        ready, _, _ = select.select([udp, tcp], [], [])
        if udp in ready:
            data, peer = udp.recvfrom(2048)
            udp.sendto(b"answer\\n", peer)
        if tcp in ready:
            connection, _ = tcp.accept()
            connection.recv(1024)
            connection.sendall(b"served\\n")
            connection.close()
    """

/// Starts `answeringServer` in `namespace` and returns once both its ports listen, so no
/// connection attempt meets a closed port (at most 5 s); the caller stops it.
func startAnsweringServer(in namespace: String) throws -> Process {
    let server = try startInNamespace(namespace, ["python3", "-c", answeringServer])
    for _ in 0..<50 {
        let listening = try run(URL(fileURLWithPath: "/bin/sh"),
                                ["-c", "ip netns exec \(namespace) ss -Hln '( sport = :8080 or sport = :5353 )' | wc -l"]).stdout
        if Int(listening.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 2 { break }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return server
}
