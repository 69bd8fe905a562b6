import ArgumentParser
import Foundation
import FlowMonitor
import Presentation

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    struct Replay: ParsableCommand {
        // Each command names itself: otherwise the parser derives the name from the type's,
        // demangling it at run time (5% of a small replay's start-up).
        static let configuration = CommandConfiguration(
            commandName: "replay",
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

        @OptionGroup(title: "Application layer (DNS, HTTP, TLS)") var application: ApplicationOptions

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
            let configuration = ReplayRun.Configuration(
                file: self.file, filter: self.filter,
                pipeline: PipelineConfiguration(workers: self.workers, ringBytes: self.ringSize << 20),
                processor: self.flowTable.configuration.with(self.application).with(self.outputOptions), agentState: try self.agent.load(), alerts: try self.alertOptions.load())
            let opened = OpenedOutputs()
            do {
                defer { opened.finish() }
                let replay = try ReplayRun(configuration, report: Diagnostics.report)
                let outputs = try opened.open(self.outputOptions, self.presentation, alerts: self.alertOptions)
                let wanted = self.progress ?? ProgressBar.wanted(writingToFile: self.outputOptions.output != nil)
                let progress = wanted ? ProgressBar(total: replay.reader.fileSize) : nil
                defer { progress?.finish() }
                let status = try replay.run(outputs) { progress?.update(bytes: $0, packets: $1) }
                if status != 0 { throw ExitCode(status) }
            } catch {
                throw opened.exitCode(after: error)
            }
        }
    }
}
