import Agent
import Capture
import Datapath
import FlowCore

/// The connections `flowmon policy advise` reads from a capture: the capture replayed through
/// the same datapath as `flowmon replay` (flow table, sweeps, the one judge), whose
/// `connectionJudged` events are collected instead of rendered. (Flow logs are read with `FlowLog`.)
package enum AdvisorInput {
    /// Every new connection judged in the capture, with how often each was seen: initiator,
    /// responder, protocol, and the port it was judged on (`FlowEntry.judgedPort`).
    package static func observeCapture(_ path: String, filter: PacketFilter?, configuration: ProcessorConfiguration,
                                      state: AgentState) throws(CaptureError) -> [ObservedConnection: Int] {
        let reader = try CaptureFileReader(path: path)
        let program = DatapathProgram(maxFlows: configuration.maxFlows, timeouts: configuration.timeouts,
                                      tunnelKey: configuration.tunnelKey,
                                      maxFragmentDatagrams: configuration.maxFragmentDatagrams,
                                      fragmentTimeout: configuration.fragmentTimeout, checks: [])
        let context = state.context()
        program.load(context.snapshot, scope: context.detection, generation: 0)
        let collector = ConnectionCollector()
        var sweeps = SweepSchedule()
        var sequence: UInt64 = 0
        // Nothing is written, so reading cannot fail on output; a read error ends the input.
        let inputError = try? Replay.read(reader, filter: filter, filteredOut: program.countFilteredOut) { packet in
            if sweeps.isDue(time: packet.time, packets: sequence) {
                program.sweep(now: packet.time, event: 2 &* sequence, sink: collector)
            }
            program.process(frame: packet.bytes, linkType: packet.linkType, event: 2 &* sequence &+ 1, time: packet.time,
                            length: packet.originalLength, sink: collector)
            sequence &+= 1
        } batchEnd: { false }
        if let inputError = inputError ?? nil { throw inputError }
        return collector.connections
    }
}

/// A datapath sink that counts the connections judged.
final class ConnectionCollector: DatapathEventSink {
    private(set) var connections: [ObservedConnection: Int] = [:]

    func receive(_ event: DatapathEvent) {
        guard case .connectionJudged(let flow, _, _) = event else { return }
        let connection = ObservedConnection(source: flow.sourceAddress, destination: flow.destinationAddress,
                                            ipProtocol: flow.ipProtocol, port: flow.judgedPort)
        self.connections[connection, default: 0] += 1
    }
}
