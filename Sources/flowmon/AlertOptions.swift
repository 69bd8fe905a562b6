import Agent
import ArgumentParser
import FlowMonitor
import Output

/// Alert options shared by `replay` and `capture`.
struct AlertOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Also write the alert lines to this file (they are always in the main output too).", valueName: "file"))
    var alerts: String?

    @Option(help: ArgumentHelp("Detector settings (YAML): enable or disable each detector, thresholds, windows, severities, sensitive workloads, the cluster's DNS resolvers, allow-listed sources, folding policy violations into scans, the per-source rate limit (docs/alerts.md). Default: every detector on with the documented thresholds.", valueName: "file"))
    var alertsConfig: String?

    @Flag(help: "Run no detector and write no alert.")
    var noAlerts = false

    func validate() throws {
        if self.noAlerts && (self.alerts != nil || self.alertsConfig != nil) {
            throw ValidationError("'--no-alerts' cannot be combined with '--alerts' or '--alerts-config'.")
        }
    }

    /// The configuration, or nil with `--no-alerts`. A bad file stops here with its place named.
    func load() throws -> AlertsConfiguration? {
        guard !self.noAlerts else { return nil }
        guard let path = self.alertsConfig else { return AlertsConfiguration() }
        do {
            return try AlertsConfigLoader.load(path: path)
        } catch {
            Diagnostics.error(error.description)
            throw ExitCode.failure
        }
    }

    func openOutput() throws(OutputError) -> JSONLinesOutput? {
        try self.alerts.map { path throws(OutputError) in try JSONLinesOutput(path: path) }
    }
}
