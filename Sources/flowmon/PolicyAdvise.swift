import Agent
import ArgumentParser
import Capture
import FlowCore
import FlowMonitor
import Foundation
import Presentation
#if canImport(FlowLog)
import FlowLog
#endif

extension AdvisedFormat: ExpressibleByArgument {}

/// A duration on the command line: Go's syntax, as `--since` reads it (`TimeValue.duration`:
/// `10m`, `90s`, `1h30m`, `250ms`), or a bare number of seconds; not negative.
struct CommandLineDuration: ExpressibleByArgument, CustomStringConvertible {
    var duration: Duration
    var text: String

    init?(argument: String) {
        guard let seconds = Double(argument).flatMap({ $0.isFinite ? $0 : nil }) ?? TimeValue.duration(argument),
            seconds >= 0, seconds < 1e9
        else { return nil }
        self.duration = .nanoseconds(Int64((seconds * 1e9).rounded()))
        self.text = argument
    }

    var description: String { self.text }
}

extension Flowmon.Policy {
    struct Advise: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "advise",
            abstract: "Propose least-privilege policies from observed traffic.",
            discussion: """
                Reads a capture (replayed with the inventory options, as 'flowmon replay' would) or \
                flowmon's JSON flow records, and writes one policy per workload with pods on this node \
                (--node-name): the workload selected by its stable labels, ingress and egress rules naming \
                peers by labels and namespaces, nodes, world CIDRs or the world entity, with the ports each \
                used. World addresses the workload looked up by name (DNS answers in the capture, \
                'dest_names' in a flow log) become toFQDNs rules (Cilium), with the DNS rule to kube-dns \
                that lets Cilium's DNS proxy learn them; a NetworkPolicy keeps the addresses and names \
                them in its header. Every file starts with a comment saying which traffic produced it. Replaying the same \
                traffic with the advised policies drops nothing; anything else the workloads do would be \
                dropped. Give --services so that connections to ClusterIPs are advised as connections to \
                the service's pods (DNS to kube-dns, for one).

                Safety: system components (kube-system, kube-public, kube-node-lease, the CNI's \
                namespaces, and DNS, CNI, kube-proxy and monitoring workloads by their well-known \
                labels) are skipped unless --include-system; a workload seen for less than \
                --min-observation (first to last moment one of its connections was seen) is skipped. \
                Skipped workloads are listed with the reason. The output starts with how much traffic \
                the advice is based on. With --policies, the connections the existing policies deny \
                are listed: those the advice would newly allow (a warning per group, also in the \
                advised file) and those that stay denied (deny rules, skipped workloads), then checked \
                by judging every observed connection with the existing and the advised policies.
                """
        )

        @Argument(help: "A capture (pcap or pcapng) or a flowmon JSON-lines flow log.",
                  completion: .file(extensions: ["pcap", "pcapng", "cap", "jsonl", "json"]))
        var file: String

        @Option(help: ArgumentHelp("Policy kind to write: 'cilium' (CiliumNetworkPolicy) or 'kubernetes' (NetworkPolicy).", valueName: "cilium|kubernetes"))
        var format: AdvisedFormat = .cilium

        @Option(name: .customLong("out"), help: ArgumentHelp("Directory for the policy files, one per policy (created if missing; files an earlier run advised there are replaced).", valueName: "dir"))
        var out: String

        @Option(help: ArgumentHelp("Most world addresses one direction of a policy lists as CIDRs; with more, it allows the world entity (Cilium) or 0.0.0.0/0 (NetworkPolicy) on the ports they used.", valueName: "n"))
        var maxCidrs = 8

        @Option(help: ArgumentHelp("Most distinct ports of one protocol listed for one peer; with more, every port of the protocol.", valueName: "n"))
        var maxPorts = 16

        @Option(help: ArgumentHelp("Only packets matching this tcpdump-syntax BPF expression (captures only).", valueName: "expression"))
        var filter: String?

        @Flag(help: "Advise system components too (kube-system, DNS, the CNI, monitoring: see 'Safety' above).")
        var includeSystem = false

        @Option(help: ArgumentHelp("Lock down no workload whose pods were seen for less than this (first to last moment one of their connections was seen): units ms, s, m, h, as in 10m, 90s, 1h30m. 0 takes any.", valueName: "duration"))
        var minObservation = CommandLineDuration(argument: "10m")!

        @OptionGroup var flowTable: FlowTableOptions

        @OptionGroup(title: "Application layer (DNS, HTTP, TLS)") var application: ApplicationOptions

        @OptionGroup(title: "Identity and policy") var agent: AgentOptions

        func validate() throws {
            guard self.agent.inventory.pods != nil else { throw ValidationError("'--pods' is required to know the workloads.") }
            guard self.maxCidrs >= 0 else { throw ValidationError("'--max-cidrs' must be 0 or more, got \(self.maxCidrs).") }
            guard self.maxPorts >= 1 else { throw ValidationError("'--max-ports' must be 1 or more, got \(self.maxPorts).") }
        }

        /// The first line of every advised file, to recognise (and replace) them in --out.
        static let marker = "# Advised by 'flowmon policy advise'"

        func run() throws {
            guard let state = try self.agent.load() else { throw ExitCode.failure }
            if self.agent.services == nil {
                Diagnostics.notice("without --services, connections to ClusterIPs are advised as connections to those addresses (world CIDRs)")
            }
            let observations: AdvisorObservations
            do {
                if self.file != "-" && FlowLogReader.looksLikeJSONLines(path: self.file) {
                    observations = try Self.observeFlowLog(self.file)
                } else {
                    let filter = try self.filter.map { expression throws(CaptureError) in try PacketFilter(expression: expression) }
                    observations = try AdvisorInput.observeCapture(self.file, filter: filter, configuration: self.flowTable.configuration.with(self.application),
                                                                   state: state)
                }
            } catch let error as AgentError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as CaptureError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            }
            let hasPolicies = !self.agent.policyPaths.isEmpty
            let fqdn = state.compiled.fqdnSelectors
            let basis = Self.basis(observations)
            let advice = PolicyAdvisor.advise(
                observations.connections, timing: observations.timing,
                inputs: AdvisorInputs(inventory: state.inventory, endpoints: state.endpoints, ipcache: state.ipcache,
                                      services: state.services, existing: hasPolicies ? state.snapshot : nil,
                                      existingFQDNMask: { fqdn.mask(matching: $0) }),
                options: AdvisorOptions(format: self.format, maxCIDRs: self.maxCidrs, maxPorts: self.maxPorts,
                                        input: URL(fileURLWithPath: self.file).lastPathComponent, basis: basis,
                                        includeSystem: self.includeSystem, minObservation: self.minObservation.duration))
            for warning in advice.warnings { Diagnostics.line("flowmon: warning: \(warning)") }
            for group in advice.existing?.newlyAllowed ?? [] {
                Diagnostics.line("flowmon: warning: the advice allows \(group.text), which the existing policies deny (\(group.files.joined(separator: ", ")))")
            }
            do {
                try self.write(advice)
            } catch {
                Diagnostics.error("\(self.out): \(error.localizedDescription)")
                throw ExitCode.failure
            }
            print("Based on \(basis).")
            for policy in advice.policies {
                var line = "\(policy.fileName): \(policy.kind.rawValue) \(policy.namespace)/\(policy.name) for "
                    + policy.workloads.joined(separator: ", ") + ": ingress \(policy.ingressRules), egress \(policy.egressRules); "
                    + "\(policy.connections) connection\(policy.connections == 1 ? "" : "s")"
                if let seen = policy.seen { line += " over \(ObservedSpan.describe(nanoseconds: seen.nanoseconds))" }
                if policy.newlyAllowed > 0 { line += "; newly allows \(policy.newlyAllowed) denied by the existing policies" }
                print(line)
            }
            for skipped in advice.skipped {
                print("skipped \(skipped.namespace)/\(skipped.name): \(skipped.reason)")
            }
            print("\(advice.policies.count) polic\(advice.policies.count == 1 ? "y" : "ies") in \(self.out), from \(advice.connectionsAdvised) of \(advice.connections) connections (the others had no workload of this node on either end)"
                  + (advice.skipped.isEmpty ? "" : "; \(advice.skipped.count) workload\(advice.skipped.count == 1 ? "" : "s") skipped"))
            if let comparison = advice.existing {
                try self.report(comparison, advice: advice, observations: observations)
            }
        }

        /// `120 connections from 2025-01-03T10:00:00Z to 2025-01-03T10:00:01Z (1.2 s)`.
        static func basis(_ observations: AdvisorObservations) -> String {
            let count = observations.connections.values.reduce(0, +)
            var text = "\(count) connection\(count == 1 ? "" : "s")"
            if let span = observations.input {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                func date(_ nanoseconds: Int64) -> String { formatter.string(from: Date(timeIntervalSince1970: Double(nanoseconds) / 1e9)) }
                text += " seen from \(date(span.first)) to \(date(span.last)) (\(ObservedSpan.describe(nanoseconds: span.nanoseconds)))"
            }
            return text
        }

        /// The diff against the existing policies, then a check of it: every observed connection
        /// judged with the existing and the advised policies loaded together.
        func report(_ comparison: ExistingPolicyComparison, advice: PolicyAdvice, observations: AdvisorObservations) throws {
            let newly = comparison.newlyAllowed.reduce(0) { $0 + $1.connections }
            let stay = comparison.stayDenied.reduce(0) { $0 + $1.connections }
            print("Existing policies (--policies) deny \(comparison.denied) of \(advice.connections) observed connections.")
            print("Would newly allow: \(newly) connection\(newly == 1 ? "" : "s") in \(comparison.newlyAllowed.count) group\(comparison.newlyAllowed.count == 1 ? "" : "s")\(newly == 0 ? "." : ":")")
            for group in comparison.newlyAllowed {
                print("  \(group.text): allowed by \(group.files.joined(separator: ", "))")
            }
            print("Stay denied: \(stay) connection\(stay == 1 ? "" : "s") in \(comparison.stayDenied.count) group\(comparison.stayDenied.count == 1 ? "" : "s")\(stay == 0 ? "." : ":")")
            for group in comparison.stayDenied {
                print("  \(group.text): \(group.reason)")
            }
            // The check: the same judge, with the advised files added to the existing policies.
            var configuration = self.agent.configuration
            configuration.policyPaths.append(self.out)
            let combined: AgentState
            do {
                combined = try AgentState.load(configuration)
            } catch {
                Diagnostics.error("the advised policies with the existing ones: \(error)")
                throw ExitCode.failure
            }
            let fqdn = combined.compiled.fqdnSelectors
            var denied = 0
            for (connection, count) in observations.connections {
                let mask = connection.names.reduce(UInt64(0)) { $0 | fqdn.mask(matching: $1) }
                let judgement = combined.snapshot.judge(source: connection.source, destination: connection.destination,
                                                        port: connection.port, ipProtocol: connection.ipProtocol,
                                                        destinationSelectors: mask)
                if PolicyAdvisor.denies(judgement.egress) || PolicyAdvisor.denies(judgement.ingress) { denied += count }
            }
            print("Checked: with the existing and the advised policies, \(advice.connections - denied) of \(advice.connections) observed connections are allowed, \(denied) denied.")
            if denied != stay {
                Diagnostics.line("flowmon: warning: the check finds \(denied) connections denied with the advice, where the advice expected \(stay)")
            }
        }

        /// The connections of a flowmon JSON-lines log: each flow record's `src_ip`, `dest_ip`,
        /// `proto`, `dest_port` or `icmp_type`, `dest_names`, and when it was seen (`flow.start` to `flow.end`). The records keep the addresses and ports as
        /// they were seen, so the advisor resolves them through the current inventory and
        /// services, as a replay would.
        static func observeFlowLog(_ path: String) throws(AgentError) -> AdvisorObservations {
            #if canImport(FlowLog)
            var numbers: [String: UInt8] = [:]
            for number in 0...255 {
                if let name = IPProtocolNumber.eveName(UInt8(number)) { numbers["\(name)"] = UInt8(number) }
            }
            var result = AdvisorObservations()
            do {
                let reader = try FlowLogReader(path: path)
                while let record = try reader.next() {
                    func problem(_ message: String) -> AgentError {
                        AgentError(file: path, message: message, line: reader.lineNumber)
                    }
                    guard let source = IPAddress(text: record.sourceIP) else {
                        throw problem("src_ip is not an IP address: \"\(record.sourceIP)\"")
                    }
                    guard let destination = IPAddress(text: record.destinationIP) else {
                        throw problem("dest_ip is not an IP address: \"\(record.destinationIP)\"")
                    }
                    guard let ipProtocol = numbers[record.proto] ?? UInt8(record.proto) else {
                        throw problem("unknown proto \"\(record.proto)\"")
                    }
                    let port = record.destinationPort ?? record.icmpType.map(UInt16.init) ?? 0
                    let observed = ObservedConnection(source: source, destination: destination, ipProtocol: ipProtocol,
                                                      port: port, names: record.destinationNames ?? [])
                    // When it was seen: `flow.start` to `flow.end`, else the record's timestamp.
                    let start = record.start.flatMap(FlowLogTime.parse) ?? record.time
                    let end = record.end.flatMap(FlowLogTime.parse) ?? start
                    guard let start, let end else { throw problem("timestamp is not a time: \"\(record.timestamp)\"") }
                    result.add(observed, seen: ObservedSpan(first: Self.nanoseconds(start), last: Self.nanoseconds(end)))
                }
            } catch let error as FlowLogError {
                throw AgentError(file: error.file, message: error.message, line: error.line)
            } catch let error as AgentError {
                throw error
            } catch {
                throw AgentError(file: path, message: "\(error)")
            }
            return result
            #else
            throw AgentError(file: path, message: "this build reads captures only (flow logs need the FlowLog module)")
            #endif
        }

        static func nanoseconds(_ date: Date) -> Int64 {
            Int64((date.timeIntervalSince1970 * 1e9).rounded())
        }

        /// Writes the files, replacing earlier advised files that this run does not write again.
        func write(_ advice: PolicyAdvice) throws {
            let manager = FileManager.default
            try manager.createDirectory(atPath: self.out, withIntermediateDirectories: true)
            let directory = URL(fileURLWithPath: self.out)
            let names = Set(advice.policies.map(\.fileName))
            for existing in try manager.contentsOfDirectory(atPath: self.out) where existing.hasSuffix(".yaml") && !names.contains(existing) {
                let url = directory.appendingPathComponent(existing)
                if let handle = FileHandle(forReadingAtPath: url.path) {
                    let head = (try? handle.read(upToCount: Self.marker.utf8.count)) ?? Data()
                    try? handle.close()
                    if head == Data(Self.marker.utf8) { try manager.removeItem(at: url) }
                }
            }
            for policy in advice.policies {
                try Data(policy.yaml.utf8).write(to: directory.appendingPathComponent(policy.fileName), options: .atomic)
            }
        }
    }
}
