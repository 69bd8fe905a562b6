import Datapath

/// One security label as Cilium writes it, `source:key=value` (`k8s:app=web`,
/// `reserved:world`, `cidr:10.0.0.0/8`).
public struct SecurityLabel: Sendable, Hashable {
    public var source: String
    public var key: String
    public var value: String

    public init(source: String, key: String, value: String) {
        self.source = source
        self.key = key
        self.value = value
    }

    /// Parses `source:key=value`; the source is what precedes the first ':', the value what
    /// follows the first '=' after it (labels without '=' have an empty value).
    public init(parsing text: String) {
        var rest = Substring(text)
        if let colon = rest.firstIndex(of: ":") {
            self.source = String(rest[..<colon])
            rest = rest[rest.index(after: colon)...]
        } else {
            self.source = "k8s"
        }
        if let equals = rest.firstIndex(of: "=") {
            self.key = String(rest[..<equals])
            self.value = String(rest[rest.index(after: equals)...])
        } else {
            self.key = String(rest)
            self.value = ""
        }
    }

    public var text: String { self.value.isEmpty && self.source != "k8s" ? "\(self.source):\(self.key)" : "\(self.source):\(self.key)=\(self.value)" }
}

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
