import ArgumentParser
import Foundation
import Presentation

/// The record filters of `hubble observe`, with its names and meanings (docs/usage.md,
/// "Filters"): shared by `replay`, `capture`, `map` and `observe`. `RecordFilter` builds and
/// applies them; this declares them for the command line. `--not` negates the option that
/// follows it, so the filter is built from the options in the order they were typed.
struct FilterOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Records from or to this namespace. Repeatable (any may match), as every option here.", valueName: "namespace"))
    var namespace: [String] = []
    @Option(help: ArgumentHelp("Records from this namespace.", valueName: "namespace"))
    var fromNamespace: [String] = []
    @Option(help: ArgumentHelp("Records to this namespace.", valueName: "namespace"))
    var toNamespace: [String] = []

    @Option(help: ArgumentHelp("Records from or to a pod whose name starts with NAME, in NAMESPACE ('default' without one, or the --from/--to-namespace given; 'NAMESPACE/' is every pod there).", valueName: "[namespace/]name"))
    var pod: [String] = []
    @Option(help: ArgumentHelp("Records from such a pod.", valueName: "[namespace/]name"))
    var fromPod: [String] = []
    @Option(help: ArgumentHelp("Records to such a pod.", valueName: "[namespace/]name"))
    var toPod: [String] = []

    @Option(help: ArgumentHelp("Records from or to this address, or an address in this CIDR.", valueName: "ip|cidr"))
    var ip: [String] = []
    @Option(help: ArgumentHelp("Records from this address or CIDR.", valueName: "ip|cidr"))
    var fromIp: [String] = []
    @Option(help: ArgumentHelp("Records to this address or CIDR.", valueName: "ip|cidr"))
    var toIp: [String] = []

    @Option(help: ArgumentHelp("Records from or to a Service whose name starts with NAME (namespace as --pod). flowmon knows only the destination's Service.", valueName: "[namespace/]name"))
    var service: [String] = []
    @Option(help: ArgumentHelp("Records from such a Service (matches nothing: flowmon names no source Service, as Cilium names one only for a frontend's own address).", valueName: "[namespace/]name"))
    var fromService: [String] = []
    @Option(help: ArgumentHelp("Records to such a Service (the ClusterIP a connection was sent to).", valueName: "[namespace/]name"))
    var toService: [String] = []

    @Option(help: ArgumentHelp("Records from or to a pod owned by this workload: NAME, or KIND/NAME (Deployment/web; 'Deployment/' is every Deployment).", valueName: "[kind/]name"))
    var workload: [String] = []
    @Option(help: ArgumentHelp("Records from such a workload's pods.", valueName: "[kind/]name"))
    var fromWorkload: [String] = []
    @Option(help: ArgumentHelp("Records to such a workload's pods.", valueName: "[kind/]name"))
    var toWorkload: [String] = []

    @Option(help: ArgumentHelp("Records from or to this security identity: a number or a reserved name (host, world, remote-node, kube-apiserver, world-ipv4 ...).", valueName: "identity"))
    var identity: [String] = []
    @Option(help: ArgumentHelp("Records from this identity.", valueName: "identity"))
    var fromIdentity: [String] = []
    @Option(help: ArgumentHelp("Records to this identity.", valueName: "identity"))
    var toIdentity: [String] = []

    @Option(help: ArgumentHelp("Records whose source or destination labels match: comma-separated key=value, key!=value, key in (a,b), key notin (a,b), key, !key, all required (a key may carry its source, k8s:app=web).", valueName: "selector"))
    var label: [String] = []
    @Option(help: ArgumentHelp("Records whose source labels match.", valueName: "selector"))
    var fromLabel: [String] = []
    @Option(help: ArgumentHelp("Records whose destination labels match.", valueName: "selector"))
    var toLabel: [String] = []

    @Option(help: ArgumentHelp("Records from or to a DNS name the other end had looked up (src_names, dest_names); '*' matches any run of letters, digits, '-' and '.' (*.example.com).", valueName: "pattern"))
    var fqdn: [String] = []
    @Option(help: ArgumentHelp("Records from such a name: one the responder had looked up for the initiator (src_names).", valueName: "pattern"))
    var fromFqdn: [String] = []
    @Option(help: ArgumentHelp("Records to such a name.", valueName: "pattern"))
    var toFqdn: [String] = []

    @Option(help: ArgumentHelp("Records with this source or destination port (TCP, UDP, SCTP).", valueName: "port"))
    var port: [String] = []
    @Option(help: ArgumentHelp("Records with this source port.", valueName: "port"))
    var fromPort: [String] = []
    @Option(help: ArgumentHelp("Records with this destination port.", valueName: "port"))
    var toPort: [String] = []

    @Option(help: ArgumentHelp("Records of this protocol: tcp, udp, sctp, icmp (v4 or v6), icmpv4, icmpv6, vrrp, igmp, a number; dns, http, tls select the application records.", valueName: "protocol"))
    var `protocol`: [String] = []

    @Option(help: ArgumentHelp("Records with this verdict: FORWARDED (allowed, or no policy), AUDIT or DROPPED (both: what policy would drop, written AUDIT, or DROPPED with --verdict-as-enforced).", valueName: "verdict"))
    var verdict: [String] = []

    @Option(help: ArgumentHelp("Records of this type: flow, alert, stats, lost, dns, http, tls; or Hubble's l7 (dns, http, tls), policy-verdict (flows with a verdict), drop (flows policy would drop).", valueName: "type"))
    var type: [String] = []

    @Flag(name: .customLong("not"), help: "Negate the filter option that follows: records it matches are not shown (--not --namespace kube-system).")
    var not: Int

    @Option(help: ArgumentHelp("Records at or after this time: RFC 3339 (2025-01-01T10:00:00Z), a date, or a duration before now (5m, 1h30m). Against the record's timestamp.", valueName: "time"))
    var since: String?
    @Option(help: ArgumentHelp("Records at or before this time (as --since).", valueName: "time"))
    var until: String?
    @Option(help: ArgumentHelp("Only the last N records that pass the filters (a file input: shown at its end).", valueName: "n"))
    var last: String?

    /// The time relative `--since`/`--until` count back from: the start of the run.
    static let now = Date()

    func validate() throws {
        do {
            _ = try self.filter()
        } catch {
            throw ValidationError(error.description)
        }
    }

    func filter() throws(FilterError) -> RecordFilter {
        try RecordFilter(arguments: self.orderedArguments(), now: Self.now)
    }

    /// Every filter option given, as `--name value` pairs (and `--not`).
    var parsedArguments: [String] {
        let values: [(String, [String])] = [
            ("namespace", self.namespace), ("from-namespace", self.fromNamespace), ("to-namespace", self.toNamespace),
            ("pod", self.pod), ("from-pod", self.fromPod), ("to-pod", self.toPod),
            ("ip", self.ip), ("from-ip", self.fromIp), ("to-ip", self.toIp),
            ("service", self.service), ("from-service", self.fromService), ("to-service", self.toService),
            ("workload", self.workload), ("from-workload", self.fromWorkload), ("to-workload", self.toWorkload),
            ("identity", self.identity), ("from-identity", self.fromIdentity), ("to-identity", self.toIdentity),
            ("label", self.label), ("from-label", self.fromLabel), ("to-label", self.toLabel),
            ("fqdn", self.fqdn), ("from-fqdn", self.fromFqdn), ("to-fqdn", self.toFqdn),
            ("port", self.port), ("from-port", self.fromPort), ("to-port", self.toPort),
            ("protocol", self.protocol), ("verdict", self.verdict), ("type", self.type),
            ("since", self.since.map { [$0] } ?? []), ("until", self.until.map { [$0] } ?? []), ("last", self.last.map { [$0] } ?? []),
        ]
        return values.flatMap { name, values in values.flatMap { ["--\(name)", $0] } }
    }

    /// The filter options in the order they were typed, read from the process's arguments
    /// (which `--not` applies to depends on it); the parsed values when the process's
    /// arguments are not what was parsed (options parsed in-process, as tests do).
    func orderedArguments(_ commandLine: [String] = CommandLine.arguments) throws(FilterError) -> [String] {
        let names = Set(RecordFilter.clauseOptions + RecordFilter.windowOptions)
        var ordered: [String] = []
        var index = 1
        while index < commandLine.count {
            let word = commandLine[index]
            index += 1
            if word == "--" { break }
            guard word.hasPrefix("--") else { continue }
            let name = String(word.dropFirst(2).prefix { $0 != "=" })
            if name == "not" {
                ordered.append(word)
            } else if names.contains(name) {
                ordered.append(word)
                if !word.contains("="), index < commandLine.count {
                    ordered.append(commandLine[index])
                    index += 1
                }
            }
        }
        // The same options and values as parsed (and the last --since/--until/--last wins there).
        func pairs(_ words: [String]) -> [String] {
            var result: [String] = []
            var index = 0
            while index < words.count {
                let word = words[index]
                index += 1
                if word == "--not" { continue }
                if let equals = word.firstIndex(of: "=") {
                    result.append("\(word[..<equals])\u{0}\(word[word.index(after: equals)...])")
                } else if index < words.count {
                    result.append("\(word)\u{0}\(words[index])")
                    index += 1
                }
            }
            return result
        }
        if pairs(ordered).sorted() == pairs(self.parsedArguments).sorted() && ordered.filter({ $0 == "--not" }).count == self.not {
            return ordered
        }
        guard self.not == 0 else { throw FilterError("--not: cannot tell which option follows it") }
        return self.parsedArguments
    }
}
