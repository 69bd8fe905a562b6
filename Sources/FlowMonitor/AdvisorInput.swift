import Agent
import Capture
import Datapath
import FlowCore
import Foundation
import Output

/// The connections `flowmon policy advise` reads from a capture, replayed in process with the
/// same flow table and agent tables as `flowmon replay`. (Flow logs are read with `FlowLog`.)
public enum AdvisorInput {
    /// Replays a capture through one single-pass processor (no detectors, records to /dev/null)
    /// and returns every connection it judged.
    public static func observeCapture(_ path: String, filter: PacketFilter?, configuration: ProcessorConfiguration,
                                      state: AgentState) throws(ReplayError) -> ConnectionObserver {
        let observer = ConnectionObserver()
        var configuration = configuration
        configuration.detectors = nil
        let output: JSONLinesOutput
        let reader: CaptureFileReader
        do {
            output = try JSONLinesOutput(path: "/dev/null")
        } catch {
            throw .output(error)
        }
        do {
            reader = try CaptureFileReader(path: path)
        } catch {
            throw .input(error)
        }
        let processor = FlowProcessor(configuration: configuration, output: output,
                                      policy: state.context(hubble: nil, observer: observer))
        try Replay.run(reader, filter: filter, into: processor)
        return observer
    }
}
