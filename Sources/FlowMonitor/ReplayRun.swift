import Agent
import Capture
import Output

#if canImport(Glibc)
import Glibc
#endif

/// `flowmon replay`: a capture file through the worker pipeline. SIGINT and SIGTERM stop it
/// between two batches of packets: the connections seen so far and the stats line are
/// written, the stats line and an error message say where it stopped, and the exit status is
/// 128 + the signal's number.
package final class ReplayRun {
    package struct Configuration {
        /// The capture file ('-': standard input) and the BPF expression its packets must match.
        package var file: String
        package var filter: String?
        /// Workers and ring size (the mode is replay).
        package var pipeline: PipelineConfiguration
        package var processor: ProcessorConfiguration
        /// The inventory and policies (nil: none given) and the detectors' settings (nil: no detector).
        package var agentState: AgentState?
        package var alerts: AlertsConfiguration?

        package init(file: String, filter: String?, pipeline: PipelineConfiguration, processor: ProcessorConfiguration,
                    agentState: AgentState?, alerts: AlertsConfiguration?) {
            self.file = file
            self.filter = filter
            self.pipeline = pipeline
            self.pipeline.mode = .replay
            self.processor = processor
            self.agentState = agentState
            self.alerts = alerts
        }
    }

    let configuration: Configuration
    let filter: PacketFilter?
    package let reader: CaptureFileReader
    let report: (RunMessage) -> Void

    /// Compiles the filter and opens the file (before the outputs, so a bad input creates no file).
    package init(_ configuration: Configuration, report: @escaping (RunMessage) -> Void) throws(CaptureError) {
        self.configuration = configuration
        self.report = report
        self.filter = try configuration.filter.map { expression throws(CaptureError) in try PacketFilter(expression: expression) }
        self.reader = try CaptureFileReader(path: configuration.file)
    }

    /// Says for which of the file's link types the filter matched nothing because it cannot
    /// apply to them (`inbound` on Ethernet, which only records it on `any`).
    func reportFilterNotices() {
        for notice in self.filter?.notices ?? [] { self.report(.warning(notice)) }
    }

    /// Replays the file into `outputs`, calling `progress` (bytes read, packets) between batches.
    /// Returns the exit status: 0, or 128 + the number of the signal that stopped the replay.
    /// Throws the capture's error when the file is cut short or unreadable (after writing
    /// every connection seen before), or the output's when one could not be written.
    package func run(_ outputs: RunOutputs, progress: (_ bytes: Int64, _ packets: UInt64) -> Void) throws -> Int32 {
        let reader = self.reader
        let configuration = self.configuration
        var pipelineConfiguration = configuration.pipeline
        // From a pipe or FIFO (`tcpdump -U -w - | flowmon replay -`) records stream: each epoch
        // is flushed once written. A regular file is written in large blocks.
        pipelineConfiguration.streamsOutput = reader.fileSize == nil
        let pipeline = outputs.pipeline(pipelineConfiguration, processor: configuration.processor, agent: configuration.agentState,
                                        alerts: configuration.alerts, input: reader.path, report: self.report)
        let signals = SignalFlags([SIGINT, SIGTERM])
        defer { signals.cancel() }
        let stopped: String?
        do {
            stopped = try Replay.run(reader, filter: self.filter, into: pipeline) {
                progress(reader.bytesConsumed, pipeline.capture.packets)
                guard let number = signals.stopSignal else { return nil }
                return "\(reader.path): replay interrupted by \(SignalFlags.name(number)) after \(reader.recordsRead) records"
            }
        } catch {
            self.reportFilterNotices()
            switch error {
            case .input(let error): throw error
            case .output(let error): throw error
            }
        }
        self.reportFilterNotices()
        guard let stopped, let number = signals.stopSignal else { return 0 }
        self.report(.error("\(stopped); every connection seen before is written"))
        return 128 + number
    }
}
