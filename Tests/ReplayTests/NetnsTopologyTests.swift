import Foundation
import Testing

/// The three node topologies of `scripts/netns-lab` (bridge, routed, overlay) with real traffic
/// between pods, pods and the node, and local and remote pods, and the ground truth of every
/// pod counted on the pod's own eth0 by `scripts/pod-truth` (every packet of a pod crosses its
/// eth0 exactly once). Checks that the truth itself is right — the planned exchanges and
/// nothing else, packet counts the exchanges fix, both ends of a pod-to-pod connection
/// agreeing — so that `flowmon capture` on the node can be compared with it connection by
/// connection (`NetnsTopologyHarness.mergedPodTruth`). Needs root, iproute2, python3 and ping;
/// when CI=true it must run, not skip.
@Suite(.serialized)
struct NetnsTopologyTests {
    @Test(arguments: ["bridge", "routed", "overlay"])
    func groundTruthOfEveryPodMatchesTheTraffic(topology: String) throws {
        guard NetnsTopologyHarness.canRun() else { return }
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let lab = try NetnsLab(topology: topology)
        defer { lab.down() }
        try lab.up(out: directory)

        let remoteNode = "\(lab.name)-remote"
        #expect(lab.topology == topology)
        #expect(lab.pods.map(\.name) == (topology == "overlay" ? ["pod-a", "pod-b", "pod-c", "pod-x"] : ["pod-a", "pod-b", "pod-c"]))
        #expect(lab.nodeInterfaces.contains(topology == "routed" ? "lxc-a" : "veth-a"), "\(lab.nodeInterfaces)")
        #expect((lab.uplinkInterface != nil) == (topology == "overlay"))
        let inventory = try NetnsTopologyHarness.podsByName(directory.appendingPathComponent("pods.json"))
        #expect(inventory["a"]?.node == "\(lab.name)-node")
        if topology == "overlay" {
            #expect(inventory["x"]?.node == remoteNode && inventory["x"]?.hostIP == "192.168.100.2", "\(inventory)")
            #expect(inventory["a"]?.hostIP == "192.168.100.1")
        } else {
            #expect(inventory["a"]?.hostIP == "10.244.0.1")
        }

        // flowmon as deployed, on the (local) node: the pods' interfaces, every packet once.
        let output = directory.appendingPathComponent("flows.jsonl")
        let flowmon = try BoundedProcess(URL(fileURLWithPath: "/usr/sbin/ip"), [
            "netns", "exec", "\(lab.name)-node", Fixture.flowmonBinary.path, "capture", "--output", output.path,
            "--timeout-new", "120", "--timeout-established", "120"], seconds: 300)
        defer { flowmon.process.stop() }
        #expect(flowmon.wait(seconds: 60) { flowmon.stderrSoFar.contains("flowmon: capturing on") }, "\(flowmon.stderrSoFar)")

        let truths = try lab.pods.map { try lab.startTruth(in: $0, directory: directory) }
        defer { truths.forEach { $0.process.stop() } }
        var traffic = try lab.traffic()
        // A pod added to the running lab is wired at once: it pings pod-b (and, in overlay, a
        // new remote pod pings pod-a), then goes away again.
        var added = [("d", lab.podIP("b"))]
        if topology == "overlay" { added.append(("y", lab.podIP("a"))) }
        for (pod, target) in added {
            let line = try lab.script(["add-pod", lab.name, pod, "--out", directory.path])
            #expect(line.hasPrefix(pod == "y" ? "remote-pod pod-y" : "pod pod-d"), "\(line)")
            let ping = try lab.script(["exec", lab.name, "pod-\(pod)", "ping", "-n", "-q", "-c", "3", "-i", "0.2", "-W", "2", target])
            #expect(ping.contains("3 received"), "\(ping)")
            traffic.append(TrafficExchange(kind: "ping", source: lab.podIP(pod), sourcePort: nil, destination: target,
                                           destinationPort: nil, result: "received:3/3"))
        }
        let withAdded = try NetnsTopologyHarness.podsByName(directory.appendingPathComponent("pods.json"))
        #expect(withAdded["d"]?.ip == "10.244.0.14")
        #expect(topology != "overlay" || withAdded["y"]?.node == remoteNode, "\(withAdded)")
        Thread.sleep(forTimeInterval: 0.3)  // the last echo replies reach pod-b's and pod-a's eth0
        for (pod, _) in added {
            _ = try lab.script(["del-pod", lab.name, pod, "--out", directory.path])
            #expect(!NetnsLab.namespaceExists("\(lab.name)-pod-\(pod)"))
        }
        #expect(try NetnsTopologyHarness.podsByName(directory.appendingPathComponent("pods.json"))["d"] == nil)

        let counted = try truths.map { try $0.finish() }
        for truth in counted {
            #expect(truth.socketDrops == 0, "\(truth.pod): the kernel dropped frames before pod-truth read them")
            #expect(truth.untrackedPackets == 0)
            #expect(truth.connections.reduce(0) { $0 + $1.pktsToserver + $1.pktsToclient } == truth.packets,
                    "\(truth.pod): every IP packet belongs to a connection")
            #expect(truth.skipped["malformed"] == 0)
            for connection in truth.connections {
                // Frame bytes on the pod's Ethernet are the IP bytes and a 14-byte header.
                #expect(connection.bytesToserver == connection.ipBytesToserver + 14 * connection.pktsToserver, "\(connection)")
                #expect(connection.bytesToclient == connection.ipBytesToclient + 14 * connection.pktsToclient, "\(connection)")
            }
        }
        let merged = NetnsTopologyHarness.mergedPodTruth(counted)
        #expect(merged.disagreements.isEmpty, "both ends of a connection count the same: \(merged.disagreements)")
        try Self.checkTruth(merged, against: traffic, podIPs: Set(lab.pods.map(\.ip)), topology: topology)

        kill(flowmon.pid, SIGINT)
        let finished = flowmon.finish()
        #expect(finished.status == 0, "\(finished.stderr)")
        let localPods = Set(lab.pods.filter { !$0.isRemote }.map(\.ip) + ["10.244.0.14"])
        // The default datapath is eBPF where it can run (the frame as the veth carries it),
        // libpcap otherwise; EBPFDatapathTests runs both side by side.
        let linkHeaderBytes = finished.stderr.contains("datapath: eBPF") ? 14 : 20
        try Self.checkFlowmon(output, against: merged, localPods: localPods, topology: topology, linkHeaderBytes: linkHeaderBytes)
    }

    /// flowmon counted every connection of a local pod exactly as the pods did: the same
    /// packets each way (each packet once, though it crossed two veths, a bridge or a tunnel),
    /// and the same bytes: the IP packet behind a link header of `linkHeaderBytes`. libpcap
    /// through `any` gives a 20-byte Linux cooked v2 header, where the pod's Ethernet header is
    /// 14; the eBPF datapath counts the frame as the interface carries it (14).
    static func checkFlowmon(_ output: URL, against merged: NetnsTopologyHarness.MergedTruth, localPods: Set<String>,
                             topology: String, linkHeaderBytes: Int = 20) throws {
        let flows = try String(contentsOf: output, encoding: .utf8).split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event_type"] as? String == "flow" }
        /// A connection as both sides describe it, and its counts: ICMP echoes by their addresses
        /// (flow records do not carry the identifier), so those compare as sorted lists.
        func signature(_ proto: String, _ source: String, _ sourcePort: Int?, _ destination: String, _ port: Int?) -> String {
            proto == "ICMP" ? "ICMP \(source) > \(destination)" : "\(proto) \(source):\(sourcePort ?? 0) > \(destination):\(port ?? 0)"
        }
        var truth: [String: [[Int]]] = [:]
        for connection in merged.connections.values where localPods.contains(connection.srcIP) || localPods.contains(connection.destIP) {
            let key = signature(connection.proto, connection.srcIP, connection.srcPort, connection.destIP, connection.destPort)
            truth[key, default: []].append([connection.pktsToserver, connection.pktsToclient,
                                            connection.ipBytesToserver + linkHeaderBytes * connection.pktsToserver,
                                            connection.ipBytesToclient + linkHeaderBytes * connection.pktsToclient])
        }
        var seen: [String: [[Int]]] = [:]
        for record in flows {
            let source = record["src_ip"] as? String ?? "", destination = record["dest_ip"] as? String ?? ""
            guard localPods.contains(source) || localPods.contains(destination), let proto = record["proto"] as? String,
                  ["TCP", "UDP", "ICMP"].contains(proto) else { continue }
            let flow = record["flow"] as? [String: Any] ?? [:]
            let key = signature(proto, source, record["src_port"] as? Int, destination, record["dest_port"] as? Int)
            seen[key, default: []].append([flow["pkts_toserver"] as? Int ?? -1, flow["pkts_toclient"] as? Int ?? -1,
                                           flow["bytes_toserver"] as? Int ?? -1, flow["bytes_toclient"] as? Int ?? -1])
        }
        for key in Set(truth.keys).union(seen.keys).sorted() {
            let expected = (truth[key] ?? []).sorted { $0.lexicographicallyPrecedes($1) }
            let counted = (seen[key] ?? []).sorted { $0.lexicographicallyPrecedes($1) }
            #expect(counted == expected, "\(topology): \(key): flowmon \(counted), pods \(expected) (packets, packets, bytes, bytes)")
        }
        #expect(truth.count > 20, "\(topology): \(truth.count) connections compared")
    }

    /// Every exchange of the traffic is in the truth of each pod it involves, with the counts it
    /// fixes, and the truth holds nothing else (the lab is quiet).
    static func checkTruth(_ merged: NetnsTopologyHarness.MergedTruth, against traffic: [TrafficExchange], podIPs: Set<String>,
                           topology: String) throws {
        var expected = Set<TruthKey>()
        var pings: [String: Int] = [:]
        for exchange in traffic {
            #expect(["served", "refused", "answered:3/3", "sent:2", "unreachable", "received:3/3"].contains(exchange.result),
                    "\(exchange)")
            #expect(!Self.podsOf(exchange, podIPs).isEmpty, "every exchange involves a pod: \(exchange)")
            guard let sourcePort = exchange.sourcePort, let destinationPort = exchange.destinationPort else {
                // ping: one ICMP echo connection from the pinging side, 3 requests and 3 replies.
                let pair = "\(exchange.source) \(exchange.destination)"
                pings[pair, default: 0] += 1
                let echoes = merged.connections.values.filter {
                    $0.proto == "ICMP" && $0.srcIP == exchange.source && $0.destIP == exchange.destination
                }
                #expect(echoes.count == pings[pair], "\(exchange): \(echoes)")
                for echo in echoes {
                    #expect(echo.icmpID != nil && echo.pktsToserver == 3 && echo.pktsToclient == 3, "\(echo)")
                    #expect(Set(merged.seenBy[echo.key] ?? []) == Self.podsOf(exchange, podIPs), "\(echo)")
                    expected.insert(echo.key)
                }
                continue
            }
            let proto = exchange.kind.hasPrefix("udp") ? "UDP" : "TCP"
            let key = TruthKey(proto: proto, client: exchange.source, clientPort: sourcePort, server: exchange.destination,
                               serverPort: destinationPort)
            expected.insert(key)
            guard let connection = merged.connections[key] else {
                Issue.record("\(topology): no truth for \(exchange)")
                continue
            }
            #expect(Set(merged.seenBy[key] ?? []) == Self.podsOf(exchange, podIPs), "\(exchange) counted by \(merged.seenBy[key] ?? [])")
            let counts = (connection.pktsToserver, connection.pktsToclient)
            switch exchange.kind {
            case "tcp-accepted":
                // SYN, ACK, request, FIN at least; SYN-ACK, response (its FIN may ride along), last ACK.
                #expect(counts.0 >= 4 && counts.1 >= 2, "\(connection)")
                #expect(connection.tcp == TCPFlagCounts(synToserver: 1, synToclient: 1, finToserver: 1, finToclient: 1,
                                                        rstToserver: 0, rstToclient: 0), "\(connection)")
            case "tcp-refused", "tcp-scan":
                #expect(counts == (1, 1), "\(connection)")
                #expect(connection.tcp == TCPFlagCounts(synToserver: 1, synToclient: 0, finToserver: 0, finToclient: 0,
                                                        rstToserver: 0, rstToclient: 1), "\(connection)")
            case "udp-reply":
                #expect(counts == (3, 3), "\(connection)")
            case "udp-noreply":
                #expect(counts == (2, 0), "\(connection)")
            case "udp-closed":
                // The datagram, and the ICMP port unreachable about it, counted in its connection.
                #expect(counts == (1, 1) && connection.icmpErrorsToclient == 1, "\(connection)")
            default:
                Issue.record("unknown exchange \(exchange)")
            }
        }
        let extra = Set(merged.connections.keys).subtracting(expected)
        #expect(extra.isEmpty, "\(topology): connections no exchange made: \(extra.map { merged.connections[$0]! })")
        // From pod-a, 18 exchanges to pod-b, to the node and (overlay) to pod-x; the node's 2, pod-c's 1; in
        // overlay pod-x's ping; the added pods' pings.
        #expect(traffic.count == (topology == "overlay" ? 3 * 18 + 3 + 1 + 2 : 2 * 18 + 3 + 1), "\(traffic.count) exchanges")
    }

    /// The pods an exchange involves, by name (pod-a ...).
    static func podsOf(_ exchange: TrafficExchange, _ podIPs: Set<String>) -> Set<String> {
        Set([exchange.source, exchange.destination].filter { podIPs.contains($0) }.map(NetnsLab.podName(ofIP:)))
    }
}

/// One exchange `scripts/netns-lab traffic` made: "traffic KIND SRC SPORT DST DPORT RESULT".
struct TrafficExchange: Equatable {
    var kind: String
    var source: String
    var sourcePort: Int?
    var destination: String
    var destinationPort: Int?
    var result: String
}

extension TrafficExchange {
    init?(line: Substring) {
        let fields = line.split(separator: " ").map(String.init)
        guard fields.count == 7, fields[0] == "traffic" else { return nil }
        self.init(kind: fields[1], source: fields[2], sourcePort: Int(fields[3]), destination: fields[4],
                  destinationPort: Int(fields[5]), result: fields[6])
    }
}

/// A connection's identity as flowmon's flow records give it: protocol, initiator (client)
/// and responder (server). Ports are the ICMP identifier for echo and other queries, and the
/// type and code for other ICMP messages (flowmon's records carry `icmp_type` there instead).
struct TruthKey: Hashable, CustomStringConvertible {
    var proto: String
    var client: String
    var clientPort: Int
    var server: String
    var serverPort: Int

    var description: String { "\(self.proto) \(self.client):\(self.clientPort) -> \(self.server):\(self.serverPort)" }
}

struct TCPFlagCounts: Decodable, Equatable {
    var synToserver, synToclient, finToserver, finToclient, rstToserver, rstToclient: Int

    enum CodingKeys: String, CodingKey {
        case synToserver = "syn_toserver", synToclient = "syn_toclient", finToserver = "fin_toserver"
        case finToclient = "fin_toclient", rstToserver = "rst_toserver", rstToclient = "rst_toclient"
    }
}

/// One connection in a pod's ground truth (`scripts/pod-truth`'s JSON, its counting rules in
/// that script's header). `bytes_to*` are frame lengths on the pod's Ethernet, as flowmon
/// counts on an Ethernet interface; `ip_bytes_to*` the IP total lengths.
struct TruthConnection: Decodable, Equatable, CustomStringConvertible {
    var proto: String
    var srcIP: String
    var srcPort: Int?
    var destIP: String
    var destPort: Int?
    var icmpID: Int?
    var icmpType: Int?
    var icmpCode: Int?
    var pktsToserver: Int
    var pktsToclient: Int
    var bytesToserver: Int
    var bytesToclient: Int
    var ipBytesToserver: Int
    var ipBytesToclient: Int
    var tcp: TCPFlagCounts?
    var icmpErrorsToserver: Int?
    var icmpErrorsToclient: Int?
    var firstSeen: Double
    var lastSeen: Double

    enum CodingKeys: String, CodingKey {
        case proto, tcp
        case srcIP = "src_ip", srcPort = "src_port", destIP = "dest_ip", destPort = "dest_port"
        case icmpID = "icmp_id", icmpType = "icmp_type", icmpCode = "icmp_code"
        case pktsToserver = "pkts_toserver", pktsToclient = "pkts_toclient", bytesToserver = "bytes_toserver"
        case bytesToclient = "bytes_toclient", ipBytesToserver = "ip_bytes_toserver", ipBytesToclient = "ip_bytes_toclient"
        case icmpErrorsToserver = "icmp_errors_toserver", icmpErrorsToclient = "icmp_errors_toclient"
        case firstSeen = "first_seen", lastSeen = "last_seen"
    }

    var key: TruthKey {
        TruthKey(proto: self.proto, client: self.srcIP, clientPort: self.srcPort ?? self.icmpID ?? self.icmpType ?? 0,
                 server: self.destIP, serverPort: self.destPort ?? self.icmpID ?? self.icmpCode ?? 0)
    }

    /// Packets and bytes both ways: what two observers of the same connection must agree on.
    var counts: [Int] {
        [self.pktsToserver, self.pktsToclient, self.bytesToserver, self.bytesToclient, self.icmpErrorsToserver ?? 0,
         self.icmpErrorsToclient ?? 0]
    }

    var description: String {
        "\(self.key) pkts \(self.pktsToserver)/\(self.pktsToclient) bytes \(self.bytesToserver)/\(self.bytesToclient)"
            + (self.tcp.map { " syn \($0.synToserver)/\($0.synToclient) fin \($0.finToserver)/\($0.finToclient) rst \($0.rstToserver)/\($0.rstToclient)" } ?? "")
    }
}

/// A pod's ground truth: what `scripts/pod-truth` wrote.
struct PodTruth: Decodable {
    var pod = ""
    var interface: String
    var packets: Int
    var bytes: Int
    var skipped: [String: Int]
    var untrackedPackets: Int
    var socketDrops: Int?
    var connections: [TruthConnection]

    enum CodingKeys: String, CodingKey {
        case interface, packets, bytes, skipped, connections
        case untrackedPackets = "untracked_packets", socketDrops = "socket_drops"
    }
}

/// What a test that compares flowmon with the pods' ground truth needs.
enum NetnsTopologyHarness {
    static var mustRun: Bool { ProcessInfo.processInfo.environment["CI"] == "true" }

    /// Whether the lab can be built here: as root, with ip, python3 and ping. When not, says so
    /// on one line and returns false, unless CI=true, where that is a failure.
    static func canRun() -> Bool {
        var missing: [String] = []
        if getuid() != 0 { missing.append("root") }
        for tool in ["ip", "python3", "ping"] where (try? run(URL(fileURLWithPath: "/usr/bin/env"), ["which", tool]))?.status != 0 {
            missing.append(tool)
        }
        guard missing.isEmpty else {
            #expect(!Self.mustRun, "netns-lab topology tests must run in CI (as root), missing: \(missing)")
            print("notice: NetnsTopologyTests skipped: needs \(missing.joined(separator: ", "))")
            return false
        }
        return true
    }

    /// The per-connection ground truth of all pods merged into one record per connection
    /// (keyed as flowmon's records are: protocol, initiator, responder; see `TruthKey`), to compare
    /// with `flowmon capture`'s flow records on the node. A connection between two pods is
    /// counted by both; `seenBy` names the pods that counted each connection, and
    /// `disagreements` lists every connection whose counts differ between them (none, if the
    /// lab lost nothing).
    static func mergedPodTruth(_ truths: [PodTruth]) -> MergedTruth {
        var merged = MergedTruth()
        for truth in truths {
            for connection in truth.connections {
                let key = connection.key
                merged.seenBy[key, default: []].append(truth.pod)
                guard var known = merged.connections[key] else {
                    merged.connections[key] = connection
                    continue
                }
                if known.counts != connection.counts || known.tcp != connection.tcp {
                    merged.disagreements.append("\(key): \(known) by \(merged.seenBy[key]![0]), \(connection) by \(truth.pod)")
                }
                known.firstSeen = min(known.firstSeen, connection.firstSeen)
                known.lastSeen = max(known.lastSeen, connection.lastSeen)
                merged.connections[key] = known
            }
        }
        return merged
    }

    struct MergedTruth {
        var connections: [TruthKey: TruthConnection] = [:]
        var seenBy: [TruthKey: [String]] = [:]
        var disagreements: [String] = []
    }

    /// The pods of a pods.json the lab wrote, by name: IP, node and host IP.
    static func podsByName(_ file: URL) throws -> [String: (ip: String, node: String, hostIP: String)] {
        let list = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any]
        var pods: [String: (ip: String, node: String, hostIP: String)] = [:]
        for item in list?["items"] as? [[String: Any]] ?? [] {
            let name = (item["metadata"] as? [String: Any])?["name"] as? String ?? ""
            let status = item["status"] as? [String: Any] ?? [:]
            pods[name] = (status["podIP"] as? String ?? "", (item["spec"] as? [String: Any])?["nodeName"] as? String ?? "",
                          status["hostIP"] as? String ?? "")
        }
        return pods
    }
}

/// A lab made by `scripts/netns-lab up NAME --topology T` (a unique NAME: suites run in
/// parallel), read from the lines `up` prints. `down` removes it whatever state it is in.
final class NetnsLab {
    struct Pod {
        var name: String
        var namespace: String
        var ip: String
        var nodeSideInterface: String
        var isRemote: Bool
    }

    static let scriptURL = Fixture.root.appendingPathComponent("scripts/netns-lab")
    static let podTruthURL = Fixture.root.appendingPathComponent("scripts/pod-truth")

    let name: String
    let requestedTopology: String
    private(set) var topology = ""
    private(set) var pods: [Pod] = []
    private(set) var nodeInterfaces: [String] = []
    private(set) var uplinkInterface: String?

    init(topology: String) throws {
        self.name = "nt" + UUID().uuidString.prefix(8).lowercased()
        self.requestedTopology = topology
    }

    /// Runs the script; its standard output, or an error with its standard error.
    @discardableResult
    func script(_ arguments: [String]) throws -> String {
        let result = try run(Self.scriptURL, arguments)
        guard result.status == 0 else {
            throw LabFailure(message: "netns-lab \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
        }
        return result.stdout
    }

    func up(out: URL) throws {
        let output = try self.script(["up", self.name, "--topology", self.requestedTopology, "--out", out.path])
        for line in output.split(separator: "\n") {
            let fields = line.split(separator: " ").map(String.init)
            switch fields.first {
            case "topology": self.topology = fields[1]
            case "node-interface": self.nodeInterfaces.append(fields[1])
            case "uplink-interface": self.uplinkInterface = fields[1]
            case "pod" where fields.count == 5, "remote-pod" where fields.count == 6:
                self.pods.append(Pod(name: fields[1], namespace: fields[2], ip: fields[3], nodeSideInterface: fields[4],
                                     isRemote: fields[0] == "remote-pod"))
            default: break
            }
        }
    }

    func down() {
        _ = try? run(Self.scriptURL, ["down", self.name])
    }

    /// Runs `traffic` and returns the exchanges it made.
    func traffic() throws -> [TrafficExchange] {
        try self.script(["traffic", self.name]).split(separator: "\n").compactMap(TrafficExchange.init(line:))
    }

    /// The address of pod a..h (10.244.0.11 ...) or x..z (10.244.1.11 ...), as the script gives them.
    func podIP(_ pod: String) -> String { Self.podIP(pod) }

    static func podIP(_ pod: String) -> String {
        let letter = Int(pod.unicodeScalars.first!.value)
        return letter >= 120 ? "10.244.1.\(letter - 119 + 10)" : "10.244.0.\(letter - 96 + 10)"
    }

    static func podName(ofIP ip: String) -> String {
        let parts = ip.split(separator: ".").compactMap { Int($0) }
        let letter = parts[2] == 1 ? parts[3] - 10 + 119 : parts[3] - 10 + 96
        return "pod-" + String(UnicodeScalar(UInt8(letter)))
    }

    static func namespaceExists(_ namespace: String) -> Bool {
        FileManager.default.fileExists(atPath: "/run/netns/\(namespace)")
    }

    /// Starts `scripts/pod-truth` on the pod's eth0 and waits until it counts.
    func startTruth(in pod: Pod, directory: URL) throws -> PodTruthRun {
        let truth = PodTruthRun(pod: pod.name, output: directory.appendingPathComponent("truth-\(pod.name).json"),
                              ready: directory.appendingPathComponent("truth-\(pod.name).ready"))
        truth.process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        truth.process.arguments = ["ip", "netns", "exec", pod.namespace, "python3", Self.podTruthURL.path, "--interface", "eth0",
                                 "--out", truth.output.path, "--ready", truth.ready.path]
        truth.process.standardInput = FileHandle.nullDevice
        truth.process.standardOutput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: truth.errors.path, contents: nil)
        truth.process.standardError = try FileHandle(forWritingTo: truth.errors)
        try truth.process.run()
        let deadline = Date().addingTimeInterval(20)
        while !FileManager.default.fileExists(atPath: truth.ready.path) {
            guard truth.process.isRunning, Date() < deadline else {
                throw LabFailure(message: "pod-truth did not start in \(pod.namespace): \(truth.errorText)")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        return truth
    }

    struct LabFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { self.message }
    }
}

/// A running `scripts/pod-truth`; `finish` stops it (SIGTERM) and reads what it counted.
final class PodTruthRun {
    let pod: String
    let output: URL
    let ready: URL
    let process = Process()
    var errors: URL { self.output.appendingPathExtension("stderr") }
    var errorText: String { (try? String(contentsOf: self.errors, encoding: .utf8)) ?? "" }

    init(pod: String, output: URL, ready: URL) {
        self.pod = pod
        self.output = output
        self.ready = ready
    }

    func finish() throws -> PodTruth {
        self.process.stop(grace: 10)
        self.process.waitUntilExit()  // after a SIGKILL, too
        #expect(self.process.terminationReason == .exit && self.process.terminationStatus == 0,
                "pod-truth in \(self.pod) exits 0 on SIGTERM: \(self.errorText)")
        var truth = try JSONDecoder().decode(PodTruth.self, from: Data(contentsOf: self.output))
        truth.pod = self.pod
        return truth
    }
}
