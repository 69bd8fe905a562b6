import Datapath

/// A label selector in the form the compiler evaluates: every requirement must hold
/// (Kubernetes `LabelSelector` semantics: matchLabels and matchExpressions are ANDed; an
/// empty selector matches everything). Keys carry a Cilium source (`k8s`, `reserved`,
/// `cidr`, or `any` when the policy gave none), as `ParseSelectLabel` reads them.
struct SelectorMatcher: Hashable {
    struct Requirement: Hashable {
        var source: String
        var key: String
        var `operator`: LabelSelectorRequirement.Operator
        var values: [String]
    }

    var requirements: [Requirement]

    init(requirements: [Requirement]) { self.requirements = requirements }

    /// From a policy selector; keys without a source prefix match labels of any source.
    init(_ selector: LabelSelector, defaultSource: String = "any") {
        var requirements: [Requirement] = []
        for (key, value) in selector.matchLabels.sorted(by: { $0.key < $1.key }) {
            let (source, name) = Self.split(key, defaultSource: defaultSource)
            requirements.append(Requirement(source: source, key: name, operator: .in, values: [value]))
        }
        for expression in selector.matchExpressions {
            let (source, name) = Self.split(expression.key, defaultSource: defaultSource)
            requirements.append(Requirement(source: source, key: name, operator: expression.operator,
                                            values: expression.values))
        }
        self.requirements = requirements
    }

    static func split(_ key: String, defaultSource: String) -> (String, String) {
        for source in ["k8s", "any", "reserved", "cidr", "container", "unspec"] where key.hasPrefix(source + ":") {
            return (source, String(key.dropFirst(source.count + 1)))
        }
        return (defaultSource, key)
    }

    /// True when the selector already constrains the namespace, so Cilium does not add the
    /// policy's own namespace to it (ParseToCiliumRule).
    var constrainsNamespace: Bool {
        self.requirements.contains { $0.key == "io.kubernetes.pod.namespace" || $0.key.hasPrefix("io.cilium.k8s.namespace.labels.") }
    }

    /// True when the selector is about reserved labels (entities), which Cilium leaves unscoped.
    var selectsReserved: Bool { self.requirements.contains { $0.source == "reserved" } }

    func adding(_ requirement: Requirement) -> SelectorMatcher {
        SelectorMatcher(requirements: self.requirements + [requirement])
    }

    static func namespace(_ name: String) -> Requirement {
        Requirement(source: "k8s", key: "io.kubernetes.pod.namespace", operator: .in, values: [name])
    }

    static let anyPod = Requirement(source: "k8s", key: "io.kubernetes.pod.namespace", operator: .exists, values: [])

    func matches(_ labels: IdentityLabels) -> Bool {
        for requirement in self.requirements {
            // Walk the key's labels in place: this runs identities × rules times at compile time.
            var present = false
            var inValues = false
            if let list = labels.byKey[requirement.key] {
                for label in list where requirement.source == "any" || label.source == requirement.source {
                    present = true
                    if requirement.values.contains(label.value) { inValues = true }
                }
            }
            switch requirement.operator {
            case .in: if !inValues { return false }
            case .notIn: if inValues { return false }
            case .exists: if !present { return false }
            case .doesNotExist: if present { return false }
            }
        }
        return true
    }
}
