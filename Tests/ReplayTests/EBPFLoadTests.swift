import Capture
@testable import FlowMonitor
import Foundation
import KernelCapture
import Testing
import TestSupport

/// Loading the eBPF datapath when the kernel's verifier refuses a program: a clear error that
/// ends with the verifier's own last lines, and under `--datapath auto` a capture with libpcap,
/// the one-line reason and those lines. The refused program is compiled here, as the build compiles
/// flowmon's (clang -target bpf), with the maps and program names flowmon looks for. Needs root
/// (loading BPF programs); must run when CI=true.
@Suite(.serialized)
struct EBPFLoadTests {
    /// flowmon's maps and programs, where the ingress program reads the packet without
    /// checking its length first, which the verifier refuses.
    static let refusedProgram = """
        #include <linux/bpf.h>
        #include <bpf/bpf_helpers.h>
        char LICENSE[] SEC("license") = "GPL";
        const volatile struct { __u32 snaplen; __u32 reserved; } flowmon_config = {192, 0};
        struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } flowmon_ring SEC(".maps");
        struct {
            __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __u64);
        } flowmon_counters SEC(".maps");
        struct {
            __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u32);
        } flowmon_interfaces SEC(".maps"), flowmon_flows SEC(".maps"), flowmon_local_pods SEC(".maps");
        SEC("tc") int flowmon_ingress(struct __sk_buff *skb) { return *(__u8 *)(long)skb->data; }
        SEC("tc") int flowmon_egress(struct __sk_buff *skb) { return -1; }
        """

    static var canRun: Bool {
        if getuid() == 0 { return true }
        #expect(ProcessInfo.processInfo.environment["CI"] != "true", "the eBPF tests must run in CI (as root)")
        return false
    }

    /// Compiles `source` with the clang on the PATH (the Swift toolchain's has the BPF target).
    static func compile(_ source: String) throws -> [UInt8] {
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "ebpf-load")
        defer { try? FileManager.default.removeItem(at: directory) }
        let program = directory.appendingPathComponent("refused.bpf.c")
        let object = directory.appendingPathComponent("refused.bpf.o")
        try source.write(to: program, atomically: true, encoding: .utf8)
        var machine = utsname()
        uname(&machine)
        let architecture = withUnsafeBytes(of: machine.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let run = try FlowmonTestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), [
            "clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/\(architecture)-linux-gnu", "-c", program.path, "-o", object.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        return Array(try Data(contentsOf: object))
    }

    @Test func aProgramTheVerifierRefusesIsAnErrorEndingWithTheVerifiersLastLines() throws {
        guard Self.canRun else { return }
        let object = try Self.compile(Self.refusedProgram)
        do {
            _ = try KernelCapture(options: KernelCapture.Options(ringBytes: 4096, object: object))
            Issue.record("the kernel loaded a program that reads the packet unchecked")
        } catch {
            let lines = error.message.split(separator: "\n")
            #expect(lines.first?.hasPrefix("the kernel refused flowmon's BPF programs: ") == true, "\(error.message)")
            #expect(error.message.contains("invalid access to packet"), "the verifier's reason: \(error.message)")
            #expect(lines.count > 2 && lines.count <= 13, "the verifier's last lines, not its whole log: \(lines.count)")
        }
    }

    @Test func underAutoARefusedProgramMeansLibpcapWithTheReason() throws {
        guard Self.canRun else { return }
        let object = try Self.compile(Self.refusedProgram)
        var configuration = CaptureRun.Configuration(
            capture: LiveCapture.Options(interface: "lo", snaplen: 262_144, promiscuous: false, bufferSizeMiB: 2,
                                         timeoutMilliseconds: 100, filter: nil),
            observation: nil, pipeline: PipelineConfiguration(workers: 1), duration: nil, count: nil, user: nil,
            rotation: nil, processor: ProcessorConfiguration(), agent: AgentConfiguration(), agentState: nil, alerts: nil)
        configuration.datapath = .auto
        configuration.kernel = KernelCapture.Options(ringBytes: 4096, object: object)
        let messages = Messages()
        let run = try CaptureRun(configuration, report: { messages.append($0) })
        #expect(run.source.datapath == .pcap)
        let notices = messages.all.compactMap { if case .info(let text) = $0 { text } else { nil } }
        #expect(notices.contains { $0.hasPrefix("datapath: libpcap (eBPF not available: the kernel refused flowmon's BPF programs: ") },
                "\(notices)")
        #expect(!notices.contains { $0.contains("\n") }, "one line")
        let warnings = messages.all.compactMap { if case .warning(let text) = $0 { text } else { nil } }
        #expect(warnings.contains { $0.hasPrefix("the kernel's log ends with:\n") && $0.contains("invalid access to packet") }, "\(warnings)")

        configuration.datapath = .ebpf
        #expect(throws: CaptureError.self) { _ = try CaptureRun(configuration, report: { _ in }) }
    }
}

/// The messages a run reported, kept for a test.
final class Messages: @unchecked Sendable {
    private let lock = NSLock()
    private var kept: [RunMessage] = []
    func append(_ message: RunMessage) { self.lock.withLock { self.kept.append(message) } }
    var all: [RunMessage] { self.lock.withLock { self.kept } }
}
