import Foundation
import TestSupport
import Testing

@testable import Capture

/// Benchmarks/c/packet_blaster.c, the sender of scripts/bench-live-rate (AF_PACKET,
/// PACKET_QDISC_BYPASS, sendmmsg, a token bucket): the benchmark's "sent" must be what it says,
/// so it must send exactly the frames asked for, byte for byte, looping over the capture, paced
/// or not; and it must refuse what it cannot send with a message naming the file and the cause.
@Suite(.serialized)
struct PacketBlasterTests {
    /// Compiles packet_blaster as scripts/bench-live-rate does (warnings are errors).
    static func build() throws -> (binary: URL, directory: URL) {
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "packet-blaster")
        let binary = directory.appendingPathComponent("packet_blaster")
        let source = FlowmonTestSupport.root.appendingPathComponent("Benchmarks/c/packet_blaster.c").path
        // cc where installed, else the toolchain's clang (which builds the package's C targets).
        let compiler = ["cc", "clang"].lazy.compactMap(Self.executableInPath).first
        let path = try #require(compiler, "no C compiler (cc or clang) in PATH")
        let result = try FlowmonTestSupport.run(path, ["-O2", "-Wall", "-Wextra", "-Werror", "-o", binary.path, source])
        #expect(result.status == 0, "\(result.stderr)")
        return (binary, directory)
    }

    static func executableInPath(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        return path.split(separator: ":").map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
            .first { FileManager.default.isExecutableFile(atPath: $0.path) }
    }

    /// File checks come before the socket is opened, so these run without root.
    @Test(arguments: [
        ("notes.txt", Array("hello, not a capture\n".utf8),
         "not a pcap file (magic 0x6c6c6568; a pcap file starts with 0xa1b2c3d4 or 0xa1b23c4d in either byte order)"),
        // The demo capture's header and first record header, and 10 of its 74 bytes.
        ("cut.pcap", nil, "record 1 at byte 24: frame cut (74 bytes announced, 10 in the file)"),
        ("empty.pcap", [], "not a pcap file (0 bytes, shorter than a pcap magic number)"),
    ] as [(String, [UInt8]?, String)])
    func refusesWhatItCannotSend(name: String, bytes: [UInt8]?, message: String) throws {
        let (binary, directory) = try Self.build()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent(name)
        let demo = try Data(contentsOf: FlowmonTestSupport.root.appendingPathComponent("Captures/demo/demo-cluster.pcap"))
        try (bytes.map { Data($0) } ?? demo.prefix(24 + 16 + 10)).write(to: file)
        let result = try FlowmonTestSupport.run(binary, ["--interface", "lo", file.path])
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "packet_blaster: error: \(file.path): \(message)\n")
    }

    @Test func refusesAPcapngFileAndSaysHowToConvertIt() throws {
        let (binary, directory) = try Self.build()
        defer { try? FileManager.default.removeItem(at: directory) }
        let pcapng = FlowmonTestSupport.realCaptures.appendingPathComponent("eth-icmp-echo-and-errors.pcapng").path
        let result = try FlowmonTestSupport.run(binary, ["-i", "lo", pcapng])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("packet_blaster: error: \(pcapng): a pcapng file; packet_blaster reads classic pcap"))
    }

    /// 4,000 frames of the 1,500-frame demo capture (so it wraps around twice) into a veth pair
    /// between two namespaces the test creates: the far end's rx_packets and rx_bytes grow by
    /// exactly the frames and bytes asked for (the namespaces have no addresses and no IPv6, so
    /// their stacks send nothing). Paced at 20,000 pps, the 4,000 take at least 0.19 s.
    @Test(.enabled(if: liveTestsEnabled, liveTestsReason), .timeLimit(.minutes(2)), arguments: [nil, 20_000])
    func sendsExactlyTheFramesAskedFor(pps: Int?) throws {
        let (binary, directory) = try Self.build()
        defer { try? FileManager.default.removeItem(at: directory) }
        let prefix = "pb" + UUID().uuidString.prefix(8).lowercased()
        let node = "\(prefix)-node", sender = "\(prefix)-sender"
        func sh(_ command: String) throws -> String {
            let result = try FlowmonTestSupport.run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
            guard result.status == 0 else { throw SetupError(message: "\(command): \(result.stderr)") }
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        defer { _ = try? sh("ip netns del \(node) 2>/dev/null; ip netns del \(sender) 2>/dev/null; true") }
        for namespace in [node, sender] {
            _ = try sh("ip netns add \(namespace)")
            _ = try sh("ip netns exec \(namespace) sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1")
        }
        _ = try sh("ip -n \(node) link add veth0 type veth peer name eth0 netns \(sender)")
        _ = try sh("ip -n \(node) link set veth0 up && ip -n \(sender) link set eth0 up")

        let capture = FlowmonTestSupport.root.appendingPathComponent("Captures/demo/demo-cluster.pcap").path
        var lengths: [Int] = []
        let reader = try CaptureFileReader(path: capture)
        while let packet = try reader.next() { lengths.append(packet.bytes.count) }
        #expect(lengths.count == 1500)
        let count = 4000
        let expectedBytes = (0..<count).reduce(0) { $0 + lengths[$1 % lengths.count] }

        func counter(_ name: String) throws -> Int {
            try #require(Int(try sh("ip netns exec \(node) cat /sys/class/net/veth0/statistics/\(name)")))
        }
        let packetsBefore = try counter("rx_packets"), bytesBefore = try counter("rx_bytes")
        let rate = pps.map { ["--pps", "\($0)"] } ?? ["--unlimited"]
        // timeout(1): a sender that does not stop at --count fails the test instead of hanging it.
        let result = try FlowmonTestSupport.run(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", sender, "timeout", "30", binary.path, "--interface", "eth0", "--count", "\(count)", "--json",
        ] + rate + [capture])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(try counter("rx_packets") - packetsBefore == count)
        #expect(try counter("rx_bytes") - bytesBefore == expectedBytes)

        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any],
                                  "\(result.stdout)")
        #expect(report["sent"] as? Int == count)
        #expect(report["bytes"] as? Int == expectedBytes)
        #expect(report["frames_in_file"] as? Int == 1500)
        if let pps {
            let seconds = try #require(report["seconds"] as? Double)
            #expect(seconds >= 0.95 * Double(count) / Double(pps), "faster than the target rate: \(result.stdout)")
        }
    }

    struct SetupError: Error, CustomStringConvertible {
        var message: String
        var description: String { self.message }
    }
}
