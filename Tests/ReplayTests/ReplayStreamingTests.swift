import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `tcpdump -U -w - | flowmon replay -`: replay from a pipe or a FIFO streams. While the writer
/// pauses, the records of the connections that already ended (in packet time), their alerts and
/// Hubble lines are in the output files; at the end the files are byte for byte what a replay of
/// the same capture as a regular file writes, for 1, 2 and 3 workers.
@Suite struct ReplayStreamingTests {
    struct Input: Sendable, CustomTestStringConvertible {
        var workers: Int
        /// `-` with the capture on standard input (a pipe), else a FIFO named on the command line.
        var standardInput: Bool
        var testDescription: String { "\(self.standardInput ? "standard input" : "a FIFO"), \(self.workers) worker(s)" }
    }

    static let inputs = [Input(workers: 1, standardInput: false), Input(workers: 2, standardInput: true),
                         Input(workers: 3, standardInput: false)]

    static let base: UInt64 = 1_700_000_000 * 1_000_000

    /// One packet: its time (µs after `base`) and frame.
    typealias Packet = (micros: UInt64, frame: [UInt8])

    /// Before the pause: 40 one-way UDP flows (from 40 sources, so every worker has some) and a
    /// SYN+FIN probe (a tcp_syn_fin alert) at 0-0.1 s, then at 5 s one datagram of a new flow,
    /// whose sweep ends the first 40 (`--timeout-new 2`). After it: more of the same.
    static let beforePause: [Packet] = {
        var packets: [Packet] = (0..<40).map { index in (UInt64(index) * 1000, Flood.newConnections(index)) }
        let probe = PcapAppender.frame(from: ([10, 9, 9, 9], 40000), to: ([10, 250, 0, 1], 80), flags: 0x03, seq: 1, ack: 0)
        packets.append((100_000, probe))
        packets.append((5_000_000, Flood.newConnections(1000)))
        return packets
    }()
    static let afterPause: [Packet] = {
        var packets: [Packet] = (0..<40).map { index in (5_500_000 + UInt64(index) * 1000, Flood.newConnections(2000 + index)) }
        packets.append((12_000_000, Flood.newConnections(3000)))
        return packets
    }()

    static let pods = """
        {"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"dns","namespace":"kube-system",\
        "labels":{"app":"dns"}},"spec":{"nodeName":"node-1"},"status":{"podIP":"10.250.0.1","podIPs":[{"ip":"10.250.0.1"}]}}]}
        """

    static let policy = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata:
          name: dns-from-world
          namespace: kube-system
        spec:
          endpointSelector:
            matchLabels:
              app: dns
          ingress:
            - fromEntities:
                - world
              toPorts:
                - ports:
                    - port: "53"
                      protocol: UDP
        """

    static func pcapHeader() -> [UInt8] {
        var bytes: [UInt8] = []
        for value: UInt32 in [0xa1b2_c3d4, 0x0004_0002, 0, 0, 262_144, 1] { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        return bytes
    }

    static func records(_ packets: [Packet]) -> [UInt8] {
        var bytes: [UInt8] = []
        for (micros, frame) in packets {
            let time = Self.base + micros
            for value in [UInt32(time / 1_000_000), UInt32(time % 1_000_000), UInt32(frame.count), UInt32(frame.count)] {
                withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
            }
            bytes += frame
        }
        return bytes
    }

    @Test(arguments: inputs) func recordsStreamFromAPipeAndMatchAReplayOfTheFile(_ input: Input) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let capture = directory.appendingPathComponent("capture.pcap")
        try Data(Self.pcapHeader() + Self.records(Self.beforePause + Self.afterPause)).write(to: capture)
        // The flows' destination is a pod a policy selects, so each connection has a Hubble line.
        let pods = directory.appendingPathComponent("pods.json")
        try Self.pods.write(to: pods, atomically: true, encoding: .utf8)
        let policy = directory.appendingPathComponent("policy.yaml")
        try Self.policy.write(to: policy, atomically: true, encoding: .utf8)
        func outputs(_ name: String) -> [URL] {
            ["flows", "hubble", "alerts"].map { directory.appendingPathComponent("\(name)-\($0).jsonl") }
        }
        func arguments(_ source: String, _ files: [URL]) -> [String] {
            ["replay", source, "--output", files[0].path, "--hubble", files[1].path, "--alerts", files[2].path,
             "--pods", pods.path, "--policies", policy.path, "--timeout-new", "2", "--workers", "\(input.workers)", "--no-progress"]
        }
        let fromFile = outputs("file")
        let reference = try runBounded(Fixture.flowmonBinary, arguments(capture.path, fromFile), seconds: 60)
        #expect(reference.status == 0, "\(reference.stderr)")

        let streamed = outputs("pipe")
        let pipe = Pipe()
        let fifo = directory.appendingPathComponent("capture.fifo")
        let flowmon: BoundedProcess
        let writer: Int32
        if input.standardInput {
            flowmon = try BoundedProcess(Fixture.flowmonBinary, arguments("-", streamed), seconds: 60, standardInput: pipe)
            writer = pipe.fileHandleForWriting.fileDescriptor
        } else {
            #expect(mkfifo(fifo.path, 0o600) == 0)
            flowmon = try BoundedProcess(Fixture.flowmonBinary, arguments(fifo.path, streamed), seconds: 60)
            writer = try #require(openFIFOForWriting(fifo.path), "flowmon opens the FIFO")
        }
        defer { flowmon.process.stop() }
        #expect(writeAll(writer, Self.pcapHeader() + Self.records(Self.beforePause)))

        // The writer pauses: flowmon waits in read(2), with the first 40 flows ended at the sweep
        // of the packet at 5 s.
        func lines(_ file: URL) -> [String] {
            ((try? String(contentsOf: file, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
        }
        func address(_ index: Int) -> String { "\"\(Flood.source(index).map(String.init).joined(separator: "."))\"" }
        let ended = (0..<40).map(address)
        let streamedAll = flowmon.wait(seconds: 20) {
            let flows = lines(streamed[0]).filter { $0.contains("\"event_type\":\"flow\"") }
            return ended.allSatisfy { source in flows.contains { $0.contains("\"src_ip\":" + source) } }
                && lines(streamed[0]).contains { $0.contains("tcp_syn_fin") }
                && lines(streamed[2]).contains { $0.contains("tcp_syn_fin") }
                && ended.allSatisfy { source in lines(streamed[1]).contains { $0.contains(source) } }
        }
        let counts = (lines(streamed[0]).count, lines(streamed[1]).count, lines(streamed[2]).count)
        #expect(streamedAll, "while the input pauses, the ended flows, the alert and the Hubble lines are written: \(counts)")
        #expect(flowmon.process.isRunning, "flowmon still waits for input: \(flowmon.stderrSoFar)")
        #expect(!lines(streamed[0]).contains { $0.contains("\"src_ip\":" + address(1000)) && $0.contains("\"event_type\":\"flow\"") },
                "the flow still open at the pause is not written early")
        #expect(!lines(streamed[0]).contains { $0.contains("\"event_type\":\"stats\"") })

        #expect(writeAll(writer, Self.records(Self.afterPause)))
        if input.standardInput { try pipe.fileHandleForWriting.close() } else { close(writer) }
        let run = flowmon.finish()
        #expect(run.status == 0, "\(run.stderr)")
        for (file, reference) in zip(streamed, fromFile) {
            let (got, expected) = (try Data(contentsOf: file), try Data(contentsOf: reference))
            #expect(!expected.isEmpty && got == expected, "\(file.lastPathComponent) differs from the replay of the file")
        }
    }
}
