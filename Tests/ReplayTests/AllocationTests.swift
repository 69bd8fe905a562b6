import Capture
import Agent
import CMallocCounter
import Datapath
import Decoding
import Detection
import FlowCore
@testable import FlowMonitor
import Foundation
import KernelCapture
import L7
import Output
import Testing

/// The per-packet path (read a record, decode, attribute fragments, track the flow, write
/// records of flows that end) allocates nothing once warmed up.
///
/// The first pass over a capture warms up one-time costs that are not per packet (the Swift
/// runtime instantiates some type metadata lazily on first use); the second pass, through a
/// fresh reader and processor built before counting starts, must allocate nothing at all.
/// Skipped only in sanitizer builds (`scripts/sanitize --tests`), where the sanitizer owns malloc.
@Suite(.enabled(if: flowmon_malloc_counter_available() == 1, "a sanitizer build: the sanitizer owns malloc"))
struct AllocationTests {
    @Test(arguments: ["eth-mixed-realworld-4709pkts.pcap", "sll-mixed-tcp-udp-arp-518pkts.pcap",
                      "eth-ipv4-frag-udp-nfs.pcap", "geneve-tcp-ssh-icmp.pcap", "raw101-ipv4-ipv6-mixed.pcap"])
    func steadyStatePacketPathAllocatesNothing(name: String) throws {
        let (packets, allocations, _) = try Self.steadyState(Fixture.realCaptures.appendingPathComponent(name)) {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 1024, detectors: DetectorSettings()), output: $0)
        }
        #expect(packets > 0)
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    /// `--tunnel-key auto` (the default) joins a Cilium reply to its request and keeps two segments of one
    /// 5-tuple apart by scanning the 5-tuple's connections in the index, without allocating.
    @Test(arguments: ["overlay-cilium.pcap", "overlay-segments.pcap"])
    func tunnelKeyAutoAllocatesNothing(name: String) throws {
        let (packets, allocations, _) = try Self.steadyState(Fixture.captures.appendingPathComponent("synthetic/\(name)")) {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 64, detectors: DetectorSettings()), output: $0)
        }
        #expect(packets > 0)
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    /// The same with identities, policy verdicts and Hubble lines for every new connection.
    @Test func withPoliciesAndHubbleThePacketPathStillAllocatesNothing() throws {
        let state = try AgentState.load(AgentConfiguration(
            pods: Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path]))
        let (packets, allocations, _) = try Self.steadyState(Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")) {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 64, detectors: DetectorSettings()),  // small: evictions happen too
                          output: $0, policy: state.context(), hubble: $0)
        }
        #expect(packets > 900, "1,500 packets, those with DNS, HTTP or TLS payload left out")
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    /// The same counting for the metrics page (`--metrics-address`): each connection's Hubble
    /// events and its end counted in the worker's `FlowMetrics`, handed over with each epoch.
    @Test func countingForTheMetricsPageAllocatesNothing() throws {
        let state = try AgentState.load(AgentConfiguration(
            pods: Fixture.captures.appendingPathComponent("demo/demo-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path], verdictAsEnforced: true))
        var configuration = ProcessorConfiguration(maxFlows: 64, detectors: DetectorSettings())
        configuration.metrics = true
        let (packets, allocations, measured) = try Self.steadyState(Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap")) {
            FlowProcessor(configuration: configuration, output: $0, policy: state.context(), hubble: $0)
        }
        #expect(packets > 900)
        // It counted: verdicts, drops, ports.
        let page = measured.merger?.metricsPage(interface: "demo", version: "test") ?? ""
        for family in ["hubble_policy_verdicts_total{", "hubble_drop_total{", "hubble_port_distribution_total{", "flowmon_flows_total{"] {
            #expect(page.contains(family), "\(page)")
        }
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
        let (packets, allocations, measured) = try Self.steadyState(directory.appendingPathComponent(name)) {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 256, detectors: alerts.settings), output: $0,
                          policy: state.context(alerts: alerts))
        }
        #expect(packets > 0)
        #expect(measured.statistics().alerts.map { $0.raised.reduce(0, +) } ?? 0 > 0, "no alert was raised")
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    /// Replays `file` through one processor to warm up, then counts the allocations of a second
    /// processor's pass (finished afterwards, outside the count). Output goes to /dev/null.
    /// The capture thread's per-packet work in a node capture: counting per interface and the
    /// exactly-once rule (`InterfaceCounters`, `ObservationPoints`), with pods being learned
    /// and forgotten, allocates nothing.
    @Test func observingTheNodesInterfacesAllocatesNothing() {
        let points = ObservationPoints(capacity: 64)
        points.setInterfaces([(7, .podFacing), (8, .podFacing), (2, .other), (1, .loopback)])
        let counters = InterfaceCounters(capacity: 8)
        var packets: [PacketSummary] = []
        for index in 0..<512 {
            var packet = PacketSummary()
            packet.ipVersion = 4
            packet.ipProtocol = 17
            packet.source = IPAddress(ipv4: 0x0af4_0000 | UInt32(index % 200))
            packet.destination = IPAddress(ipv4: 0x0af4_0000 | UInt32((index * 7) % 200))
            packet.interfaceIndex = [7, 8, 2, 1, 9][index % 5]
            packet.direction = index % 3 == 0 ? .outbound : .inbound
            packets.append(packet)
        }
        func run() -> Int {
            var admitted = 0
            // By index: `for … in` over large values allocates in a debug build.
            for index in 0..<packets.count {
                var summary = packets[index]
                counters.count(summary.interfaceIndex, length: 100, time: CaptureTime(nanoseconds: Int64(index)))
                if points.admits(&summary, time: CaptureTime(nanoseconds: Int64(index))) { admitted += 1 }
            }
            return admitted
        }
        _ = run()
        flowmon_malloc_counter_start()
        var admitted = 0
        for _ in 0..<20 { admitted += run() }
        let allocations = Int(flowmon_malloc_counter_stop())
        #expect(admitted > 0 && points.skipped > 0, "both branches taken")
        #expect(allocations == 0, "\(allocations) allocations for \(20 * packets.count) packets")
    }

    /// The per-packet work with the eBPF datapath: taking records from the BPF ring buffer, the
    /// capture filter (on the packet framed as on `any`), the exactly-once rule and the whole
    /// per-packet program allocate nothing. The programs are attached to loopback (their tcx
    /// links end with the test), which carries the test's own UDP datagrams; the pipeline runs
    /// its worker on this thread (as replay does), so all of it is counted here. (A live
    /// capture's capture thread also snapshots its interface counters at each epoch, twice a
    /// second: not per packet, and not measured here.) Needs root; must run when CI=true.
    @Test func readingTheEBPFRingBufferAllocatesNothing() throws {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "the eBPF test must run in CI (as root)")
            return
        }
        let kernel = try KernelCapture(options: KernelCapture.Options(snaplen: 192, ringBytes: 4 << 20))
        let loopback = Int32(if_nametoindex("lo"))
        #expect(kernel.observe([(loopback, 1, ObservationPoints.Role.loopback.rawValue)]).isEmpty)
        defer { kernel.detachAll() }
        // Only the test's datagrams (other tests may use loopback at the same time).
        let source = PacketSource.ebpf(kernel, filter: try PacketFilter(expression: "udp and inbound and dst portrange 40000-40499"))
        let devNull = try Self.devNull()
        defer { close(devNull) }
        let pipeline = Pipeline(configuration: PipelineConfiguration(workers: 1, ringBytes: 8 << 20, mode: .replay),
                                processor: ProcessorConfiguration(), output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"),
                                policy: nil)
        pipeline.observation = ObservationPoints()
        pipeline.observation?.setInterfaces([(UInt32(loopback), .loopback)])

        let sender = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(sender) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        func send(_ count: Int) {
            let payload = [UInt8](repeating: 0x61, count: 64)
            for index in 0..<count {
                address.sin_port = UInt16(40_000 + index % 500).bigEndian  // nobody listens: ICMP errors too
                _ = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(sender, payload, payload.count, 0, $0, 16) }
                }
            }
        }
        func drain() throws -> Int {
            var read = 0
            while case let got = try source.read(maxPackets: 512, into: pipeline), got > 0 { read += got }
            return read
        }
        send(600)
        _ = try drain()  // warms up: the filter's cooked frame and program, the pipeline's first epoch
        send(2000)
        flowmon_malloc_counter_start()
        let read = try drain()
        let allocations = Int(flowmon_malloc_counter_stop())
        try pipeline.finish()
        #expect(read >= 2000, "\(read) records read (each datagram is seen leaving and arriving on loopback)")
        #expect(pipeline.capture.filteredOut > 0, "the filter rejected the datagrams leaving")
        #expect(allocations == 0, "\(allocations) allocations for \(read) records")
    }

    /// Adding kernel aggregates (the eBPF datapath's mode 2) to their connections allocates
    /// nothing: 200 connections created from aggregates, then 20 rounds of an aggregate for each
    /// and a sweep after each round, as the pipeline's workers do.
    @Test func applyingKernelAggregatesAllocatesNothing() throws {
        let devNull = try Self.devNull()
        defer { close(devNull) }
        let processor = FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 1024, detectors: DetectorSettings()),
                                      output: JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"))
        var aggregates: [FlowAggregate] = []
        for index in 0..<200 {
            let key = FlowKey.canonical(source: IPAddress(ipv4: 0x0af4_0000 | UInt32(index)), sourcePort: UInt16(30_000 + index),
                                        destination: IPAddress(ipv4: 0x0af4_0100), destinationPort: 8080,
                                        ipProtocol: index % 2 == 0 ? 6 : 17, vni: 0).key
            aggregates.append(FlowAggregate(key: key, packetsFromLow: 3, packetsFromHigh: 2, bytesFromLow: 300, bytesFromHigh: 200,
                                            flagsFromLow: 0x10, flagsFromHigh: 0x10, last: .zero))
        }
        func round(_ round: Int) {
            for index in 0..<aggregates.count {
                var aggregate = aggregates[index]
                aggregate.last = CaptureTime(nanoseconds: Int64(round) * 1_000_000 + Int64(index))
                processor.apply(aggregate, event: UInt64(2 * round))
            }
            processor.endEpoch(UInt64(2 * round), at: CaptureTime(nanoseconds: Int64(round) * 1_000_000 + 500), last: false,
                               into: processor.merger!)
        }
        round(0)
        flowmon_malloc_counter_start()
        for index in 1...20 { round(index) }
        let allocations = Int(flowmon_malloc_counter_stop())
        #expect(processor.program.flows.count == 200 && processor.program.flows.counters.createdFromKernel == 200)
        #expect(allocations == 0, "\(allocations) allocations for \(20 * aggregates.count) aggregates")
        try processor.finish()
    }

    /// The packets of `file` are replayed without those that carry application payload (DNS,
    /// HTTP, TLS: `ApplicationTap` picks them, as the pipeline does), which may allocate: the
    /// application layer is on, and every other packet must allocate nothing.
    static func steadyState(_ file: URL, processor: (JSONLinesOutput) -> FlowProcessor) throws
        -> (packets: Int, allocations: Int, processor: FlowProcessor)
    {
        let devNull = try Self.devNull()
        defer { close(devNull) }
        let application = try Self.packetsWithApplicationPayload(file)
        let warmUp = processor(JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"))
        let warmUpReader = try CaptureFileReader(path: file.path)
        var index = 0
        while let packet = try warmUpReader.next() {
            if !application.contains(index) { try warmUp.process(packet) }
            index += 1
        }
        try warmUp.finish()

        let measured = processor(JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null"))
        let reader = try CaptureFileReader(path: file.path)
        var packets = 0
        index = 0
        flowmon_malloc_counter_start()
        while let packet = try reader.next() {
            if !application.contains(index) {
                try measured.process(packet)
                packets += 1
            }
            index += 1
        }
        let allocations = Int(flowmon_malloc_counter_stop())
        try measured.finish()
        return (packets, allocations, measured)
    }

    /// The indexes of the packets of `file` whose payload the application layer reads.
    static func packetsWithApplicationPayload(_ file: URL) throws -> Set<Int> {
        let tap = ApplicationTap(ApplicationSettings(), policy: nil)
        let reader = try CaptureFileReader(path: file.path)
        var counters = CaptureCounters()
        let parser = LayerParser()
        var carrying = Set<Int>()
        var index = 0
        while let packet = try reader.next() {
            if let link = counters.linkLayer(packet.linkType, onUnsupported: { _ in }) {
                var summary = PacketSummary()
                parser.parse(packet.bytes, link: link, into: &summary)
                if tap.observe(&summary, frame: packet.bytes, time: packet.time) { carrying.insert(index) }
            }
            index += 1
        }
        return carrying
    }

    /// Names from DNS answers tag every packet of a connection to a resolved address (the
    /// `toFQDNs` selectors its connection is judged by, the names its record carries) without
    /// allocating: the real L7 capture's packets with application payload first (the names are
    /// learned, uncounted), then the others, counted.
    @Test func taggingPacketsWithLearnedNamesAllocatesNothing() throws {
        let directory = Fixture.captures.appendingPathComponent("l7")
        let file = directory.appendingPathComponent("l7-egress.pcap")
        let state = try AgentState.load(AgentConfiguration(
            pods: directory.appendingPathComponent("l7.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [directory.appendingPathComponent("l7.policies.yaml").path]))
        let devNull = try Self.devNull()
        defer { close(devNull) }
        let application = try Self.packetsWithApplicationPayload(file)
        func run(counting: Bool) throws -> (packets: Int, allocations: Int, tagged: Bool) {
            let output = JSONLinesOutput(fileDescriptor: devNull, name: "/dev/null")
            let processor = FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 256, detectors: DetectorSettings()),
                                          output: output, policy: state.context(), hubble: output)
            let learning = try CaptureFileReader(path: file.path)
            var index = 0
            while let packet = try learning.next() {
                if application.contains(index) { try processor.process(packet) }
                index += 1
            }
            let tagged = processor.tap?.cache.isEmpty == false
            let rest = try CaptureFileReader(path: file.path)
            var packets = 0
            index = 0
            if counting { flowmon_malloc_counter_start() }
            while let packet = try rest.next() {
                if !application.contains(index) {
                    try processor.process(packet)
                    packets += 1
                }
                index += 1
            }
            let allocations = counting ? Int(flowmon_malloc_counter_stop()) : 0
            try processor.finish()
            return (packets, allocations, tagged)
        }
        _ = try run(counting: false)  // warm-up
        let (packets, allocations, tagged) = try run(counting: true)
        #expect(tagged)
        #expect(packets > 30)
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }

    static func devNull() throws -> Int32 {
        let fd = open("/dev/null", O_WRONLY)
        guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
        return fd
    }

    /// The `community_id` of a record (SHA-1 and base64 on the stack) allocates nothing: IPv4,
    /// IPv6, two-way and one-way ICMP, a protocol without ports.
    @Test func communityIDAllocatesNothing() {
        var out = JSONBuffer()
        let v4a = IPAddress(text: "10.0.0.1")!, v4b = IPAddress(text: "10.0.0.2")!
        let v6a = IPAddress(text: "fd00::1")!, v6b = IPAddress(text: "fd00::2")!
        func all(_ out: inout JSONBuffer) {
            CommunityID.append(source: v4b, sourcePort: 80, destination: v4a, destinationPort: 1234, ipProtocol: 6,
                               ipv6: false, seed: 0, to: &out)
            CommunityID.append(source: v6a, sourcePort: 128, destination: v6b, destinationPort: 0, ipProtocol: 58,
                               ipv6: true, seed: 1, to: &out)
            CommunityID.append(source: v4a, sourcePort: 11, destination: v4b, destinationPort: 0, ipProtocol: 1,
                               ipv6: false, seed: 0, to: &out)
            CommunityID.append(source: v6b, sourcePort: 0, destination: v6a, destinationPort: 0, ipProtocol: 46,
                               ipv6: true, seed: 0, to: &out)
        }
        all(&out)
        out.removeAll()
        flowmon_malloc_counter_start()
        for _ in 0..<100 {
            all(&out)
            out.removeAll()
        }
        #expect(flowmon_malloc_counter_stop() == 0)
    }
}
