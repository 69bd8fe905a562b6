import Agent
import CMallocCounter
import Datapath
import Detection
import FlowMonitor
import Foundation
import Testing

/// Service translation is looked up when a connection starts, in a fixed table: the packet path
/// still allocates nothing with `--services`, policies and Hubble output, on a capture where
/// most connections go to ClusterIPs.
@Suite(.enabled(if: flowmon_malloc_counter_available() == 1, "a sanitizer build: the sanitizer owns malloc"))
struct ServiceAllocationTests {
    @Test func withServicesThePacketPathStillAllocatesNothing() throws {
        let directory = Fixture.captures.appendingPathComponent("services")
        let state = try AgentState.load(AgentConfiguration(
            pods: directory.appendingPathComponent("services-cluster.pods.json").path, nodeName: "kind-worker-0",
            policyPaths: [Fixture.root.appendingPathComponent("Policies/demo").path],
            services: directory.appendingPathComponent("services-cluster.services.json").path))
        #expect(state.services.table.count > 20)
        let (packets, allocations, _) = try AllocationTests.steadyState(directory.appendingPathComponent("services-cluster.pcap")) {
            FlowProcessor(configuration: ProcessorConfiguration(maxFlows: 64, detectors: DetectorSettings()),  // small: evictions too
                          output: $0, policy: state.context(), hubble: $0)
        }
        #expect(packets > 1600, "3,000 packets, those with DNS, HTTP or TLS payload left out")
        #expect(allocations == 0, "\(allocations) allocations for \(packets) packets")
    }
}
