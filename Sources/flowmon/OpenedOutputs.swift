import ArgumentParser
import Capture
import FlowMonitor
import Output

/// The outputs of a `replay` or `capture` run, opened in order (the records' first) and kept,
/// so that when one fails the others still get what was written (`exitCode(after:)`).
final class OpenedOutputs {
    private(set) var outputs: [JSONLinesOutput] = []
    private(set) var presenter: PresenterThread?

    func open(_ options: OutputOptions, _ presentation: PresentationOptions, alerts: AlertOptions) throws -> RunOutputs {
        let (records, presenter) = try options.openRecords(presentation)
        self.outputs.append(records)
        self.presenter = presenter
        let hubble = try options.openHubble()
        if let hubble { self.outputs.append(hubble) }
        let alertsOutput = try alerts.openOutput()
        if let alertsOutput { self.outputs.append(alertsOutput) }
        return RunOutputs(records: records, hubble: hubble, alerts: alertsOutput)
    }

    /// Waits until the presenter, if any, has written everything (and the summary).
    func finish() { self.presenter?.finish() }

    /// What a run that threw `error` exits with, after `finish()`: the input's error is one
    /// line and status 1; an output's, see `OutputOptions.exitCode`; any other is left as it is.
    func exitCode(after error: any Error) -> any Error {
        switch error {
        case let error as CaptureError:
            Diagnostics.error(error.description)
            return ExitCode.failure
        case let error as OutputError:
            return OutputOptions.exitCode(after: error, outputs: self.outputs, presenter: self.presenter)
        default:
            return error
        }
    }
}

extension Diagnostics {
    /// A run's message, as `flowmon: ...`, `flowmon: warning: ...`, `flowmon: notice: ...` or `flowmon: error: ...`.
    static func report(_ message: RunMessage) {
        switch message {
        case .info(let text): Self.line("flowmon: \(text)")
        case .warning(let text): Self.line("flowmon: warning: \(text)")
        case .notice(let text): Self.notice(text)
        case .error(let text): Self.error(text)
        }
    }
}
