import Agent
import Capture
import Output

/// Where a capture or replay run writes, opened by the caller: the records (JSON lines, or a
/// pipe to a presenter), and the optional `--hubble` and `--alerts` files.
package struct RunOutputs {
    package var records: JSONLinesOutput
    package var hubble: JSONLinesOutput?
    package var alerts: JSONLinesOutput?

    package init(records: JSONLinesOutput, hubble: JSONLinesOutput?, alerts: JSONLinesOutput?) {
        self.records = records
        self.hubble = hubble
        self.alerts = alerts
    }

    /// The pipeline writing to these outputs, judging with `agent` (nil: no inventory or
    /// policies) and detecting with `alerts` (nil: no detector); `input` names the packets'
    /// source in the notice about a link type that is not decoded.
    func pipeline(_ configuration: PipelineConfiguration, processor: ProcessorConfiguration, agent: AgentState?,
                  alerts: AlertsConfiguration?, input: String?, report: @escaping (RunMessage) -> Void) -> Pipeline {
        var processor = processor
        processor.detectors = alerts?.settings
        let pipeline = Pipeline(configuration: configuration, processor: processor, output: self.records,
                                policy: agent?.context(alerts: alerts), hubble: self.hubble) { linkType in
            let source = input.map { "\($0): " } ?? ""
            report(.notice("\(source)link type \(linkType) (\(linkTypeName(linkType))) is not decoded; "
                           + "its packets are counted in stats.capture.unsupported_link_types"))
        }
        pipeline.alertsOutput = self.alerts
        return pipeline
    }
}

/// A message of a run for standard error; the caller adds the program's name.
package enum RunMessage: Sendable, Equatable {
    /// Progress and state ("capturing on eth0 ...").
    case info(String)
    case warning(String)
    /// About the inputs, not a fault of flowmon's.
    case notice(String)
    case error(String)
}
