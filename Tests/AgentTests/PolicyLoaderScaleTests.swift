import Agent
import Testing

/// Large inputs load (linear behaviour, no crash). Times are not asserted.
@Suite struct PolicyLoaderScaleTests {
    @Test func tenThousandExpressions() throws {
        var text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: big}\nspec:\n  endpointSelector:\n    matchExpressions:\n"
        for i in 0..<10_000 {
            text += "    - {key: key-\(i), operator: In, values: [a\(i), b\(i)]}\n"
        }
        let set = try PolicyLoader.load(text: text, file: "big.yaml")
        guard case .cilium(let rules) = set.documents[0].body else { Issue.record("not cilium"); return }
        #expect(rules[0].endpointSelector?.matchExpressions.count == 10_000)
        #expect(rules[0].endpointSelector?.matchExpressions.last?.values == ["a9999", "b9999"])
    }

    @Test func tenMegabytesOfLabels() throws {
        var text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: labels}\nspec:\n  podSelector:\n    matchLabels:\n"
        text.reserveCapacity(10_600_000)
        var count = 0
        let value = String(repeating: "v", count: 40)
        while text.utf8.count < 10_000_000 {
            text += "      example.com/label-\(count): \(value)\n"
            count += 1
        }
        let set = try PolicyLoader.load(text: text, file: "labels.yaml")
        guard case .kubernetes(let spec) = set.documents[0].body else { Issue.record("not kubernetes"); return }
        #expect(spec.podSelector.matchLabels.count == count)
    }
}
