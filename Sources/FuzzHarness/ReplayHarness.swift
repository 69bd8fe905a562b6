import Agent
import Capture
import FlowMonitor
import Output

#if canImport(Glibc)
import Glibc
#endif

/// The `replay` fuzz target: the input is a capture file (pcap or pcapng), replayed as
///
///     flowmon replay INPUT --workers 1 --max-flows 1024 --max-fragments 512 \
///         --pods Captures/alerts/alerts.pods.json --policies Captures/alerts/alerts.policies.yaml \
///         --node-name kind-worker-0 --alerts-config Captures/alerts/alerts.config.yaml \
///         --hubble /dev/null --alerts /dev/null --output /dev/null
///
/// does it: `CaptureFileReader` on the bytes (in a memfd), a fresh `Pipeline`, and
/// `FlowMonitor.Replay.run`, then the message of whatever error stopped it. One worker: the
/// reading thread tracks every connection itself and the merger writes the records, as with
/// `--workers 1`; a second worker thread makes each input several times slower (thread start, and
/// its idle back-off while the reader reads). The cluster is loaded once; its `PolicyContext`
/// holds nothing per run, so every pipeline shares it. The tables are allocated for every input,
/// so they are small: 1024 connections, 512 fragment datagrams, and the detectors' limits of
/// `limitForFuzzing()` (the configuration's `max_trackers`, `max_aggregates`, `max_pending_events`).
package final class ReplayHarness {
    let input = InputFile(name: "flowmon-fuzz-replay")
    let devNull: Int32
    let processor: ProcessorConfiguration
    let policy: PolicyContext
    let hubble: JSONLinesOutput
    let alerts: JSONLinesOutput

    package init(repository: String) throws(AgentError) {
        let cluster = repository + "/Captures/alerts/"
        let state = try AgentState.load(AgentConfiguration(
            pods: cluster + "alerts.pods.json", nodeName: "kind-worker-0", policyPaths: [cluster + "alerts.policies.yaml"]))
        var alertsConfiguration = try AlertsConfigLoader.load(path: cluster + "alerts.config.yaml")
        alertsConfiguration.settings.limitForFuzzing()
        self.devNull = open("/dev/null", O_WRONLY | O_CLOEXEC)
        self.hubble = JSONLinesOutput(fileDescriptor: self.devNull, name: "/dev/null")
        self.alerts = JSONLinesOutput(fileDescriptor: self.devNull, name: "/dev/null")
        self.policy = state.context(alerts: alertsConfiguration)
        self.processor = ProcessorConfiguration(maxFlows: 1024, maxFragmentDatagrams: 512,
                                                detectors: alertsConfiguration.settings)
    }

    deinit { close(self.devNull) }

    /// Runs one input; true when the file opened as a capture and gave at least one packet.
    @discardableResult
    package func run(_ bytes: UnsafeRawBufferPointer) -> Bool {
        self.input.replace(with: bytes)
        let reader: CaptureFileReader
        do {
            reader = try CaptureFileReader(path: self.input.path)
        } catch {
            _ = error.description
            return false
        }
        let pipeline = Pipeline(
            configuration: PipelineConfiguration(workers: 1, mode: .replay),
            processor: self.processor, output: JSONLinesOutput(fileDescriptor: self.devNull, name: "/dev/null"),
            policy: self.policy, hubble: self.hubble) { linkType in
            _ = "\(reader.path): link type \(linkType) (\(linkTypeName(linkType))) is not decoded"
        }
        pipeline.alertsOutput = self.alerts
        do {
            try Replay.run(reader, filter: nil, into: pipeline)
        } catch {
            _ = error.description
        }
        return reader.recordsRead > 0
    }
}
