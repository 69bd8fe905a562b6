import FlowCore

/// One connection as the advisor reads it: the initiator, the responder as the capture saw it
/// (a ClusterIP is translated by the advisor exactly as the datapath does), the protocol, and
/// the responder's port for TCP, UDP and SCTP, the ICMP type of the initiator's first message
/// for ICMP, 0 otherwise; and the names the initiator had looked up for the responder's
/// address when the connection started (a flow's `dest_names`). What a replay observes and
/// what a flow log's records say.
package struct ObservedConnection: Hashable, Sendable, Comparable {
    package var source: IPAddress
    package var destination: IPAddress
    package var ipProtocol: UInt8
    package var port: UInt16
    /// Sorted, without duplicates: the question names of the DNS answers that gave the
    /// initiator this address (`DNSNameCache`: the name asked, not the CNAME targets).
    package var names: [String]

    package init(source: IPAddress, destination: IPAddress, ipProtocol: UInt8, port: UInt16, names: [String] = []) {
        self.source = source
        self.destination = destination
        self.ipProtocol = ipProtocol
        self.port = port
        self.names = Array(Set(names)).sorted()
    }

    package static func < (a: ObservedConnection, b: ObservedConnection) -> Bool {
        if (a.source, a.destination, a.ipProtocol, a.port) != (b.source, b.destination, b.ipProtocol, b.port) {
            return (a.source, a.destination, a.ipProtocol, a.port) < (b.source, b.destination, b.ipProtocol, b.port)
        }
        return a.names.lexicographicallyPrecedes(b.names)
    }
}

/// When one connection (or every occurrence of it) was seen, in capture time (nanoseconds
/// since the epoch): the start of the first occurrence to the last moment one was seen (its
/// last packet when the capture or flow log says, else its start).
package struct ObservedSpan: Sendable, Equatable {
    package var first: Int64
    package var last: Int64

    package init(first: Int64, last: Int64) {
        self.first = min(first, last)
        self.last = max(first, last)
    }

    package var nanoseconds: Int64 { self.last - self.first }

    package mutating func include(_ other: ObservedSpan) {
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)
    }

    /// `0.4 s`, `12.3 s`, `4m05s`, `2h03m`: how long, for headers and messages.
    package static func describe(nanoseconds: Int64) -> String {
        let seconds = Double(max(0, nanoseconds)) / 1e9
        if seconds < 60 {
            let tenths = Int((seconds * 10).rounded())
            return "\(tenths / 10).\(tenths % 10) s"
        }
        let whole = Int(seconds)
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        if whole < 3600 { return "\(whole / 60)m\(two(whole % 60))s" }
        return "\(whole / 3600)h\(two(whole % 3600 / 60))m"
    }
}

/// What the advisor reads from a capture or a flow log: each connection with how often and
/// when it was seen, and the span of the whole input.
package struct AdvisorObservations: Sendable {
    package var connections: [ObservedConnection: Int] = [:]
    package var timing: [ObservedConnection: ObservedSpan] = [:]
    /// The first to the last packet (capture) or record (flow log); nil when empty.
    package var input: ObservedSpan?

    package init() {}

    package mutating func add(_ connection: ObservedConnection, seen: ObservedSpan) {
        self.connections[connection, default: 0] += 1
        self.extend(connection, seen: seen)
    }

    /// A later moment the connection was seen (its end).
    package mutating func extend(_ connection: ObservedConnection, seen: ObservedSpan) {
        self.timing[connection] = self.timing[connection].map { var s = $0; s.include(seen); return s } ?? seen
        self.input = self.input.map { var s = $0; s.include(seen); return s } ?? seen
    }
}

/// A label selector the advisor writes: `matchLabels`, plus `DoesNotExist` requirements when
/// labels alone would also select pods of another workload.
package struct AdvisedSelector: Hashable, Sendable, Comparable {
    /// Sorted by key.
    package var labels: [(key: String, value: String)] {
        self.matchLabels.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
    package var matchLabels: [String: String]
    /// Keys that must be absent, sorted.
    package var absentKeys: [String]

    package init(matchLabels: [String: String] = [:], absentKeys: [String] = []) {
        self.matchLabels = matchLabels
        self.absentKeys = absentKeys.sorted()
    }

    package var isEmpty: Bool { self.matchLabels.isEmpty && self.absentKeys.isEmpty }

    /// `app=web,tier!` — for messages and ordering.
    package var text: String {
        (self.labels.map { "\($0.key)=\($0.value)" } + self.absentKeys.map { "!\($0)" }).joined(separator: ",")
    }

    func matches(_ labels: [String: String]) -> Bool {
        self.matchLabels.allSatisfy { labels[$0.key] == $0.value } && self.absentKeys.allSatisfy { labels[$0] == nil }
    }

    package static func < (a: AdvisedSelector, b: AdvisedSelector) -> Bool { a.text < b.text }
}

/// A workload as the advisor names it: the pods of one controller (a Deployment, StatefulSet,
/// DaemonSet, CronJob, ...) or one bare pod, with a selector of their stable labels.
package struct AdvisorWorkload: Sendable {
    package var namespace: String
    /// The controller's (or bare pod's) name; joined names when workloads had to be merged.
    package var name: String
    /// `Deployment recommendations`, one per merged workload.
    package var descriptions: [String]
    /// Indexes into the inventory's pods, in file order.
    package var pods: [Int]
    /// nil when the pods have no stable label to select them by.
    package var selector: AdvisedSelector?
    /// Pods of the namespace the selector also selects (when it cannot select exactly these).
    package var alsoSelected: [String]
}

/// Groups pods into workloads and finds, for each, a selector of stable labels that selects
/// exactly its pods among the inventory's pods of its namespace.
///
/// - Stable labels: the pod's labels that count for its Cilium identity (a selector on any other
///   label selects nothing under Cilium), minus the per-pod and per-rollout ones
///   (`pod-template-hash`, `controller-revision-hash`, `statefulset.kubernetes.io/pod-name`,
///   `pod-template-generation`, `apps.kubernetes.io/pod-index`, the job completion index and
///   controller uids, and a CronJob's per-run `job-name`); only labels every pod of the workload
///   has, with the same value.
/// - Order tried: `app.kubernetes.io/name`, `app`, `k8s-app`, `name`, `app.kubernetes.io/instance`,
///   `app.kubernetes.io/component`, `component`, `tier`, `role`, then the rest by key. The first
///   is always taken; each further label only when it narrows the selection, until the selection
///   is exactly the workload's pods. If labels cannot tell the workload from other pods, keys
///   those pods have and the workload lacks are required absent (`DoesNotExist`).
/// - Workloads that still select the same pods (identical stable labels) are merged: one policy
///   covers them. Host-network pods are not workloads (Cilium enforces no policy on them).
package enum AdvisorWorkloads {
    package static let perPodLabels: Set<String> = [
        "pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "pod-template-generation",
        "apps.kubernetes.io/pod-index", "batch.kubernetes.io/job-completion-index", "controller-uid",
        "batch.kubernetes.io/controller-uid",
    ]
    static let perRunJobLabels: Set<String> = ["job-name", "batch.kubernetes.io/job-name"]
    package static let preferredKeys = ["app.kubernetes.io/name", "app", "k8s-app", "name", "app.kubernetes.io/instance",
                                       "app.kubernetes.io/component", "component", "tier", "role"]

    /// The labels of a pod a selector may use.
    package static func stableLabels(_ pod: Pod) -> [String: String] {
        let cronJob = pod.workload?.kind == "CronJob"
        return pod.labels.filter { key, _ in
            !key.hasPrefix(SecurityLabels.agentLabelPrefix) && SecurityLabels.isIdentityRelevant(key: key)
                && !perPodLabels.contains(key) && !(cronJob && perRunJobLabels.contains(key))
        }
    }

    /// Every workload of the inventory (pods of all nodes), and the workload of each pod (by
    /// index into `pods`; host-network pods have none).
    package static func build(_ pods: [Pod]) -> (workloads: [AdvisorWorkload], workloadOfPod: [Int: Int]) {
        var order: [String] = []
        var groups: [String: (namespace: String, name: String, description: String, pods: [Int])] = [:]
        var podsOfNamespace: [String: [Int]] = [:]
        for (index, pod) in pods.enumerated() where !pod.hostNetwork {
            podsOfNamespace[pod.namespace, default: []].append(index)
            let kind = pod.workload?.kind ?? "Pod"
            let name = pod.workload?.name ?? pod.name
            let key = pod.namespace + "\u{0}" + kind + "\u{0}" + name
            if groups[key] == nil {
                order.append(key)
                groups[key] = (pod.namespace, name, "\(kind) \(name)", [])
            }
            groups[key]!.pods.append(index)
        }
        let stable = pods.map(stableLabels)

        var workloads: [AdvisorWorkload] = []
        var bySelector: [String: Int] = [:]
        var workloadOfPod: [Int: Int] = [:]
        for key in order {
            let group = groups[key]!
            let candidates = podsOfNamespace[group.namespace] ?? []
            let selector = Self.selector(for: group.pods, among: candidates, stable: stable)
            let selected = selector.map { s in candidates.filter { s.matches(stable[$0]) } } ?? []
            let members = Set(group.pods)
            let also = selected.filter { !members.contains($0) }.map { pods[$0].name }
            let mergeKey = selector.map { group.namespace + "\u{0}" + $0.text }
            if let mergeKey, let existing = bySelector[mergeKey] {
                workloads[existing].name += "+" + group.name
                workloads[existing].descriptions.append(group.description)
                workloads[existing].pods = (workloads[existing].pods + group.pods).sorted()
                for pod in group.pods { workloadOfPod[pod] = existing }
                // The merged workload's own selection: recompute what it selects beyond its pods.
                let merged = Set(workloads[existing].pods)
                workloads[existing].alsoSelected = selected.filter { !merged.contains($0) }.map { pods[$0].name }
                continue
            }
            let index = workloads.count
            workloads.append(AdvisorWorkload(namespace: group.namespace, name: group.name, descriptions: [group.description],
                                             pods: group.pods, selector: selector, alsoSelected: also))
            if let mergeKey { bySelector[mergeKey] = index }
            for pod in group.pods { workloadOfPod[pod] = index }
        }
        return (workloads, workloadOfPod)
    }

    /// The selector for `members` among `candidates` (pods of the same namespace), or nil when
    /// the members share no stable label.
    static func selector(for members: [Int], among candidates: [Int], stable: [[String: String]]) -> AdvisedSelector? {
        guard let first = members.first else { return nil }
        var common = stable[first]
        for member in members.dropFirst() {
            common = common.filter { stable[member][$0.key] == $0.value }
        }
        guard !common.isEmpty else { return nil }
        let memberSet = Set(members)
        let keys = Self.preferredKeys.filter { common[$0] != nil }
            + common.keys.filter { !Self.preferredKeys.contains($0) }.sorted()
        var selector = AdvisedSelector()
        var selected = candidates
        for key in keys {
            let narrowed = selected.filter { stable[$0][key] == common[key] }
            if selector.matchLabels.isEmpty || narrowed.count < selected.count {
                selector.matchLabels[key] = common[key]
                selected = narrowed
            }
            if selected.count == memberSet.count { return selector }
        }
        // Labels alone select other pods too: require absent the keys those pods have and no member has.
        let memberKeys = Set(members.flatMap { stable[$0].keys })
        let extraKeys = Set(selected.filter { !memberSet.contains($0) }.flatMap { stable[$0].keys }).subtracting(memberKeys).sorted()
        for key in extraKeys {
            let narrowed = selected.filter { stable[$0][key] == nil }
            if narrowed.count < selected.count {
                selector.absentKeys = (selector.absentKeys + [key]).sorted()
                selected = narrowed
            }
            if selected.count == memberSet.count { break }
        }
        return selector
    }
}
