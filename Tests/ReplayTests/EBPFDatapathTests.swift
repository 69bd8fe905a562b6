import Foundation
import Testing

/// The eBPF datapath (`flowmon capture --datapath ebpf`) through the real binary, in nodes built
/// by `scripts/netns-lab`: on the same traffic it finds the same connections as libpcap, with
/// every pod's packets and bytes as the pod itself counted them (`scripts/pod-truth`); it
/// follows pods' interfaces as they come and go; a killed run's clsact filters are removed by
/// the next start; ring-buffer loss is counted exactly; missing privileges are named; the
/// capture filter runs in user space. Needs root, iproute2, tc, python3 and ping; when CI=true
/// it must run, not skip. Traffic stays in the test's own namespaces.
@Suite(.serialized)
struct EBPFDatapathTests {
    /// One way of reading packets, run side by side with the others on the same traffic: its
    /// arguments, and the datapath its stats name (which fixes the link header it counts:
    /// `NetnsTopologyTests.checkFlowmon`).
    struct Datapath: CustomTestStringConvertible, Sendable {
        var name: String
        var arguments: [String]
        /// The capture's own `stats.capture.datapath`.
        var statsName: String

        var testDescription: String { self.name }
    }

    /// Every datapath the equivalence test runs at once (a new eBPF mode is one more row).
    static let datapaths = [
        Datapath(name: "ebpf", arguments: ["--datapath", "ebpf"], statsName: "ebpf"),
        Datapath(name: "pcap", arguments: ["--datapath", "pcap"], statsName: "pcap"),
    ]

    /// Who may talk to pod b (app b, Kubernetes namespace `lab`, as netns-lab writes pods.json):
    /// pod a on TCP 8080 and UDP 5353. Pod c's connection to b:8080 is denied (AUDIT).
    static let policy = """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata:
          name: b-from-a
          namespace: lab
        spec:
          endpointSelector:
            matchLabels:
              app: b
          ingress:
            - fromEndpoints:
                - matchLabels:
                    app: a
              toPorts:
                - ports:
                    - port: "8080"
                      protocol: TCP
                    - port: "5353"
                      protocol: UDP
        """

    // MARK: 1, 2. The same connections and counts as the pods, as libpcap; pods added and deleted

    /// Every datapath captures the same traffic at the same time (tcx links stack; libpcap reads
    /// `any` beside them) with the pods and the policy: each counts every connection of a local
    /// pod exactly as the pods do (eBPF: their Ethernet frames; libpcap: +6 bytes a packet), and
    /// all give each connection the same identities and verdict. A pod added mid-run is
    /// followed ("now observing"; its connection is first seen at its own interface), and
    /// deleting it breaks nothing: the traffic after it is counted too.
    @Test(arguments: ["bridge", "routed", "overlay"])
    func everyDatapathCountsWhatThePodsSentWithTheSameVerdicts(topology: String) throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: topology)
        defer { lab.down() }
        try lab.up(out: directory)
        // flowmon's own copy of the inventory: the lab rewrites its pods.json when a pod is added,
        // and a reload at a different moment in each capture would make their identities differ.
        let inventory = directory.appendingPathComponent("inventory")
        try FileManager.default.createDirectory(at: inventory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: directory.appendingPathComponent("pods.json"),
                                         to: inventory.appendingPathComponent("pods.json"))
        let policy = inventory.appendingPathComponent("policy.yaml")
        try Self.policy.write(to: policy, atomically: true, encoding: .utf8)

        let runs = try Self.datapaths.map { datapath in
            let output = directory.appendingPathComponent("flows-\(datapath.name).jsonl")
            let process = try Self.capture(in: "\(lab.name)-node", datapath.arguments + [
                "--pods", inventory.appendingPathComponent("pods.json").path, "--policies", policy.path,
                "--node-name", "\(lab.name)-node", "--output", output.path, "--stats-interval", "1",
                "--timeout-new", "120", "--timeout-established", "120"])
            return (datapath: datapath, output: output, process: process)
        }
        defer { runs.forEach { $0.process.process.stop() } }
        for run in runs {
            #expect(run.process.wait(seconds: 60) { run.process.stderrSoFar.contains("flowmon: capturing on") },
                    "\(run.datapath.name): \(run.process.stderrSoFar)")
        }
        let ebpf = try #require(runs.first { $0.datapath.name == "ebpf" })
        #expect(ebpf.process.stderrSoFar.contains("datapath: eBPF (tcx links, ring buffer 8192 KiB, snaplen 192)"),
                "\(ebpf.process.stderrSoFar)")

        let truths = try lab.pods.map { try lab.startTruth(in: $0, directory: directory) }
        defer { truths.forEach { $0.process.stop() } }
        _ = try lab.traffic()

        // A pod added to the running node (default scope: the pods' interfaces, followed).
        func following(_ count: Int) -> Bool {
            runs.allSatisfy { run in
                run.process.wait(seconds: 20) { run.process.stderrSoFar.components(separatedBy: "now observing").count > count }
            }
        }
        let added = try lab.script(["add-pod", lab.name, "d", "--out", directory.path])
        let addedInterface = try #require(added.split(separator: " ").last.map { String($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        #expect(following(1), "every capture follows the new pod's \(addedInterface): \(runs.map(\.process.stderrSoFar))")
        let addedPod = NetnsLab.Pod(name: "pod-d", namespace: "\(lab.name)-pod-d", ip: lab.podIP("d"),
                                    nodeSideInterface: addedInterface, isRemote: false)
        let addedTruth = try lab.startTruth(in: addedPod, directory: directory)
        defer { addedTruth.process.stop() }
        let ping = try lab.script(["exec", lab.name, "pod-d", "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", lab.podIP("b")])
        #expect(ping.contains("3 received"), "\(ping)")
        Thread.sleep(forTimeInterval: 0.3)  // the last reply reaches pod-d's eth0
        let addedCounted = try addedTruth.finish()
        _ = try lab.script(["del-pod", lab.name, "d", "--out", directory.path])
        #expect(following(2), "every capture notes the deleted pod: \(runs.map(\.process.stderrSoFar))")
        // Nothing broke: a ping after the deletion is counted as well.
        let after = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-c", "2", "-i", "0.2", "-W", "2", lab.podIP("b")])
        #expect(after.contains("2 received"), "\(after)")
        Thread.sleep(forTimeInterval: 0.3)

        let counted = try truths.map { try $0.finish() } + [addedCounted]
        for truth in counted {
            #expect(truth.socketDrops == 0, "\(truth.pod): the kernel dropped frames before pod-truth read them")
        }
        let merged = NetnsTopologyHarness.mergedPodTruth(counted)
        #expect(merged.disagreements.isEmpty, "both ends of a connection count the same: \(merged.disagreements)")
        let localPods = Set(lab.pods.filter { !$0.isRemote }.map(\.ip) + [lab.podIP("d")])

        for run in runs {
            #expect(run.process.wait(seconds: 30) { Self.settled(run.output) }, "\(run.datapath.name): the stats settle")
            kill(run.process.pid, SIGINT)
        }
        var identities: [String: [String: [String]]] = [:]
        for run in runs {
            let finished = run.process.finish()
            #expect(finished.status == 0, "\(run.datapath.name): \(finished.stderr)")
            try NetnsTopologyTests.checkFlowmon(run.output, against: merged, localPods: localPods,
                                                topology: "\(topology) \(run.datapath.name)", datapath: run.datapath.statsName)
            let lines = try Self.lines(run.output)
            let validation = try validateAgainstSchemas(lines)
            #expect(validation.status == 0, "\(run.datapath.name): \(validation.report)")
            let stats = try #require(Self.lastStats(lines))
            let capture = stats["capture"] as? [String: Any] ?? [:]
            #expect(capture["datapath"] as? String == run.datapath.statsName, "\(capture)")
            #expect(capture["kernel_dropped"] as? Int == 0 && capture["ring_dropped"] as? Int == 0, "\(capture)")
            #expect(!lines.contains { $0.contains("\"event_type\":\"lost\"") })
            let flows = Self.flows(lines)
            // The added pod's connection was first seen at its own interface.
            let fromAdded = flows.first { $0["src_ip"] as? String == lab.podIP("d") && $0["proto"] as? String == "ICMP" }
            #expect(fromAdded?["in_iface"] as? String == addedInterface, "\(run.datapath.name): \(fromAdded ?? [:])")
            identities[run.datapath.name] = Self.identities(flows, localPods: localPods)
        }
        // The policy decided the same way whatever read the packets.
        let reference = identities[Self.datapaths[0].name] ?? [:]
        #expect(reference["TCP \(lab.podIP("a")) > \(lab.podIP("b")):8080"] == Array(repeating: "a>b FORWARDED", count: 3),
                "\(reference)")
        #expect(reference["TCP \(lab.podIP("c")) > \(lab.podIP("b")):8080"] == ["c>b AUDIT"], "\(reference)")
        for datapath in Self.datapaths.dropFirst() {
            let other = identities[datapath.name] ?? [:]
            for key in Set(reference.keys).union(other.keys).sorted() where reference[key] != other[key] {
                Issue.record("\(topology): \(key): \(Self.datapaths[0].name) \(reference[key] ?? []), \(datapath.name) \(other[key] ?? [])")
            }
        }
    }

    // MARK: 3. A killed run's leftovers

    /// `--ebpf-attach tc` killed with SIGKILL leaves its clsact filters; the next start removes
    /// them and says so, and a clean exit leaves no flowmon filter anywhere; a running capture's
    /// filters are neither removed nor replaced by a second one. tcx links end with the process,
    /// however it ends.
    @Test func aKilledRunsFiltersAreRemovedByTheNextStart() throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let node = "\(lab.name)-node"
        let veths = lab.pods.map(\.nodeSideInterface)

        let killed = try Self.capture(in: node, ["--datapath", "ebpf", "--ebpf-attach", "tc", "--output", "/dev/null"])
        defer { killed.process.stop() }
        #expect(killed.wait(seconds: 60) { killed.stderrSoFar.contains("flowmon: capturing on") }, "\(killed.stderrSoFar)")
        #expect(killed.stderrSoFar.contains("datapath: eBPF (clsact filters"), "\(killed.stderrSoFar)")
        kill(killed.pid, SIGKILL)
        _ = killed.finish()
        for veth in veths {
            let ingress = try Self.filters(node, veth, "ingress"), egress = try Self.filters(node, veth, "egress")
            #expect(ingress.contains("handle 0x464d flowmon_ingress") && ingress.contains("pref 1"), "\(veth): \(ingress)")
            #expect(egress.contains("handle 0x464d flowmon_egress") && egress.contains("pref 1"), "\(veth): \(egress)")
        }

        // The next start (tcx, the default here) removes them, and captures.
        let output = directory.appendingPathComponent("flows.jsonl")
        let next = try Self.capture(in: node, ["--datapath", "ebpf", "--output", output.path, "--stats-interval", "1"])
        defer { next.process.stop() }
        #expect(next.wait(seconds: 60) { next.stderrSoFar.contains("flowmon: capturing on") }, "\(next.stderrSoFar)")
        let removal = next.stderrSoFar.split(separator: "\n").first { $0.contains("removed the eBPF filters an earlier flowmon left on ") }
        #expect(removal.map { line in veths.allSatisfy { line.contains($0) } } == true, "\(next.stderrSoFar)")
        #expect(try Self.flowmonFilters(node).isEmpty)
        let ping = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-c", "2", "-i", "0.2", lab.podIP("b")])
        #expect(ping.contains("2 received"), "\(ping)")
        _ = next.wait(seconds: 5) { Self.settled(output) }
        kill(next.pid, SIGINT)
        let finished = next.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        #expect(try Self.lines(output).contains { $0.contains("\"proto\":\"ICMP\"") }, "the ping was captured")

        // A running tc capture's filters are not leftovers: a second tc run refuses to replace
        // them (auto: libpcap) and the first goes on capturing. A clean exit leaves nothing.
        let cleanOutput = directory.appendingPathComponent("clean.jsonl")
        let clean = try Self.capture(in: node, ["--datapath", "ebpf", "--ebpf-attach", "tc", "--output", cleanOutput.path])
        defer { clean.process.stop() }
        #expect(clean.wait(seconds: 60) { clean.stderrSoFar.contains("flowmon: capturing on") }, "\(clean.stderrSoFar)")
        #expect(!clean.stderrSoFar.contains("removed the eBPF filters"), "\(clean.stderrSoFar)")
        let attachedFilters = try Self.flowmonFilters(node)
        #expect(attachedFilters.count == 2 * veths.count, "attached as clsact filters: \(attachedFilters)")
        let refusal = "is captured by another flowmon (process \(clean.pid)) with clsact filters"
        let second = try Self.runCapture(in: node, prefix: [], ["--datapath", "ebpf", "--ebpf-attach", "tc", "--duration", "1"])
        #expect(second.status != 0 && second.stderr.contains(refusal), "\(second.stderr)")
        #expect(!second.stderr.contains("removed the eBPF filters"), "\(second.stderr)")
        let fallback = try Self.runCapture(in: node, prefix: [], ["--datapath", "auto", "--ebpf-attach", "tc", "--duration", "1"])
        #expect(fallback.status == 0 && fallback.stderr.contains("datapath: libpcap (eBPF not available: "), "\(fallback.stderr)")
        #expect(try Self.flowmonFilters(node) == attachedFilters)
        let stillCaptured = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-c", "2", "-i", "0.2", lab.podIP("c")])
        #expect(stillCaptured.contains("2 received"), "\(stillCaptured)")
        Thread.sleep(forTimeInterval: 0.3)
        kill(clean.pid, SIGINT)
        #expect(clean.finish().status == 0)
        #expect(try Self.flowmonFilters(node).isEmpty)
        let echo = Self.flows(try Self.lines(cleanOutput)).first { $0["dest_ip"] as? String == lab.podIP("c") }
        #expect((echo?["flow"] as? [String: Any])?["pkts_toserver"] as? Int == 2, "the first capture went on: \(echo ?? [:])")

        // tcx: the links go with the process.
        let tcx = try Self.capture(in: node, ["--datapath", "ebpf", "--ebpf-attach", "tcx", "--output", "/dev/null"])
        defer { tcx.process.stop() }
        #expect(tcx.wait(seconds: 60) { tcx.stderrSoFar.contains("flowmon: capturing on") }, "\(tcx.stderrSoFar)")
        #expect(tcx.stderrSoFar.contains("datapath: eBPF (tcx links"), "\(tcx.stderrSoFar)")
        // bpftool 7.1 does not list tcx links by interface; the process's descriptors name them.
        let links = Self.tcxLinks(of: tcx.pid)
        #expect(links.count == 2 * veths.count, "an ingress and an egress link on each pod's veth: \(links)")
        kill(tcx.pid, SIGKILL)
        _ = tcx.finish()
        func remaining() throws -> [String] {
            let listed = try run(URL(fileURLWithPath: "/usr/sbin/bpftool"), ["link", "show"]).stdout.split(separator: "\n")
            return listed.filter { line in links.contains { line.hasPrefix("\($0.link): ") } }.map(String.init)
                + links.filter { (try? run(URL(fileURLWithPath: "/usr/sbin/bpftool"), ["prog", "show", "id", "\($0.program)"]))?.status == 0 }
                    .map { "program \($0.program)" }
        }
        let deadline = Date().addingTimeInterval(10)
        while try !remaining().isEmpty && Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        #expect(try remaining().isEmpty, "the killed run's tcx links and programs are gone")
        #expect(try Self.flowmonFilters(node).isEmpty)
    }

    // MARK: 4. Ring-buffer loss, accounted exactly

    /// The smallest ring (4K) and a burst at full speed: records that found the ring full are
    /// reported as `lost` (source ebpf_ringbuf), and what the interface carried equals what
    /// flowmon counted plus what it lost, exactly.
    @Test func ringBufferLossIsCountedExactly() throws {
        guard Self.canRun() else { return }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tcpreplay") else {
            #expect(!NetnsTopologyHarness.mustRun, "tcpreplay is installed by .ci/run")
            print("notice: EBPFDatapathTests ring-buffer loss skipped: needs tcpreplay")
            return
        }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let node = "\(lab.name)-node"
        let output = directory.appendingPathComponent("flows.jsonl")
        // One interface: every frame pod-a sends crosses it once (received), as does every frame
        // sent to pod-a (sent); the programs see both.
        let flowmon = try Self.capture(in: node, ["--datapath", "ebpf", "--interface", "veth-a", "--ebpf-ring-size", "4K",
                                                  "--output", output.path, "--stats-interval", "1"])
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        #expect(flowmon.stderrSoFar.contains("ring buffer 4 KiB"), "\(flowmon.stderrSoFar)")
        // One named interface is named as libpcap's capture names it.
        #expect(flowmon.stderrSoFar.contains("flowmon: capturing on veth-a with eBPF ("), "\(flowmon.stderrSoFar)")

        func counter(_ name: String) throws -> Int {
            let text = try lab.script(["exec", lab.name, "node", "cat", "/sys/class/net/veth-a/statistics/\(name)"])
            return try #require(Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), "\(name): \(text)")
        }
        // TC egress runs before the veth hands the frame to its peer, which may drop it (tx_dropped).
        func crossed() throws -> Int { try counter("rx_packets") + counter("tx_packets") + counter("tx_dropped") }
        let before = try crossed()
        let statsBefore = Self.captureStats(output).count
        let burst = Fixture.captures.appendingPathComponent("demo/demo-cluster.pcap").path
        let replay = try lab.script(["exec", lab.name, "pod-a", "tcpreplay", "--topspeed", "--loop", "20", "-i", "eth0", burst])
        #expect(replay.contains("Successful packets:"), "\(replay)")
        // Stop once flowmon has read everything the ring holds (the stats stop changing after
        // the burst). The `lost` records must add up either way: the end of the run reports
        // the drops no stats interval reported.
        #expect(flowmon.wait(seconds: 60) { Self.settled(output, after: statsBefore) }, "the stats settle")
        let sent = try crossed() - before
        let lines = try Self.stop(flowmon, output).lines
        let capture = try #require(Self.lastStats(lines)?["capture"] as? [String: Any])
        let counted = capture["packets"] as? Int ?? -1, lost = capture["kernel_dropped"] as? Int ?? -1
        #expect(capture["datapath"] as? String == "ebpf")
        #expect(sent >= 30_000, "the burst crossed veth-a: \(sent)")
        #expect(lost > 0, "a 4K ring cannot hold a burst at full speed: \(capture)")
        #expect(counted + lost == sent, "counted \(counted) + lost \(lost) must be the \(sent) frames veth-a carried: \(capture)")
        let losses = lines.compactMap { line -> [String: Any]? in
            guard let record = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  record["event_type"] as? String == "lost" else { return nil }
            return record["lost"] as? [String: Any]
        }
        #expect(!losses.isEmpty && losses.allSatisfy { $0["source"] as? String == "ebpf_ringbuf" }, "\(losses)")
        #expect(losses.reduce(0) { $0 + ($1["num_events_lost"] as? Int ?? 0) } == lost, "\(losses)")
        #expect(losses.last?["total"] as? Int == lost, "\(losses)")
    }

    /// What the ring still holds when the capture is stopped is read before the final stats:
    /// flowmon is stopped (SIGSTOP) while a flood ping's records fill the ring, then asked to
    /// end (SIGINT) as it resumes. Every frame veth-a carried is counted, none lost.
    @Test func recordsLeftInTheRingAtTheEndAreRead() throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try Self.capture(in: "\(lab.name)-node", ["--datapath", "ebpf", "--interface", "veth-a",
                                                              "--output", output.path])
        defer {
            kill(flowmon.pid, SIGCONT)
            flowmon.process.stop()
        }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        func crossed() throws -> Int {
            try ["rx_packets", "tx_packets", "tx_dropped"].reduce(0) { sum, counter in
                let text = try lab.script(["exec", lab.name, "node", "cat", "/sys/class/net/veth-a/statistics/\(counter)"])
                return sum + (Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1_000_000)
            }
        }
        let before = try crossed()
        kill(flowmon.pid, SIGSTOP)
        let ping = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-f", "-c", "2000", lab.podIP("b")])
        #expect(ping.contains("2000 received"), "\(ping)")
        let sent = try crossed() - before
        kill(flowmon.pid, SIGINT)
        kill(flowmon.pid, SIGCONT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")

        let lines = try Self.lines(output)
        let capture = try #require(Self.lastStats(lines)?["capture"] as? [String: Any])
        #expect(capture["packets"] as? Int == sent && capture["kernel_dropped"] as? Int == 0, "veth-a carried \(sent): \(capture)")
        let echo = Self.flows(lines).first { $0["proto"] as? String == "ICMP" && $0["src_ip"] as? String == lab.podIP("a") }
        let counts = (echo?["flow"] as? [String: Any]).map { [$0["pkts_toserver"] as? Int, $0["pkts_toclient"] as? Int] }
        #expect(counts == [2000, 2000], "\(echo ?? [:])")
    }

    // MARK: 5. Privileges

    /// Without capabilities, `--datapath ebpf` names exactly what is missing and exits
    /// non-zero, and `auto` falls back to libpcap with a one-line notice; with CAP_NET_ADMIN
    /// and CAP_NET_RAW only, CAP_BPF alone is missing, and `auto` captures with libpcap.
    @Test func missingCapabilitiesAreNamedAndAutoFallsBack() throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let node = "\(lab.name)-node"
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        let none = nobody + ["--inh-caps=-all"]
        let netOnly = nobody + ["--inh-caps=-all,+net_admin,+net_raw", "--ambient-caps=-all,+net_admin,+net_raw"]

        let bare = try Self.runCapture(in: node, prefix: none, ["--datapath", "ebpf", "--duration", "1"])
        #expect(bare.status != 0)
        #expect(bare.stderr.contains("the eBPF datapath needs CAP_BPF and CAP_NET_ADMIN, which flowmon does not have (run it as root"),
                "\(bare.stderr)")
        let bareAuto = try Self.runCapture(in: node, prefix: none, ["--datapath", "auto", "--duration", "1"])
        let notices = bareAuto.stderr.split(separator: "\n").filter { $0.contains("datapath: libpcap (eBPF not available: ") }
        #expect(notices.count == 1 && notices[0].contains("needs CAP_BPF and CAP_NET_ADMIN"), "\(bareAuto.stderr)")
        #expect(bareAuto.status != 0, "libpcap needs CAP_NET_RAW, which nobody has either: \(bareAuto.stderr)")

        let partial = try Self.runCapture(in: node, prefix: netOnly, ["--datapath", "ebpf", "--duration", "1"])
        #expect(partial.status != 0)
        #expect(partial.stderr.contains("the eBPF datapath needs CAP_BPF, which flowmon does not have (run it as root"), "\(partial.stderr)")
        #expect(!partial.stderr.contains("CAP_NET_ADMIN"), "\(partial.stderr)")

        // auto with CAP_NET_ADMIN and CAP_NET_RAW: libpcap, and it captures.
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "exec", node] + netOnly + [
            Fixture.flowmonBinary.path, "capture", "--datapath", "auto", "--output", output.path], seconds: 120)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        #expect(flowmon.stderrSoFar.contains("datapath: libpcap (eBPF not available: the eBPF datapath needs CAP_BPF, which flowmon does not have"),
                "\(flowmon.stderrSoFar)")
        let ping = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-c", "2", "-i", "0.2", lab.podIP("b")])
        #expect(ping.contains("2 received"), "\(ping)")
        _ = flowmon.wait(seconds: 5) { Self.settled(output) }
        kill(flowmon.pid, SIGINT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        let lines = try Self.lines(output)
        #expect(Self.lastStats(lines).flatMap { ($0["capture"] as? [String: Any])?["datapath"] as? String } == "pcap")
        #expect(Self.flows(lines).contains { $0["proto"] as? String == "ICMP" && $0["src_ip"] as? String == lab.podIP("a") })
    }

    /// `--user nobody`: the programs are loaded and attached as root, then the process becomes
    /// nobody, and the capture goes on (traffic after the drop is counted). flowmon keeps
    /// CAP_BPF and CAP_NET_ADMIN across the switch, so a pod added after it is followed with
    /// tcx links and with clsact filters (netlink requests that need CAP_NET_ADMIN), and the
    /// filters are removed at exit.
    @Test(arguments: ["tcx", "tc"])
    func theCaptureGoesOnAfterDroppingPrivileges(attach: String) throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: directory.path)
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let node = "\(lab.name)-node"
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try Self.capture(in: node, ["--datapath", "ebpf", "--ebpf-attach", attach, "--user", "nobody",
                                                  "--output", output.path, "--stats-interval", "1"])
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        let status = try String(contentsOfFile: "/proc/\(flowmon.pid)/status", encoding: .utf8)
        #expect(status.contains("Uid:\t65534\t65534\t65534\t65534"), "\(status)")

        let ping = try lab.script(["exec", lab.name, "pod-a", "ping", "-n", "-q", "-c", "3", "-i", "0.2", lab.podIP("b")])
        #expect(ping.contains("3 received"), "\(ping)")
        let added = try lab.script(["add-pod", lab.name, "d"])
        let addedInterface = String(added.split(separator: " ").last ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(flowmon.wait(seconds: 20) { flowmon.stderrSoFar.contains("now observing") }, "\(flowmon.stderrSoFar)")
        let fromAdded = try lab.script(["exec", lab.name, "pod-d", "ping", "-n", "-q", "-c", "3", "-i", "0.2", lab.podIP("c")])
        #expect(fromAdded.contains("3 received"), "\(fromAdded)")
        _ = flowmon.wait(seconds: 10) { Self.settled(output) }
        let (lines, finished) = try Self.stop(flowmon, output)
        let flows = Self.flows(lines)
        let echo = flows.first { $0["proto"] as? String == "ICMP" && $0["src_ip"] as? String == lab.podIP("a") }
        #expect((echo?["flow"] as? [String: Any])?["pkts_toserver"] as? Int == 3, "\(echo ?? [:])")
        #expect((echo?["flow"] as? [String: Any])?["pkts_toclient"] as? Int == 3, "\(echo ?? [:])")
        // pod-d's ping is still seen at pod-c's veth; at pod-d's own only if it could be attached.
        let fromD = flows.first { $0["proto"] as? String == "ICMP" && $0["src_ip"] as? String == lab.podIP("d") }
        #expect((fromD?["flow"] as? [String: Any])?["pkts_toserver"] as? Int == 3, "\(fromD ?? [:])")
        let followed = {
            #expect(!finished.stderr.contains("cannot attach flowmon's BPF programs to interface '\(addedInterface)'"), "\(finished.stderr)")
            #expect(fromD?["in_iface"] as? String == addedInterface, "\(fromD ?? [:])")
        }
        let remaining = try Self.flowmonFilters(node)
        let leftNothing = { #expect(remaining.isEmpty, "no flowmon filter after a clean exit") }
        // flowmon keeps CAP_BPF and CAP_NET_ADMIN across --user: it attaches to the new pod's veth
        // and, with clsact filters, removes them at exit.
        followed()
        leftNothing()
    }

    // MARK: 6. The capture filter, in user space

    /// `--filter 'tcp port 5000'` with eBPF: only matching connections are written, and every
    /// other record the programs delivered is counted in `filtered_out`. A filter on the
    /// direction means what it means on `any`: `inbound` keeps each packet where it arrived
    /// from its pod, once, with eBPF as with libpcap (which runs alongside on the same traffic).
    @Test func theCaptureFilterKeepsOnlyMatchingConnections() throws {
        guard Self.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        let node = "\(lab.name)-node"
        let output = directory.appendingPathComponent("flows.jsonl")
        let veths = lab.pods.map(\.nodeSideInterface)
        let flowmon = try Self.capture(in: node, ["--datapath", "ebpf", "--filter", "tcp port 5000", "--output", output.path,
                                                  "--stats-interval", "1"])
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")
        let inbound = (ebpf: directory.appendingPathComponent("inbound-ebpf.jsonl"),
                       pcap: directory.appendingPathComponent("inbound-pcap.jsonl"))
        let directional = try [("ebpf", inbound.ebpf), ("pcap", inbound.pcap)].map { datapath, file in
            let process = try Self.capture(in: node, ["--datapath", datapath, "--filter", "inbound and tcp port 5000",
                                                      "--output", file.path, "--stats-interval", "1"])
            #expect(process.wait(seconds: 60) { process.stderrSoFar.contains("flowmon: capturing on") }, "\(process.stderrSoFar)")
            return process
        }
        defer { directional.forEach { $0.process.stop() } }
        func crossed() throws -> Int {
            try veths.reduce(0) { total, veth in
                try ["rx_packets", "tx_packets"].reduce(total) { sum, counter in
                    let text = try lab.script(["exec", lab.name, "node", "cat", "/sys/class/net/\(veth)/statistics/\(counter)"])
                    return sum + (Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1_000_000)
                }
            }
        }
        let before = try crossed()
        let server = try startInNamespace("\(lab.name)-pod-b", ["socat", "TCP-LISTEN:5000,fork,reuseaddr", "EXEC:cat"])
        defer { server.stop() }
        let listening = try lab.script(["exec", lab.name, "pod-b", "sh", "-c",
                                        "for i in $(seq 50); do ss -ltn | grep -q ':5000 ' && exit 0; sleep 0.1; done; exit 1"])
        _ = listening
        let echoed = try lab.script(["exec", lab.name, "pod-a", "sh", "-c", "echo hello | socat -t 2 - TCP:\(lab.podIP("b")):5000"])
        #expect(echoed.contains("hello"), "\(echoed)")
        let udp = try lab.script(["exec", lab.name, "pod-a", "sh", "-c", "echo x | socat -u - UDP:\(lab.podIP("b")):5000"])
        _ = udp
        let ping = try lab.script(["exec", lab.name, "pod-c", "ping", "-n", "-q", "-c", "2", "-i", "0.2", lab.podIP("b")])
        #expect(ping.contains("2 received"), "\(ping)")
        Thread.sleep(forTimeInterval: 0.3)
        #expect(flowmon.wait(seconds: 20) { Self.settled(output) }, "the stats settle")
        let delivered = try crossed() - before
        let lines = try Self.stop(flowmon, output).lines
        let flows = Self.flows(lines)
        #expect(flows.count == 1 && flows.allSatisfy { $0["proto"] as? String == "TCP" && $0["dest_port"] as? Int == 5000 },
                "\(flows)")
        let capture = try #require(Self.lastStats(lines)?["capture"] as? [String: Any])
        let packets = capture["packets"] as? Int ?? -1, filteredOut = capture["filtered_out"] as? Int ?? -1
        // Bridged pod to pod: each packet crosses two of the observed veths, once at each.
        let connectionPackets = flows.reduce(0) { total, record in
            let flow = record["flow"] as? [String: Any] ?? [:]
            return total + (flow["pkts_toserver"] as? Int ?? 0) + (flow["pkts_toclient"] as? Int ?? 0)
        }
        #expect(packets == 2 * connectionPackets, "\(capture), \(connectionPackets) packets in the connection")
        #expect(filteredOut > 0 && packets + filteredOut == delivered, "\(capture): the veths carried \(delivered)")

        // `inbound`: each packet once, where it arrived from its pod; the same connection with
        // both datapaths (libpcap's bytes 6 more a packet: its cooked header).
        var counts: [String: [Int]] = [:]
        for ((datapath, file), process) in zip([("ebpf", inbound.ebpf), ("pcap", inbound.pcap)], directional) {
            #expect(process.wait(seconds: 20) { Self.settled(file) }, "\(datapath): the stats settle")
            kill(process.pid, SIGINT)
            let end = process.finish()
            #expect(end.status == 0, "\(datapath): \(end.stderr)")
            #expect(end.stderr.contains(datapath == "ebpf" ? "flowmon: datapath: eBPF" : "capturing on"), "\(end.stderr)")
            let lines = try Self.lines(file)
            let records = Self.flows(lines)
            #expect(records.count == 1, "\(datapath): \(records)")
            let flow = records.first?["flow"] as? [String: Any] ?? [:]
            counts[datapath] = ["pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"].map { flow[$0] as? Int ?? -1 }
            let stats = try #require(Self.lastStats(lines)?["capture"] as? [String: Any])
            #expect(stats["packets"] as? Int == connectionPackets, "\(datapath): each packet once: \(stats)")
        }
        let allDirections = flows.first?["flow"] as? [String: Any] ?? [:]
        #expect(counts["ebpf"] == ["pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"].map { allDirections[$0] as? Int ?? -2 },
                "inbound keeps every packet of the connection once: \(counts), \(allDirections)")
        if let ebpf = counts["ebpf"], let pcap = counts["pcap"] {
            #expect(pcap == [ebpf[0], ebpf[1], ebpf[2] + 6 * ebpf[0], ebpf[3] + 6 * ebpf[1]], "\(counts)")
        }
    }

    // MARK: Helpers

    /// Whether the live tests can run here (NetnsTopologyHarness's checks, and tc); a failure
    /// when CI=true.
    static func canRun() -> Bool {
        guard NetnsTopologyHarness.canRun() else { return false }
        guard (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["which", "tc", "bpftool", "setpriv", "socat"]))?.status == 0 else {
            #expect(!NetnsTopologyHarness.mustRun, "EBPFDatapathTests need tc, bpftool, setpriv and socat in CI")
            print("notice: EBPFDatapathTests skipped: needs tc, bpftool, setpriv and socat")
            return false
        }
        return true
    }

    /// `flowmon capture ARGUMENTS` in namespace `namespace`, running until stopped.
    static func capture(in namespace: String, _ arguments: [String]) throws -> BoundedProcess {
        try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"),
                           ["netns", "exec", namespace, Fixture.flowmonBinary.path, "capture"] + arguments, seconds: 300)
    }

    /// `flowmon capture ARGUMENTS` in `namespace` under `prefix` (setpriv ...), to its end.
    static func runCapture(in namespace: String, prefix: [String], _ arguments: [String]) throws -> BoundedRun {
        try runBounded(URL(fileURLWithPath: "/usr/sbin/ip"), ["netns", "exec", namespace] + prefix
                       + [Fixture.flowmonBinary.path, "capture", "--output", "/dev/null"] + arguments, seconds: 60)
    }

    /// Stops a capture with SIGINT, expects it to exit 0, and returns the lines of its output,
    /// which must validate against the schemas, and how it ended.
    static func stop(_ flowmon: BoundedProcess, _ output: URL) throws
        -> (lines: [String], finished: BoundedRun) {
        kill(flowmon.pid, SIGINT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        let lines = try Self.lines(output)
        let validation = try validateAgainstSchemas(lines)
        #expect(validation.status == 0, "\(validation.report)")
        return (lines, finished)
    }

    static func lines(_ output: URL) throws -> [String] {
        try String(contentsOf: output, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    static func records(_ lines: [String]) -> [[String: Any]] {
        lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    static func flows(_ lines: [String]) -> [[String: Any]] {
        Self.records(lines).filter { $0["event_type"] as? String == "flow" }
    }

    static func lastStats(_ lines: [String]) -> [String: Any]? {
        Self.records(lines).last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
    }

    /// Whether the last two stats lines (a second apart) count the same packets and losses:
    /// everything the kernel handed over has been read.
    static func settled(_ output: URL, after earlier: Int = 0) -> Bool {
        let stats = Self.captureStats(output)
        return stats.count >= earlier + 2 && stats[stats.count - 1] == stats[stats.count - 2]
    }

    /// The capture counters (packets, kernel drops, filtered out) of each `stats` record so far.
    static func captureStats(_ output: URL) -> [[Int]] {
        Self.records((try? Self.lines(output)) ?? []).filter { $0["event_type"] as? String == "stats" }
            .compactMap { ($0["stats"] as? [String: Any])?["capture"] as? [String: Any] }
            .map { [$0["packets"] as? Int ?? -1, $0["kernel_dropped"] as? Int ?? -1, $0["filtered_out"] as? Int ?? -1] }
    }

    /// Each local pod's connection ("PROTO SRC > DST:PORT"; ICMP without its identifier) and
    /// what flowmon made of it: "srcpod>destpod VERDICT", one entry per connection, sorted.
    static func identities(_ flows: [[String: Any]], localPods: Set<String>) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for record in flows {
            let source = record["src_ip"] as? String ?? "", destination = record["dest_ip"] as? String ?? ""
            guard localPods.contains(source) || localPods.contains(destination) else { continue }
            let proto = record["proto"] as? String ?? ""
            let key = proto == "ICMP" ? "ICMP \(source) > \(destination)"
                : "\(proto) \(source) > \(destination):\(record["dest_port"] as? Int ?? 0)"
            let from = (record["source"] as? [String: Any])?["pod_name"] as? String ?? "-"
            let to = (record["destination"] as? [String: Any])?["pod_name"] as? String ?? "-"
            let verdict = (record["policy"] as? [String: Any])?["verdict"] as? String ?? "-"
            result[key, default: []].append("\(from)>\(to) \(verdict)")
        }
        return result.mapValues { $0.sorted() }
    }

    /// `tc filter show dev INTERFACE DIRECTION` in `namespace`.
    static func filters(_ namespace: String, _ interface: String, _ direction: String) throws -> String {
        let result = try run(URL(fileURLWithPath: "/usr/sbin/tc"), ["-n", namespace, "filter", "show", "dev", interface, direction])
        return result.stdout
    }

    /// Every interface of `namespace` with a flowmon filter, as "name direction".
    static func flowmonFilters(_ namespace: String) throws -> [String] {
        let links = try run(URL(fileURLWithPath: "/usr/sbin/ip"), ["-n", namespace, "-o", "link", "show"]).stdout
        let names = links.split(separator: "\n").compactMap { line in
            line.split(separator: ":").dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces).split(separator: "@")[0] }
        }.map(String.init)
        #expect(names.count >= 4, "\(links)")
        var found: [String] = []
        for name in names {
            for direction in ["ingress", "egress"] where try Self.filters(namespace, name, direction).contains("flowmon") {
                found.append("\(name) \(direction)")
            }
        }
        return found
    }

    /// The tcx links process `pid` holds (link and program IDs), from its descriptors' fdinfo.
    static func tcxLinks(of pid: Int32) -> [(link: Int, program: Int)] {
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fdinfo")) ?? []
        return descriptors.compactMap { descriptor in
            guard let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(descriptor)", encoding: .utf8),
                  info.contains("link_type:\ttcx") else { return nil }
            func field(_ name: String) -> Int? {
                info.split(separator: "\n").first { $0.hasPrefix(name + ":") }.flatMap { Int($0.split(separator: "\t").last ?? "") }
            }
            guard let link = field("link_id"), let program = field("prog_id") else { return nil }
            return (link, program)
        }
    }
}
