import Foundation
import Testing

/// `flowmon policy advise` does not lock down what it saw too little of or what the cluster
/// needs to run, says what its advice rests on, and tells what it would allow that the existing
/// policies deny: through the CLI, on the demo (with `Policies/demo`) and on a generated 600-pod
/// node with existing policies (`Captures/advisor`).
struct PolicyAdviceSafetyTests {
    typealias Case = PolicyAdviseTests.Case

    static let demo = PolicyAdviseTests.demo
    static let demoPolicies = Fixture.root.appendingPathComponent("Policies/demo").path
    static let cluster = Case(
        name: "cluster-600", capture: Fixture.captures.appendingPathComponent("advisor/cluster-600.pcap"),
        inventory: ["--pods", Fixture.captures.appendingPathComponent("advisor/cluster-600.pods.json").path,
                    "--services", Fixture.captures.appendingPathComponent("advisor/cluster-600.services.json").path,
                    "--node-name", "kind-worker-0"])
    static let clusterPolicies = Fixture.captures.appendingPathComponent("advisor/cluster-600.policies.yaml").path

    /// (case, existing policies)
    static let withPolicies: [(Case, String)] = [(demo, demoPolicies), (cluster, clusterPolicies)]

    static func advise(_ testCase: Case, _ extra: [String], format: String = "cilium") throws
        -> (directory: URL, stdout: String, stderr: String)
    {
        try PolicyAdviseTests.advise(testCase.capture, testCase.inventory, format: format, extra: extra)
    }

    static func cleanUp(_ advised: (directory: URL, stdout: String, stderr: String)) {
        try? FileManager.default.removeItem(at: advised.directory.deletingLastPathComponent())
    }

    /// The namespaces of the pods an advised file's endpointSelector selects: the file's own
    /// namespace (a CiliumNetworkPolicy selects only there).
    static func namespace(_ yaml: String) -> String? {
        yaml.split(separator: "\n").first { $0.hasPrefix("  namespace: ") }.map { String($0.dropFirst("  namespace: ".count)) }
    }

    static let systemNamespaces: Set<String> = ["kube-system", "kube-public", "kube-node-lease"]

    // MARK: System components

    /// No policy selects kube-system (or monitoring) endpoints unless asked, and each skipped
    /// workload is listed with the reason; with --include-system they are advised.
    @Test(arguments: [demo, cluster])
    func systemComponentsAreSkippedUnlessAsked(testCase: Case) throws {
        let advised = try Self.advise(testCase, ["--min-observation", "0"])
        defer { Self.cleanUp(advised) }
        let files = try PolicyAdviseTests.files(advised.directory)
        #expect(!files.isEmpty)
        let selectingSystem = files.filter { Self.systemNamespaces.contains(Self.namespace($0.value) ?? "") }
        #expect(selectingSystem.isEmpty, "\(selectingSystem.keys.sorted())")
        #expect(!files.keys.contains { $0.contains("coredns") || $0.contains("prometheus") || $0.contains("fluent-bit") })
        #expect(advised.stdout.contains("skipped kube-system/coredns: system component (namespace kube-system): not advised without --include-system\n"))
        #expect(advised.stdout.contains("skipped monitoring/prometheus-k8s: system component (app.kubernetes.io/name=prometheus: monitoring)"))
        #expect(advised.stdout.contains("; 3 workloads skipped\n"), "\(advised.stdout)")

        let all = try Self.advise(testCase, ["--min-observation", "0", "--include-system"])
        defer { Self.cleanUp(all) }
        let allFiles = try PolicyAdviseTests.files(all.directory)
        #expect(allFiles["kube-system.coredns-advised.yaml"] != nil)
        #expect(allFiles.count == files.count + 3)
        #expect(!all.stdout.contains("skipped "))
    }

    /// No advised policy puts a pod in default deny for a direction in which it was seen
    /// talking to the API server, its node or the world without allowing them: advised for every
    /// workload of the generated node (system components too) and replayed with the advice
    /// alone, nothing is dropped. The node's services file has no Endpoints for
    /// default/kubernetes, so a pod that reached the API server at 10.96.0.1 keeps egress
    /// unrestricted (Cilium would judge it at the API server, which a 10.96.0.1/32 rule does
    /// not allow), its egress rules a comment.
    @Test func theAdviceCutsNoWorkloadOffTheAPIServerNodesOrWorld() throws {
        let advised = try Self.advise(Self.cluster, ["--min-observation", "0", "--include-system"])
        defer { Self.cleanUp(advised) }
        let files = try PolicyAdviseTests.files(advised.directory)
        let flows = try PolicyAdviseTests.replayFlows(Self.cluster.capture, Self.cluster.inventory, policies: advised.directory,
                                                      extra: ["--verdict-as-enforced"])
        #expect(flows.count == 825)
        let dropped = flows.filter { PolicyAdviseTests.verdict($0) != "FORWARDED" }
        #expect(dropped.isEmpty, "\(dropped.count) dropped, e.g. \(dropped.first ?? [:])")
        let apiServerByClusterIP = files.filter { $0.value.contains("(ClusterIP of service default/kubernetes, whose backends flowmon does not know") }
        #expect(!apiServerByClusterIP.isEmpty)
        for (name, yaml) in apiServerByClusterIP {
            #expect(!yaml.contains("\n  egress:\n"), "\(name)")
            #expect(yaml.contains("# Egress is not restricted: the pods reached default/kubernetes at the ClusterIP"), "\(name)")
            #expect(yaml.contains("\n#  egress:\n"), "\(name)")
            #expect(advised.stderr.contains("\(name.replacingOccurrences(of: ".yaml", with: "").replacingOccurrences(of: ".", with: "/")): egress left unrestricted"),
                    "\(name)")
        }
    }

    // MARK: How much traffic

    /// The output and every file say how much traffic the advice rests on; the demo capture is
    /// 9.3 s long, so with the default --min-observation (10m) nothing is locked down.
    @Test func theAdviceSaysHowMuchTrafficItRestsOn() throws {
        let advised = try Self.advise(Self.demo, ["--min-observation", "0"])
        defer { Self.cleanUp(advised) }
        let basis = "120 connections seen from 2025-01-01T10:00:00.055Z to 2025-01-01T10:00:09.306Z (9.3 s)"
        #expect(advised.stdout.hasPrefix("Based on \(basis).\n"))
        let files = try PolicyAdviseTests.files(advised.directory)
        let recommendations = try #require(files["shop.recommendations-advised.yaml"])
        #expect(recommendations.contains("# Observed: 17 connections of its pods over 7.4 s, of \(basis).\n"))
        #expect(advised.stdout.contains("shop.recommendations-advised.yaml: CiliumNetworkPolicy shop/recommendations-advised for Deployment recommendations: ingress 1, egress 7; 17 connections over 7.4 s\n"))

        // No --min-observation: the default, 10m.
        let directory = try Fixture.temporaryDirectory().appendingPathComponent("advised")
        defer { try? FileManager.default.removeItem(at: directory.deletingLastPathComponent()) }
        let byDefault = try run(Fixture.flowmonBinary, ["policy", "advise", Self.demo.capture.path, "--out", directory.path]
            + Self.demo.inventory)
        #expect(byDefault.status == 0, "\(byDefault.stderr)")
        #expect(try PolicyAdviseTests.files(directory).isEmpty)
        #expect(byDefault.stdout.contains("skipped shop/recommendations: seen for 7.4 s, less than --min-observation 10m00s: too little traffic to lock it down\n"))
        #expect(byDefault.stdout.contains("0 policies in "))
    }

    /// A workload seen for less than --min-observation is not locked down; the others are. The
    /// threshold splits the generated node's workloads (seen from 0 s to 19m21s): every workload
    /// whose span (as the run without a minimum reports it) is below it is skipped, the others
    /// advised exactly as without a minimum.
    @Test func aWorkloadSeenForLessThanTheMinimumIsNotLockedDown() throws {
        let all = try Self.advise(Self.cluster, ["--min-observation", "0"])
        defer { Self.cleanUp(all) }
        // `data.payments-advised.yaml: ... ; 1 connection over 0.0 s`
        var spans: [String: Double] = [:]
        for line in all.stdout.split(separator: "\n") where line.contains("-advised.yaml: ") {
            let file = String(line.prefix { $0 != ":" })
            let span = try #require(line.components(separatedBy: " over ").last)
            spans[file] = Self.seconds(span)
        }
        #expect(spans.count > 100)
        let short = spans.filter { $0.value < 600 }
        let long = spans.filter { $0.value >= 600 }
        #expect(!short.isEmpty && !long.isEmpty)

        let limited = try Self.advise(Self.cluster, ["--min-observation", "10m"])
        defer { Self.cleanUp(limited) }
        let files = try PolicyAdviseTests.files(limited.directory)
        #expect(Set(files.keys) == Set(long.keys))
        let allFiles = try PolicyAdviseTests.files(all.directory)
        for name in long.keys { #expect(files[name] == allFiles[name], "\(name)") }
        let skipped = limited.stdout.split(separator: "\n").filter { $0.hasPrefix("skipped ") && $0.contains("less than --min-observation 10m00s") }
        #expect(skipped.count == short.count)
        #expect(limited.stdout.contains("skipped data/payments: seen for 0.0 s, less than --min-observation 10m00s: too little traffic to lock it down\n"))
    }

    /// `7.4 s`, `5m26s`, `1h02m` in seconds.
    static func seconds(_ text: String) -> Double {
        if text.hasSuffix(" s") { return Double(text.dropLast(2)) ?? -1 }
        let parts = text.split(whereSeparator: { $0 == "m" || $0 == "h" || $0 == "s" }).compactMap { Double($0) }
        guard parts.count == 2 else { return -1 }
        return text.contains("h") ? parts[0] * 3600 + parts[1] * 60 : parts[0] * 60 + parts[1]
    }

    // MARK: Existing policies

    /// With existing policies: the connections they deny that the advice would allow are
    /// listed (a warning per group on standard error, a comment in the file that allows them);
    /// applying the advice next to the existing policies and replaying the same capture leaves
    /// every connection allowed but those the advisor says stay denied, as its own check says.
    /// (As NetworkPolicies, a direction that reaches nodes is not isolated, so adds nothing: more
    /// stays denied, and the advisor says so.)
    @Test(arguments: withPolicies, PolicyAdviseTests.formats)
    func applyingTheAdviceAllowsEverythingButWhatItSaysStaysDenied(existing: (Case, String), format: String) throws {
        let (testCase, policies) = existing
        let advised = try Self.advise(testCase, ["--min-observation", "0", "--policies", policies], format: format)
        defer { Self.cleanUp(advised) }
        let lines = advised.stdout.split(separator: "\n").map(String.init)
        let newly = try #require(lines.first { $0.hasPrefix("Would newly allow: ") })
        let newlyCount = try #require(Int(newly.dropFirst("Would newly allow: ".count).prefix { $0.isNumber }))
        #expect(newlyCount > 0, "\(advised.stdout)")
        let newlyGroups = lines.drop { !$0.hasPrefix("Would newly allow: ") }.dropFirst().prefix { $0.hasPrefix("  ") }
        #expect(!newlyGroups.isEmpty && newlyGroups.allSatisfy { $0.contains(": allowed by ") && $0.contains("-advised.yaml") })
        // A warning per group.
        let warnings = advised.stderr.split(separator: "\n").filter { $0.hasPrefix("flowmon: warning: the advice allows ") }
        #expect(warnings.count == newlyGroups.count)
        // And a comment in the files that allow them.
        let files = try PolicyAdviseTests.files(advised.directory)
        let warned = files.filter { $0.value.contains("\n# WARNING: allows ") }
        #expect(!warned.isEmpty)
        let commented = warned.values.reduce(0) { total, yaml in
            let line = yaml.split(separator: "\n").first { $0.hasPrefix("# WARNING: allows ") }!
            return total + Int(line.dropFirst("# WARNING: allows ".count).prefix { $0.isNumber })!
        }
        #expect(commented == newlyCount)

        let stay = try #require(lines.first { $0.hasPrefix("Stay denied: ") })
        let stayCount = try #require(Int(stay.dropFirst("Stay denied: ".count).prefix { $0.isNumber }))
        let denied = try #require(lines.first { $0.hasPrefix("Existing policies (--policies) deny ") })
        let deniedCount = try #require(Int(denied.dropFirst("Existing policies (--policies) deny ".count).prefix { $0.isNumber }))
        #expect(deniedCount == newlyCount + stayCount)
        #expect(lines.contains { $0.hasPrefix("Checked: with the existing and the advised policies, ") && $0.hasSuffix(", \(stayCount) denied.") })
        #expect(!advised.stderr.contains("the check finds"))

        // Applied: the existing policies and the advice, replayed over the same capture.
        let flows = try PolicyAdviseTests.replayFlows(testCase.capture, testCase.inventory, policies: advised.directory,
                                                      extra: ["--policies", policies])
        #expect(flows.count >= 120)
        let dropped = flows.filter { PolicyAdviseTests.verdict($0) != "FORWARDED" }
        #expect(dropped.count == stayCount, "\(dropped.count) not forwarded, the advisor said \(stayCount) stay denied")
        // Each one is in a group the advisor said stays denied (same destination port).
        let stayGroups = lines.drop { !$0.hasPrefix("Stay denied: ") }.dropFirst().prefix { $0.hasPrefix("  ") }
        for flow in dropped {
            let port = flow["dest_port"] as? Int ?? -1
            #expect(stayGroups.contains { $0.contains(" \(port) (") || $0.contains("type ") }, "\(flow)")
        }
        // Without the advice, the existing policies alone deny more.
        let before = try PolicyAdviseTests.replayFlows(testCase.capture, testCase.inventory, policies: URL(fileURLWithPath: policies))
        #expect(before.filter { PolicyAdviseTests.verdict($0) != "FORWARDED" }.count == deniedCount)
    }

    /// What stays denied says why: a deny rule (the demo's PCI workloads to world), or a
    /// workload the advice skips (the generated node's coredns, which answers only namespace default).
    @Test func whatStaysDeniedSaysWhy() throws {
        let demo = try Self.advise(Self.demo, ["--min-observation", "0", "--policies", Self.demoPolicies])
        defer { Self.cleanUp(demo) }
        #expect(demo.stdout.contains("  platform/redis -> 198.18.211.40 TCP 443 (1 connection, denied at egress): an egressDeny rule of the existing policies, which no allow overrides\n"))
        #expect(demo.stdout.contains("  shop/recommendations -> monitoring/prometheus-k8s TCP 9090 (1 connection, denied at egress): allowed by shop.recommendations-advised.yaml\n"))
        // A NetworkPolicy leaves recommendations' egress (it reaches a node) not isolated: it allows nothing there.
        let netpol = try Self.advise(Self.demo, ["--min-observation", "0", "--policies", Self.demoPolicies], format: "kubernetes")
        defer { Self.cleanUp(netpol) }
        #expect(netpol.stdout.contains("  shop/recommendations -> monitoring/prometheus-k8s TCP 9090 (1 connection, denied at egress): shop.recommendations-advised.yaml leaves egress not isolated (see its header), so it allows nothing there\n"))
        let cluster = try Self.advise(Self.cluster, ["--min-observation", "0", "--policies", Self.clusterPolicies])
        defer { Self.cleanUp(cluster) }
        #expect(cluster.stdout.contains(" -> kube-system/coredns via service kube-system/kube-dns UDP 53 ("))
        #expect(cluster.stdout.contains("denied at ingress): kube-system/coredns: system component (namespace kube-system): not advised without --include-system\n"))
    }

    // MARK: Peers

    /// "via service" only for the connections sent to the ClusterIP: recommendations reached
    /// prometheus-k8s three times through its service and once at the pod's own address.
    @Test func viaServiceOnlyForConnectionsToTheServiceAddress() throws {
        let advised = try Self.advise(Self.demo, ["--min-observation", "0", "--include-system"])
        defer { Self.cleanUp(advised) }
        let files = try PolicyAdviseTests.files(advised.directory)
        let recommendations = try #require(files["shop.recommendations-advised.yaml"])
        #expect(recommendations.contains("#   monitoring/prometheus-k8s via service monitoring/prometheus-k8s: TCP 9090 (3); direct to its pods: TCP 9090 (1)\n"))
        #expect(recommendations.contains("#   platform/redis via service platform/redis: TCP 6379 (1)\n"))
        let prometheus = try #require(files["monitoring.prometheus-k8s-advised.yaml"])
        #expect(prometheus.contains("#   shop/recommendations via service monitoring/prometheus-k8s: TCP 9090 (3); direct to its pods: TCP 9090 (1)\n"),
                "\(prometheus)")
    }

    @Test func badMinimum() throws {
        for value in ["ten", "10x", "", "-5m"] {
            let result = try run(Fixture.flowmonBinary, ["policy", "advise", Self.demo.capture.path, "--out", "/tmp/x",
                                                         "--min-observation", value] + Self.demo.inventory)
            #expect(result.status == 64 && result.stderr.contains("--min-observation"), "\(value): \(result.stderr)")
        }
    }
}
