import Foundation
import Testing

/// How the inventory names addresses, through the real `flowmon replay` on
/// Captures/inventory/ (three probe connections, written by generate.py there):
/// a finished pod that still shows a running pod's address, the API server behind the
/// `kube-apiserver` entity, and the local host reaching a pod under ingress default deny.
@Suite struct InventoryReplayTests {
    static let directory = Fixture.captures.appendingPathComponent("inventory")
    static func path(_ name: String) -> String { Self.directory.appendingPathComponent(name).path }
    static let withServices = ["--pods", path("inventory.pods.json"), "--services", path("inventory.services.json"),
                               "--node-name", "node-1", "--policies", path("inventory.policies.yaml")]

    struct Output {
        var status: Int32
        var stderr: String
        var flows: [String: [String: Any]]
        var hubble: [String: [String: Any]]
        var lines: [String]
        var hubbleFile: URL
    }

    /// Replays the capture; flow records and Hubble flows keyed by "source → destination:port".
    static func replay(_ arguments: [String], in directory: URL) throws -> Output {
        let hubble = directory.appendingPathComponent("hubble.jsonl")
        let result = try run(Fixture.flowmonBinary, ["replay", path("inventory.pcap"), "--hubble", hubble.path] + arguments)
        let hubbleText = (try? String(contentsOf: hubble, encoding: .utf8)) ?? ""
        func objects(_ text: String) -> [[String: Any]] {
            text.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }
        var flows: [String: [String: Any]] = [:]
        for record in objects(result.stdout) where record["event_type"] as? String == "flow" {
            flows["\(record["src_ip"]!) → \(record["dest_ip"]!):\(record["dest_port"]!)"] = record
        }
        var hubbleFlows: [String: [String: Any]] = [:]
        for line in objects(hubbleText) {
            guard let flow = line["flow"] as? [String: Any], let ip = flow["IP"] as? [String: Any],
                  let tcp = (flow["l4"] as? [String: Any])?["TCP"] as? [String: Any] else { continue }
            hubbleFlows["\(ip["source"]!) → \(ip["destination"]!):\(tcp["destination_port"]!)"] = flow
        }
        let lines = (result.stdout + hubbleText).split(separator: "\n").map(String.init)
        return Output(status: result.status, stderr: result.stderr, flows: flows, hubble: hubbleFlows, lines: lines,
                      hubbleFile: hubble)
    }

    static func names(_ policy: [String: Any]?, _ field: String) -> [String]? {
        (policy?[field] as? [[String: Any]])?.compactMap { $0["name"] as? String }
    }

    /// Issue 14 item 4: the Succeeded Job pod listed first used to keep 10.0.5.7, so the
    /// connection was tagged with it and client-egress (to app=web) would have dropped it.
    @Test func aFinishedPodDoesNotTakeTheAddressOfTheRunningPod() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try Self.replay(Self.withServices, in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        let flow = try #require(output.flows["10.0.5.2 → 10.0.5.7:80"])
        let destination = flow["destination"] as? [String: Any]
        #expect(destination?["pod_name"] as? String == "web")
        #expect(destination?["namespace"] as? String == "shop")
        let policy = flow["policy"] as? [String: Any]
        #expect(policy?["verdict"] as? String == "FORWARDED", "\(String(describing: policy))")
        #expect(Self.names(policy, "egress_allowed_by") == ["client-egress"])
        #expect(Self.names(policy, "ingress_allowed_by") == ["web-ingress"])
        #expect(output.stderr.contains("flowmon: notice: \(Self.path("inventory.pods.json")): skipped 1 pod in phase Succeeded or Failed"),
                "\(output.stderr)")
        #expect(!output.stderr.contains("is claimed by"), "\(output.stderr)")
        #expect(!output.lines.joined().contains("report-28934400"))
    }

    /// Issue 14 item 5: 192.168.1.11 is node-2's address and the endpoint of default/kubernetes:
    /// identity kube-apiserver (7), which `toEntities: [kube-apiserver]` allows.
    @Test func theKubeAPIServerEntitySelectsTheAPIServersAddress() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try Self.replay(Self.withServices, in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        let flow = try #require(output.flows["10.0.5.2 → 192.168.1.11:6443"])
        let destination = flow["destination"] as? [String: Any]
        #expect(destination?["identity"] as? Int == 7)
        #expect(destination?["labels"] as? [String] == ["reserved:kube-apiserver", "reserved:remote-node"])
        let policy = flow["policy"] as? [String: Any]
        #expect(policy?["verdict"] as? String == "FORWARDED", "\(String(describing: policy))")
        #expect(Self.names(policy, "egress_allowed_by") == ["client-egress"])
        let hubble = try #require(output.hubble["10.0.5.2 → 192.168.1.11:6443"])
        #expect(hubble["verdict"] as? String == "FORWARDED")
        #expect((hubble["destination"] as? [String: Any])?["identity"] as? Int == 7)
        #expect(Self.names(hubble, "egress_allowed_by") == ["client-egress"])
        #expect(!output.stderr.contains("kube-apiserver entity"), "\(output.stderr)")
        let validation = try validateAgainstSchemas(output.lines)
        #expect(validation.status == 0, "\(validation.report)")
    }

    /// Pods reach the API server through the ClusterIP of default/kubernetes, a service without a
    /// selector: Cilium hands the connection to policy at the service's endpoints (the API server,
    /// identity 7) on their port (targetPort 6443), so `toEntities: [kube-apiserver]` on 6443
    /// allows it. Before, such a service had no backend and the ClusterIP was judged as world.
    @Test func theKubernetesServiceIsJudgedAtItsEndpoints() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try Self.replay(Self.withServices, in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        let flow = try #require(output.flows["10.0.5.2 → 10.96.0.1:443"])
        let destination = flow["destination"] as? [String: Any]
        #expect(destination?["identity"] as? Int == 7)
        #expect((flow["destination_service"] as? [String: Any])?["name"] as? String == "kubernetes")
        let policy = flow["policy"] as? [String: Any]
        #expect(policy?["verdict"] as? String == "FORWARDED", "\(String(describing: policy))")
        #expect(Self.names(policy, "egress_allowed_by") == ["client-egress"])
    }

    /// Without the endpoints of default/kubernetes the address is only node-2's (remote-node):
    /// the entity selects nothing there, and one notice says why.
    @Test func withoutTheAPIServersEndpointsOneNoticeSaysSo() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try Self.replay(["--pods", Self.path("inventory.pods.json"), "--node-name", "node-1",
                                      "--policies", Self.path("inventory.policies.yaml")], in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        let policy = output.flows["10.0.5.2 → 192.168.1.11:6443"]?["policy"] as? [String: Any]
        #expect(policy?["verdict"] as? String == "AUDIT")
        let notices = output.stderr.split(separator: "\n").filter { $0.contains("kube-apiserver entity") }
        #expect(notices == ["flowmon: notice: \(Self.path("inventory.policies.yaml")): CiliumNetworkPolicy shop/client-egress selects the kube-apiserver entity, but no endpoints of the default/kubernetes service are known, so no address has that identity (pass --services the output of 'kubectl get services,endpoints -A -o json')"],
                "\(output.stderr)")
    }

    /// Issue 14 item 12: node-1 → shop/web, whose ingress is in default deny: allowed by Cilium's
    /// built-in L3-only rule, which both records name.
    @Test func theLocalHostIsAllowedByCiliumsBuiltInRule() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = try Self.replay(Self.withServices, in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        let label = "reserved:io.cilium.policy.derived-from=allow-localhost-ingress"
        let policy = try #require(output.flows["192.168.1.10 → 10.0.5.7:80"]?["policy"] as? [String: Any])
        #expect(policy["verdict"] as? String == "FORWARDED")
        #expect(policy["policy_match_type"] as? Int == 1)
        #expect((policy["ingress"] as? [String: Any])?["match_type"] as? String == "L3-Only")
        let rule = try #require((policy["ingress_allowed_by"] as? [[String: Any]])?.first)
        #expect(rule["name"] as? String == "allow-localhost-ingress")
        #expect(rule["kind"] as? String == "reserved")
        #expect(rule["labels"] as? [String] == [label])

        let hubble = try #require(output.hubble["192.168.1.10 → 10.0.5.7:80"])
        #expect(hubble["verdict"] as? String == "FORWARDED")
        #expect(hubble["policy_match_type"] as? Int == 1)
        let hubbleRule = try #require((hubble["ingress_allowed_by"] as? [[String: Any]])?.first)
        #expect(hubbleRule.keys.sorted() == ["labels", "revision"])
        #expect(hubbleRule["labels"] as? [String] == [label])
        #expect(hubbleRule["revision"] as? String == "1")
        let validation = try validateAgainstSchemas(output.lines)
        #expect(validation.status == 0, "\(validation.report)")

        // The real hubble CLI's compact line names the match type.
        guard let hubbleBinary = try Fixture.hubbleCLI(in: directory, for: "the hubble compact check") else { return }
        let compact = try run(hubbleBinary, ["observe", "--input-file", output.hubbleFile.path, "-o", "compact",
                                             "--from-ip", "192.168.1.10"])
        #expect(compact.status == 0, "\(compact.stderr)")
        #expect(compact.stdout.contains("(host) -> shop/web:80 (ID:"), "\(compact.stdout)")
        #expect(compact.stdout.contains("policy-verdict:L3-Only INGRESS ALLOWED"), "\(compact.stdout)")
        #expect(!compact.stdout.contains("policy-verdict:none"), "\(compact.stdout)")
    }

    /// `--identities`: the cluster's numbers (the CiliumIdentity and CiliumEndpoint files beside
    /// the capture, real-shaped per Cilium's CRDs) are the flow records' `source.identity` /
    /// `destination.identity` and the Hubble lines' `source.identity` / `destination.identity`:
    /// shop/client by its label set (31337), shop/web by its CiliumEndpoint (48213).
    @Test func theClustersIdentityNumbersAreUsed() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let withIdentities = Self.withServices + ["--identities", Self.path("inventory.ciliumidentities.json"),
                                                  "--identities", Self.path("inventory.ciliumendpoints.json")]
        let output = try Self.replay(withIdentities, in: directory)
        #expect(output.status == 0, "\(output.stderr)")
        #expect(!output.stderr.contains("warning"), "\(output.stderr)")
        let flow = try #require(output.flows["10.0.5.2 → 10.0.5.7:80"])
        #expect((flow["source"] as? [String: Any])?["identity"] as? Int == 31337)
        #expect((flow["destination"] as? [String: Any])?["identity"] as? Int == 48213)
        let hubble = try #require(output.hubble["10.0.5.2 → 10.0.5.7:80"])
        #expect((hubble["source"] as? [String: Any])?["identity"] as? Int == 31337)
        #expect((hubble["destination"] as? [String: Any])?["identity"] as? Int == 48213)
        // The policy still judges by labels: client-egress allows web on 80.
        #expect((flow["policy"] as? [String: Any])?["verdict"] as? String == "FORWARDED")
        // No label set of this inventory takes a number the cluster uses (2817: a label set no pod has).
        let numbers = output.flows.values.flatMap { flow in
            ["source", "destination"].compactMap { ((flow[$0] as? [String: Any])?["identity"] as? Int) }
        }
        #expect(!numbers.contains(2817))
        // Without the files the numbers are flowmon's own.
        let plain = try Self.replay(Self.withServices, in: directory)
        let plainFlow = try #require(plain.flows["10.0.5.2 → 10.0.5.7:80"])
        #expect((plainFlow["source"] as? [String: Any])?["identity"] as? Int != 31337)
    }

    /// A malformed identities file stops the run before any output, naming file, path and field.
    @Test func aMalformedIdentitiesFileIsAClearError() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("ids.json")
        try #"{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"cilium.io/v2","kind":"CiliumIdentity","metadata":{"name":"client"},"security-labels":{"k8s:app":"client"}}]}"#
            .write(to: bad, atomically: true, encoding: .utf8)
        let output = try Self.replay(Self.withServices + ["--identities", bad.path], in: directory)
        #expect(output.status == 1)
        #expect(output.lines.isEmpty)
        #expect(output.stderr.contains("flowmon: error: \(bad.path): $.items[0].metadata.name: expected the numeric identity (1-16777215), found \"client\""),
                "\(output.stderr)")
    }
}
