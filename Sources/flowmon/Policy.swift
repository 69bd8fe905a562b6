import Agent
import ArgumentParser
import Datapath
import FlowCore
import FlowLog
import FlowMonitor
import L7
import Foundation

extension Flowmon {
    struct Policy: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "policy",
            abstract: "Validate policies, ask what they would do with a connection, and propose them from traffic.",
            subcommands: [Check.self, Explain.self, Advise.self]
        )
    }
}

extension Flowmon.Policy {
    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Validate policy files: every error in every file, and warnings about policies that probably do not do what was meant.",
            discussion: """
                Every document of every file is checked; each error names the file, the document, the field \
                and the line (and column, in the machine formats), with a stable code (docs/policy.md lists \
                them). A file with an error contributes no policy. Warnings: a kind that is not a policy kind \
                flowmon knows (a near miss such as CiliumNetworkPolcy says which kind was meant), a Cilium port \
                written as an integer, an allow rule a deny rule shadows, a rule that puts endpoints in default \
                deny with nothing allowed; with --pods, selectors that select no pod and named ports no pod \
                declares; with --namespaces or --pods, namespaces that do not exist. With --pods, each policy \
                line also says how many pods the policy selects.

                Exit status: 0 when there is no error (warnings allowed), 1 when there is an error, 2 when \
                there is no error but --strict is given and there are warnings (64: bad command line).
                """
        )

        @Argument(help: "Policy files or directories (.yaml, .yml, .json).")
        var paths: [String]

        @OptionGroup var inventory: InventoryOptions

        @Option(help: ArgumentHelp("Output: text (policy lines on standard output, findings on standard error), json (one object, schema/policy-check.schema.json), github (GitHub Actions ::error/::warning annotations), gitlab (a GitLab Code Quality report).", valueName: "format"))
        var format: PolicyCheckFormat = .text

        @Flag(help: "Fail on warnings too: exit 2 when there are warnings and no error.")
        var strict = false

        /// Exit status when --strict is given and there are warnings but no error.
        static let warningsExitStatus: Int32 = 2

        func run() throws {
            let state: AgentState
            do {
                // Without --node-name every pod counts as local, so selection covers the whole inventory.
                var configuration = AgentConfiguration(pods: self.inventory.pods, namespaces: self.inventory.namespaces,
                                                       nodes: self.inventory.nodes, policyPaths: self.paths,
                                                       skipsBadPolicyFiles: true).with(identities: self.inventory.identities)
                configuration.judgesConnections = false
                state = try AgentState.load(configuration)
            } catch {
                Diagnostics.error(error)
                throw ExitCode.failure
            }
            for message in state.messages { Diagnostics.line("flowmon: \(message)") }
            let hasNamespaces = self.inventory.pods != nil || self.inventory.namespaces != nil
            let cluster = PolicyLint.Cluster(hasPods: self.inventory.pods != nil,
                                             namespaces: hasNamespaces ? Set(state.inventory.namespaces.map(\.name)) : nil)
            let warnings = (state.policies.warnings + PolicyLint.warnings(state.policies, compiled: state.compiled, cluster: cluster))
                .sorted { ($0.file, $0.document ?? 0, $0.line ?? 0, $0.column ?? 0) < ($1.file, $1.document ?? 0, $1.line ?? 0, $1.column ?? 0) }
            let report = PolicyCheckReport(findings: state.policies.errors.map(PolicyFinding.init) + warnings,
                                           policies: state.policies.documents.count)
            switch self.format {
            case .text:
                for error in state.policies.errors { Diagnostics.error(error) }
                for warning in warnings { Diagnostics.line("flowmon: warning: \(warning.text)") }
                self.printPolicyLines(state)
                let count = report.policies
                var summary = "\(count) polic\(count == 1 ? "y" : "ies") valid"
                let failed = Set(state.policies.errors.map(\.file)).count
                if failed > 0 { summary += "; \(failed) file\(failed == 1 ? "" : "s") with errors" }
                print(summary)
                if report.warningCount > 0 {
                    Diagnostics.line("flowmon: \(report.warningCount) warning\(report.warningCount == 1 ? "" : "s")"
                                     + (self.strict ? " (--strict: they fail the check)" : ""))
                }
            case .json: print(try report.json())
            case .github:
                let text = report.github()
                if !text.isEmpty { print(text) }
            case .gitlab: print(try report.gitlab())
            }
            if report.errorCount > 0 { throw ExitCode.failure }
            if self.strict && report.warningCount > 0 { throw ExitCode(Self.warningsExitStatus) }
        }

        /// One line per policy: kind, name, file, rule counts, and with --pods the pods it selects.
        func printPolicyLines(_ state: AgentState) {
            for document in state.policies.documents {
                let name = document.namespace.map { "\($0)/\(document.name)" } ?? document.name
                var line = "\(document.kind.rawValue) \(name) (\(document.source.file), document \(document.source.documentIndex)): "
                line += Self.describe(document.body)
                if self.inventory.pods != nil {
                    let reference = PolicyReference(kind: document.kind, namespace: document.namespace, name: document.name)
                    let identities = state.compiled.selectedIdentities[reference] ?? []
                    let pods = state.endpoints.endpoints.filter { $0.pod != nil && identities.contains($0.identity) }.count
                    line += "; selects \(pods) pod\(pods == 1 ? "" : "s")"
                }
                print(line)
            }
        }

        static func describe(_ body: PolicyDocument.Body) -> String {
            func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
            switch body {
            case .cilium(let rules):
                let ingress = rules.reduce(0) { $0 + ($1.ingress?.count ?? 0) }
                let ingressDeny = rules.reduce(0) { $0 + ($1.ingressDeny?.count ?? 0) }
                let egress = rules.reduce(0) { $0 + ($1.egress?.count ?? 0) }
                let egressDeny = rules.reduce(0) { $0 + ($1.egressDeny?.count ?? 0) }
                return "\(count(rules.count, "rule")): ingress \(ingress), ingressDeny \(ingressDeny), egress \(egress), egressDeny \(egressDeny)"
            case .kubernetes(let spec):
                let types = spec.policyTypes.map { $0.map(\.rawValue).joined(separator: ",") } ?? "default"
                return "policyTypes \(types): ingress \(spec.ingress?.count ?? 0), egress \(spec.egress?.count ?? 0)"
            }
        }
    }

    struct Explain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "explain",
            abstract: "Explain the verdict policies give a connection, in both directions.",
            discussion: """
                Uses the same compiled policy maps and identities as replay: the egress decision at the \
                source pod and the ingress decision at the destination pod (each only when that pod is on \
                the node named by --node-name, or on any node when no node is named), the map entry that \
                matched, and the policies responsible: those of the entry, or, when the verdict is default \
                deny, the policies that put the endpoint in default deny for that direction. With --to-fqdn the destination is a DNS \
                name, judged with the toFQDNs selectors it matches.
                """
        )

        @Option(help: ArgumentHelp("The client: NAMESPACE/POD or an IP address. POD may be the beginning of a pod name, as in Hubble's --pod filter (NAMESPACE/web for web-7d4b9c-x2x): the first such pod by name, when they share one identity.", valueName: "endpoint"))
        var from: String

        @Option(help: ArgumentHelp("The server: NAMESPACE/POD (or NAMESPACE/POD-NAME-PREFIX) or an IP address (with --to-fqdn: the name's address).", valueName: "endpoint"))
        var to: String?

        @Option(name: .customLong("to-fqdn"), help: ArgumentHelp(
            "The server is this DNS name: the toFQDNs selectors matching it apply, at the --to address, each address learned from --dns-log, or else an unknown (world) address.",
            valueName: "name"))
        var toFQDN: String?

        @Option(name: .customLong("dns-log"), help: ArgumentHelp(
            "flowmon JSON lines with dns records (replay or capture output): with --to-fqdn and no --to, each address learned for the name is explained.",
            valueName: "file"))
        var dnsLog: String?

        @Option(help: ArgumentHelp("Destination port and protocol, e.g. 443, 53/udp, 2905/sctp (default protocol tcp).", valueName: "port[/proto]"))
        var port: String?

        @Option(help: ArgumentHelp("An ICMP message type instead of a port (8 = echo request; ICMPv6 when the addresses are IPv6).", valueName: "type"))
        var icmp: UInt8?

        @Flag(help: "Print JSON instead of words.")
        var json = false

        @OptionGroup(title: "Identity and policy") var agent: AgentOptions

        func validate() throws {
            guard (self.port == nil) != (self.icmp == nil) else {
                throw ValidationError("Give exactly one of '--port' and '--icmp'.")
            }
            guard self.to != nil || self.toFQDN != nil else { throw ValidationError("Give '--to', '--to-fqdn' or both.") }
            if self.dnsLog != nil && self.toFQDN == nil { throw ValidationError("'--dns-log' needs '--to-fqdn'.") }
            if let name = self.toFQDN, name.isEmpty || name.utf8.count > 255 {
                throw ValidationError("'--to-fqdn' must be a DNS name of 1-255 characters, got '\(name)'.")
            }
            guard self.agent.inventory.pods != nil else { throw ValidationError("'--pods' is required to know the endpoints.") }
            if let port { _ = try Self.parsePort(port) }
        }

        static func parsePort(_ text: String) throws -> (UInt8, UInt16) {
            let parts = text.lowercased().split(separator: "/", maxSplits: 1).map(String.init)
            guard let number = UInt16(parts[0]), number > 0 else {
                throw ValidationError("'--port' must be a port number 1-65535 with an optional /tcp, /udp or /sctp, got '\(text)'.")
            }
            switch parts.count == 2 ? parts[1] : "tcp" {
            case "tcp": return (IPProtocolNumber.tcp, number)
            case "udp": return (IPProtocolNumber.udp, number)
            case "sctp": return (IPProtocolNumber.sctp, number)
            default: throw ValidationError("'--port' protocol must be tcp, udp or sctp, got '\(text)'.")
            }
        }

        /// The addresses `dns` responses in the flowmon JSON lines at `path` gave for `name` (the
        /// A/AAAA answers of responses whose first question is `name`, CNAME chains included, as
        /// Cilium's DNS proxy associates them with the question), in first-seen order.
        static func learnedAddresses(of name: String, in path: String) throws(FlowLogError) -> [IPAddress] {
            let wanted = FQDNSelector.normalizedName(name)
            let reader = try FlowLogReader(path: path)
            var addresses: [IPAddress] = []
            while let event = try reader.nextEvent() {
                guard case .application(let record) = event, record.kind == .dns, record.dnsType == "response",
                      let query = record.query, FQDNSelector.normalizedName(query) == wanted else { continue }
                for answer in record.answers {
                    if let address = IPAddress(text: answer), !addresses.contains(address) { addresses.append(address) }
                }
            }
            return addresses
        }

        func run() throws {
            guard let state = try self.agent.load() else { throw ExitCode.failure }
            var explanations: [PolicyExplanation] = []
            var learned: [IPAddress]? = nil
            do {
                let fromAddress = try PolicyExplainer.address(self.from, in: state)
                let (ipProtocol, port): (UInt8, UInt16)
                if let icmp {
                    ipProtocol = fromAddress.isIPv4 ? IPProtocolNumber.icmp : IPProtocolNumber.icmpv6
                    port = UInt16(icmp)
                } else {
                    (ipProtocol, port) = try Self.parsePort(self.port ?? "")
                }
                var targets: [String?] = [self.to]
                if let dnsLog, let name = self.toFQDN {
                    let addresses = try Self.learnedAddresses(of: name, in: dnsLog)
                    learned = addresses
                    // A connection stays in the source's address family: those addresses are explained.
                    let reachable = addresses.filter { $0.isIPv4 == fromAddress.isIPv4 }
                    if self.to == nil && !reachable.isEmpty { targets = reachable.map(\.text) }
                }
                for target in targets {
                    explanations.append(try PolicyExplainer.explain(from: self.from, to: target, fqdn: self.toFQDN,
                                                                    ipProtocol: ipProtocol, port: port, in: state))
                }
            } catch let error as AgentError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            } catch let error as FlowLogError {
                Diagnostics.error(error.description)
                throw ExitCode.failure
            }
            if self.json {
                let objects = explanations.map { explanation in
                    var object = Self.jsonObject(explanation, verdictAsEnforced: self.agent.verdictAsEnforced)
                    if let learned, var fqdn = object["fqdn"] as? [String: Any] {
                        fqdn["learned_addresses"] = learned.map(\.text)
                        object["fqdn"] = fqdn
                    }
                    return object
                }
                // With --dns-log and no --to: an array, one explanation per learned address.
                let value: Any = self.dnsLog != nil && self.to == nil ? objects : objects[0]
                let data = try JSONSerialization.data(withJSONObject: value,
                                                      options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            } else {
                if let learned, let dnsLog, let name = self.toFQDN {
                    let shown = FQDNSelector.normalizedName(name)
                    print(learned.isEmpty ? "no address learned for \(shown) in \(dnsLog)\n"
                          : "addresses learned for \(shown) in \(dnsLog): " + learned.map(\.text).joined(separator: ", ") + "\n")
                }
                print(explanations.map { Self.words($0, verdictAsEnforced: self.agent.verdictAsEnforced) }
                    .joined(separator: "\n\n"))
            }
        }

        static func verdict(_ e: PolicyExplanation, verdictAsEnforced: Bool) -> String {
            e.allowed ? "FORWARDED" : (verdictAsEnforced ? "DROPPED" : "AUDIT")
        }

        static func protocolText(_ e: PolicyExplanation) -> String {
            switch e.ipProtocol {
            case IPProtocolNumber.icmp, IPProtocolNumber.icmpv6:
                return "\(e.ipProtocol == IPProtocolNumber.icmp ? "ICMP" : "ICMPv6") type \(e.port)"
            default:
                return "\(IPProtocolNumber.eveName(e.ipProtocol).map { "\($0)" } ?? "\(e.ipProtocol)") port \(e.port)"
            }
        }

        static func describe(_ side: PolicyExplanation.Side) -> String {
            let name = side.podName.map { "\(side.namespace ?? "")/\($0) (\(side.address.text))" }
                ?? side.address.text
            let labels = side.labels.isEmpty ? "" : " [\(side.labels.joined(separator: ", "))]"
            return "\(name), identity \(side.identity.rawValue)\(labels)\(side.isLocalEndpoint ? ", local endpoint" : "")"
        }

        static func entryText(_ entry: PolicyMapEntry, remoteSelector: String? = nil) -> String {
            let remote = entry.remote == .unknown ? "any identity"
                : remoteSelector.map { "FQDN selector \($0)" } ?? "identity \(entry.remote.rawValue)"
            let proto = entry.ipProtocol == 0 ? "any protocol"
                : (IPProtocolNumber.eveName(entry.ipProtocol).map { "\($0)" } ?? "protocol \(entry.ipProtocol)")
            let port = !entry.hasPort ? "any port"
                : entry.portLow == entry.portHigh ? "port \(entry.portLow)" : "ports \(entry.portLow)-\(entry.portHigh)"
            return "\(entry.isDeny ? "deny" : "allow") \(remote), \(proto), \(port)"
        }

        static func words(_ e: PolicyExplanation, verdictAsEnforced: Bool) -> String {
            var lines = ["from  \(describe(e.from))", "to    \(describe(e.to))", "      \(protocolText(e))", ""]
            if let service = e.service {
                lines.insert("      via service \(service.namespace)/\(service.name) (service port \(e.servicePort), judged at its backends"
                             + (e.serviceTranslated ? " on port \(e.port))" : ": none known, so at the address)"),
                             at: 3)
            }
            if let fqdn = e.fqdn {
                lines[1] = "to    \(fqdn.name) " + (fqdn.addressKnown ? "at \(describe(e.to))"
                    : "(address unknown: judged at \(describe(e.to)))")
                lines.insert("      toFQDNs selectors matching \(fqdn.name): "
                             + (fqdn.selectors.isEmpty ? "none" : fqdn.selectors.joined(separator: ", ")), at: 2)
            }
            for direction in [e.egress, e.ingress] {
                let label = direction.direction == .egress ? "egress " : "ingress"
                var line = "\(label) at \(direction.endpoint): "
                switch direction.decision.outcome {
                case .notEnforced: line += "not enforced"
                case .allowed: line += "allowed"
                case .allowedFromHost: line += "allowed (from the node)"
                case .denied: line += "would be dropped: POLICY_DENIED"
                case .deniedExplicitly: line += "would be dropped: POLICY_DENY"
                }
                if let entry = direction.entry {
                    line += " by map entry [\(entryText(entry, remoteSelector: direction.remoteSelector))], match \(direction.decision.matchType.name)"
                    if !direction.l7Rules.isEmpty {
                        line += ", with L7 rules [\(direction.l7Rules.joined(separator: "; "))] judging each request"
                    }
                }
                if !direction.policies.isEmpty {
                    line += (direction.decision.outcome == .denied ? ", default deny from " : ", from ") + direction.policies.map { "\($0.kind.rawValue) \($0.namespace.map { "\($0)/" } ?? "")\($0.name)" }
                        .joined(separator: ", ")
                }
                if let note = direction.note { line += " (\(note))" }
                lines.append(line)
            }
            lines.append("verdict: \(verdict(e, verdictAsEnforced: verdictAsEnforced))")
            return lines.joined(separator: "\n")
        }

        static func jsonObject(_ e: PolicyExplanation, verdictAsEnforced: Bool) -> [String: Any] {
            func side(_ s: PolicyExplanation.Side) -> [String: Any] {
                var object: [String: Any] = ["ip": s.address.text, "identity": s.identity.rawValue,
                                             "labels": s.labels, "local_endpoint": s.isLocalEndpoint]
                if let namespace = s.namespace { object["namespace"] = namespace }
                if let pod = s.podName { object["pod_name"] = pod }
                return object
            }
            func direction(_ d: PolicyExplanation.Direction) -> [String: Any] {
                var object: [String: Any] = ["endpoint": d.endpoint, "decision": "\(d.decision.outcome.name)",
                                             "match_type": "\(d.decision.matchType.name)",
                                             "policies": d.policies.map { p -> [String: String] in
                                                 var o = ["name": p.name, "kind": p.kind.rawValue]
                                                 if let ns = p.namespace { o["namespace"] = ns }
                                                 return o
                                             }]
                if let entry = d.entry { object["map_entry"] = entryText(entry, remoteSelector: d.remoteSelector) }
                if !d.l7Rules.isEmpty { object["l7_rules"] = d.l7Rules }
                if let note = d.note { object["note"] = note }
                return object
            }
            var object: [String: Any] = ["from": side(e.from), "to": side(e.to), "protocol": Int(e.ipProtocol),
                                         "port": Int(e.port), "egress": direction(e.egress), "ingress": direction(e.ingress),
                                         "verdict": verdict(e, verdictAsEnforced: verdictAsEnforced)]
            if let fqdn = e.fqdn {
                object["fqdn"] = ["name": fqdn.name, "selectors": fqdn.selectors, "address_known": fqdn.addressKnown] as [String: Any]
            }
            if let service = e.service {
                object["service"] = ["name": service.name, "namespace": service.namespace, "port": Int(e.servicePort)] as [String: Any]
            }
            if !e.allowed {
                let denied = e.egress.decision.isAllowed ? e.ingress : e.egress
                object["drop_reason_desc"] = denied.decision.outcome == .deniedExplicitly ? "POLICY_DENY" : "POLICY_DENIED"
                object["traffic_direction"] = denied.direction == .egress ? "EGRESS" : "INGRESS"
            }
            return object
        }
    }
}
