import ArgumentParser
import Foundation
import Capture
import FlowMonitor
import Output
import Presentation

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read a pcap or pcapng file and write one JSON line per connection.",
            discussion: """
                Timestamps come from the capture, so the same file always gives the same output. \
                Connections still open at the end of the file are written with reason 'shutdown', \
                followed by a 'stats' line. If the file is cut short, every connection seen before \
                the cut is still written, then the error is reported and the exit status is 1. A file \
                that grows while it is read is read as it was when opened; one truncated while it is \
                read is an error. SIGINT or SIGTERM stops the replay the same way, with exit status \
                128 + the signal's number.
                """
        )

        @Argument(help: "The capture to read (pcap or pcapng); '-' reads standard input.", completion: .file(extensions: ["pcap", "pcapng", "cap"]))
        var file: String

        @Option(help: ArgumentHelp("Only packets matching this tcpdump-syntax BPF expression, e.g. 'tcp port 443'.", valueName: "expression"))
        var filter: String?

        @OptionGroup var flowTable: FlowTableOptions

        @OptionGroup(title: "Identity and policy") var agent: AgentOptions

        @OptionGroup(title: "Alerts") var alertOptions: AlertOptions

        @Option(help: ArgumentHelp("Threads that track flows (the reading thread is one of them); connections are shared out by a hash of their addresses, and the output is the same for any number. Default: the number of cores.", valueName: "n"))
        var workers: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: ArgumentHelp("Size of each worker's packet ring, in MiB.", valueName: "MiB"))
        var ringSize: Int = 32

        @OptionGroup var outputOptions: OutputOptions

        @OptionGroup(title: "Output for people and output filters") var presentation: PresentationOptions

        @Flag(inversion: .prefixedNo, help: "A progress bar on standard error (default: when it is a terminal and the records go elsewhere).")
        var progress: Bool?

        func validate() throws {
            guard (1...256).contains(self.workers) else { throw ValidationError("'--workers' must be between 1 and 256.") }
            guard (1...65_536).contains(self.ringSize) else { throw ValidationError("'--ring-size' must be between 1 and 65536 MiB.") }
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)  // a closed pipe becomes EPIPE: see OutputOptions.exitCode
            // The agent side first: bad inventory or policy files stop before any packet is read.
            let agentState = try self.agent.load()
            let alerts = try self.alertOptions.load()
            var processor = self.flowTable.configuration
            processor.detectors = alerts?.settings
            // Every output opened (the records' first), so that when one fails the others still
            // get what was written.
            var outputs: [JSONLinesOutput] = []
            var presenterThread: PresenterThread?
            do {
                let filter = try self.filter.map { expression throws(CaptureError) in try PacketFilter(expression: expression) }
                let reader = try CaptureFileReader(path: self.file)
                let (sink, presenter) = try self.outputOptions.openRecords(self.presentation)
                outputs.append(sink)
                presenterThread = presenter
                let progress = (self.progress ?? ProgressBar.wanted(writingToFile: self.outputOptions.output != nil)) ? ProgressBar(total: reader.fileSize) : nil
                defer {
                    progress?.finish()
                    presenter?.finish()
                }
                let hubbleOutput = try self.outputOptions.openHubble()
                if let hubbleOutput { outputs.append(hubbleOutput) }
                let alertsOutput = try self.alertOptions.openOutput()
                if let alertsOutput { outputs.append(alertsOutput) }
                let pipeline = Pipeline(
                    configuration: PipelineConfiguration(workers: self.workers, ringBytes: self.ringSize << 20, mode: .replay),
                    processor: processor, output: sink,
                    policy: agentState?.context(hubble: hubbleOutput, alerts: alerts)) { linkType in
                    Diagnostics.notice("\(reader.path): link type \(linkType) (\(linkTypeName(linkType))) is not decoded; its packets are counted in stats.capture.unsupported_link_types")
                }
                pipeline.alertsOutput = alertsOutput
                // SIGINT and SIGTERM stop the replay between two batches of packets: the
                // connections seen so far and the stats line are written, the stats line and the
                // message say where it stopped, and the exit status is 128 + the signal's number.
                let signals = SignalFlags()
                let sources = signals.install(signals: [SIGINT, SIGTERM]) {}
                defer { sources.forEach { $0.cancel() } }
                let stopped = try FlowMonitor.Replay.run(reader, filter: filter, into: pipeline) {
                    progress?.update(bytes: reader.bytesConsumed, packets: pipeline.capture.packets)
                    guard let number = signals.stopSignal else { return nil }
                    return "\(reader.path): replay interrupted by \(signalName(number)) after \(reader.recordsRead) records"
                }
                if let stopped, let number = signals.stopSignal {
                    Diagnostics.error("\(stopped); every connection seen before is written")
                    throw ExitCode(128 + number)
                }
            } catch let error as CaptureError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as OutputError {
                throw OutputOptions.exitCode(after: error, outputs: outputs, presenter: presenterThread)
            } catch let error as ReplayError {
                guard case .output = error else {
                    Diagnostics.error(error.description)
                    throw ExitCode.failure
                }
                throw OutputOptions.exitCode(after: error, outputs: outputs, presenter: presenterThread)
            }
        }
    }
}
