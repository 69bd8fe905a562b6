import Capture
import Agent
import CMallocCounter
import Datapath
import FlowMonitor
import Foundation
import Output
import Testing

/// The per-packet path (read a record, decode, attribute fragments, track the flow, write
/// records of flows that end) allocates nothing once warmed up.
///
/// The first pass over a capture warms up one-time costs that are not per packet (the Swift
/// runtime instantiates some type metadata lazily on first use); the second pass, through a
/// fresh reader and processor built before counting starts, must allocate nothing at all.
struct AllocationTests {
    @Test(arguments: ["eth-mixed-realworld-4709pkts.pcap", "sll-mixed-tcp-udp-arp-518pkts.pcap",
                      "eth-ipv4-frag-udp-nfs.pcap", "geneve-tcp-ssh-icmp.pcap", "raw101-ipv4-ipv6-mixed.pcap"])
    func steadyStatePacketPathAllocatesNothing(name: String) throws {
        let file = Fixture.sharedCaptures.appendingPathComponent(name)
        let devNull = try Self.devNull()
        defer { close(devNull) }
        let warmUp = FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 1024, detectors: DetectorSettings()),
                                   output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"))
        let warmUpReader = try CaptureFileReader(path: file.path)
        while let packet = try warmUpReader.next() { try warmUp.process(packet) }
        try warmUp.finish()

        let processor = FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 1024, detectors: DetectorSettings()),
                                      output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"))
        let reader = try CaptureFileReader(path: file.path)
        var packets = 0
        flowmon_malloc_counter_start()
        while let packet = try reader.next() {
            try processor.process(packet)
            packets += 1
        }
        let allocations = flowmon_malloc_counter_stop()
        #expect(packets > 0)
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
        try processor.finish()
    }

    /// The same with identities, policy verdicts and Hubble lines for every new connection.
    @Test func withPoliciesAndHubbleThePacketPathStillAllocatesNothing() throws {
        let state = try AgentState.load(AgentConfiguration(
            pods: Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path]))
        let file = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")
        let devNull = try Self.devNull()
        defer { close(devNull) }
        func processor() -> FlowProcessor {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 64, detectors: DetectorSettings()),  // small: evictions happen too
                          output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"),
                          policy: state.context(hubble: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null")))
        }
        let warmUp = processor()
        let warmUpReader = try CaptureFileReader(path: file.path)
        while let packet = try warmUpReader.next() { try warmUp.process(packet) }
        try warmUp.finish()

        let measured = processor()
        let reader = try CaptureFileReader(path: file.path)
        var packets = 0
        flowmon_malloc_counter_start()
        while let packet = try reader.next() {
            try measured.process(packet)
            packets += 1
        }
        let allocations = flowmon_malloc_counter_stop()
        #expect(packets == 1500)
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    /// The detectors raise alerts, count scans and floods, and aggregate repeats without
    /// allocating: attack captures with their inventory, policies and alert settings.
    @Test(arguments: ["syn-flood.pcap", "stealth-scans.pcap", "policy-violation.pcap", "spoofed-source.pcap",
                      "icmp-sweep.pcap", "port-scan-vertical.pcap", "world-egress.pcap"])
    func raisingAlertsAllocatesNothing(name: String) throws {
        let directory = Fixture.captures.appendingPathComponent("alerts")
        let alerts = try AlertsConfigLoader.load(path: directory.appendingPathComponent("alerts.config.yaml").path)
        let state = try AgentState.load(AgentConfiguration(
            pods: directory.appendingPathComponent("alerts.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [directory.appendingPathComponent("alerts.policies.yaml").path]))
        let file = directory.appendingPathComponent(name)
        let devNull = try Self.devNull()
        defer { close(devNull) }
        func processor() -> FlowProcessor {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 256, detectors: alerts.settings),
                          output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"),
                          policy: state.context(hubble: nil, alerts: alerts))
        }
        let warmUp = processor()
        let warmUpReader = try CaptureFileReader(path: file.path)
        while let packet = try warmUpReader.next() { try warmUp.process(packet) }
        try warmUp.finish()

        let measured = processor()
        let reader = try CaptureFileReader(path: file.path)
        var packets = 0
        flowmon_malloc_counter_start()
        while let packet = try reader.next() {
            try measured.process(packet)
            packets += 1
        }
        let allocations = flowmon_malloc_counter_stop()
        try measured.finish()
        #expect(packets > 0)
        #expect(measured.statistics().alerts.map { $0.raised.reduce(0, +) } ?? 0 > 0, "no alert was raised")
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    static func devNull() throws -> Int32 {
        let fd = open("/dev/null", O_WRONLY)
        guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
        return fd
    }
}
