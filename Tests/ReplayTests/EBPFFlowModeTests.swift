import FlowLog
import Foundation
import Testing

/// The eBPF datapath's mode 2 (`--ebpf-mode flows`, in-kernel flow aggregation) against mode 1
/// (`--ebpf-mode packets`) and the pods' own counts, on the same traffic: two `flowmon capture
/// --datapath ebpf` run at once on a `scripts/netns-lab` node (tcx runs both programs on every
/// packet), with the lab's exchanges (short TCP connections, refused and scanned ports, UDP with
/// and without answers, an ICMP port unreachable, pings, pod to pod and pod to node, the node to
/// a pod) and bulk ones where mode 2 aggregates: a TCP connection of 300 request/response
/// round trips each way, 300 answered UDP datagrams and 100 pings, pod to pod and pod to node
/// (and, in the overlay lab, to a pod on the other node through VXLAN, captured with
/// `--interface any`: the uplink's encapsulated packets go up as records, as the kernel's parser
/// leaves tunnels to user space).
/// The records must be the same connections with the same packets and bytes each way, TCP state,
/// flags, `conn_state` and verdicts; the pods' own counts (`scripts/pod-truth`) the same packets
/// and bytes (frames with their 14-byte Ethernet header, as eBPF counts them). Needs root,
/// iproute2, python3 and ping; when CI=true it must run, not skip.
@Suite(.serialized)
struct EBPFFlowModeTests {
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
        """

    @Test(arguments: ["bridge", "routed", "overlay"])
    func flowsModeWritesWhatPacketsModeWrites(topology: String) throws {
        guard NetnsTopologyHarness.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: topology)
        defer { lab.down() }
        try lab.up(out: directory)
        let policies = directory.appendingPathComponent("policies.yaml")
        try Self.policy.write(to: policies, atomically: true, encoding: .utf8)

        var captures: [(mode: String, output: URL, process: BoundedProcess)] = []
        defer { captures.forEach { $0.process.process.stop() } }
        for mode in ["flows", "packets"] {
            let output = directory.appendingPathComponent("\(mode).jsonl")
            let interfaces = topology == "overlay" ? ["--interface", "any"] : []
            let process = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
                "netns", "exec", "\(lab.name)-node", Fixture.flowmonBinary.path, "capture"] + interfaces + ["--datapath", "ebpf",
                "--ebpf-mode", mode, "--output", output.path, "--pods", directory.appendingPathComponent("pods.json").path,
                "--policies", policies.path, "--node-name", "\(lab.name)-node",
                "--timeout-new", "120", "--timeout-established", "120"], seconds: 300)
            captures.append((mode, output, process))
            #expect(process.wait(seconds: 60) { process.stderrSoFar.contains("flowmon: capturing on") }, "\(process.stderrSoFar)")
        }
        #expect(captures[0].process.stderrSoFar.contains("in-kernel flow aggregation"), "\(captures[0].process.stderrSoFar)")

        let truths = try lab.pods.map { try lab.startTruth(in: $0, directory: directory) }
        defer { truths.forEach { $0.process.stop() } }
        _ = try lab.traffic()
        let bulk = try BulkTraffic(lab: lab, directory: directory)
        defer { bulk.stop() }
        let targets = [lab.podIP("b"), "10.244.0.1"] + (topology == "overlay" ? [lab.podIP("x")] : [])
        for target in targets {
            let client = "pod-a"
            let lines = try bulk.run(from: client, to: target)
            #expect(lines.count == 3 && lines.allSatisfy { $0.hasSuffix(" ok") }, "\(lines)")
        }
        Thread.sleep(forTimeInterval: 0.5)  // the last ACKs reach the pods' eth0
        bulk.stop()
        let counted = try truths.map { try $0.finish() }
        let merged = NetnsTopologyHarness.mergedPodTruth(counted)
        #expect(merged.disagreements.isEmpty, "\(merged.disagreements)")

        for capture in captures { kill(capture.process.pid, SIGINT) }
        var flowRecords: [String: [[String: Any]]] = [:]
        var stats: [String: [String: Any]] = [:]
        for capture in captures {
            let finished = capture.process.finish()
            #expect(finished.status == 0, "\(capture.mode): \(finished.stderr)")
            let text = try String(contentsOf: capture.output, encoding: .utf8).split(separator: "\n").map(String.init)
            let validation = try validateAgainstSchemas(text)
            #expect(validation.status == 0, "\(capture.mode): \(validation.report)")
            let lines = text.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            flowRecords[capture.mode] = lines.filter { $0["event_type"] as? String == "flow" }
            stats[capture.mode] = lines.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
        }
        let flows = Self.comparable(flowRecords["flows"] ?? []), packets = Self.comparable(flowRecords["packets"] ?? [])
        for key in Set(flows.keys).union(packets.keys).sorted() {
            #expect(flows[key] == packets[key], "\(topology): \(key): flows \(flows[key] ?? []), packets \(packets[key] ?? [])")
        }
        #expect(packets.count > 20, "\(packets.count) connections compared")
        Self.checkTimes(flows: flowRecords["flows"] ?? [], packets: flowRecords["packets"] ?? [], topology: topology)

        // Both saw every packet; mode 2 counted the bulk in the kernel, and says so.
        let flowsCapture = stats["flows"]?["capture"] as? [String: Any] ?? [:]
        let packetsCapture = stats["packets"]?["capture"] as? [String: Any] ?? [:]
        let aggregated = flowsCapture["aggregated"] as? [String: Any] ?? [:]
        #expect(aggregated["packets"] as? Int ?? 0 > 1500, "\(flowsCapture)")
        #expect(packetsCapture["aggregated"] == nil)
        for field in ["packets", "bytes", "seen_elsewhere"] {
            #expect(flowsCapture[field] as? Int == packetsCapture[field] as? Int, "\(field): \(flowsCapture) \(packetsCapture)")
        }
        // Per interface too: the kernel counts what it keeps per interface.
        let flowsInterfaces = flowsCapture["interfaces"] as? NSDictionary, packetsInterfaces = packetsCapture["interfaces"] as? NSDictionary
        #expect(flowsInterfaces != nil && flowsInterfaces == packetsInterfaces, "\(String(describing: flowsInterfaces)) \(String(describing: packetsInterfaces))")
        let decoded = (stats["flows"]?["decoder"] as? [String: Any])?["pkts"] as? Int ?? 0
        #expect(decoded + (aggregated["packets"] as? Int ?? 0) + (flowsCapture["seen_elsewhere"] as? Int ?? 0)
                == flowsCapture["packets"] as? Int, "every packet decoded, aggregated or counted elsewhere: \(flowsCapture)")

        try Self.checkAgainstTruth(captures[0].output, merged, localPods: Set(lab.pods.map(\.ip)), topology: topology)
    }

    /// IPv6: the kernel keys a connection as user space does (16-byte addresses ordered as numbers,
    /// not as the little-endian words a BPF program loads them into,
    /// ICMPv6 echoes by identifier), so a bulk TCP connection, UDP and pings between two pods over
    /// IPv6 (with the neighbour discovery around them, which goes up as records) give the same
    /// records in both modes, and no connection is made from the kernel's counts alone.
    @Test func ipv6ConnectionsAreTheSameInBothModes() throws {
        guard NetnsTopologyHarness.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.script(["up", lab.name, "--topology", "bridge", "--out", directory.path, "--ipv6"])
        // Addresses whose order as numbers (pod-a's first) is not their order as little-endian words.
        for (pod, address) in [("a", "fd00:244::1:12"), ("b", "fd00:244::2:11")] {
            try lab.script(["exec", lab.name, "pod-\(pod)", "ip", "-6", "address", "add", "\(address)/64", "dev", "eth0", "nodad"])
        }
        var captures: [(mode: String, output: URL, process: BoundedProcess)] = []
        defer { captures.forEach { $0.process.process.stop() } }
        for mode in ["flows", "packets"] {
            let output = directory.appendingPathComponent("\(mode).jsonl")
            let process = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
                "netns", "exec", "\(lab.name)-node", Fixture.flowmonBinary.path, "capture", "--datapath", "ebpf", "--ebpf-mode", mode,
                "--output", output.path], seconds: 300)
            captures.append((mode, output, process))
            #expect(process.wait(seconds: 60) { process.stderrSoFar.contains("flowmon: capturing on") }, "\(process.stderrSoFar)")
        }
        let bulk = try BulkTraffic(lab: lab, directory: directory)
        defer { bulk.stop() }
        let lines = try bulk.run(from: "pod-a", to: "fd00:244::2:11")
        #expect(lines.count == 3 && lines.allSatisfy { $0.hasSuffix(" ok") }, "\(lines)")
        Thread.sleep(forTimeInterval: 0.5)
        for capture in captures { kill(capture.process.pid, SIGINT) }
        var records: [String: [String: [String]]] = [:]
        var stats: [String: [String: Any]] = [:]
        for capture in captures {
            let finished = capture.process.finish()
            #expect(finished.status == 0, "\(capture.mode): \(finished.stderr)")
            let lines = try String(contentsOf: capture.output, encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            records[capture.mode] = Self.comparable(lines.filter { $0["event_type"] as? String == "flow" })
            stats[capture.mode] = lines.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
        }
        // The pods' (the node's link-local neighbour discovery and MLD may come before the second capture starts).
        let flows = (records["flows"] ?? [:]).filter { $0.key.contains("fd00:244::") }
        let packets = (records["packets"] ?? [:]).filter { $0.key.contains("fd00:244::") }
        for key in Set(flows.keys).union(packets.keys).sorted() {
            #expect(flows[key] == packets[key], "\(key): flows \(flows[key] ?? []), packets \(packets[key] ?? [])")
        }
        for expected in ["TCP fd00:244::1:12:", "UDP fd00:244::1:12:", "IPv6-ICMP fd00:244::1:12:- > fd00:244::2:11:-"] {
            #expect(packets.keys.contains { $0.hasPrefix(expected) }, "\(expected): \(packets.keys.sorted())")
        }
        let aggregated = (stats["flows"]?["capture"] as? [String: Any])?["aggregated"] as? [String: Any]
        #expect(aggregated?["packets"] as? Int ?? 0 > 1000, "\(String(describing: aggregated))")
        #expect((stats["flows"]?["flow"] as? [String: Any])?["created_from_kernel"] == nil)
    }

    /// A kernel entry idle past the shortest timeout (`--timeout-closed 1` here) is deleted; the
    /// connection's next packet finds none and comes up as a record again, and nothing is counted
    /// twice: 50 answered datagrams, 3 s of silence, 50 more on the same socket make one connection
    /// of 100 packets each way in both modes, and mode 2 decoded exactly 4 of them (the first each
    /// way before the silence and after it; everything runs on one CPU).
    @Test func anIdleKernelEntryIsDeletedAndTheNextPacketComesUp() throws {
        guard NetnsTopologyHarness.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: "bridge")
        defer { lab.down() }
        try lab.up(out: directory)
        var captures: [(mode: String, output: URL, process: BoundedProcess)] = []
        defer { captures.forEach { $0.process.process.stop() } }
        for mode in ["flows", "packets"] {
            let output = directory.appendingPathComponent("\(mode).jsonl")
            let process = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
                "netns", "exec", "\(lab.name)-node", Fixture.flowmonBinary.path, "capture", "--datapath", "ebpf", "--ebpf-mode", mode,
                "--output", output.path, "--timeout-closed", "1", "--timeout-new", "60", "--timeout-established", "60"], seconds: 300)
            captures.append((mode, output, process))
            #expect(process.wait(seconds: 60) { process.stderrSoFar.contains("flowmon: capturing on") }, "\(process.stderrSoFar)")
        }
        let bulk = try BulkTraffic(lab: lab, directory: directory, pinned: true)
        defer { bulk.stop() }
        let client = """
            import socket, sys, time
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.settimeout(2)
            udp.connect((sys.argv[1], 9001))
            answers = 0
            for round in range(2):
                for _ in range(50):
                    udp.send(b"q" * 64)
                    answers += len(udp.recv(4096)) == 64
                if round == 0:
                    time.sleep(3)
            print("answered", answers, "from", udp.getsockname()[1])
            """
        let answered = try lab.script(["exec", lab.name, "pod-a", "taskset", "-c", "0", "python3", "-c", client, lab.podIP("b")])
        #expect(answered.hasPrefix("answered 100 "), "\(answered)")
        Thread.sleep(forTimeInterval: 0.5)
        for capture in captures { kill(capture.process.pid, SIGINT) }
        var udp: [String: [[Int]]] = [:]
        var decodedUDP: [String: Int] = [:]
        for capture in captures {
            let finished = capture.process.finish()
            #expect(finished.status == 0, "\(capture.mode): \(finished.stderr)")
            let lines = try String(contentsOf: capture.output, encoding: .utf8).split(separator: "\n")
                .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            udp[capture.mode] = lines.filter { $0["event_type"] as? String == "flow" && $0["dest_port"] as? Int == 9001 }.map {
                let flow = $0["flow"] as? [String: Any] ?? [:]
                return ["pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"].map { flow[$0] as? Int ?? -1 }
            }
            let stats = lines.last { $0["event_type"] as? String == "stats" }?["stats"] as? [String: Any]
            decodedUDP[capture.mode] = (stats?["decoder"] as? [String: Any])?["udp"] as? Int
        }
        #expect(udp["flows"] == [[100, 100, 100 * 106, 100 * 106]], "\(udp)")
        #expect(udp["packets"] == udp["flows"], "\(udp)")
        #expect(decodedUDP["flows"] == 4 && decodedUDP["packets"] == 200, "\(decodedUDP)")
    }

    /// `--ebpf-mode` is the eBPF datapath's: refused with libpcap before anything opens, as is a
    /// capture filter with in-kernel aggregation (it runs in user space, on the records); and
    /// documented in `--help`.
    @Test func theModeIsTheEBPFDatapaths() throws {
        let pcap = try run(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--datapath", "pcap", "--ebpf-mode", "flows",
                                                   "--output", "/nonexistent/x"])
        #expect(pcap.status == 64)
        #expect(pcap.stderr.contains("'--ebpf-mode' needs the eBPF datapath"), "\(pcap.stderr)")
        let unknown = try run(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--ebpf-mode", "bytes", "--output", "/nonexistent/x"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("'bytes'") && unknown.stderr.contains("packets") && unknown.stderr.contains("flows"),
                "\(unknown.stderr)")
        let filtered = try run(Fixture.flowmonBinary, ["capture", "--interface", "lo", "--ebpf-mode", "flows", "--filter", "port 80",
                                                       "--output", "/nonexistent/x"])
        #expect(filtered.status == 64)
        #expect(filtered.stderr.contains("'--filter' cannot be combined with '--ebpf-mode flows'"), "\(filtered.stderr)")
        let help = try run(Fixture.flowmonBinary, ["capture", "--help"])
        #expect(help.stdout.contains("--ebpf-mode <mode>") && help.stdout.contains("in-kernel flow aggregation"), "\(help.stdout)")
    }

    /// Mode 2's times against mode 1's, for the connections both captures saw once: the first and
    /// the last packet are the same packets whether they went up as records or were counted in
    /// the kernel (each program reads the clock for them: microseconds apart).
    static func checkTimes(flows flowsRecords: [[String: Any]], packets packetsRecords: [[String: Any]], topology: String) {
        func times(_ records: [[String: Any]]) -> [String: [(start: Int64, end: Int64)]] {
            var byKey: [String: [(start: Int64, end: Int64)]] = [:]
            for record in records {
                guard let flow = record["flow"] as? [String: Any], let start = microseconds(flow["start"]),
                      let end = microseconds(flow["end"]) else { continue }
                byKey[key(record), default: []].append((start, end))
            }
            return byKey
        }
        let flows = times(flowsRecords), packets = times(packetsRecords)
        var compared = 0
        for (key, inFlows) in flows {
            guard inFlows.count == 1, let inPackets = packets[key], inPackets.count == 1 else { continue }
            let (mode2, mode1) = (inFlows[0], inPackets[0])
            compared += 1
            #expect(abs(mode2.start - mode1.start) <= 1_000, "\(topology): \(key): start \(mode2.start) against \(mode1.start) µs")
            #expect(abs(mode2.end - mode1.end) <= 1_000,
                    "\(topology): \(key): end \(mode2.end) against \(mode1.end) µs")
            #expect(mode2.end >= mode2.start, "\(topology): \(key): ends before it starts")
        }
        #expect(compared > 20, "\(topology): \(compared) connections' times compared")
    }

    /// Microseconds since the epoch of a record's time (flowmon's format, read by `FlowLogTime`).
    static func microseconds(_ value: Any?) -> Int64? {
        guard let text = value as? String, let date = FlowLogTime.parse(text) else { return nil }
        return Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// A flow record's connection: protocol and endpoints.
    static func key(_ record: [String: Any]) -> String {
        "\(record["proto"] as? String ?? "?") \(record["src_ip"] ?? ""):\(record["src_port"] ?? "-") > \(record["dest_ip"] ?? ""):\(record["dest_port"] ?? "-")"
    }

    /// A record as the two modes must agree on it, keyed by protocol and endpoints (ICMP echoes
    /// by their addresses: records do not carry the identifier, so those compare as sorted lists).
    static func comparable(_ flows: [[String: Any]]) -> [String: [String]] {
        var byKey: [String: [String]] = [:]
        for record in flows {
            var kept = record
            for field in ["timestamp", "flow_id"] { kept[field] = nil }
            var flow = record["flow"] as? [String: Any] ?? [:]
            for field in ["start", "end", "age"] { flow[field] = nil }
            kept["flow"] = flow
            let data = (try? JSONSerialization.data(withJSONObject: kept, options: [.sortedKeys])) ?? Data()
            byKey[key(record), default: []].append(String(decoding: data, as: UTF8.self))
        }
        return byKey.mapValues { $0.sorted() }
    }

    /// Mode 2 counted every connection of a local pod as the pods did: packets, and bytes as
    /// frames on the pod's Ethernet (what the TC programs see on its veth).
    static func checkAgainstTruth(_ output: URL, _ merged: NetnsTopologyHarness.MergedTruth, localPods: Set<String>,
                                  topology: String) throws {
        func signature(_ proto: String, _ source: String, _ sourcePort: Int?, _ destination: String, _ port: Int?) -> String {
            proto == "ICMP" ? "ICMP \(source) > \(destination)" : "\(proto) \(source):\(sourcePort ?? 0) > \(destination):\(port ?? 0)"
        }
        var truth: [String: [[Int]]] = [:]
        for connection in merged.connections.values where localPods.contains(connection.srcIP) || localPods.contains(connection.destIP) {
            truth[signature(connection.proto, connection.srcIP, connection.srcPort, connection.destIP, connection.destPort), default: []]
                .append([connection.pktsToserver, connection.pktsToclient, connection.bytesToserver, connection.bytesToclient])
        }
        var seen: [String: [[Int]]] = [:]
        let records = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        for record in records where record["event_type"] as? String == "flow" {
            let source = record["src_ip"] as? String ?? "", destination = record["dest_ip"] as? String ?? ""
            guard localPods.contains(source) || localPods.contains(destination), let proto = record["proto"] as? String,
                  ["TCP", "UDP", "ICMP"].contains(proto) else { continue }
            let flow = record["flow"] as? [String: Any] ?? [:]
            seen[signature(proto, source, record["src_port"] as? Int, destination, record["dest_port"] as? Int), default: []]
                .append([flow["pkts_toserver"] as? Int ?? -1, flow["pkts_toclient"] as? Int ?? -1,
                         flow["bytes_toserver"] as? Int ?? -1, flow["bytes_toclient"] as? Int ?? -1])
        }
        for key in Set(truth.keys).union(seen.keys).sorted() {
            let expected = (truth[key] ?? []).sorted { $0.lexicographicallyPrecedes($1) }
            let counted = (seen[key] ?? []).sorted { $0.lexicographicallyPrecedes($1) }
            #expect(counted == expected, "\(topology): \(key): flowmon \(counted), pods \(expected) (packets, packets, bytes, bytes)")
        }
        // The bulk exchanges are in the truth: TCP and UDP to pod-b and to the node, and the pings.
        let all: [[Int]] = truth.values.flatMap { $0 }
        let bulk = all.filter { $0[0] >= 300 && $0[1] >= 300 }
        let pings = all.filter { $0[0] == 100 && $0[1] == 100 }
        let remote = topology == "overlay" ? 1 : 0
        #expect(bulk.count == 4 + 2 * remote && pings.count == 2 + remote, "\(topology): \(bulk) \(pings)")
    }
}

/// The bulk exchanges: echo servers (TCP 9000, UDP 9001) in pod-b, the node and (overlay) pod-x, and a client
/// that makes 300 round trips over one TCP connection (200 bytes each way, TCP_NODELAY), 300
/// over UDP and 100 pings. `stop` ends the servers whatever happened.
final class BulkTraffic {
    static let server = """
        import signal, socket, sys, threading
        def serve(connection):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with connection:
                while True:
                    data = connection.recv(4096)
                    if not data:
                        break
                    connection.sendall(data)
        def tcp(listener):
            while True:
                connection, _ = listener.accept()
                threading.Thread(target=serve, args=(connection,), daemon=True).start()
        def udp(sock):
            while True:
                data, peer = sock.recvfrom(4096)
                sock.sendto(data, peer)
        listener = socket.socket(socket.AF_INET6)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        listener.bind(("::", 9000))
        listener.listen(16)
        echo = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        echo.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        echo.bind(("::", 9001))
        threading.Thread(target=tcp, args=(listener,), daemon=True).start()
        threading.Thread(target=udp, args=(echo,), daemon=True).start()
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        open(sys.argv[1], "w").close()
        while True:
            signal.pause()
        """
    static let client = """
        import socket, sys
        target = sys.argv[1]
        sock = socket.create_connection((target, 9000), timeout=5)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ok = True
        for _ in range(300):
            sock.sendall(b"x" * 200)
            got = b""
            while len(got) < 200:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                got += chunk
            ok = ok and len(got) == 200
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
        print("bulk tcp", sock.getsockname()[1], "ok" if ok else "failed", flush=True)
        sock.close()
        udp = socket.socket(socket.AF_INET6 if ":" in target else socket.AF_INET, socket.SOCK_DGRAM)
        udp.settimeout(2)
        udp.connect((target, 9001))
        answers = 0
        for index in range(300):
            udp.send(b"y" * 100)
            try:
                answers += len(udp.recv(4096)) == 100
            except OSError:
                pass
        print("bulk udp", udp.getsockname()[1], "ok" if answers == 300 else f"answered {answers}", flush=True)
        """

    let lab: NetnsLab
    var servers: [Process] = []

    /// `pinned`: the servers run on CPU 0 only (with the client pinned too, every packet of an
    /// exchange is seen on one CPU, so the records mode 2 sends up are exactly the ones it must).
    init(lab: NetnsLab, directory: URL, pinned: Bool = false) throws {
        self.lab = lab
        let remote = lab.topology == "overlay" ? ["\(lab.name)-pod-x"] : []
        for namespace in ["\(lab.name)-pod-b", "\(lab.name)-node"] + remote {
            let ready = directory.appendingPathComponent("bulk-ready-\(namespace)")
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", namespace] + (pinned ? ["taskset", "-c", "0"] : [])
                + ["python3", "-c", Self.server, ready.path]
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.servers.append(process)
            let deadline = Date().addingTimeInterval(20)
            while !FileManager.default.fileExists(atPath: ready.path) {
                guard process.isRunning, Date() < deadline else {
                    throw NetnsLab.LabFailure(message: "the bulk echo server did not start in \(namespace)")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    /// The bulk exchanges from a pod to `target`: one line per exchange, ending "ok" when it went as planned.
    func run(from pod: String, to target: String) throws -> [String] {
        var lines = try self.lab.script(["exec", self.lab.name, pod, "python3", "-c", Self.client, target])
            .split(separator: "\n").map(String.init)
        let ping = try self.lab.script(["exec", self.lab.name, pod, "ping", "-n", "-q", "-c", "100", "-i", "0.01", "-W", "2", target])
        lines.append("bulk ping " + (ping.contains("100 received") ? "ok" : ping))
        return lines
    }

    func stop() {
        for server in self.servers where server.isRunning { server.stop() }
    }
}
