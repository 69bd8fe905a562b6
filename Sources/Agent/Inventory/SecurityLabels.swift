import Datapath
import FlowCore

/// One security label as Cilium writes it: `source:key=value` (`k8s:app=web`), or
/// `source:key` when the value is empty (`reserved:host`, `cidr:10.0.0.0/8`).
package struct SecurityLabel: Sendable, Hashable, Comparable, CustomStringConvertible {
    package var source: String
    package var key: String
    package var value: String

    package init(source: String, key: String, value: String = "") {
        self.source = source
        self.key = key
        self.value = value
    }

    /// A `k8s:` label (pods, namespaces).
    package static func k8s(_ key: String, _ value: String) -> SecurityLabel {
        SecurityLabel(source: SecurityLabels.sourceK8s, key: key, value: value)
    }

    /// `reserved:<name>`.
    package static func reserved(_ name: String) -> SecurityLabel {
        SecurityLabel(source: SecurityLabels.sourceReserved, key: name)
    }

    /// The label of a reserved identity: `reserved:kube-apiserver` for 7.
    package static func reserved(_ identity: Identity) -> SecurityLabel {
        .reserved(identity.reservedName.map { "\($0)" } ?? "unknown")
    }

    /// Hubble's form: `k8s:app=web`, `reserved:world`.
    package var description: String {
        self.value.isEmpty ? self.source + ":" + self.key : self.source + ":" + self.key + "=" + self.value
    }

    /// The tuple form the policy compiler asks for.
    package var tuple: (source: String, key: String, value: String) { (self.source, self.key, self.value) }

    /// Ordered as their printed forms are, byte by byte (the order Hubble lists them in).
    /// Compared in place, without building the printed forms.
    package static func < (lhs: SecurityLabel, rhs: SecurityLabel) -> Bool {
        var left = PrintedBytes(lhs)
        var right = PrintedBytes(rhs)
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return false
            case (nil, _): return true
            case (_, nil): return false
            case (let a?, let b?): if a != b { return a < b }
            }
        }
    }

    /// The UTF-8 bytes of `description`: source, `:`, key, then `=` and value when there is one.
    private struct PrintedBytes: IteratorProtocol {
        private var part = 0
        private var bytes: String.UTF8View.Iterator
        private let label: SecurityLabel

        init(_ label: SecurityLabel) {
            self.label = label
            self.bytes = label.source.utf8.makeIterator()
        }

        mutating func next() -> UInt8? {
            while true {
                if let byte = self.bytes.next() { return byte }
                self.part += 1
                switch self.part {
                case 1: self.bytes = self.label.key.utf8.makeIterator(); return UInt8(ascii: ":")
                case 2 where !self.label.value.isEmpty: self.bytes = self.label.value.utf8.makeIterator(); return UInt8(ascii: "=")
                default:
                    self.part = 3
                    return nil
                }
            }
        }
    }
}

/// Cilium's rules for which labels make up a pod's security identity.
///
/// The label set of a pod (Cilium's `SanitizePodLabels` followed by `labelsfilter.Filter`
/// with its default prefixes):
/// 1. its own labels, except keys under `io.cilium.k8s` (reserved for the agent, so a pod
///    cannot claim another namespace or service account);
/// 2. plus `io.cilium.k8s.namespace.labels.<key>=<value>` for each label of its namespace,
///    `io.kubernetes.pod.namespace=<namespace>`, `io.cilium.k8s.policy.serviceaccount=<sa>`
///    (when set) and `io.cilium.k8s.policy.cluster=<cluster name>` (`--cluster-name`, Cilium's
///    `cluster-name`, default `default`);
/// 3. all with source `k8s`, then filtered by `isIdentityRelevant(key:)`.
package enum SecurityLabels {
    package static let sourceK8s = "k8s"
    package static let sourceReserved = "reserved"
    package static let sourceCIDR = "cidr"

    package static let podNamespaceLabel = "io.kubernetes.pod.namespace"
    package static let namespaceLabelsPrefix = "io.cilium.k8s.namespace.labels"
    package static let serviceAccountLabel = "io.cilium.k8s.policy.serviceaccount"
    package static let clusterLabel = "io.cilium.k8s.policy.cluster"
    /// Labels reserved for the agent; pods' own labels with this prefix are dropped.
    package static let agentLabelPrefix = "io.cilium.k8s"
    /// The cluster name flowmon reports unless `--cluster-name` names another (Cilium's default `cluster-name`).
    package static let defaultClusterName = "default"

    /// Why `name` cannot be a cluster name, or nil: it becomes the value of every pod's
    /// `io.cilium.k8s.policy.cluster` label, so it must be a non-empty Kubernetes label value.
    package static func clusterNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "the cluster name must not be empty" }
        return PolicyValidation.labelValueProblem(name, key: Self.clusterLabel)
    }
    /// The label Kubernetes puts on every namespace (since 1.21).
    package static let namespaceNameLabel = "kubernetes.io/metadata.name"

    /// Include prefixes of Cilium's default label filter (longest match wins against an ignore).
    static let includePrefixes = [
        podNamespaceLabel, namespaceLabelsPrefix, "app.kubernetes.io", clusterLabel,
    ]
    /// Ignore prefixes, matched at the start of the key.
    static let ignorePrefixes = [
        "io.kubernetes", "kubernetes.io", "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index", "batch.kubernetes.io/job-completion-index",
        "k8s.io", "pod-template-generation", "pod-template-hash", "controller-revision-hash", "etcd_node",
    ]

    /// Whether a `k8s`-source label key counts for identity under Cilium's default filter
    /// (`pkg/labelsfilter`): a key is dropped when an ignore pattern matches at its start
    /// and no include pattern matches a longer part of it. Ignore patterns: `io.kubernetes`,
    /// `kubernetes.io`, `statefulset.kubernetes.io/pod-name`, `apps.kubernetes.io/pod-index`,
    /// `batch.kubernetes.io/job-completion-index`, anything containing `beta.kubernetes.io`,
    /// `k8s.io`, `pod-template-generation`, `pod-template-hash`, `controller-revision-hash`,
    /// `annotation…` and `etcd_node`. Include patterns: `io.kubernetes.pod.namespace`,
    /// `io.cilium.k8s.namespace.labels`, `app.kubernetes.io`, `io.cilium.k8s.policy.cluster`.
    /// So `app.kubernetes.io/name` and `topology.kubernetes.io/zone` are kept (the
    /// `kubernetes.io` pattern only matches at the start), `kubernetes.io/os` is dropped.
    package static func isIdentityRelevant(key: String) -> Bool {
        var included = 0
        for prefix in includePrefixes where key.hasPrefix(prefix) {
            included = max(included, prefix.utf8.count)
        }
        // Shortest matching ignore.
        var ignored = 0
        func ignore(_ length: Int) {
            if ignored == 0 || length < ignored { ignored = length }
        }
        for prefix in ignorePrefixes where key.hasPrefix(prefix) {
            ignore(prefix.utf8.count)
        }
        // `annotation.*` matches the whole key.
        if key.hasPrefix("annotation") { ignore(key.utf8.count) }
        // `.*beta\.kubernetes\.io` matches up to the end of the last occurrence.
        if let end = lastOccurrenceEnd(of: "beta.kubernetes.io", in: key) { ignore(end) }
        return ignored == 0 || included > ignored
    }

    /// The identity labels of a pod, sorted.
    package static func forPod(_ pod: Pod, namespaceLabels: [String: String],
                              clusterName: String = defaultClusterName) -> [SecurityLabel] {
        // Built as one array: the keys cannot collide (the namespace's labels and the agent's
        // keys are under `io.cilium.k8s`, which the pod's own labels may not use), except the
        // namespace label, which the pod's own label of that name gives way to.
        var labels: [SecurityLabel] = []
        labels.reserveCapacity(pod.labels.count + namespaceLabels.count + 3)
        func add(_ key: String, _ value: String) {
            if isIdentityRelevant(key: key) { labels.append(.k8s(key, value)) }
        }
        for (key, value) in pod.labels where !key.hasPrefix(agentLabelPrefix) && key != podNamespaceLabel {
            add(key, value)
        }
        for (key, value) in namespaceLabels {
            add(namespaceLabelsPrefix + "." + key, value)
        }
        add(podNamespaceLabel, pod.namespace)
        if let serviceAccount = pod.serviceAccount, !serviceAccount.isEmpty {
            add(serviceAccountLabel, serviceAccount)
        }
        add(clusterLabel, clusterName)
        labels.sort()
        return labels
    }

    /// The canonical text of a sorted label set: the printed labels joined by `;`
    /// (Kubernetes label keys and values cannot contain `;`).
    package static func canonical(_ labels: [SecurityLabel]) -> String {
        var text = ""
        text.reserveCapacity(labels.reduce(0) { $0 + $1.source.utf8.count + $1.key.utf8.count + $1.value.utf8.count + 3 })
        for (index, label) in labels.enumerated() {
            if index > 0 { text += ";" }
            text += label.source
            text += ":"
            text += label.key
            if !label.value.isEmpty {
                text += "="
                text += label.value
            }
        }
        return text
    }

    /// The labels of a CIDR identity: `cidr:<prefix>` and the world label of its family
    /// (`reserved:world-ipv4`/`world-ipv6` in dual-stack mode, `reserved:world` otherwise).
    package static func forCIDR(_ prefix: IPPrefix, dualStack: Bool) -> [SecurityLabel] {
        let world = dualStack ? (prefix.isIPv4 ? "world-ipv4" : "world-ipv6") : "world"
        return [SecurityLabel(source: sourceCIDR, key: cidrLabelKey(prefix)), .reserved(world)].sorted()
    }

    /// The key of a `cidr:` label as Cilium writes it: `10.0.0.0/8`; for IPv6 the colons
    /// become dashes, with a `0` added when the address would start or end with one
    /// (`fd00::/64` is `fd00--0/64`, `::/0` is `0--0/0`), as selectors cannot hold colons.
    package static func cidrLabelKey(_ prefix: IPPrefix) -> String {
        var text = prefix.masked.address.text
        if !prefix.isIPv4 {
            text = String(text.map { $0 == ":" ? "-" : $0 })
            if text.hasPrefix("-") { text = "0" + text }
            if text.hasSuffix("-") { text += "0" }
        }
        return text + "/" + String(prefix.length)
    }

    private static func lastOccurrenceEnd(of needle: String, in haystack: String) -> Int? {
        let hay = haystack.utf8, pin = needle.utf8
        guard let first = pin.first, hay.count >= pin.count else { return nil }
        var start = hay.count - pin.count
        var index = hay.index(hay.startIndex, offsetBy: start)
        while true {
            if hay[index] == first && hay[index...].starts(with: pin) { return start + pin.count }
            if start == 0 { return nil }
            start -= 1
            hay.formIndex(before: &index)
        }
    }
}
