import ArgumentParser
import Agent
import Capture
import Datapath
import FlowCore
import FlowMonitor
import Foundation
import Output
import Presentation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    struct CaptureCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "capture",
            abstract: "Capture live on an interface and write one JSON line per connection.",
            discussion: """
                A capture thread reads packets with libpcap (TPACKET_V3, nanosecond kernel timestamps) and \
                shares them out to worker threads through fixed-size rings; each worker tracks its own share \
                of the connections. Nothing is lost silently: kernel drops, interface drops and drops because \
                a ring was full are counted in every stats record, and an event_type "lost" record is written \
                whenever new drops happen. SIGINT and SIGTERM stop the capture, drain the rings, write every \
                open connection (reason 'shutdown') and the final stats, and exit 0. SIGHUP reloads the \
                inventory and policy files (a bad file is reported and the old ones kept) and reopens the \
                output files (for logrotate). An interface that goes down is reported and waited out, as \
                tcpdump does (the records of the connections that ended are written at once); one that is \
                deleted ends the capture, as does an output that cannot be written.
                """
        )

        @Option(name: [.short, .long], help: ArgumentHelp("Interface to capture on ('any' for all). Default: libpcap's default device.", valueName: "name"))
        var interface: String?

        @Option(help: ArgumentHelp("Only packets matching this tcpdump-syntax BPF expression (run in the kernel).", valueName: "expression"))
        var filter: String?

        @Option(help: ArgumentHelp("Bytes kept of each packet.", valueName: "bytes"))
        var snaplen: Int = 262_144

        @Flag(help: "Put the interface into promiscuous mode.")
        var promiscuous = false

        @Option(help: ArgumentHelp("Size of the kernel's capture buffer, in MiB.", valueName: "MiB"))
        var bufferSize: Int = 32

        @Option(help: ArgumentHelp("Stop after this many seconds.", valueName: "seconds"))
        var duration: Double?

        @Option(name: [.short, .long], help: ArgumentHelp("Stop after this many packets.", valueName: "n"))
        var count: Int?

        @Option(help: ArgumentHelp("Write a stats record this often.", valueName: "seconds"))
        var statsInterval: Double = 60

        @Option(help: ArgumentHelp("Threads that track flows. Default: the number of cores.", valueName: "n"))
        var workers: Int = ProcessInfo.processInfo.activeProcessorCount

        @Option(help: ArgumentHelp("Size of each worker's packet ring, in MiB; packets that find it full are dropped and counted.", valueName: "MiB"))
        var ringSize: Int = 32

        @Option(help: ArgumentHelp("After opening the capture, switch to this user (like tcpdump -Z).", valueName: "name"))
        var user: String?

        @Option(help: ArgumentHelp("Once the output file reaches this size (MiB, or with a unit: 64K, 512M, 2G), move it to FILE.1 (older ones to FILE.2 ...) and start a new one; a file exceeds it by less than one line.", valueName: "size"))
        var rotateSize: ByteSize?

        @Option(help: ArgumentHelp("Rotated files kept with '--rotate-size' (FILE.1 ... FILE.n; the oldest beyond is removed). Default: 5.", valueName: "n"))
        var rotateKeep: Int?

        @OptionGroup var flowTable: FlowTableOptions

        @OptionGroup(title: "Identity and policy") var agent: AgentOptions

        @OptionGroup(title: "Alerts") var alertOptions: AlertOptions

        @OptionGroup var outputOptions: OutputOptions

        @OptionGroup(title: "Output for people and output filters") var presentation: PresentationOptions

        func validate() throws {
            guard (1...262_144).contains(self.snaplen) else { throw ValidationError("'--snaplen' must be between 1 and 262144.") }
            guard (1...2047).contains(self.bufferSize) else { throw ValidationError("'--buffer-size' must be between 1 and 2047 MiB.") }
            guard (1...256).contains(self.workers) else { throw ValidationError("'--workers' must be between 1 and 256.") }
            guard (1...65_536).contains(self.ringSize) else { throw ValidationError("'--ring-size' must be between 1 and 65536 MiB.") }
            guard self.statsInterval > 0 else { throw ValidationError("'--stats-interval' must be above 0 seconds.") }
            if let duration, !(duration > 0) { throw ValidationError("'--duration' must be above 0 seconds.") }
            if let count, count <= 0 { throw ValidationError("'--count' must be at least 1.") }
            if self.rotateSize != nil && self.outputOptions.output == nil { throw ValidationError("'--rotate-size' needs '--output'.") }
            if let rotateKeep {
                guard self.rotateSize != nil else { throw ValidationError("'--rotate-keep' needs '--rotate-size'.") }
                guard (1...1000).contains(rotateKeep) else { throw ValidationError("'--rotate-keep' must be between 1 and 1000.") }
            }
            if self.rotateSize != nil, (try? self.presentation.needsPresenter(outputPath: self.outputOptions.output)) == true {
                throw ValidationError("'--rotate-size' writes JSON lines: it cannot be combined with '--format compact', output filters or '--summary'.")
            }
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let agentState = try self.agent.load()
            let alerts = try self.alertOptions.load()
            var processor = self.flowTable.configuration
            processor.detectors = alerts?.settings
            var outputs: [JSONLinesOutput] = []
            var presenterThread: PresenterThread?
            do {
                let capture = try LiveCapture(options: LiveCapture.Options(
                    interface: self.interface, snaplen: self.snaplen, promiscuous: self.promiscuous,
                    bufferSizeMiB: self.bufferSize, timeoutMilliseconds: 100, filter: self.filter))
                for warning in capture.warnings { Diagnostics.line("flowmon: warning: \(warning)") }
                let (sink, presenter) = try self.outputOptions.openRecords(self.presentation)
                defer { presenter?.finish() }
                outputs.append(sink)
                presenterThread = presenter
                sink.rotation = self.rotateSize.map { JSONLinesOutput.Rotation(bytes: $0.bytes, keep: self.rotateKeep ?? 5) }
                let hubbleOutput = try self.outputOptions.openHubble()
                if let hubbleOutput { outputs.append(hubbleOutput) }
                let alertsOutput = try self.alertOptions.openOutput()
                if let alertsOutput { outputs.append(alertsOutput) }
                if let user = self.user { try Privileges.drop(to: user) }
                let pipeline = Pipeline(
                    configuration: PipelineConfiguration(workers: self.workers, ringBytes: self.ringSize << 20, mode: .live,
                                                         statsInterval: .seconds(self.statsInterval)),
                    processor: processor, output: sink,
                    policy: agentState?.context(hubble: hubbleOutput, alerts: alerts)) { linkType in
                    Diagnostics.notice("link type \(linkType) (\(linkTypeName(linkType))) is not decoded; its packets are counted in stats.capture.unsupported_link_types")
                }
                pipeline.alertsOutput = alertsOutput
                Diagnostics.line("flowmon: capturing on \(capture.interfaceName) (link type \(capture.linkType), \(self.workers) worker\(self.workers == 1 ? "" : "s"))")
                try self.loop(capture, pipeline, hubbleOutput: hubbleOutput, alerts: alerts)
            } catch let error as CaptureError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as OutputError {
                throw OutputOptions.exitCode(after: error, outputs: outputs, presenter: presenterThread)
            }
        }

        /// The capture thread: batches from libpcap into the rings until a stop signal, the
        /// duration or the count; SIGHUP reloads between batches.
        func loop(_ capture: LiveCapture, _ pipeline: Pipeline, hubbleOutput: JSONLinesOutput?, alerts: AlertsConfiguration?) throws {
            let signals = SignalFlags()
            let sources = signals.install(stop: { capture.stop() })
            defer { sources.forEach { $0.cancel() } }
            let start = Self.now()
            let deadline = self.duration.map { start.nanoseconds + Int64($0 * 1e9) }
            var packets = 0
            var failure: CaptureError?
            var outputFailure: OutputError?
            var interfaceWasUp = true
            while !signals.stopRequested && outputFailure == nil {
                do {
                    let remaining = self.count.map { $0 - packets } ?? 512
                    let got = try capture.dispatch(maxPackets: min(512, remaining)) { packet in
                        pipeline.submit(packet)
                    }
                    packets += got
                    pipeline.publish()
                    let now = Self.now()
                    if got == 0 { pipeline.idle(now: now) }
                    let statistics = capture.statistics()
                    pipeline.noteDrops(kernel: statistics.droppedByKernel, interface: statistics.droppedByInterface)
                    if capture.interfaceIsUp != interfaceWasUp {
                        // Down is waited out, as tcpdump does; the records of the connections
                        // that ended so far are written now rather than with the next stats line.
                        interfaceWasUp = capture.interfaceIsUp
                        if interfaceWasUp {
                            Diagnostics.line("flowmon: interface '\(capture.interfaceName)' is up again")
                        } else {
                            Diagnostics.line("flowmon: warning: interface '\(capture.interfaceName)' went down; waiting for it to come back up")
                            do throws(OutputError) { try pipeline.flushOutputs() } catch { outputFailure = error }
                        }
                    }
                    // An output that cannot be written (disk full, reader gone) ends the capture.
                    if pipeline.outputFailed { break }
                    if capture.isStopped { break }
                    if let count = self.count, packets >= count { break }
                    if let deadline, now.nanoseconds >= deadline { break }
                } catch {
                    failure = error  // the interface went away: flush what was seen, then report
                    break
                }
                if signals.takeReload() { self.reload(pipeline, alerts: alerts) }
            }
            let statistics = capture.statistics()
            pipeline.noteDrops(kernel: statistics.droppedByKernel, interface: statistics.droppedByInterface)
            try pipeline.finish(inputError: failure?.description)
            if let outputFailure { throw outputFailure }
            if let failure {
                Diagnostics.error(failure.description)
                throw ExitCode.failure
            }
        }

        /// Reloads the inventory and policies; the detectors keep their thresholds (read at
        /// start) and re-evaluate their selectors and pod CIDRs against the new inventory.
        func reload(_ pipeline: Pipeline, alerts: AlertsConfiguration?) {
            pipeline.reopenOutputs()
            guard !self.agent.configuration.isEmpty else { return }
            do {
                let state = try AgentState.load(self.agent.configuration)
                for message in state.messages { Diagnostics.line("flowmon: \(message)") }
                pipeline.reload(policy: state.context(hubble: pipeline.hubbleOutput, alerts: alerts,
                                                      policyRevision: pipeline.nextPolicyRevision))
                Diagnostics.line("flowmon: reloaded inventory and policies")
            } catch {
                for line in error.lines {
                    Diagnostics.error("reload failed, keeping the previous inventory and policies: \(line)")
                }
            }
        }

        /// The kernel's realtime clock, the same clock packet timestamps come from.
        static func now() -> CaptureTime {
            var time = timespec()
            clock_gettime(CLOCK_REALTIME, &time)
            return CaptureTime(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
        }
    }
}

/// SIGINT/SIGTERM (stop) and SIGHUP (reload), delivered through Dispatch so the handlers run
/// outside the signal context.
final class SignalFlags: @unchecked Sendable {
    /// The stop signal received (0 before one).
    private let stop = Atomic<Int32>(0)
    private let reload = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "flowmon.signals")

    var stopRequested: Bool { self.stop.load(ordering: .acquiring) != 0 }

    /// The first SIGINT or SIGTERM received, if any.
    var stopSignal: Int32? {
        let number = self.stop.load(ordering: .acquiring)
        return number == 0 ? nil : number
    }

    func takeReload() -> Bool { self.reload.exchange(false, ordering: .acquiringAndReleasing) }

    func install(signals: [Int32] = [SIGINT, SIGTERM, SIGHUP], stop onStop: @escaping @Sendable () -> Void) -> [DispatchSourceSignal] {
        var sources: [DispatchSourceSignal] = []
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: self.queue)
            source.setEventHandler { [self] in
                if number == SIGHUP {
                    self.reload.store(true, ordering: .releasing)
                } else {
                    _ = self.stop.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
                    onStop()
                }
            }
            source.resume()
            sources.append(source)
        }
        return sources
    }
}

/// `SIGINT`, `SIGTERM`, ... for messages.
func signalName(_ number: Int32) -> String {
    switch number {
    case SIGINT: "SIGINT"
    case SIGTERM: "SIGTERM"
    case SIGHUP: "SIGHUP"
    default: "signal \(number)"
    }
}
