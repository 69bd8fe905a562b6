import Foundation
import Testing

/// `--tunnel-key` through the real `flowmon` binary on the overlay captures (Captures/synthetic/overlay-*.md):
/// Cilium's VNI is the sender's identity (it differs by direction), flannel's is 1 both ways, and
/// overlay-segments carries one inner 5-tuple in two VXLAN segments at once.
struct TunnelKeyReplayTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var capture: String
        var options: [String]
        /// (VNI, response VNI or nil) of each flow, sorted.
        var flows: [String]
        var testDescription: String { "\(self.capture) \(self.options.joined(separator: " "))" }
    }

    static let cases: [Case] = [
        // The default: one flow per connection on Cilium and flannel, two for the two segments.
        Case(capture: "overlay-cilium.pcap", options: [],
             flows: ["ICMP 4242/258", "TCP 4242/258", "UDP 4242/5123"]),
        Case(capture: "overlay-flannel.pcap", options: [], flows: ["TCP 1/-", "UDP 1/-"]),
        Case(capture: "overlay-segments.pcap", options: [], flows: ["TCP 10100/-", "TCP 10200/-"]),
        // The explicit choices keep their meaning.
        Case(capture: "overlay-cilium.pcap", options: ["--tunnel-key", "vni"],
             flows: ["ICMP 258/-", "ICMP 4242/-", "TCP 258/-", "TCP 4242/-", "UDP 4242/-", "UDP 5123/-"]),
        Case(capture: "overlay-cilium.pcap", options: ["--tunnel-key", "none"],
             flows: ["ICMP 4242/258", "TCP 4242/258", "UDP 4242/5123"]),
        Case(capture: "overlay-segments.pcap", options: ["--tunnel-key", "vni"], flows: ["TCP 10100/-", "TCP 10200/-"]),
        Case(capture: "overlay-segments.pcap", options: ["--tunnel-key", "none"], flows: ["TCP 10100/10200"]),
        Case(capture: "overlay-flannel.pcap", options: ["--tunnel-key", "auto"], flows: ["TCP 1/-", "UDP 1/-"]),
    ]

    @Test(arguments: cases)
    func flowsPerConnection(_ test: Case) throws {
        let capture = Fixture.captures.appendingPathComponent("synthetic/\(test.capture)")
        let result = try run(Fixture.flowmonBinary, ["replay", capture.path, "--workers", "1"] + test.options)
        #expect(result.status == 0, "\(result.stderr)")
        let flows = result.stdout.split(separator: "\n")
            .compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .filter { $0["event_type"] as? String == "flow" }
        let described = flows.map { flow -> String in
            let tunnel = flow["tunnel"] as? [String: Any] ?? [:]
            let response = (tunnel["response_vni"] as? Int).map(String.init) ?? "-"
            return "\(flow["proto"] as? String ?? "?") \(tunnel["vni"] as? Int ?? -1)/\(response)"
        }
        #expect(described.sorted() == test.flows)
        // Every connection of these captures is complete: a split one would show S0/SHR halves.
        if test.options.isEmpty {
            #expect(flows.allSatisfy { $0["proto"] as? String == "ICMP" || $0["conn_state"] as? String == "SF" })
        }
    }
}
