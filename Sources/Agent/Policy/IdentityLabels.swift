import Datapath

/// The labels of one identity, indexed by key for selector matching.
struct IdentityLabels {
    let identity: Identity
    /// key -> [(source, value)]
    let byKey: [String: [(source: String, value: String)]]

    init(identity: Identity, labels: [SecurityLabel]) {
        self.identity = identity
        var byKey: [String: [(source: String, value: String)]] = [:]
        for label in labels { byKey[label.key, default: []].append((label.source, label.value)) }
        self.byKey = byKey
    }

    /// The values of `key` from labels whose source is `source` ("any" matches every source).
    func values(of key: String, source: String) -> [String] {
        guard let list = self.byKey[key] else { return [] }
        return list.compactMap { source == "any" || $0.source == source ? $0.value : nil }
    }

    var isPod: Bool { !self.values(of: "io.kubernetes.pod.namespace", source: "k8s").isEmpty }
    var namespace: String? { self.values(of: "io.kubernetes.pod.namespace", source: "k8s").first }
}
