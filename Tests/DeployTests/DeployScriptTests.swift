import Foundation
import Testing
import TestSupport

/// The image's two scripts outside a container, under /bin/sh, with stub environments: the
/// entrypoint (deploy/entrypoint.sh) and the inventory sidecar (deploy/inventory-sync.sh, with a
/// stub kubectl), and flowmon reading what the sidecar wrote.
@Suite(.serialized) struct DeployScriptTests {
    static let entrypoint = DeployManifests.deploy.appendingPathComponent("entrypoint.sh").path
    static let sidecar = DeployManifests.deploy.appendingPathComponent("inventory-sync.sh").path

    /// Runs `/bin/sh script arguments` with exactly `environment` (and PATH).
    static func sh(_ script: String, _ arguments: [String], _ environment: [String: String])
        throws -> (status: Int32, stdout: String, stderr: String) {
        let env = ["PATH=/usr/local/bin:/usr/bin:/bin"] + environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return try FlowmonTestSupport.run(URL(fileURLWithPath: "/usr/bin/env"), ["-i"] + env + ["/bin/sh", script] + arguments)
    }

    /// A stub `flowmon` that prints its arguments and exits 7.
    static func stubFlowmon(in directory: URL) throws -> String {
        let stub = directory.appendingPathComponent("flowmon-stub")
        try "#!/bin/sh\nprintf '%s\\n' \"$@\"\nexit 7\n".write(to: stub, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        return stub.path
    }

    // MARK: - The entrypoint

    @Test func theEntrypointRefusesAMissingOrMalformedEnvironment() throws {
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-entrypoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stub = try Self.stubFlowmon(in: directory)
        let inventory = directory.path
        let cases: [([String: String], Int32, String)] = [
            ([:], 64, "NODE_NAME is not set"),
            (["NODE_NAME": "Node_1"], 64, "NODE_NAME 'Node_1' is not a Kubernetes node name"),
            (["NODE_NAME": "node-1", "FLOWMON_INVENTORY_DIR": inventory + "/absent"], 64, "inventory directory \(inventory)/absent does not exist"),
            (["NODE_NAME": "node-1", "FLOWMON_INVENTORY_DIR": inventory, "FLOWMON_INVENTORY_TIMEOUT": "5s"], 64,
             "FLOWMON_INVENTORY_TIMEOUT '5s' is not a whole number of seconds"),
        ]
        for (environment, status, message) in cases {
            let run = try Self.sh(Self.entrypoint, ["--interface=any"], environment.merging(["FLOWMON_BIN": stub]) { a, _ in a })
            #expect(run.status == status, "\(environment): \(run.stderr)")
            #expect(run.stderr.contains("flowmon-entrypoint: error: \(message)"), "\(environment): \(run.stderr)")
            #expect(run.stdout.isEmpty, "flowmon ran: \(run.stdout)")
        }
    }

    @Test func theEntrypointWaitsForTheFirstInventoryWithATimeout() throws {
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-entrypoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let stub = try Self.stubFlowmon(in: directory)
        let environment = ["NODE_NAME": "node-1", "FLOWMON_INVENTORY_DIR": directory.path, "FLOWMON_BIN": stub]

        // Nothing arrives: status 69 after the timeout, flowmon never started.
        let started = Date()
        let late = try Self.sh(Self.entrypoint, [], environment.merging(["FLOWMON_INVENTORY_TIMEOUT": "2"]) { a, _ in a })
        #expect(late.status == 69, "\(late.stderr)")
        #expect(late.stderr.contains("no inventory in \(directory.path) after 2s"), "\(late.stderr)")
        #expect(Date().timeIntervalSince(started) >= 2)
        #expect(late.stdout.isEmpty)

        // The sidecar's marker appears while it waits: flowmon starts with `capture` and the
        // arguments unchanged, and its exit status is the container's (exec).
        let marker = directory.appendingPathComponent(".synced")
        DispatchQueue.global().asyncAfter(deadline: .now() + 1.5) { _ = FileManager.default.createFile(atPath: marker.path, contents: nil) }
        let run = try Self.sh(Self.entrypoint, ["--node-name=$(NODE_NAME)", "--pods=/x y/pods.json"],
                              environment.merging(["FLOWMON_INVENTORY_TIMEOUT": "30"]) { a, _ in a })
        #expect(run.status == 7, "\(run.stderr)")
        #expect(run.stdout == "capture\n--node-name=$(NODE_NAME)\n--pods=/x y/pods.json\n")
        #expect(run.stderr.contains("waiting up to 30s for the first inventory"), "\(run.stderr)")
    }

    /// With the real flowmon: the entrypoint execs `flowmon capture`.
    @Test func theEntrypointRunsFlowmonCapture() throws {
        let directory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-entrypoint")
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try Self.sh(Self.entrypoint, ["--help"], [
            "NODE_NAME": "node-1", "FLOWMON_INVENTORY_DIR": directory.path, "FLOWMON_INVENTORY_TIMEOUT": "0",
            "FLOWMON_BIN": FlowmonTestSupport.flowmonBinary.path,
        ])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("USAGE: flowmon capture <options>"), "\(run.stdout.prefix(300))")
    }

    // MARK: - The sidecar

    /// A stub kubectl: `get RESOURCE ...` prints `$STUB/RESOURCE.json`, or, when
    /// `$STUB/RESOURCE.err` exists, prints it on standard error and fails; every call is logged
    /// to `$STUB/calls`; `--watch-only` prints one line per `$STUB/RESOURCE.json` change.
    static func stubKubectl(in directory: URL) throws -> String {
        let stub = directory.appendingPathComponent("kubectl")
        try """
            #!/bin/sh
            stub=$(dirname "$0")
            printf '%s\\n' "$*" >>"$stub/calls"
            resource=$2
            case " $* " in
                *" --watch-only "*)
                    last=
                    while :; do
                        now=$(cksum <"$stub/$resource.json" 2>/dev/null)
                        [ -n "$last" ] && [ "$now" != "$last" ] && echo "$resource/changed"
                        last=$now
                        sleep 0.2
                    done ;;
            esac
            if [ -e "$stub/$resource.err" ]; then cat "$stub/$resource.err" >&2; exit 1; fi
            cat "$stub/$resource.json"
            """.write(to: stub, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: stub.path)
        let demo = FlowmonTestSupport.root.appendingPathComponent("Captures/demo")
        func put(_ resource: String, _ text: String) throws {
            try text.write(to: directory.appendingPathComponent("\(resource).json"), atomically: true, encoding: .utf8)
        }
        try put("pods", String(contentsOf: demo.appendingPathComponent("demo-cluster.pods.json"), encoding: .utf8))
        try put("services,endpointslices.discovery.k8s.io",
                String(contentsOf: demo.appendingPathComponent("demo-cluster.services.json"), encoding: .utf8))
        try put("namespaces", #"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop","labels":{"kubernetes.io/metadata.name":"shop","tier":"front"}}}]}"#)
        try put("nodes", #"{"apiVersion":"v1","kind":"List","items":[]}"#)
        try put("networkpolicies.networking.k8s.io", """
            {"apiVersion":"v1","kind":"List","items":[{"apiVersion":"networking.k8s.io/v1","kind":"NetworkPolicy",
             "metadata":{"name":"deny-all-ingress","namespace":"shop"},"spec":{"podSelector":{},"policyTypes":["Ingress"]}}]}
            """)
        for crd in ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"] {
            try "error: the server doesn't have a resource type \"\(crd)\"\n"
                .write(to: directory.appendingPathComponent("\(crd).cilium.io.err"), atomically: true, encoding: .utf8)
        }
        return stub.path
    }

    /// The processes whose command line contains `text` (from /proc).
    static func processes(running text: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), let commandLine = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline"),
                  String(decoding: commandLine, as: UTF8.self).contains(text) else { return nil }
            return pid
        }
    }

    static func read(_ url: URL) -> String? { try? String(contentsOf: url, encoding: .utf8) }
    static func inode(_ url: URL) -> Int? { (try? FileManager.default.attributesOfItem(atPath: url.path))?[.systemFileNumber] as? Int }

    @Test func theSidecarWritesEveryInventoryFileFlowmonReads() throws {
        let stubDirectory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-kubectl")
        let inventory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-inventory")
        defer {
            try? FileManager.default.removeItem(at: stubDirectory)
            try? FileManager.default.removeItem(at: inventory)
        }
        let kubectl = try Self.stubKubectl(in: stubDirectory)
        let environment = ["FLOWMON_INVENTORY_DIR": inventory.path, "KUBECTL": kubectl, "FLOWMON_SYNC_ONCE": "1"]
        let run = try Self.sh(Self.sidecar, [], environment)
        #expect(run.status == 0, "\(run.stderr)")
        let pods = inventory.appendingPathComponent("pods.json")
        #expect(Self.read(pods) == Self.read(stubDirectory.appendingPathComponent("pods.json")))
        #expect(Self.read(inventory.appendingPathComponent("policies/ciliumnetworkpolicies.json"))
            == "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[]}\n")
        #expect(FileManager.default.fileExists(atPath: inventory.appendingPathComponent(".synced").path))
        // Nothing half-written is left where flowmon reads.
        #expect(try FileManager.default.contentsOfDirectory(atPath: inventory.appendingPathComponent(".staging").path).isEmpty)
        #expect(try Set(FileManager.default.contentsOfDirectory(atPath: inventory.appendingPathComponent("policies").path))
            == ["ciliumnetworkpolicies.json", "ciliumclusterwidenetworkpolicies.json", "networkpolicies.json"])
        let calls = Self.read(stubDirectory.appendingPathComponent("calls")) ?? ""
        #expect(calls.contains("get pods -o json --request-timeout=60s -A --field-selector=status.phase!=Succeeded,status.phase!=Failed\n"), "\(calls)")
        #expect(calls.contains("get nodes -o json --request-timeout=60s\n")
            && calls.contains("get ciliumclusterwidenetworkpolicies.cilium.io -o json --request-timeout=60s\n"), "\(calls)")

        // flowmon reads the files as the DaemonSet passes them: the demo replays with the
        // NetworkPolicy the sidecar wrote (a would-be drop into shop) and the namespace labels.
        let demo = FlowmonTestSupport.root.appendingPathComponent("Captures/demo/demo-cluster.pcap")
        let replay = try FlowmonTestSupport.run(FlowmonTestSupport.flowmonBinary, [
            "replay", demo.path, "--node-name", "kind-worker-0", "--format", "json", "--type", "flow",
            "--pods", pods.path, "--services", inventory.appendingPathComponent("services.json").path,
            "--namespaces", inventory.appendingPathComponent("namespaces.json").path,
            "--nodes", inventory.appendingPathComponent("nodes.json").path,
            "--policies", inventory.appendingPathComponent("policies").path,
        ])
        #expect(replay.status == 0, "\(replay.stderr)")
        #expect(replay.stdout.contains("deny-all-ingress") || replay.stdout.contains("\"verdict\":\"AUDIT\""), "\(replay.stdout.prefix(600))")

        // Unchanged content is not rewritten (no reload); changed content is renamed into place;
        // a failing kubectl keeps the previous file and fails the sync.
        let before = Self.inode(pods)
        #expect(try Self.sh(Self.sidecar, [], environment).status == 0)
        #expect(Self.inode(pods) == before, "an unchanged pods.json was replaced")
        let namespaces = inventory.appendingPathComponent("namespaces.json")
        try #"{"apiVersion":"v1","kind":"List","items":[]}"#.write(to: stubDirectory.appendingPathComponent("namespaces.json"), atomically: true, encoding: .utf8)
        try "error: You must be logged in to the server (Unauthorized)\n"
            .write(to: stubDirectory.appendingPathComponent("pods.err"), atomically: true, encoding: .utf8)
        let failed = try Self.sh(Self.sidecar, [], environment)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("kubectl get pods -o json --request-timeout=60s -A --field-selector=status.phase!=Succeeded,status.phase!=Failed: error: You must be logged in to the server (Unauthorized) (keeping the previous \(pods.path))"), "\(failed.stderr)")
        #expect(Self.read(pods) == Self.read(stubDirectory.appendingPathComponent("pods.json")))
        #expect(Self.read(namespaces) == #"{"apiVersion":"v1","kind":"List","items":[]}"#)
    }

    /// Running: a change a watch reports is written within the minimum interval; SIGTERM ends
    /// the sidecar and its watchers.
    @Test(.timeLimit(.minutes(2))) func theSidecarFollowsChangesAndStopsOnSIGTERM() throws {
        let stubDirectory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-kubectl")
        let inventory = try FlowmonTestSupport.temporaryDirectory(prefix: "deploy-inventory")
        defer {
            try? FileManager.default.removeItem(at: stubDirectory)
            try? FileManager.default.removeItem(at: inventory)
        }
        let kubectl = try Self.stubKubectl(in: stubDirectory)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [Self.sidecar]
        process.environment = ["PATH": "/usr/bin:/bin", "FLOWMON_INVENTORY_DIR": inventory.path, "KUBECTL": kubectl,
                               "FLOWMON_SYNC_MIN_INTERVAL": "1", "FLOWMON_SYNC_INTERVAL": "3600"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { process.terminate() }
            for pid in Self.processes(running: kubectl) { kill(pid, SIGKILL) }  // even when the test failed
        }
        func waitFor(_ condition: () -> Bool) -> Bool {
            for _ in 0..<300 where !condition() { Thread.sleep(forTimeInterval: 0.1) }
            return condition()
        }
        let synced = inventory.appendingPathComponent(".synced")
        #expect(waitFor { FileManager.default.fileExists(atPath: synced.path) })
        Thread.sleep(forTimeInterval: 0.5)  // the watchers have taken their first look
        let changed = #"{"apiVersion":"v1","kind":"List","items":[]}"#
        try changed.write(to: stubDirectory.appendingPathComponent("pods.json"), atomically: true, encoding: .utf8)
        #expect(waitFor { Self.read(inventory.appendingPathComponent("pods.json")) == changed }, "the pods change was not followed")
        process.terminate()
        #expect(waitFor { !process.isRunning }, "the sidecar outlived SIGTERM")
        // Its watchers (stub kubectl loops) are gone too: no process still reads the stub.
        Thread.sleep(forTimeInterval: 0.5)
        let survivors = Self.processes(running: kubectl)
        #expect(survivors.isEmpty, "stub kubectl processes left running: \(survivors)")
    }
}
