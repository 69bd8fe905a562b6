import Agent
import ArgumentParser
import Capture
import FlowCore
import FlowMonitor
import Foundation
#if canImport(FlowLog)
import FlowLog
#endif

extension AdvisedFormat: ExpressibleByArgument {}

extension Flowmon.Policy {
    struct Advise: ParsableCommand {
        static let configuration = CommandConfiguration(
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
            let observations: [ObservedConnection: Int]
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
            let advice = PolicyAdvisor.advise(
                observations,
                inputs: AdvisorInputs(inventory: state.inventory, endpoints: state.endpoints, ipcache: state.ipcache,
                                      services: state.services),
                options: AdvisorOptions(format: self.format, maxCIDRs: self.maxCidrs, maxPorts: self.maxPorts,
                                        input: URL(fileURLWithPath: self.file).lastPathComponent))
            for warning in advice.warnings { Diagnostics.line("flowmon: warning: \(warning)") }
            do {
                try self.write(advice)
            } catch {
                Diagnostics.error("\(self.out): \(error.localizedDescription)")
                throw ExitCode.failure
            }
            for policy in advice.policies {
                print("\(policy.fileName): \(policy.kind.rawValue) \(policy.namespace)/\(policy.name) for "
                      + policy.workloads.joined(separator: ", ") + ": ingress \(policy.ingressRules), egress \(policy.egressRules)")
            }
            print("\(advice.policies.count) polic\(advice.policies.count == 1 ? "y" : "ies") in \(self.out), from \(advice.connectionsAdvised) of \(advice.connections) connections (the others had no workload of this node on either end)")
        }

        /// The connections of a flowmon JSON-lines log: each flow record's `src_ip`, `dest_ip`,
        /// `proto`, `dest_port` or `icmp_type`, and `dest_names`. The records keep the addresses and ports as
        /// they were seen, so the advisor resolves them through the current inventory and
        /// services, as a replay would.
        static func observeFlowLog(_ path: String) throws(AgentError) -> [ObservedConnection: Int] {
            #if canImport(FlowLog)
            var numbers: [String: UInt8] = [:]
            for number in 0...255 {
                if let name = IPProtocolNumber.eveName(UInt8(number)) { numbers["\(name)"] = UInt8(number) }
            }
            var result: [ObservedConnection: Int] = [:]
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
                    result[observed, default: 0] += 1
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
