import Agent
import Capture
import Datapath
import Decoding
import FlowCore
import L7

/// The connections `flowmon policy advise` reads from a capture: the capture replayed through
/// the same datapath as `flowmon replay` (flow table, sweeps, the one judge), whose
/// `connectionJudged` events are collected instead of rendered. Names are learned from DNS
/// answers as a replay learns them (the `ApplicationTap` of a single pass, unless
/// `configuration.application` is nil: `--no-l7`). (Flow logs are read with `FlowLog`.)
package enum AdvisorInput {
    /// Every new connection judged in the capture, with how often each was seen: initiator,
    /// responder, protocol, the port it was judged on (`FlowEntry.judgedPort`), and the names
    /// the initiator had looked up for the responder (`FlowEntry.destinationNameSet`).
    package static func observeCapture(_ path: String, filter: PacketFilter?, configuration: ProcessorConfiguration,
                                      state: AgentState) throws(CaptureError) -> AdvisorObservations {
        let reader = try CaptureFileReader(path: path)
        let program = DatapathProgram(maxFlows: configuration.maxFlows, timeouts: configuration.timeouts,
                                      tunnelKey: configuration.tunnelKey,
                                      maxFragmentDatagrams: configuration.maxFragmentDatagrams,
                                      fragmentTimeout: configuration.fragmentTimeout, checks: [])
        let context = state.context()
        program.load(context.snapshot, scope: context.detection, generation: 0)
        // As a replay with the same policies: DNS read on 53, `--dns-port` and the ports of their `rules.dns`.
        let tap = configuration.application.map { ApplicationTap($0, policy: context) }
        let collector = ConnectionCollector(names: tap?.cache.nameSets)
        var sweeps = SweepSchedule()
        var sequence: UInt64 = 0
        var last = CaptureTime.zero
        // Nothing is written, so reading cannot fail on output; a read error ends the input.
        let inputError = try? Replay.read(reader, filter: filter, filteredOut: program.countFilteredOut) { packet in
            if sweeps.isDue(time: packet.time, packets: sequence) {
                program.sweep(now: packet.time, event: 2 &* sequence, sink: collector)
            }
            var summary = PacketSummary()
            _ = program.process(frame: packet.bytes, linkType: packet.linkType, event: 2 &* sequence &+ 1,
                                time: packet.time, length: packet.originalLength, summary: &summary,
                                tap: { _ = tap?.observe(&$0, frame: packet.bytes, time: packet.time) }, sink: collector)
            sequence &+= 1
            last = packet.time
            collector.observations.input = collector.observations.input.map {
                var s = $0; s.include(ObservedSpan(first: packet.time.nanoseconds, last: packet.time.nanoseconds)); return s
            } ?? ObservedSpan(first: packet.time.nanoseconds, last: packet.time.nanoseconds)
        } batchEnd: { false }
        if let inputError = inputError ?? nil { throw inputError }
        // The connections still open end at the last packet: their last moments count.
        program.endAll(at: last, event: 2 &* sequence, sink: collector)
        return collector.observations
    }
}

/// A datapath sink that counts the connections judged, and notes when each was seen (its
/// start, then its last packet when it ends).
final class ConnectionCollector: DatapathEventSink {
    var observations = AdvisorObservations()
    /// The name sets of the tap's cache, which the flows' `destinationNameSet` index.
    let names: NameSets?

    init(names: NameSets?) {
        self.names = names
    }

    func receive(_ event: DatapathEvent) {
        switch event {
        case .connectionJudged(let flow, _, _):
            self.observations.add(self.connection(flow), seen: ObservedSpan(first: flow.start.nanoseconds, last: flow.start.nanoseconds))
        case .connectionEnded(let flow, _, _):
            let connection = self.connection(flow)
            // Only connections judged (the others were not new in the capture's view).
            guard self.observations.timing[connection] != nil else { return }
            self.observations.extend(connection, seen: ObservedSpan(first: flow.start.nanoseconds, last: flow.end.nanoseconds))
        case .finding: break
        }
    }

    func connection(_ flow: FlowEntry) -> ObservedConnection {
        ObservedConnection(source: flow.sourceAddress, destination: flow.destinationAddress, ipProtocol: flow.ipProtocol,
                           port: flow.judgedPort, names: self.names?.names(flow.destinationNameSet) ?? [])
    }
}
