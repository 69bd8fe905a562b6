import Agent
import Capture
import Datapath
import FlowCore
import KernelCapture
import Metrics
import Output
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Which datapath `flowmon capture` reads packets with (`--datapath`).
package enum DatapathChoice: String, Sendable, CaseIterable {
    /// eBPF where the kernel and the privileges allow it, libpcap otherwise (with a notice saying why).
    case auto
    /// flowmon's TC programs through a BPF ring buffer (`KernelCapture`); an error if they cannot run.
    case ebpf
    /// libpcap.
    case pcap
}

/// `flowmon capture`: a capture thread reads batches from libpcap (or the eBPF ring buffer) into the pipeline's rings
/// until SIGINT or SIGTERM, the duration, the count, an output that cannot be written, or the
/// loss of the interface; then every open connection and the final stats are written. SIGHUP
/// reopens the outputs and reloads the inventory and policies between batches.
package final class CaptureRun {
    package struct Configuration {
        /// The capture's options; its interface is the one named when a single interface is
        /// captured (`observation` nil), otherwise `any`.
        package var capture: LiveCapture.Options
        /// libpcap, eBPF, or eBPF where it can run; and the eBPF datapath's options.
        package var datapath: DatapathChoice = .pcap
        package var kernel = KernelCapture.Options()
        /// Which of the node's interfaces are observed through `any`, each packet counted once
        /// (`NodeObservation`): the pods' (no `--interface`), all (`--interface any`), or those
        /// named (several `--interface`); nil for a single named interface.
        package var observation: ObservationScope?
        /// Workers, ring size and stats interval (the mode is live).
        package var pipeline: PipelineConfiguration
        /// Stop after this many seconds, or this many packets.
        package var duration: Double?
        package var count: Int?
        /// Switch to this user once the capture and the outputs are open.
        package var user: String?
        /// Size rotation of the records' file.
        package var rotation: JSONLinesOutput.Rotation?
        package var processor: ProcessorConfiguration
        /// What SIGHUP reloads; `agentState` is what was loaded from it at start (nil: nothing given).
        package var agent: AgentConfiguration
        package var agentState: AgentState?
        /// The detectors' settings (nil: no detector); kept across reloads.
        package var alerts: AlertsConfiguration?

        package init(capture: LiveCapture.Options, observation: ObservationScope?, pipeline: PipelineConfiguration,
                    duration: Double?, count: Int?, user: String?, rotation: JSONLinesOutput.Rotation?,
                    processor: ProcessorConfiguration, agent: AgentConfiguration, agentState: AgentState?,
                    alerts: AlertsConfiguration?) {
            self.capture = capture
            self.observation = observation
            self.pipeline = pipeline
            self.pipeline.mode = .live
            self.duration = duration
            self.count = count
            self.user = user
            self.rotation = rotation
            self.processor = processor
            self.agent = agent
            self.agentState = agentState
            self.alerts = alerts
        }
    }

    let configuration: Configuration
    /// What the packets are read from; `capture` is its libpcap handle, if it is one.
    let source: PacketSource
    let capture: LiveCapture?
    /// What the metrics and messages call the capture: the interface, or `any`.
    let interfaceLabel: String
    let observation: NodeObservation?
    /// The names of the interfaces captured on, for the records' `in_iface` and Hubble's `interface`.
    let interfaceNames = InterfaceNames()
    let report: (RunMessage) -> Void
    /// Serves `/metrics` and `/healthz` while the capture runs (`--metrics-address`; bound by
    /// the caller before the capture opens), with flowmon's `version` in `flowmon_build_info`.
    let metrics: (server: MetricsServer, version: String)?
    /// `/healthz` answers 200 while this is true: the capture loop runs and the interface is up.
    let capturing = HealthFlag()
    /// The inventory and policy files and the `--pods` watch stream, followed; nil without any.
    let agentInputs: AgentInputs?
    let reloads = ReloadCounters()
    /// The warnings and notices of the state in use: a reload repeats none of them.
    var agentMessages: Set<String>

    /// Opens the capture (before the outputs, so a capture that cannot be opened creates no file).
    package init(_ configuration: Configuration, metrics: (server: MetricsServer, version: String)? = nil,
                report: @escaping (RunMessage) -> Void) throws(CaptureError) {
        self.configuration = configuration
        self.metrics = metrics
        self.report = report
        do throws(AgentError) {
            self.agentInputs = configuration.agent.isEmpty ? nil : try AgentInputs(configuration.agent)
        } catch {
            throw CaptureError(.cannotOpen, error.description)
        }
        for warning in self.agentInputs?.watcher?.warnings ?? [] { report(.warning(warning)) }
        self.agentMessages = Set(configuration.agentState?.messages ?? [])
        if configuration.datapath != .pcap {
            // What is wrong whichever datapath reads (an unknown interface, a bad filter) is an error here.
            let options = configuration.capture
            let observation = try NodeObservation(scope: configuration.observation ?? .named([options.interface ?? "any"]),
                                                  userFilter: nil)
            let filter = try options.filter.map { expression throws(CaptureError) in try PacketFilter(expression: expression) }
            // Packets are filtered framed as on `any` (Linux cooked v2): the expression must compile for it.
            if let refusal = filter?.prepare(linkType: PacketFilter.cookedLinkType) { throw CaptureError(.badFilter, refusal) }
            do throws(KernelCaptureError) {
                let kernel = try Self.openKernel(configuration.kernel, observation: observation, report: report)
                self.source = .ebpf(kernel, filter: filter)
                self.capture = nil
                self.observation = observation
                self.interfaceLabel = configuration.observation == nil ? configuration.capture.interface ?? "any" : "any"
                self.nameInterfaces()
                return
            } catch {
                guard configuration.datapath == .auto else {
                    throw CaptureError(error.isPermission ? .permissionDenied : .cannotOpen, error.message)
                }
                // One line says which datapath and why; what the kernel said (the verifier's last
                // lines) follows when there is more.
                let lines = error.message.split(separator: "\n", omittingEmptySubsequences: false)
                report(.info("datapath: libpcap (eBPF not available: \(lines.first ?? ""))"))
                if lines.count > 1 { report(.warning("the kernel's log ends with:\n" + lines.dropFirst().joined(separator: "\n"))) }
            }
        }
        var options = configuration.capture
        if let scope = configuration.observation {
            let observation = try NodeObservation(scope: scope, userFilter: options.filter)
            options.interface = "any"
            options.filter = observation.filterExpression
            // `any` cannot be promiscuous; the named interfaces are made so one by one below.
            options.promiscuous = false
            self.observation = observation
        } else {
            self.observation = nil
        }
        let capture = try LiveCapture(options: options)
        self.capture = capture
        self.source = .pcap(capture)
        self.interfaceLabel = capture.interfaceName
        for warning in capture.warnings { report(.warning(warning)) }
        self.nameInterfaces()
        if let observation, case .named = observation.scope, configuration.capture.promiscuous {
            for interface in observation.observed where !capture.addPromiscuousMembership(interfaceIndex: interface.index) {
                report(.warning("the kernel refused promiscuous mode on interface '\(interface.name)'; it is captured without"))
            }
        }
    }

    /// Loads flowmon's TC programs and attaches them to the observed interfaces (one named
    /// interface is observed on its own), after removing the clsact filters a killed run left
    /// on any interface of the node.
    static func openKernel(_ options: KernelCapture.Options, observation: NodeObservation, report: (RunMessage) -> Void)
        throws(KernelCaptureError) -> KernelCapture {
        let kernel = try KernelCapture(options: options)
        let cleaned = TCAttachment.removeLeftovers(on: observation.node.links.keys.sorted())
        if !cleaned.isEmpty {
            let names = cleaned.map { observation.node.links[$0]?.name ?? "\($0)" }
            report(.info("removed the eBPF filters an earlier flowmon left on \(names.joined(separator: ", "))"))
        }
        let warnings = kernel.observe(observation.attachable)
        if kernel.attachments.isEmpty, let first = warnings.first {
            throw KernelCaptureError(first)
        }
        for warning in warnings { report(.warning(warning)) }
        let how = kernel.attachedWith.map { $0 == .tcx ? "tcx links" : "clsact filters" } ?? "nothing attached yet"
        let mode = options.mode == .flows ? "in-kernel flow aggregation, " : ""
        report(.info("datapath: eBPF (\(mode)\(how), ring buffer \(options.ringBytes >> 10) KiB, snaplen \(options.snaplen))"))
        return kernel
    }

    /// Captures into `outputs` until stopped. Throws the output's error when one could not be
    /// written, or the capture's when the interface went away (after writing what was seen).
    package func run(_ outputs: RunOutputs) throws {
        let configuration = self.configuration
        outputs.records.rotation = configuration.rotation
        if let user = configuration.user {
            // The eBPF datapath attaches to the interfaces pods create later: it keeps what that needs.
            try Privileges.drop(to: user, keeping: self.source.datapath == .ebpf ? KernelCapture.attachingCapabilities : [])
        }
        var pipelineConfiguration = configuration.pipeline
        pipelineConfiguration.interfaces = self.interfaceNames
        var processor = configuration.processor
        processor.metrics = self.metrics != nil
        let pipeline = outputs.pipeline(pipelineConfiguration, processor: processor, agent: configuration.agentState,
                                        alerts: configuration.alerts, input: nil, report: self.report)
        // One named interface sees each packet once (loopback, where the programs see each packet
        // leave and arrive, aside), as a libpcap capture of it does: no rule to apply per packet.
        let single = self.configuration.observation == nil && self.observation?.observed.first?.role != .loopback
        pipeline.observation = single ? nil : self.observation?.points
        pipeline.reloadCounters = self.reloads
        if let stream = self.agentInputs?.stream {
            self.report(.info("following the pods of the watch stream \(stream.source)"))
            self.agentInputs?.start()
        }
        pipeline.datapath = self.source.datapath
        if case .ebpf(let kernel, _) = self.source, kernel.options.mode == .flows {
            pipeline.kernelFlows = (kernel, KernelFlows(timeouts: processor.timeouts))
        }
        if self.observation == nil { pipeline.captureInterfaceIndex = if_nametoindex(self.interfaceLabel) }
        if let (server, version) = self.metrics {
            let (interface, capturing) = (self.interfaceLabel, self.capturing)
            server.start(MetricsRoutes(metrics: { pipeline.metricsPage(interface: interface, version: version) },
                                       healthy: { capturing.value.load(ordering: .relaxed) }))
            self.report(.info("serving metrics on http://\(server.boundAddress)/metrics"))
        }
        defer { self.metrics?.server.stop() }
        let workers = "\(configuration.pipeline.workers) worker\(configuration.pipeline.workers == 1 ? "" : "s")"
        switch self.source {
        case .pcap(let capture):
            let interfaces = self.observation.map { "\($0.description) through any" } ?? capture.interfaceName
            self.report(.info("capturing on \(interfaces) (link type \(capture.linkType), \(workers))"))
        case .ebpf:
            let interfaces = self.configuration.observation == nil ? self.interfaceLabel : self.observation?.description ?? ""
            self.report(.info("capturing on \(interfaces) with eBPF (\(workers))"))
        }
        let signals = SignalFlags([SIGINT, SIGTERM, SIGHUP]) { [source] in source.stop() }
        defer { signals.cancel() }
        var outputFailure: OutputError?
        let failure = self.loop(pipeline, signals, outputFailure: &outputFailure)
        if outputFailure == nil && configuration.count == nil { self.source.finishReading(into: pipeline) }
        self.noteDrops(pipeline)
        try pipeline.finish(inputError: failure?.description) { self.source.readWaiting(into: pipeline) }
        if let outputFailure { throw outputFailure }
        if let failure { throw failure }
    }

    /// The capture thread's loop; returns the capture's error that ended it, if any.
    func loop(_ pipeline: Pipeline, _ signals: SignalFlags, outputFailure: inout OutputError?) -> CaptureError? {
        let deadline = self.configuration.duration.map { Self.now().nanoseconds + Int64($0 * 1e9) }
        var packets = 0
        var interfaceWasUp = true
        var nextHousekeeping: Int64 = 0
        self.capturing.value.store(true, ordering: .relaxed)
        defer { self.capturing.value.store(false, ordering: .relaxed) }
        while !signals.stopRequested && outputFailure == nil {
            let remaining = self.configuration.count.map { $0 - packets } ?? 512
            let got: Int
            do {
                got = try self.source.read(maxPackets: min(512, remaining), into: pipeline)
            } catch {
                return error  // the interface went away: flush what was seen, then report
            }
            packets += got
            pipeline.publish()
            let now = Self.now()
            if got == 0 || pipeline.kernelFlows != nil { pipeline.idle(now: now) { self.source.readWaiting(into: pipeline) } }
            // An output that cannot be written (disk full, reader gone) ends the capture.
            if pipeline.outputFailed || self.source.isStopped { break }
            if let count = self.configuration.count, packets >= count { break }
            if let deadline, now.nanoseconds >= deadline { break }
            if signals.takeReload() { self.reload(pipeline) }
            // What costs system calls and changes slowly (drop counters, the interfaces, the
            // inventory files) is looked at every 100 ms, not after every batch: a busy capture
            // reads batches of a few dozen packets.
            guard got == 0 || now.nanoseconds >= nextHousekeeping else { continue }
            nextHousekeeping = now.nanoseconds &+ 100_000_000
            self.noteDrops(pipeline)
            let interfaceIsUp: Bool
            do throws(CaptureError) { interfaceIsUp = try self.interfaceIsUp() } catch { return error }
            if interfaceIsUp != interfaceWasUp {
                interfaceWasUp = interfaceIsUp
                self.capturing.value.store(interfaceWasUp, ordering: .relaxed)
                outputFailure = self.interfaceChanged(pipeline, isUp: interfaceIsUp)
            }
            self.followAgentInputs(pipeline)
            if let failure = self.followInterfaces() { return failure }
        }
        return nil
    }

    /// Follows the node's interfaces (a pod's veth created or deleted): the observed set and the
    /// kernel filter change at once, so a new pod is captured within a loop turn (100 ms when idle).
    func followInterfaces() -> CaptureError? {
        guard let observation = self.observation else { return nil }
        do throws(CaptureError) {
            guard try observation.followChanges() else { return nil }
            switch self.source {
            case .pcap(let capture):
                try capture.setFilter(observation.filterExpression)
                if case .named = observation.scope, self.configuration.capture.promiscuous {
                    for interface in observation.observed { capture.addPromiscuousMembership(interfaceIndex: interface.index) }
                }
            case .ebpf(let kernel, _):
                for warning in kernel.observe(observation.attachable) { self.report(.warning(warning)) }
            }
            self.nameInterfaces()
            self.report(.info("now observing \(observation.description)"))
            return nil
        } catch {
            return error
        }
    }

    /// Whether the one interface captured on is up (true when the pods' or several interfaces
    /// are observed: they come and go). Throws when it was deleted, which ends the capture.
    func interfaceIsUp() throws(CaptureError) -> Bool {
        switch self.source {
        case .pcap(let capture):
            return capture.interfaceIsUp
        case .ebpf:
            // The link's flags as the change notifications left them (`followInterfaces`).
            guard self.configuration.observation == nil, let node = self.observation?.node else { return true }
            guard let index = node.index(named: self.interfaceLabel) else {
                throw CaptureError(.io, "capture on '\(self.interfaceLabel)' failed: the interface disappeared")
            }
            return node.links[index]?.isUp ?? true
        }
    }

    /// Down is waited out, as tcpdump does; the records of the connections that ended so far
    /// are written now rather than with the next stats line. Returns the error of that write.
    func interfaceChanged(_ pipeline: Pipeline, isUp: Bool) -> OutputError? {
        let name = self.interfaceLabel
        guard !isUp else {
            self.report(.info("interface '\(name)' is up again"))
            return nil
        }
        self.report(.warning("interface '\(name)' went down; waiting for it to come back up"))
        do throws(OutputError) { try pipeline.flushOutputs() } catch { return error }
        return nil
    }

    func noteDrops(_ pipeline: Pipeline) {
        let drops = self.source.drops()
        pipeline.noteDrops(kernel: drops.kernel, interface: drops.interface)
    }

    /// SIGHUP: reopens the outputs and reloads the inventory and policies.
    func reload(_ pipeline: Pipeline) {
        pipeline.reopenOutputs()
        self.reloadAgent(pipeline, reason: "SIGHUP")
    }

    /// Reloads when a watched file or the watch stream changed and has been quiet since.
    func followAgentInputs(_ pipeline: Pipeline) {
        guard let inputs = self.agentInputs else { return }
        let (messages, rejected, reason) = inputs.poll()
        for message in messages {
            switch message {
            case .info(let text): self.report(.info(text))
            case .warning(let text): self.report(.warning(text))
            case .error(let text): self.report(.error(text))
            }
        }
        if rejected > 0 { self.reloads.refused(rejected) }
        if let reason { self.reloadAgent(pipeline, reason: reason) }
    }

    /// The one reload, whatever caused it (`reason`): connections that start afterwards are
    /// judged by the new inventory and policies. The detectors keep their thresholds (read at
    /// start) and re-evaluate their selectors and pod CIDRs against the new inventory. A bad
    /// file (or one caught half-written) is reported and the previous ones kept.
    func reloadAgent(_ pipeline: Pipeline, reason: String) {
        guard !self.configuration.agent.isEmpty else { return }
        self.agentInputs?.reloaded()
        do {
            let state = try AgentState.load(self.configuration.agent, streamedPods: self.agentInputs?.streamedPods ?? [])
            for message in state.messages where !self.agentMessages.contains(message) { self.report(.info(message)) }
            self.agentMessages = Set(state.messages)
            pipeline.reload(policy: state.context(alerts: self.configuration.alerts,
                                                  policyRevision: pipeline.nextPolicyRevision))
            self.reloads.reloaded()
            let pods = state.inventory.pods.count, policies = state.policies.documents.count
            self.report(.info("reloaded inventory and policies (\(reason): \(pods) pod\(pods == 1 ? "" : "s"), \(policies) polic\(policies == 1 ? "y" : "ies"))"))
        } catch {
            pipeline.noteReloadFailed()
            self.reloads.refused()
            for line in error.lines {
                self.report(.error("reload failed, keeping the previous inventory and policies (\(reason)): \(line)"))
            }
        }
    }

    /// Names every interface the records may name: the node's (observed through `any`), or the
    /// one captured on.
    func nameInterfaces() {
        if let observation {
            for (index, link) in observation.node.links { self.interfaceNames.set(link.name, index: UInt32(bitPattern: index)) }
        } else {
            let index = if_nametoindex(self.interfaceLabel)
            if index != 0 { self.interfaceNames.set(self.interfaceLabel, index: index) }
        }
    }

    /// The kernel's realtime clock, the same clock packet timestamps come from.
    static func now() -> CaptureTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return CaptureTime(seconds: Int64(time.tv_sec), nanoseconds: Int64(time.tv_nsec))
    }
}

/// Whether the capture is running (`/healthz`), set by the capture thread, read by the metrics server's.
final class HealthFlag: Sendable {
    let value = Atomic<Bool>(false)
}
