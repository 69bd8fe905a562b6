import Datapath
import Decoding
import FlowCore
import Testing

/// The datapath's event stream: what `DatapathProgram` emits, in which order, with which keys.
struct DatapathProgramTests {
    final class Recorder: DatapathEventSink {
        var events: [DatapathEvent] = []
        func receive(_ event: DatapathEvent) { self.events.append(event) }

        /// Each event as (kind, key event, finding), for comparison.
        var summary: [String] {
            self.events.map { event in
                switch event {
                case .connectionJudged(_, _, let key): "judged@\(key.event)"
                case .finding(let finding, _, _, let key): "\(finding)@\(key.event)"
                case .connectionEnded(_, let reason, let key): "ended(\(reason))@\(key.event)"
                }
            }
        }
    }

    static func program(capacity: Int = 8, checks: ConnectionChecks) -> DatapathProgram {
        DatapathProgram(maxFlows: capacity, timeouts: FlowTimeouts(), tunnelKey: .auto, maxFragmentDatagrams: 8,
                        fragmentTimeout: .seconds(60), checks: checks)
    }

    @Test func invalidFlagsAreFoundOncePerConnectionAndAFailedAttemptFollowsItsRecord() {
        let program = Self.program(checks: [.invalidTCPFlags, .failedAttempts])
        let sink = Recorder()
        var packets = [Packet.tcp(1, 40000, 2, 80, 0x00), Packet.tcp(1, 40000, 2, 80, 0x00), Packet.tcp(1, 40001, 2, 81, 0x02)]
        for index in packets.indices {
            program.process(&packets[index], event: UInt64(2 * index + 1), time: Packet.at(Double(index)), length: 60,
                            sink: sink)
        }
        program.endAll(at: Packet.at(3), event: 10, sink: sink)
        // No policy loaded: nothing is judged. The NULL probe is found once, not twice; at the
        // end both connections end at event 11 (expiry is event 10, in table order), the
        // SYN-only one a failed attempt keyed as its record, so its alerts follow the record.
        #expect(sink.summary.first == "invalidTCPFlags(Datapath.InvalidTCPFlags.null)@1")
        #expect(sink.summary.dropFirst().sorted() == ["ended(shutdown)@11", "ended(shutdown)@11", "failedAttempt@11"])
        guard case .finding(_, let failed, _, let failedKey) = sink.events.first(where: {
            if case .finding(.failedAttempt, _, _, _) = $0 { return true } else { return false }
        }) else { Issue.record("no failed attempt"); return }
        let record = sink.events.compactMap { event -> (FlowEntry, EmissionKey)? in
            if case .connectionEnded(let flow, _, let key) = event, flow.flowID == failed.flowID { return (flow, key) }
            return nil
        }
        #expect(record.count == 1 && record.first?.1 == failedKey && failed.destinationPort == 81)
    }

    @Test func withoutChecksNothingIsFoundAndAnEvictionIsKeyedByThePacketThatCausedIt() {
        let program = Self.program(capacity: 1, checks: [])
        let sink = Recorder()
        var first = Packet.tcp(1, 40000, 2, 80, 0x00)
        var second = Packet.udp(3, 5000, 4, 53)
        program.process(&first, event: 1, time: Packet.at(0), length: 60, sink: sink)
        program.process(&second, event: 3, time: Packet.at(1), length: 60, sink: sink)
        #expect(sink.summary == ["ended(evicted)@3"])
        #expect(program.flows.count == 1 && program.decode.ipv4 == 2 && program.capture.packets == 2)
    }
}
