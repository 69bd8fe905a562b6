import Foundation
import Testing
import TestSupport

/// The DaemonSet's flowmon arguments against the flowmon binary: every flag is one
/// `flowmon capture --help` lists, the metrics port is the one the pod exposes, probes and
/// scrapes, every `$(VAR)` is defined, and the ConfigMap's alert settings are accepted.
@Suite struct DeployFlowmonArgumentTests {
    /// The long options `flowmon capture --help` lists (`--summary/--no-summary` gives both).
    static func captureFlags() throws -> Set<String> {
        let help = try FlowmonTestSupport.run(FlowmonTestSupport.flowmonBinary, ["capture", "--help"])
        #expect(help.status == 0, "\(help.stderr)")
        var flags: Set<String> = []
        for line in help.stdout.split(separator: "\n") {
            // An option's first line: two spaces, then the option ("-i, --interface <name>").
            guard line.hasPrefix("  -") else { continue }
            let trimmed = line.dropFirst(2)
            let spec = trimmed.prefix { $0 != " " }
            for alternative in spec.split(separator: "/") where alternative.hasPrefix("--") { flags.insert(String(alternative)) }
            if let long = trimmed.range(of: ", --") {  // "-i, --interface <name>"
                flags.insert("--" + trimmed[long.upperBound...].prefix { $0 != " " })
            }
        }
        return flags
    }

    static func flowmonArgs() throws -> [String] {
        let container = try DeployManifests().container("flowmon")
        return try #require(container["args"] as? [String])
    }

    @Test func everyArgumentIsAFlagOfFlowmonCapture() throws {
        let flags = try Self.captureFlags()
        #expect(flags.contains("--interface") && flags.contains("--node-name") && flags.contains("--summary"), "\(flags.sorted())")
        for argument in try Self.flowmonArgs() {
            // One item per flag, `--flag=value`: a value never stands alone in the list.
            #expect(argument.hasPrefix("--"), "'\(argument)' is not a --flag")
            let flag = String(argument.prefix { $0 != "=" })
            #expect(flags.contains(flag), "\(flag) is not an option of `flowmon capture` (its --help lists \(flags.sorted()))")
        }
    }

    /// `$(NAME)` in args is expanded by the kubelet only when NAME is defined in the container's
    /// env; otherwise it is passed on literally.
    @Test func everyVariableReferenceIsDefined() throws {
        let container = try DeployManifests().container("flowmon")
        let defined = Set((container["env"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String })
        var used: Set<String> = []
        for argument in try Self.flowmonArgs() {
            var rest = Substring(argument)
            while let start = rest.range(of: "$(") {
                let name = rest[start.upperBound...].prefix { $0 != ")" }
                used.insert(String(name))
                rest = rest[start.upperBound...].dropFirst(name.count)
            }
        }
        #expect(used == ["NODE_NAME", "CLUSTER_NAME"], "\(used)")
        #expect(used.isSubset(of: defined), "used \(used.sorted()), defined \(defined.sorted())")
        let nodeName = (container["env"] as? [[String: Any]])?.first { $0["name"] as? String == "NODE_NAME" }
        let fieldPath = ((nodeName?["valueFrom"] as? [String: Any])?["fieldRef"] as? [String: Any])?["fieldPath"] as? String
        #expect(fieldPath == "spec.nodeName")
    }

    /// `--metrics-address HOST:PORT`: the container port named `metrics`, both probes and the
    /// Prometheus annotations use that port.
    @Test func theMetricsPortIsTheOneExposedProbedAndScraped() throws {
        let manifests = try DeployManifests()
        let container = try manifests.container("flowmon")
        let address = try #require(try Self.flowmonArgs().first { $0.hasPrefix("--metrics-address=") })
        let port = try #require(Int(address.split(separator: ":").last ?? ""), "\(address)")
        let ports = container["ports"] as? [[String: Any]] ?? []
        #expect(ports.count == 1 && ports[0]["name"] as? String == "metrics" && ports[0]["containerPort"] as? Int == port, "\(ports)")
        for probe in ["startupProbe", "livenessProbe", "readinessProbe"] {
            let get = try #require((container[probe] as? [String: Any])?["httpGet"] as? [String: Any], "\(probe)")
            #expect(get["path"] as? String == "/healthz", "\(probe)")
            #expect(get["port"] as? String == "metrics" || get["port"] as? Int == port, "\(probe): \(get)")
        }
        let template = try #require((manifests.one("DaemonSet").object["spec"] as? [String: Any])?["template"] as? [String: Any])
        let annotations = try #require((template["metadata"] as? [String: Any])?["annotations"] as? [String: Any])
        #expect(annotations["prometheus.io/scrape"] as? String == "true")
        #expect(annotations["prometheus.io/port"] as? String == String(port))
        #expect(annotations["prometheus.io/path"] as? String == "/metrics")
    }

    /// The inventory files are the sidecar's, in the directory both containers mount; the
    /// alert settings are the ConfigMap's file, mounted where --alerts-config reads it.
    @Test func theInventoryAndConfigurationPathsAreTheMountedOnes() throws {
        let manifests = try DeployManifests()
        let container = try manifests.container("flowmon")
        let directory = try #require(DeployManifests.environment(container, "FLOWMON_INVENTORY_DIR"))
        let args = try Self.flowmonArgs()
        func value(_ flag: String) -> String? { args.first { $0.hasPrefix(flag + "=") }.map { String($0.dropFirst(flag.count + 1)) } }
        for (flag, file) in [("--pods", "pods.json"), ("--services", "services.json"), ("--namespaces", "namespaces.json"),
                             ("--nodes", "nodes.json"), ("--policies", "policies")] {
            #expect(value(flag) == "\(directory)/\(file)", "\(flag)")
        }
        let mounts = container["volumeMounts"] as? [[String: Any]] ?? []
        let config = try #require(mounts.first { $0["name"] as? String == "config" }?["mountPath"] as? String)
        #expect(value("--alerts-config") == "\(config)/alerts.yaml")
        // The sidecar writes those names (target_of in inventory-sync.sh).
        let script = try String(contentsOf: DeployManifests.deploy.appendingPathComponent("inventory-sync.sh"), encoding: .utf8)
        #expect(script.contains("pods | services | namespaces | nodes) echo \"$dir/$1.json\""))
        #expect(script.contains("*) echo \"$dir/policies/$1.json\""))
    }

    /// The ConfigMap's alerts.yaml and cluster name are accepted by flowmon, and its thresholds
    /// raise the alerts the fixtures are made for.
    @Test func theConfigMapsSettingsAreAcceptedByFlowmon() throws {
        let manifests = try DeployManifests()
        let data = try #require(try manifests.one("ConfigMap").object["data"] as? [String: Any])
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-configmap")
        defer { try? FileManager.default.removeItem(at: directory) }
        let alerts = directory.appendingPathComponent("alerts.yaml")
        try #require(data["alerts.yaml"] as? String).write(to: alerts, atomically: true, encoding: .utf8)
        let clusterName = try #require(data["cluster-name"] as? String)
        let fixtures = FlowmonTestSupport.root.appendingPathComponent("Captures/alerts")
        for (capture, kind) in [("port-scan-vertical", "port_scan_vertical"), ("syn-flood", "syn_flood")] {
            let run = try FlowmonTestSupport.run(FlowmonTestSupport.flowmonBinary, [
                "replay", fixtures.appendingPathComponent("\(capture).pcap").path, "--cluster-name", clusterName,
                "--alerts-config", alerts.path, "--format", "json", "--type", "alert",
            ])
            #expect(run.status == 0, "\(capture): \(run.stderr)")
            #expect(run.stdout.contains("\"kind\":\"\(kind)\""), "\(capture): \(run.stdout.prefix(400))")
        }
    }
}
