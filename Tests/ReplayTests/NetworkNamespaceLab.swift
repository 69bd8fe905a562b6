import Foundation

/// A small Kubernetes "node" built from network namespaces for live-capture tests: a node
/// namespace with a bridge `br0`, and one namespace per pod with a veth pair into the bridge
/// (addresses from 10.244.0.0/24). Only these namespaces receive test traffic. `tearDown`
/// removes everything and is safe to call more than once or after a failed setup.
final class NetworkNamespaceLab {
    struct Pod {
        var name: String
        var namespace: String
        var app: String
        var address: String
    }

    let prefix: String
    private(set) var pods: [Pod]
    var node: String { "\(self.prefix)-node" }

    init(pods: [Pod]) {
        self.prefix = "fm" + UUID().uuidString.prefix(8).lowercased()  // unique: suites run in parallel
        self.pods = pods
    }

    func namespace(of pod: Pod) -> String { "\(self.prefix)-\(pod.name)" }

    @discardableResult
    func sh(_ command: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(URL(fileURLWithPath: "/bin/sh"), ["-c", command])
    }

    func setUp() throws {
        self.tearDown()
        let steps = [
            "ip netns add \(self.node)",
            // No IPv6: router solicitations and DAD would add packets the tests did not send.
            "ip netns exec \(self.node) sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
            "ip -n \(self.node) link set lo up",
            "ip -n \(self.node) link add br0 type bridge",
            "ip -n \(self.node) link set br0 up",
            "ip -n \(self.node) addr add 10.244.0.1/24 dev br0",
        ] + self.pods.enumerated().flatMap { index, pod in self.podSteps(pod, index: index) }
        try self.runSteps(steps)
    }

    /// Adds a pod to the running lab, as the CNI does when the kubelet starts one: its namespace,
    /// its veth `veth<n>` into the bridge, its address and route.
    func addPod(_ pod: Pod) throws {
        let index = self.pods.count
        self.pods.append(pod)
        try self.runSteps(self.podSteps(pod, index: index))
    }

    private func podSteps(_ pod: Pod, index: Int) -> [String] {
        let ns = self.namespace(of: pod)
        return [
            "ip netns add \(ns)",
            "ip netns exec \(ns) sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1",
            "ip -n \(ns) link set lo up",
            "ip -n \(self.node) link add veth\(index) type veth peer name eth0 netns \(ns)",
            "ip -n \(self.node) link set veth\(index) master br0",
            "ip -n \(self.node) link set veth\(index) up",
            "ip -n \(ns) addr add \(pod.address)/24 dev eth0",
            "ip -n \(ns) link set eth0 up",
            "ip -n \(ns) route add default via 10.244.0.1",
        ]
    }

    private func runSteps(_ steps: [String]) throws {
        for step in steps {
            let result = try self.sh(step)
            guard result.status == 0 else {
                throw LabError(message: "\(step): \(result.stderr)")
            }
        }
    }

    func tearDown() {
        _ = try? self.sh("ip netns pids \(self.node) 2>/dev/null | xargs -r kill -9; "
            + self.pods.map { "ip netns pids \(self.namespace(of: $0)) 2>/dev/null | xargs -r kill -9; ip netns del \(self.namespace(of: $0)) 2>/dev/null" }
                .joined(separator: "; ")
            + "; ip netns del \(self.node) 2>/dev/null; true")
    }

    /// Writes the lab's pods (`podsJSON`) and `policy` into `directory`, as `--pods` and
    /// `--policies` read them.
    func writeInventory(policy: String, into directory: URL) throws -> (pods: URL, policy: URL) {
        let pods = directory.appendingPathComponent("pods.json")
        try self.podsJSON().write(to: pods, atomically: true, encoding: .utf8)
        let policyFile = directory.appendingPathComponent("policy.yaml")
        try policy.write(to: policyFile, atomically: true, encoding: .utf8)
        return (pods, policyFile)
    }

    /// `kubectl get pods -A -o json` for the lab's pods, all on node "lab-node".
    func podsJSON() -> String {
        let items = self.pods.map { pod in
            """
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"\(pod.name)","namespace":"\(pod.namespace)","labels":{"app":"\(pod.app)"}},\
            "spec":{"nodeName":"lab-node","containers":[{"name":"main","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}]}]},\
            "status":{"podIP":"\(pod.address)","podIPs":[{"ip":"\(pod.address)"}],"hostIP":"10.244.0.1"}}
            """
        }
        return "{\"apiVersion\":\"v1\",\"kind\":\"List\",\"items\":[\(items.joined(separator: ","))]}"
    }

    struct LabError: Error, CustomStringConvertible {
        var message: String
        var description: String { self.message }
    }
}

extension Process {
    /// Stops a process a test started, even when the test failed half-way: SIGTERM, then
    /// SIGKILL if it is still running after `grace` seconds. No test leaves a capture running.
    func stop(grace: TimeInterval = 5) {
        guard self.isRunning else { return }
        self.terminate()
        let deadline = Date().addingTimeInterval(grace)
        while self.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if self.isRunning { kill(self.processIdentifier, SIGKILL) }
    }
}

/// Starts a long-running command (a server) in a network namespace, its input and output
/// discarded; the caller terminates it.
func startInNamespace(_ namespace: String, _ command: [String]) throws -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
    process.arguments = ["netns", "exec", namespace] + command
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
}
