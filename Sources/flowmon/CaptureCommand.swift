import ArgumentParser
import Capture
import FlowMonitor
import Foundation
import KernelCapture
import Metrics
import Output

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    struct CaptureCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "capture",
            abstract: "Capture live on a node's interfaces and write one JSON line per connection.",
            discussion: """
                By default flowmon observes the pods' interfaces (the host ends of their veths) through \
                'any', follows them as pods come and go, and counts each packet once, though a packet between \
                two pods crosses two veths; '--interface any' adds the node's other interfaces, and named \
                interfaces are observed by the same rule (docs/live-capture.md). Records are written within \
                a second of the event that completes them. \
                A capture thread reads packets with flowmon's eBPF programs (TC, at each observed interface's \
                ingress and egress, through a BPF ring buffer) where the kernel and the privileges allow, \
                with libpcap (TPACKET_V3, nanosecond kernel timestamps) otherwise ('--datapath'), and \
                shares them out to worker threads through fixed-size rings; each worker tracks its own share \
                of the connections. Nothing is lost silently: kernel drops, interface drops and drops because \
                a ring was full are counted in every stats record, and an event_type "lost" record is written \
                whenever new drops happen. SIGINT and SIGTERM stop the capture, drain the rings, write every \
                open connection (reason 'shutdown') and the final stats, and exit 0. The inventory and \
                policy files are watched (inotify) and reloaded 200 ms after they stop changing; SIGHUP \
                reloads them too and reopens the output files (for logrotate). A bad or half-written file \
                is reported and the old ones kept; connections that start after a reload are judged by \
                the new ones. '--pods -' or '--pods FIFO' follows 'kubectl get pods -A --watch \
                --output-watch-events -o json'. An interface that goes down is reported and waited out, as \
                tcpdump does (the records of the connections that ended are written at once); one that is \
                deleted ends the capture, as does an output that cannot be written. With '--metrics-address', \
                Prometheus metrics (Hubble's families, counted per connection, and flowmon's) are served on \
                /metrics and a health check on /healthz while the capture runs.
                """
        )

        @Option(name: [.short, .long], help: ArgumentHelp("Interface to capture on; repeat it for several, each packet counted once ('any': every interface of the node). Default: the pods' interfaces (the host ends of their veths), followed as pods come and go.", valueName: "name"))
        var interface: [String] = []

        @Option(help: ArgumentHelp("How packets are read: 'ebpf' (flowmon's TC programs through a BPF ring buffer; needs CAP_BPF and CAP_NET_ADMIN), 'pcap' (libpcap), or 'auto' (eBPF where it can run, libpcap otherwise, with a notice saying why).", valueName: "datapath"))
        var datapath: DatapathChoice = .auto

        @Option(help: ArgumentHelp("Only packets matching this tcpdump-syntax BPF expression (run in the kernel with libpcap, in flowmon with eBPF).", valueName: "expression"))
        var filter: String?

        @Option(help: ArgumentHelp("Bytes kept of each packet. Default: 262144 with libpcap; 192 with eBPF (enough for every header flowmon decodes), at most 512.", valueName: "bytes"))
        var snaplen: Int?

        @Option(help: ArgumentHelp("Size of the eBPF ring buffer (a power of two: 256K, 8M, 64M); a packet that finds it full is lost and counted (lost records, source 'ebpf_ringbuf'). Default: 8M.", valueName: "size"))
        var ebpfRingSize: ByteSize?

        @Option(help: ArgumentHelp("How the eBPF programs are attached: 'tcx' links (Linux 6.6+; they end with flowmon), 'tc' (clsact filters, removed at exit and by the next start after a kill), or 'auto' (tcx where the kernel has it).", valueName: "mode"))
        var ebpfAttach: TCAttachment.Mode = .auto

        @Option(help: ArgumentHelp("What the eBPF programs do with a packet: 'packets' (each packet's first bytes go up to flowmon) or 'flows' (in-kernel flow aggregation: the programs count each connection's packets and bytes in a per-CPU map that flowmon reads twice a second; only a connection's first packet each way, its TCP state changes and what they cannot classify go up, decoded as with 'packets'; not with '--filter', which runs in flowmon). Default: packets.", valueName: "mode"))
        var ebpfMode: KernelCapture.Mode?

        @Flag(inversion: .prefixedNo, help: "Put the named interfaces into promiscuous mode, as tcpdump does (a bridge passes the frames it forwards to a capture only then).")
        var promiscuous = true

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

        @Option(help: ArgumentHelp("Serve Prometheus metrics (/metrics) and a health check (/healthz) over HTTP on this address: HOST:PORT, [IPv6]:PORT, or :PORT for every address (docs/metrics.md).", valueName: "host:port"))
        var metricsAddress: String?

        @OptionGroup var flowTable: FlowTableOptions

        @OptionGroup(title: "Application layer (DNS, HTTP, TLS)") var application: ApplicationOptions

        @OptionGroup(title: "Identity and policy") var agent: AgentOptions

        @OptionGroup(title: "Alerts") var alertOptions: AlertOptions

        @OptionGroup var outputOptions: OutputOptions

        @OptionGroup(title: "Output for people and output filters") var presentation: PresentationOptions

        func validate() throws {
            if self.presentation.filters.last != nil {
                throw ValidationError("--last needs a file to read to its end (replay, observe, map); a capture has none")
            }
            do throws(CaptureError) {
                _ = try ObservationScope.forInterfaces(self.interface)
            } catch {
                throw ValidationError(error.message)
            }
            if let snaplen {
                guard (1...262_144).contains(snaplen) else { throw ValidationError("'--snaplen' must be between 1 and 262144.") }
                if self.datapath == .ebpf && snaplen > KernelCapture.maximumSnaplen {
                    throw ValidationError("'--snaplen' must be at most \(KernelCapture.maximumSnaplen) with '--datapath ebpf'.")
                }
            }
            if let ebpfRingSize {
                let bytes = ebpfRingSize.bytes
                guard bytes >= 4096, bytes <= 1 << 30, bytes & (bytes - 1) == 0 else {
                    throw ValidationError("'--ebpf-ring-size' must be a power of two from 4K to 1G.")
                }
            }
            if self.ebpfMode != nil && self.datapath == .pcap {
                throw ValidationError("'--ebpf-mode' needs the eBPF datapath; it cannot be combined with '--datapath pcap'.")
            }
            if self.ebpfMode == .flows && self.filter != nil {
                // The filter runs in user space on the records; the kernel would count what it rejects.
                throw ValidationError("'--filter' cannot be combined with '--ebpf-mode flows': the kernel counts packets the filter never sees.")
            }
            guard (1...2047).contains(self.bufferSize) else { throw ValidationError("'--buffer-size' must be between 1 and 2047 MiB.") }
            guard (1...256).contains(self.workers) else { throw ValidationError("'--workers' must be between 1 and 256.") }
            guard (1...65_536).contains(self.ringSize) else { throw ValidationError("'--ring-size' must be between 1 and 65536 MiB.") }
            guard self.statsInterval > 0 else { throw ValidationError("'--stats-interval' must be above 0 seconds.") }
            if let duration, !(duration > 0) { throw ValidationError("'--duration' must be above 0 seconds.") }
            if let count, count <= 0 { throw ValidationError("'--count' must be at least 1.") }
            if let metricsAddress, MetricsServer.hostAndPort(metricsAddress) == nil {
                throw ValidationError("'--metrics-address' must be HOST:PORT, [IPv6]:PORT or :PORT (got '\(metricsAddress)').")
            }
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
            signal(SIGPIPE, SIG_IGN)  // a closed pipe becomes EPIPE: see OutputOptions.exitCode
            // A SIGHUP while the inventory loads (seconds, on a large cluster) must not kill the
            // capture before its handler is installed; the load reads the files as they are then.
            signal(SIGHUP, SIG_IGN)
            var configuration = CaptureRun.Configuration(
                capture: LiveCapture.Options(interface: self.interface.first, snaplen: self.snaplen ?? 262_144, promiscuous: self.promiscuous,
                                             bufferSizeMiB: self.bufferSize, timeoutMilliseconds: 100, filter: self.filter),
                observation: try ObservationScope.forInterfaces(self.interface),
                pipeline: PipelineConfiguration(workers: self.workers, ringBytes: self.ringSize << 20,
                                                statsInterval: .seconds(self.statsInterval)),
                duration: self.duration, count: self.count, user: self.user,
                rotation: self.rotateSize.map { JSONLinesOutput.Rotation(bytes: $0.bytes, keep: self.rotateKeep ?? 5) },
                processor: self.flowTable.configuration.with(self.application).with(self.outputOptions), agent: self.agent.followedConfiguration,
                agentState: try self.agent.load(self.agent.followedConfiguration), alerts: try self.alertOptions.load())
            // A snaplen beyond what the eBPF records carry is libpcap's to honour.
            var datapath = self.datapath
            if datapath == .auto, let snaplen, snaplen > KernelCapture.maximumSnaplen {
                Diagnostics.report(.info("datapath: libpcap ('--snaplen \(snaplen)' is more than eBPF records carry, \(KernelCapture.maximumSnaplen))"))
                datapath = .pcap
            }
            configuration.datapath = datapath
            configuration.kernel = KernelCapture.Options(snaplen: self.snaplen ?? 192, ringBytes: self.ebpfRingSize.map { Int($0.bytes) } ?? 8 << 20,
                                                         attachment: self.ebpfAttach, mode: self.ebpfMode ?? .packets,
                                                         flowEntries: configuration.processor.maxFlows)
            // Bound before the capture opens: an address in use fails at once, and the socket
            // survives '--user'.
            var metrics: (server: MetricsServer, version: String)?
            if let metricsAddress {
                do {
                    metrics = (try MetricsServer(address: metricsAddress), Flowmon.configuration.version)
                } catch {
                    Diagnostics.error(error.description)
                    throw ExitCode.failure
                }
            }
            let opened = OpenedOutputs()
            do {
                defer { opened.finish() }
                let capture = try CaptureRun(configuration, metrics: metrics, report: Diagnostics.report)
                try capture.run(opened.open(self.outputOptions, self.presentation, alerts: self.alertOptions))
            } catch {
                throw opened.exitCode(after: error)
            }
        }
    }
}

extension DatapathChoice: ExpressibleByArgument {}
extension TCAttachment.Mode: ExpressibleByArgument {}
extension KernelCapture.Mode: ExpressibleByArgument {}
