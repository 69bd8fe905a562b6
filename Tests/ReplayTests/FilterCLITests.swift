import Foundation
import Testing

/// The filters of `hubble observe` through the real CLI, on the demo's records (Captures/demo
/// with its pods, Services and policies): each option keeps exactly the records a predicate
/// written here from the JSON itself selects, in `observe` (JSON lines in), `replay` (a
/// capture in) and `map`; `--not`, `--since`, `--until`, `--last`, and the values refused.
struct FilterCLITests {
    /// One run of the demo, written once for every test: its JSON lines (`--format json`) and
    /// its `--hubble` lines, in audit mode and with `--verdict-as-enforced`.
    struct Demo: Sendable {
        let directory: URL
        var eve: URL { self.directory.appendingPathComponent("demo.jsonl") }
        var hubble: URL { self.directory.appendingPathComponent("demo.hubble.jsonl") }
        var enforcedEVE: URL { self.directory.appendingPathComponent("enforced.jsonl") }
        var enforcedHubble: URL { self.directory.appendingPathComponent("enforced.hubble.jsonl") }
    }

    static let replayArguments = PresentationCLITests.arguments + ["--format", "json"]

    static let demo: Result<Demo, any Error> = Result {
        let demo = Demo(directory: try Fixture.temporaryDirectory())
        for (eve, hubble, extra) in [(demo.eve, demo.hubble, [String]()), (demo.enforcedEVE, demo.enforcedHubble, ["--verdict-as-enforced"])] {
            let result = try run(Fixture.flowmonBinary, replayArguments + extra + ["--output", eve.path, "--hubble", hubble.path])
            guard result.status == 0 else { throw FilterTestError(message: "replay failed: \(result.stderr)") }
        }
        return demo
    }

    struct FilterTestError: Error { var message: String }

    static func lines(_ file: URL) throws -> [String] {
        try String(contentsOf: file, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func object(_ line: String) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
    }

    /// `flowmon observe FILE --format json ARGUMENTS`: its lines.
    static func observe(_ file: URL, _ arguments: [String]) throws -> [String] {
        let result = try run(Fixture.flowmonBinary, ["observe", file.path, "--format", "json"] + arguments)
        #expect(result.status == 0, "observe \(arguments): \(result.stderr)")
        return result.stdout.split(separator: "\n").map(String.init)
    }

    // MARK: - What a record says

    typealias Record = [String: Any]
    static func endpoint(_ record: Record, _ side: String) -> Record { record[side] as? Record ?? [:] }
    static func namespace(_ record: Record, _ side: String) -> String? { endpoint(record, side)["namespace"] as? String }
    static func pod(_ record: Record, _ side: String) -> String? { endpoint(record, side)["pod_name"] as? String }
    static func labels(_ record: Record, _ side: String) -> [String] { endpoint(record, side)["labels"] as? [String] ?? [] }
    static func identity(_ record: Record, _ side: String) -> Int? { endpoint(record, side)["identity"] as? Int }
    static func workloads(_ record: Record, _ side: String) -> [(kind: String, name: String)] {
        (endpoint(record, side)["workloads"] as? [Record] ?? []).map { ($0["kind"] as? String ?? "", $0["name"] as? String ?? "") }
    }
    static func ip(_ record: Record, _ side: String) -> String { record[side == "source" ? "src_ip" : "dest_ip"] as? String ?? "" }
    static func port(_ record: Record, _ side: String) -> Int? { record[side == "source" ? "src_port" : "dest_port"] as? Int }
    static func verdict(_ record: Record) -> String? { (record["policy"] as? Record)?["verdict"] as? String }
    static func type(_ record: Record) -> String { record["event_type"] as? String ?? "" }
    static func hasConnection(_ record: Record) -> Bool { !["stats", "lost"].contains(type(record)) }

    /// A predicate on connections; records without one (stats) pass, as the filters let them.
    static func connection(_ test: @escaping @Sendable (Record) -> Bool) -> @Sendable (Record) -> Bool {
        { hasConnection($0) ? test($0) : true }
    }

    static func either(_ test: @escaping @Sendable (Record, String) -> Bool) -> @Sendable (Record) -> Bool {
        connection { test($0, "source") || test($0, "destination") }
    }

    struct Row: CustomTestStringConvertible, Sendable {
        var arguments: [String]
        var keep: @Sendable (Record) -> Bool
        var testDescription: String { self.arguments.joined(separator: " ") }
        init(_ arguments: [String], _ keep: @escaping @Sendable (Record) -> Bool) {
            self.arguments = arguments
            self.keep = keep
        }
    }

    static let rows: [Row] = [
        Row(["--namespace", "payments"], either { namespace($0, $1) == "payments" }),
        Row(["--from-namespace", "platform"], connection { namespace($0, "source") == "platform" }),
        Row(["--to-namespace", "kube-system"], connection { namespace($0, "destination") == "kube-system" }),
        Row(["--to-namespace", "kube-system", "--to-namespace", "shop"],
            connection { ["kube-system", "shop"].contains(namespace($0, "destination")) }),
        Row(["--pod", "payments/users"], either { namespace($0, $1) == "payments" && pod($0, $1)?.hasPrefix("users") == true }),
        // Without a namespace, a pod is in `default` (Hubble's ParseNamespaceName).
        Row(["--from-pod", "search"], connection { namespace($0, "source") == "default" && pod($0, "source")?.hasPrefix("search") == true }),
        Row(["--to-pod", "kube-system/coredns"],
            connection { namespace($0, "destination") == "kube-system" && pod($0, "destination")?.hasPrefix("coredns") == true }),
        Row(["--from-namespace", "platform", "--from-pod", "redis"],
            connection { namespace($0, "source") == "platform" && pod($0, "source")?.hasPrefix("redis") == true }),
        Row(["--ip", "10.244.0.2"], either { ip($0, $1) == "10.244.0.2" }),
        Row(["--from-ip", "10.244.1.0/24"], connection { ip($0, "source").hasPrefix("10.244.1.") }),
        Row(["--to-ip", "10.96.0.0/12"], connection { ip($0, "destination").hasPrefix("10.96.") }),
        Row(["--to-service", "kube-system/kube-dns"], connection { ($0["destination_service"] as? Record)?["name"] as? String == "kube-dns" }),
        Row(["--service", "monitoring/"], connection { ($0["destination_service"] as? Record)?["namespace"] as? String == "monitoring" }),
        Row(["--from-service", "monitoring/"], connection { _ in false }),
        Row(["--workload", "Deployment/users"], either { workloads($0, $1).contains { $0 == ("Deployment", "users") } }),
        Row(["--from-workload", "redis"], connection { workloads($0, "source").contains { $0.name == "redis" } }),
        Row(["--to-workload", "StatefulSet/"], connection { workloads($0, "destination").contains { $0.kind == "StatefulSet" } }),
        Row(["--identity", "37107"], either { identity($0, $1) == 37107 }),
        Row(["--from-identity", "host"], connection { identity($0, "source") == 1 }),
        Row(["--to-identity", "world-ipv4", "--to-identity", "16777217"], connection { [9, 16777217].contains(identity($0, "destination")) }),
        Row(["--label", "app=redis"], either { labels($0, $1).contains("k8s:app=redis") }),
        Row(["--from-label", "k8s:app=redis,!tier"], connection {
            labels($0, "source").contains("k8s:app=redis") && !labels($0, "source").contains { $0.hasPrefix("k8s:tier=") }
        }),
        Row(["--to-label", "reserved:world-ipv4"], connection { labels($0, "destination").contains("reserved:world-ipv4") }),
        Row(["--label", "app in (redis, users),k8s:version"],
            either { ["k8s:app=redis", "k8s:app=users"].contains(where: labels($0, $1).contains) && labels($0, $1).contains { $0.hasPrefix("k8s:version=") } }),
        Row(["--to-label", "app notin (redis,search)"], connection { !["k8s:app=redis", "k8s:app=search"].contains(where: labels($0, "destination").contains) }),
        Row(["--fqdn", "*.monitoring.svc.cluster.local"],
            connection { ($0["dest_names"] as? [String] ?? []).contains { $0.hasSuffix(".monitoring.svc.cluster.local") } }),
        Row(["--to-fqdn", "ingress-nginx-controller.ingress-nginx.svc.cluster.local."],
            connection { ($0["dest_names"] as? [String] ?? []).contains("ingress-nginx-controller.ingress-nginx.svc.cluster.local") }),
        Row(["--from-fqdn", "*"], connection { !($0["src_names"] as? [String] ?? []).isEmpty }),
        Row(["--port", "53"], either { port($0, $1) == 53 }),
        Row(["--from-port", "53"], connection { port($0, "source") == 53 }),
        Row(["--to-port", "53", "--to-port", "443"], connection { [53, 443].contains(port($0, "destination")) }),
        Row(["--protocol", "icmp"], connection { ["ICMP", "IPv6-ICMP"].contains($0["proto"] as? String) }),
        Row(["--protocol", "icmpv4"], connection { $0["proto"] as? String == "ICMP" }),
        Row(["--protocol", "udp", "--protocol", "6"], connection { ["UDP", "TCP"].contains($0["proto"] as? String) }),
        Row(["--protocol", "dns"], connection { type($0) == "dns" }),
        Row(["--verdict", "AUDIT"], connection { verdict($0) == "AUDIT" }),
        // In audit mode nothing is written DROPPED: DROPPED selects what policy would drop.
        Row(["--verdict", "DROPPED"], connection { verdict($0) == "AUDIT" }),
        Row(["--verdict", "forwarded"], connection { verdict($0) != "AUDIT" }),
        Row(["--type", "flow"], { type($0) == "flow" }),
        Row(["--type", "l7"], { ["dns", "http", "tls"].contains(type($0)) }),
        Row(["--type", "drop"], { type($0) == "flow" && verdict($0) == "AUDIT" }),
        Row(["--type", "policy-verdict", "--type", "stats"], { type($0) == "stats" || (type($0) == "flow" && verdict($0) != nil) }),
        // Different options: all must hold.
        Row(["--namespace", "payments", "--verdict", "AUDIT", "--type", "flow"],
            { type($0) == "flow" && verdict($0) == "AUDIT" && (namespace($0, "source") == "payments" || namespace($0, "destination") == "payments") }),
        // Two either-side options: both on the same side (Hubble's left and right filters).
        Row(["--pod", "kube-system/", "--port", "53"], either { namespace($0, $1) == "kube-system" && port($0, $1) == 53 }),
        // --not: the next option excludes.
        Row(["--not", "--namespace", "kube-system"], connection { namespace($0, "source") != "kube-system" && namespace($0, "destination") != "kube-system" }),
        // Excluded options go into one list, as Hubble's blacklist: together they exclude what
        // matches them all (forwarded TCP), not what matches either.
        Row(["--type", "flow", "--not", "--verdict", "FORWARDED", "--not", "--protocol", "tcp"],
            { type($0) == "flow" && !(verdict($0) != "AUDIT" && $0["proto"] as? String == "TCP") }),
        Row(["--from-namespace", "platform", "--not", "--to-port", "6379"],
            connection { namespace($0, "source") == "platform" && port($0, "destination") != 6379 }),
    ]

    @Test(arguments: rows)
    func observeKeepsExactlyWhatTheOptionSays(_ row: Row) throws {
        let demo = try Self.demo.get()
        let all = try Self.lines(demo.eve)
        let expected = all.filter { row.keep(Self.object($0)) }
        let kept = try Self.observe(demo.eve, row.arguments)
        #expect(kept == expected, "\(row.arguments): \(kept.count) lines against \(expected.count)")
        #expect(expected.count < all.count, "the row filters something out")
        if !row.arguments.contains(where: { $0.hasPrefix("--from-service") || $0.hasPrefix("--from-fqdn") }) {
            #expect(expected.contains { Self.hasConnection(Self.object($0)) }, "the row selects a connection")
        }
    }

    /// `replay` takes the same options and selects the same lines from the capture.
    @Test(arguments: [["--namespace", "payments", "--verdict", "AUDIT"], ["--not", "--pod", "kube-system/", "--type", "flow"],
                      ["--to-ip", "10.96.0.0/12", "--protocol", "udp"], ["--label", "app=redis", "--last", "7"]])
    func replayFiltersAsObserveDoes(_ arguments: [String]) throws {
        let demo = try Self.demo.get()
        let replay = try run(Fixture.flowmonBinary, Self.replayArguments + arguments)
        #expect(replay.status == 0, "\(replay.stderr)")
        let observed = try Self.observe(demo.eve, arguments)
        #expect(!observed.isEmpty)
        #expect(replay.stdout.split(separator: "\n").map(String.init) == observed)
    }

    /// `map` draws the connections the options keep: the same map as of what `observe` keeps.
    @Test func mapFiltersAsObserveDoes() throws {
        let demo = try Self.demo.get()
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let kept = directory.appendingPathComponent("kept.jsonl")
        let filters = ["--from-namespace", "platform", "--not", "--to-port", "6379"]
        try (try Self.observe(demo.eve, filters).joined(separator: "\n") + "\n").write(to: kept, atomically: true, encoding: .utf8)
        func map(_ input: [String]) throws -> String {
            let result = try run(Fixture.flowmonBinary, ["map"] + input + ["--out", "-", "--format", "dot"])
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout
        }
        let ofKept = try map([kept.path])
        #expect(try map([demo.eve.path] + filters) == ofKept)
        let capture = Array(Self.replayArguments.dropFirst().prefix(while: { $0 != "--format" }))
        #expect(try map(capture + filters) == ofKept)
        #expect(try map([demo.eve.path]) != ofKept)
        // --last N: the last N flows the filters keep.
        let last = ["--type", "flow", "--to-port", "53", "--last", "4"]
        try (try Self.observe(demo.eve, last).joined(separator: "\n") + "\n").write(to: kept, atomically: true, encoding: .utf8)
        #expect(try map([demo.eve.path] + last) == (try map([kept.path])))
        #expect(try map([demo.eve.path] + last) != (try map([demo.eve.path, "--type", "flow", "--to-port", "53"])))
    }

    /// `--since`, `--until` (RFC 3339, flowmon's timestamps, durations) and `--last`.
    @Test func timeWindowAndLast() throws {
        let demo = try Self.demo.get()
        let all = try Self.lines(demo.eve)
        let times = all.map { Self.object($0)["timestamp"] as? String ?? "" }
        let middle = times.sorted()[times.count / 2]
        let since = try Self.observe(demo.eve, ["--since", middle])
        #expect(since == all.filter { (Self.object($0)["timestamp"] as? String ?? "") >= middle })
        let until = try Self.observe(demo.eve, ["--until", "2025-01-01T10:00:05Z"])
        #expect(!until.isEmpty && until == all.filter { (Self.object($0)["timestamp"] as? String ?? "") <= "2025-01-01T10:00:05.000000+0000" })
        // A duration counts back from now: the demo (2025) is older than a minute, and newer than 100000 days.
        #expect(try Self.observe(demo.eve, ["--since", "1m"]).isEmpty)
        #expect(try Self.observe(demo.eve, ["--since", "2400000h"]) == all)
        #expect(try Self.observe(demo.eve, ["--until", "2024-12-31"]).isEmpty)
        let flows = all.filter { Self.type(Self.object($0)) == "flow" }
        #expect(try Self.observe(demo.eve, ["--type", "flow", "--last", "5"]) == Array(flows.suffix(5)))
        // Compact output, --last and --not together: the last 3 flows outside kube-system.
        let compact = try run(Fixture.flowmonBinary, ["observe", demo.eve.path, "--type", "flow", "--not", "--namespace", "kube-system", "--last", "3", "--no-color"])
        #expect(compact.status == 0)
        #expect(compact.stdout.split(separator: "\n").count == 3 && !compact.stdout.contains("kube-system/"), "\(compact.stdout)")
    }

    /// `--verdict AUDIT` and `--verdict DROPPED` select what policy would drop however it was
    /// written: AUDIT in audit mode, DROPPED with --verdict-as-enforced.
    @Test func auditAndDroppedSelectWouldBeDropsEitherWay() throws {
        let demo = try Self.demo.get()
        for file in [demo.eve, demo.enforcedEVE] {
            let wouldDrop = try Self.lines(file).filter { ["AUDIT", "DROPPED"].contains(Self.verdict(Self.object($0))) }
            #expect(wouldDrop.count > 30)
            for verdict in ["AUDIT", "DROPPED"] {
                #expect(try Self.observe(file, ["--verdict", verdict]).filter { Self.hasConnection(Self.object($0)) } == wouldDrop)
            }
        }
    }

    @Test(arguments: [
        (["--port", "70000"], "--port '70000': expected a port, 0 to 65535"),
        (["--ip", "10.0.0.0/33"], "--ip '10.0.0.0/33'"),
        (["--to-ip", "pod-a"], "--to-ip 'pod-a': not an IPv4 or IPv6 address"),
        (["--identity", "nobody"], "--identity 'nobody': expected a number or one of host, world"),
        (["--verdict", "ALLOWED"], "--verdict 'ALLOWED': expected FORWARDED, AUDIT or DROPPED"),
        (["--type", "flows"], "--type 'flows': expected flow, alert"),
        (["--protocol", "tcpp"], "--protocol 'tcpp': expected tcp, udp"),
        (["--fqdn", "a b.example"], "--fqdn 'a b.example': ' ' is not allowed"),
        (["--ip", "10.0.0.1", "--pod", "web"], "filters --ip and --pod cannot be combined"),
        (["--namespace", "a", "--from-pod", "web"], "filters --from-pod and --namespace cannot be combined"),
        (["--port", "80", "--to-port", "81"], "filters --port and --to-port cannot be combined"),
        (["--not", "--not", "--port", "80"], "--not: consecutive --not statements"),
        (["--port", "80", "--not"], "--not: no filter option follows"),
        (["--since", "yesterday"], "--since 'yesterday': expected an RFC 3339 time"),
        (["--last", "0"], "--last '0': expected a number of records, 1 or more"),
        (["--to-label", "app=x,=y"], "--to-label 'app=x,=y': a term has no label key"),
    ])
    func badValuesAreRefusedByName(_ arguments: [String], _ message: String) throws {
        let demo = try Self.demo.get()
        for command in [["observe", demo.eve.path], Array(Self.replayArguments)] {
            let result = try run(Fixture.flowmonBinary, command + arguments)
            #expect(result.status == 64, "\(arguments): \(result.stderr)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    /// A live capture has no end: `--last` is refused before anything is opened.
    @Test func captureRefusesLast() throws {
        let result = try run(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--last", "5"])
        #expect(result.status == 64)
        #expect(result.stderr.contains("--last needs a file"), "\(result.stderr)")
    }
}
