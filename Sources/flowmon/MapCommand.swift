import ArgumentParser
import Capture
import FlowLog
import FlowMonitor
import Foundation
import Output
import Presentation
import ServiceMap

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    struct Map: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "map",
            abstract: "Draw a service map of a capture or of flowmon's JSON lines: one HTML page, or Graphviz DOT.",
            discussion: """
                Nodes are workloads (or pods), world, CIDRs, FQDNs, host, remote-node and kube-apiserver; \
                arrows go from initiator to responder, one per pair and verdict, green when forwarded, \
                orange when audit (policy would drop them), red when dropped, as wide as their \
                connections (or bytes). The HTML page is one file that needs no network to open: each \
                namespace starts as one node (click it to show its workloads, click its box's heading to \
                collapse it); filter by namespace, verdict and port, find a workload or namespace, zoom \
                and pan; labels never overlap (an arrow label with no free place is left to hover). \
                Hover a node or an arrow for pods, labels, identities, bytes and the policies behind \
                the verdict; click a workload to follow its connections. The DOT file keeps every \
                workload (Graphviz lays it out). A capture is replayed as 'flowmon replay' would (with \
                the same inventory and policy options); JSON lines are read as they are (they carry \
                their identities and verdicts), so a day of 'flowmon capture' logs can be mapped. The \
                file's first bytes tell which it is. The same input always gives the same file, byte \
                for byte.
                """
        )

        @Argument(help: "A capture (pcap or pcapng), or flowmon's JSON lines (the output of 'replay' or 'capture'; '-' reads them from standard input).",
                  completion: .file(extensions: ["pcap", "pcapng", "cap", "jsonl", "json"]))
        var file: String

        @Option(name: [.short, .customLong("out")], help: ArgumentHelp("Where to write the map: a .html (or .htm) page, or a .dot (or .gv) Graphviz file; '-' writes to standard output (give --format).", valueName: "file"))
        var out: String

        @Option(help: ArgumentHelp("The map's format, instead of telling it from the --out file's extension.", valueName: "html|dot"))
        var format: MapFormat?

        @Option(help: ArgumentHelp("Captures only: map only the packets matching this tcpdump-syntax BPF expression.", valueName: "expression"))
        var filter: String?

        @OptionGroup var flowTable: FlowTableOptions

        @OptionGroup(title: "Application layer (DNS, HTTP, TLS)") var application: ApplicationOptions

        @OptionGroup(title: "Identity and policy (captures only)") var agent: AgentOptions

        @OptionGroup(title: "Filters (as hubble observe's): map only the connections they keep") var filters: FilterOptions

        enum MapFormat: String, ExpressibleByArgument, CaseIterable {
            case html
            case dot
        }

        /// A usage problem: one line, exit status 64 (as ArgumentParser's validation errors).
        struct UsageProblem: Error {
            var message: String
        }

        /// The map (or the pipe the replay feeds it through) could not be written.
        struct WriteProblem: Error {
            var message: String
        }

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            do {
                let format = try self.resolvedFormat()
                try Self.checkWritable(self.out)
                let input = try MapInput.open(self.file)
                let map: ServiceMap
                var inputError: String?
                switch input {
                case .jsonLines(let reader):
                    try self.refuseCaptureOptions(for: reader.name)
                    map = try Self.build(from: reader, filter: try self.recordFilter())
                case .capture(let reader):
                    (map, inputError) = try self.replay(reader)
                }
                let text = switch format {
                case .html: HTMLMapRenderer.render(map, source: self.file == "-" ? "standard input" : URL(fileURLWithPath: self.file).lastPathComponent)
                case .dot: DOTMapRenderer.render(map)
                }
                try Self.write(text, to: self.out)
                if map.flowCount == 0 { Diagnostics.notice("\(self.file): no flow records; the map is empty") }
                if let inputError {
                    Diagnostics.error("\(inputError); the map shows every connection seen before")
                    throw ExitCode.failure
                }
            } catch let problem as UsageProblem {
                Diagnostics.error(problem.message)
                throw ExitCode(64)
            } catch let error as FlowLogError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as CaptureError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as OutputError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let problem as WriteProblem {
                Diagnostics.error(problem.message)
                throw ExitCode.failure
            }
        }

        // MARK: - Options

        func resolvedFormat() throws(UsageProblem) -> MapFormat {
            if let format = self.format { return format }
            if self.out == "-" {
                throw UsageProblem(message: "--out - writes to standard output: give --format html or --format dot")
            }
            switch URL(fileURLWithPath: self.out).pathExtension.lowercased() {
            case "html", "htm": return .html
            case "dot", "gv": return .dot
            default:
                throw UsageProblem(message: "cannot tell the map's format from '\(self.out)': name it .html or .dot, or give --format html|dot")
            }
        }

        /// JSON lines carry their endpoints and verdicts already; inventory, policy and filter
        /// options would silently do nothing.
        func refuseCaptureOptions(for name: String) throws(UsageProblem) {
            var given: [String] = []
            if self.filter != nil { given.append("--filter") }
            if self.agent.inventory.pods != nil { given.append("--pods") }
            if self.agent.inventory.namespaces != nil { given.append("--namespaces") }
            if self.agent.inventory.nodes != nil { given.append("--nodes") }
            if self.agent.services != nil { given.append("--services") }
            if self.agent.nodeName != nil { given.append("--node-name") }
            if !self.agent.policyPaths.isEmpty { given.append("--policies") }
            if self.agent.verdictAsEnforced { given.append("--verdict-as-enforced") }
            guard given.isEmpty else {
                throw UsageProblem(message: "\(name) holds JSON lines, which carry their identities and verdicts already; \(given.joined(separator: ", ")) apply only to captures")
            }
        }

        // MARK: - Input

        func recordFilter() throws(UsageProblem) -> RecordFilter {
            do {
                return try self.filters.filter()
            } catch {
                throw UsageProblem(message: error.description)
            }
        }

        static func build(from reader: FlowLogReader, filter: RecordFilter) throws(FlowLogError) -> ServiceMap {
            let map = try Self.fold(reader, filter: filter)
            if let line = reader.incompleteLastLine {
                Diagnostics.notice("\(reader.name):\(line): the last line is incomplete (still being written?); it is not mapped")
            }
            return map
        }

        /// The map of the flow records `filter` keeps (the last N of them with `--last N`).
        static func fold(_ reader: FlowLogReader, filter: RecordFilter) throws(FlowLogError) -> ServiceMap {
            var builder = ServiceMapBuilder()
            var kept: [FlowLogRecord] = []
            while let record = try reader.next() {
                guard filter.matches(.flow(record)) else { continue }
                guard let last = filter.last else {
                    builder.add(record)
                    continue
                }
                kept.append(record)
                if kept.count >= 2 * last { kept.removeFirst(kept.count - last) }
            }
            if let last = filter.last { kept.suffix(last).forEach { builder.add($0) } }
            return builder.build()
        }

        /// Replays the capture as `flowmon replay` does, its JSON lines going through a pipe to a
        /// thread that reads them back and builds the map. Returns the map and, when the capture
        /// ended early, the reason (the map then holds what was read).
        func replay(_ reader: CaptureFileReader) throws -> (ServiceMap, String?) {
            let agentState = try self.agent.load()
            let packetFilter = try self.filter.map { expression throws(CaptureError) in try PacketFilter(expression: expression) }
            var descriptors: [Int32] = [0, 0]
            guard pipe(&descriptors) == 0 else {
                throw WriteProblem(message: "cannot create a pipe: \(String(cString: strerror(errno)))")
            }
            let task = MapBuildTask(reading: descriptors[0], name: "replay of \(reader.path)", filter: try self.recordFilter())
            task.start()
            let sink = JSONLinesOutput(fileDescriptor: descriptors[1], name: "the map's flow records")
            var inputError: String?
            var replayFailure: OutputError?
            let pipeline = Pipeline(
                configuration: PipelineConfiguration(workers: ProcessInfo.processInfo.activeProcessorCount, mode: .replay),
                processor: self.flowTable.configuration.with(self.application), output: sink,
                policy: agentState?.context()) { linkType in
                Diagnostics.notice("\(reader.path): link type \(linkType) (\(linkTypeName(linkType))) is not decoded; its packets are not mapped")
            }
            do {
                try FlowMonitor.Replay.run(reader, filter: packetFilter, into: pipeline)
            } catch {
                switch error {
                case .input(let error): inputError = error.description
                case .output(let error): replayFailure = error
                }
            }
            close(descriptors[1])
            let result = task.wait()
            // The reader's error comes first: a writer's broken pipe is its consequence.
            if let error = result.error { throw error }
            if let replayFailure { throw replayFailure }
            return (result.map ?? ServiceMapBuilder().build(), inputError)
        }

        // MARK: - Output

        /// Fails before any work when the map could not be written (a missing directory, no
        /// permission); leaves an existing file as it is.
        static func checkWritable(_ path: String) throws(WriteProblem) {
            guard path != "-" else { return }
            let existed = access(path, F_OK) == 0
            let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
            guard fd >= 0 else {
                throw WriteProblem(message: "cannot write the map to \(path): \(String(cString: strerror(errno)))")
            }
            close(fd)
            if !existed { unlink(path) }
        }

        static func write(_ text: String, to path: String) throws(WriteProblem) {
            let fd: Int32
            let name = path == "-" ? "standard output" : path
            if path == "-" {
                fd = 1
            } else {
                fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard fd >= 0 else {
                    throw WriteProblem(message: "cannot write the map to \(path): \(String(cString: strerror(errno)))")
                }
            }
            var failure: Int32 = 0
            var text = text
            text.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        failure = errno
                        return
                    }
                    offset += written
                }
            }
            if path != "-" && close(fd) != 0 && failure == 0 { failure = errno }
            if failure != 0 {
                throw WriteProblem(message: "cannot write the map to \(name): \(String(cString: strerror(failure)))")
            }
        }
    }
}

/// The two kinds of input, told apart by their first bytes.
enum MapInput {
    case jsonLines(FlowLogReader)
    case capture(CaptureFileReader)

    static func open(_ path: String) throws -> MapInput {
        if path == "-" {
            // Standard input cannot be rewound: read until the first byte that is not white space.
            var prefix: [UInt8] = []
            while prefix.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                guard let block = try? FileHandle.standardInput.read(upToCount: 65_536), !block.isEmpty else { break }
                prefix += block
            }
            guard FlowLogReader.looksLikeJSONLines(prefix) else {
                throw FlowLogError(file: "standard input", message: prefix.isEmpty
                    ? "empty: no JSON lines"
                    : "not flowmon JSON lines (a capture must be given by its path)")
            }
            return .jsonLines(FlowLogReader(fileHandle: .standardInput, name: "standard input", initialBytes: prefix))
        }
        var status = stat()
        guard stat(path, &status) == 0 else { throw FlowLogError(file: path, message: String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) != S_IFDIR else { throw FlowLogError(file: path, message: String(cString: strerror(EISDIR))) }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FlowLogError(file: path, message: String(cString: strerror(errno == 0 ? EACCES : errno)))
        }
        try? handle.close()
        if FlowLogReader.looksLikeJSONLines(path: path) {
            return .jsonLines(try FlowLogReader(path: path))
        }
        let reader: CaptureFileReader
        do {
            reader = try CaptureFileReader(path: path)
        } catch {
            var error = error
            if error.kind == .notACapture {
                error.message = error.message.replacingOccurrences(
                    of: "not a pcap or pcapng file", with: "not a pcap, pcapng or flowmon JSON-lines file")
            }
            throw error
        }
        return .capture(reader)
    }
}

/// Reads JSON lines from a pipe on its own thread and folds them into a map. If a line cannot
/// be read it keeps draining the pipe, so the writer never blocks on a reader that stopped.
final class MapBuildTask: @unchecked Sendable {
    private let descriptor: Int32
    private let name: String
    private let filter: RecordFilter
    private let done = DispatchSemaphore(value: 0)
    // Written by the thread before `done` is signalled, read after `wait()`.
    private var map: ServiceMap?
    private var error: FlowLogError?

    init(reading descriptor: Int32, name: String, filter: RecordFilter) {
        self.descriptor = descriptor
        self.name = name
        self.filter = filter
    }

    func start() {
        let thread = Thread { [self] in
            let handle = FileHandle(fileDescriptor: self.descriptor, closeOnDealloc: true)
            let reader = FlowLogReader(fileHandle: handle, name: self.name)
            do throws(FlowLogError) {
                self.map = try Flowmon.Map.fold(reader, filter: self.filter)
            } catch {
                self.error = error
                while let block = try? handle.read(upToCount: 1 << 16), !block.isEmpty {}
            }
            self.done.signal()
        }
        thread.name = "flowmon-map"
        thread.start()
    }

    func wait() -> (map: ServiceMap?, error: FlowLogError?) {
        self.done.wait()
        return (self.map, self.error)
    }
}
