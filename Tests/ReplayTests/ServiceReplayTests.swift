import Foundation
import Testing

/// `--services` end to end: a connection to a ClusterIP service port is judged as sent to the
/// service's backends (their identity, the target port), before policy, as after Cilium's load
/// balancer; the record keeps the ClusterIP and port and names the service.
struct ServiceReplayTests {
    static let directory = Fixture.captures.appendingPathComponent("services")
    static let capture = directory.appendingPathComponent("services-cluster.pcap")
    static let pods = directory.appendingPathComponent("services-cluster.pods.json").path
    static let servicesFile = directory.appendingPathComponent("services-cluster.services.json").path
    static let inventory = ["--pods", pods, "--node-name", "kind-worker-0"]

    /// Every local pod may send DNS to the kube-dns pods on 53 and nothing else.
    static let dnsPolicy = """
        apiVersion: cilium.io/v2
        kind: CiliumClusterwideNetworkPolicy
        metadata:
          name: allow-dns
        spec:
          endpointSelector: {}
          egress:
          - toEndpoints:
            - matchLabels:
                k8s:k8s-app: kube-dns
                k8s:io.kubernetes.pod.namespace: kube-system
            toPorts:
            - ports:
              - port: "53"
                protocol: UDP
              - port: "53"
                protocol: TCP
        """

    static func write(_ text: String, _ name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    static func lines(_ text: String) -> [[String: Any]] {
        text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    static func flows(_ text: String) -> [[String: Any]] { lines(text).filter { $0["event_type"] as? String == "flow" } }

    static func isKubeDNS(_ flow: [String: Any]) -> Bool {
        ["10.96.0.10", "fd00:10:96::a"].contains(flow["dest_ip"] as? String ?? "") && flow["dest_port"] as? Int == 53
    }

    @Test func dnsToTheKubeDNSClusterIPIsJudgedAtTheKubeDNSPods() throws {
        let scratch = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let policy = try Self.write(Self.dnsPolicy, "dns.yaml", in: scratch)
        let hubble = scratch.appendingPathComponent("hubble.jsonl")
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--services", Self.servicesFile,
                                                     "--policies", policy, "--hubble", hubble.path] + Self.inventory)
        #expect(result.status == 0, "\(result.stderr)")
        let dns = Self.flows(result.stdout).filter(Self.isKubeDNS)
        #expect(dns.count >= 40, "\(dns.count) DNS connections to the ClusterIP (49 in this capture)")
        for flow in dns {
            let destination = try #require(flow["destination"] as? [String: Any])
            let labels = destination["labels"] as? [String] ?? []
            #expect(labels.contains("k8s:k8s-app=kube-dns") && labels.contains("k8s:io.kubernetes.pod.namespace=kube-system"),
                    "\(labels)")
            #expect(destination["pod_name"] == nil, "which backend took it is not seen")
            #expect(flow["destination_service"] as? [String: String] == ["name": "kube-dns", "namespace": "kube-system"])
            let verdict = try #require(flow["policy"] as? [String: Any])
            #expect(verdict["verdict"] as? String == "FORWARDED")
            #expect((verdict["egress_allowed_by"] as? [[String: String]])?.first?["name"] == "allow-dns")
        }
        // Other connections to ClusterIPs name their service too; the capture's addresses stay.
        let toServices = Self.flows(result.stdout).filter { ($0["dest_ip"] as? String)?.hasPrefix("10.96.") == true }
        #expect(toServices.allSatisfy { $0["destination_service"] != nil })
        #expect(toServices.contains { ($0["destination_service"] as? [String: String])?["name"] == "kubernetes" })
        // Connections to pods directly name no service.
        #expect(Self.flows(result.stdout).contains { ($0["dest_ip"] as? String)?.hasPrefix("10.244.") == true }
            && Self.flows(result.stdout).filter { ($0["dest_ip"] as? String)?.hasPrefix("10.244.") == true }
                .allSatisfy { $0["destination_service"] == nil })

        // Hubble lines carry destination_service; flow and Hubble lines are schema-valid.
        let hubbleText = try String(contentsOf: hubble, encoding: .utf8)
        let hubbleDNS = Self.lines(hubbleText).compactMap { $0["flow"] as? [String: Any] }.filter {
            (($0["l4"] as? [String: Any])?["UDP"] as? [String: Any])?["destination_port"] as? Int == 53
                && ($0["IP"] as? [String: Any])?["destination"] as? String == "10.96.0.10"
        }
        #expect(!hubbleDNS.isEmpty)
        #expect(hubbleDNS.allSatisfy { $0["destination_service"] as? [String: String] == ["name": "kube-dns", "namespace": "kube-system"] })
        let validation = try validateAgainstSchemas((result.stdout + hubbleText).split(separator: "\n").map(String.init))
        #expect(validation.status == 0, "\(validation.report)")

        // Without --services the same connections go to world, and the policy would drop them.
        let without = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--policies", policy] + Self.inventory)
        let worldDNS = Self.flows(without.stdout).filter(Self.isKubeDNS)
        #expect(worldDNS.count == dns.count)
        #expect(worldDNS.allSatisfy { ($0["policy"] as? [String: Any])?["verdict"] as? String == "AUDIT" && $0["destination_service"] == nil })
    }

    /// A service whose targetPort is not its port: policy sees the target port; the record keeps
    /// the service port. Named target ports resolve through the backends' container ports.
    @Test(arguments: [("2021", "2021", "FORWARDED"), ("2021", "2020", "AUDIT"), ("\"main\"", "2020", "FORWARDED"),
                      ("\"main\"", "2021", "AUDIT")])
    func aServiceWhoseTargetPortDiffersFromItsPort(targetPort: String, allowedPort: String, verdict: String) throws {
        let scratch = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let services = try Self.write("""
            {"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"Service",
             "metadata":{"name":"fluent-bit","namespace":"monitoring"},
             "spec":{"type":"ClusterIP","clusterIP":"10.96.0.11","clusterIPs":["10.96.0.11"],
                     "ports":[{"name":"http","port":2020,"protocol":"TCP","targetPort":\(targetPort)}],
                     "selector":{"app.kubernetes.io/name":"fluent-bit"}}}]}
            """, "services.json", in: scratch)
        let policy = try Self.write("""
            apiVersion: cilium.io/v2
            kind: CiliumClusterwideNetworkPolicy
            metadata:
              name: to-fluent-bit
            spec:
              endpointSelector: {}
              egress:
              - toEndpoints:
                - matchLabels:
                    k8s:app.kubernetes.io/name: fluent-bit
                    k8s:io.kubernetes.pod.namespace: monitoring
                toPorts:
                - ports:
                  - port: "\(allowedPort)"
                    protocol: TCP
            """, "policy.yaml", in: scratch)
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--services", services, "--policies", policy]
            + Self.inventory)
        #expect(result.status == 0, "\(result.stderr)")
        let toService = Self.flows(result.stdout).filter { $0["dest_ip"] as? String == "10.96.0.11" }
        #expect(toService.count == 3, "three local pods connect to the fluent-bit ClusterIP")
        for flow in toService {
            #expect(flow["dest_port"] as? Int == 2020, "the record keeps the service port")
            #expect(flow["destination_service"] as? [String: String] == ["name": "fluent-bit", "namespace": "monitoring"])
            #expect(((flow["destination"] as? [String: Any])?["labels"] as? [String])?
                .contains("k8s:app.kubernetes.io/name=fluent-bit") == true)
            #expect((flow["policy"] as? [String: Any])?["verdict"] as? String == verdict)
        }
    }

    @Test(arguments: [
        ("{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"clusterIP\":\"10.96.0.300\"}}]}",
         "$.items[0].spec.clusterIP: not an IP address: \"10.96.0.300\""),
        ("{\"kind\":\"List\",\"items\":[{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"},\"spec\":{\"ports\":[{\"port\":0}]}}]}",
         "$.items[0].spec.ports[0].port: port 0 is out of range 1-65535"),
        ("{\"kind\":\"PodList\",\"items\":[]}", "$.kind: expected a List of Service, Endpoints, EndpointSlice (kubectl get services,endpoints -A -o json), found \"PodList\""),
    ])
    func aBadServicesFileStopsBeforeAnyPacketIsRead(text: String, message: String) throws {
        let scratch = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let services = try Self.write(text, "services.json", in: scratch)
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--services", services] + Self.inventory)
        #expect(result.status == 1)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr == "flowmon: error: \(services): \(message)\n", "\(result.stderr)")
    }

    /// `policy explain` judges a ClusterIP service port at the service's backends too.
    @Test func policyExplainTranslatesAClusterIP() throws {
        let demo = Fixture.captures.appendingPathComponent("demo")
        let arguments = ["policy", "explain", "--from", "payments/users-5gprmhlzbs-p75jg", "--to", "10.96.0.10", "--port", "53/udp",
                         "--pods", demo.appendingPathComponent("demo-cluster.pods.json").path, "--node-name", "kind-worker-0",
                         "--policies", Fixture.root.appendingPathComponent("Policies/demo").path]
        let with = try run(Fixture.flowmonBinary, arguments + ["--services", demo.appendingPathComponent("demo-cluster.services.json").path])
        #expect(with.status == 0, "\(with.stderr)")
        #expect(with.stdout.contains("\nto    10.96.0.10, identity 23062 [k8s:io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name=kube-system, "))
        #expect(with.stdout.contains("\n      via service kube-system/kube-dns (service port 53, judged at its backends on port 53)\n"))
        #expect(with.stdout.contains("\ningress at backends of service kube-system/kube-dns: "))
        let json = try run(Fixture.flowmonBinary, arguments + ["--json", "--services", demo.appendingPathComponent("demo-cluster.services.json").path])
        let object = try #require((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) as? [String: Any])
        let service = try #require(object["service"] as? [String: Any])
        #expect(service["name"] as? String == "kube-dns" && service["namespace"] as? String == "kube-system"
            && service["port"] as? Int == 53)
        let without = try run(Fixture.flowmonBinary, arguments)
        #expect(without.stdout.contains("\nto    10.96.0.10, identity 9 [reserved:world-ipv4]\n"), "\(without.stdout)")
        #expect(!without.stdout.contains("via service"))
    }

    /// A missing services file is named, as a missing pods file is.
    @Test func aMissingServicesFile() throws {
        let result = try run(Fixture.flowmonBinary, ["replay", Self.capture.path, "--services", "/nonexistent/services.json"]
            + Self.inventory)
        #expect(result.status == 1 && result.stderr == "flowmon: error: /nonexistent/services.json: file not found\n")
    }
}
