import Foundation
import FlowCore

/// What the agent knows about the cluster, read from `kubectl ... -o json` files.
package struct Inventory: Sendable {
    /// In file order.
    package var pods: [Pod]
    /// The namespaces file's namespaces in file order, then one for each namespace a pod
    /// names that the file lacks (or every pod namespace when there is no file), with the
    /// label Kubernetes puts on every namespace: `kubernetes.io/metadata.name=<name>`.
    package var namespaces: [Namespace]
    /// The nodes file's nodes in file order, then one for each `spec.nodeName` of a pod that
    /// the file lacks (or every node when there is no file), its addresses taken from the
    /// pods' `status.hostIPs` and the addresses of its host-network pods.
    package var nodes: [Node]
    /// Problems that do not stop loading, each `FILE: LOCATION: message`.
    package var warnings: [String]
    /// What loading left out on purpose, each `FILE: message` (finished pods).
    package var notices: [String]
    /// The cluster's identity numbers (`--identities`); empty without it.
    package var clusterIdentities = ClusterIdentities()

    package init(pods: [Pod] = [], namespaces: [Namespace] = [], nodes: [Node] = [], warnings: [String] = [],
                notices: [String] = []) {
        self.pods = pods
        self.namespaces = namespaces
        self.nodes = nodes
        self.warnings = warnings
        self.notices = notices
    }
}

/// Reads the inventory files:
/// - pods: `kubectl get pods -A -o json` (a `List` or `PodList` of `Pod`, or one `Pod`);
/// - namespaces: `kubectl get namespaces -o json`;
/// - nodes: `kubectl get nodes -o json` (`status.addresses` of type `InternalIP`).
///
/// Only the fields flowmon uses are read; they are type-checked and any other field is
/// ignored. Absent or `null` optional fields are fine (a pending pod has no IPs). Errors
/// name the file and the JSON path:
/// `pods.json: $.items[3].status.podIPs[0].ip: not an IP address: "10.0.0.300"`.
///
/// Pods in phase `Succeeded` or `Failed` (completed Job pods, evicted pods) are left out, with
/// one notice that counts them: their containers have stopped, so Cilium has deleted their
/// endpoints, and the address they still show in `status.podIPs` may already belong to a
/// running pod (the kubelet releases a finished pod's address to IPAM).
///
/// A namespace/name that appears twice is a warning, and the first pod keeps it. An IP
/// claimed by two pods that are not host-network pods is a warning, and the first
/// pod in file order keeps it (it is removed from the later pod's `ips`):
/// `pods.json: $.items[7].status.podIPs[0].ip: 10.244.1.5 is claimed by shop/web-1 and shop/web-2; using shop/web-1`.
package enum InventoryLoader {
    /// `streamedPods`: the pods of a watch stream (`PodWatchSet`) instead of a `pods` file,
    /// named `source` in messages.
    package static func load(pods: String?, namespaces: String?, nodes: String?, identities: [String] = [],
                            streamedPods: (source: String, pods: [Pod])? = nil) throws(AgentError) -> Inventory {
        let podsRoot = try pods.map { path throws(AgentError) in (path, try JSONReader.parseFile(path)) }
        let namespacesRoot = try namespaces.map { path throws(AgentError) in (path, try JSONReader.parseFile(path)) }
        let nodesRoot = try nodes.map { path throws(AgentError) in (path, try JSONReader.parseFile(path)) }
        var inventory = try decode(pods: podsRoot, namespaces: namespacesRoot, nodes: nodesRoot, streamedPods: streamedPods)
        inventory.clusterIdentities = try ClusterIdentities.load(paths: identities)
        return inventory
    }

    /// The same from in-memory JSON text; `file` names each source in messages.
    package static func load(podsJSON: (file: String, data: Data)?, namespacesJSON: (file: String, data: Data)? = nil,
                            nodesJSON: (file: String, data: Data)? = nil) throws(AgentError) -> Inventory {
        let podsRoot = try podsJSON.map { source throws(AgentError) in (source.file, try JSONReader.parse(source.data, file: source.file)) }
        let namespacesRoot = try namespacesJSON.map { source throws(AgentError) in
            (source.file, try JSONReader.parse(source.data, file: source.file))
        }
        let nodesRoot = try nodesJSON.map { source throws(AgentError) in (source.file, try JSONReader.parse(source.data, file: source.file)) }
        return try decode(pods: podsRoot, namespaces: namespacesRoot, nodes: nodesRoot)
    }

    static func decode(pods: (String, JSONValue)?, namespaces: (String, JSONValue)?, nodes: (String, JSONValue)?,
                       streamedPods: (source: String, pods: [Pod])? = nil) throws(AgentError) -> Inventory {
        var inventory = Inventory()
        if let (file, root) = namespaces {
            let reader = JSONReader(file: file)
            for (item, path) in try items(root, kind: "Namespace", command: "kubectl get namespaces -o json", reader: reader) {
                inventory.namespaces.append(try namespace(item, at: path, reader: reader))
            }
        }
        if let (file, root) = nodes {
            let reader = JSONReader(file: file)
            for (item, path) in try items(root, kind: "Node", command: "kubectl get nodes -o json", reader: reader) {
                inventory.nodes.append(try node(item, at: path, reader: reader))
            }
        }
        if let (file, root) = pods {
            let reader = JSONReader(file: file)
            var finished = 0
            for (item, path) in try items(root, kind: "Pod", command: "kubectl get pods -A -o json", reader: reader) {
                if try isFinished(item, at: path, reader: reader) {
                    finished += 1
                    continue
                }
                inventory.pods.append(try pod(item, at: path, reader: reader))
            }
            if finished > 0 {
                inventory.notices.append("\(file): skipped \(finished) pod\(finished == 1 ? "" : "s") in phase Succeeded or Failed (Cilium has no endpoint for a finished pod; its address may belong to a running pod now)")
            }
            inventory.warnings += removeDuplicateNames(&inventory.pods, file: file)
            inventory.warnings += resolveDuplicateIPs(&inventory.pods, file: file)
        } else if let streamedPods {
            inventory.pods = streamedPods.pods
            inventory.warnings += resolveDuplicateIPs(&inventory.pods, file: streamedPods.source)
        }
        inventory.warnings += addImpliedNamespaces(&inventory, file: namespaces?.0)
        inventory.warnings += addImpliedNodes(&inventory, file: nodes?.0)
        return inventory
    }

    // MARK: - Lists

    /// The items of a `List` / `<Kind>List`, or a single object of the kind, with their paths.
    static func items(_ root: JSONValue, kind: String, command: String, reader: JSONReader) throws(AgentError) -> [(JSONObject, String)] {
        try items(root, kinds: [kind], command: command, reader: reader).map { ($0.0, $0.1) }
    }

    /// The same for a file that may hold several kinds (`kubectl get services,endpoints`): a
    /// `List` of any of `kinds`, a `<Kind>List` of one, or one object; each item with its path
    /// and kind (an item without `kind` is taken as the first of `kinds`, or the list's kind).
    static func items(_ root: JSONValue, kinds: [String], command: String, reader: JSONReader)
        throws(AgentError) -> [(JSONObject, String, String)]
    {
        guard case .object(let object) = root else {
            throw reader.error("$", "expected a List object (\(command)), found \(JSONReader.describe(root))")
        }
        let quoted = kinds.map { "\"\($0)\"" }
        let expected = quoted.count == 1 ? quoted[0] : quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
        let found = try reader.optionalString(object, "kind", at: "$")
        if let found, kinds.contains(found) {
            return [(object, "$", found)]
        }
        var listKinds = kinds
        if let found, found != "List" {
            guard let kind = kinds.first(where: { $0 + "List" == found }) else {
                throw reader.error("$.kind", "expected a List of \(kinds.joined(separator: ", ")) (\(command)), found \"\(found)\"")
            }
            listKinds = [kind]
        }
        guard let list = object["items"] else { throw reader.error("$.items", "missing") }
        if list.isNull { return [] }
        let array = try reader.array(list, at: "$.items")
        var result: [(JSONObject, String, String)] = []
        result.reserveCapacity(array.count)
        for (index, element) in array.enumerated() {
            let path = "$.items[\(index)]"
            let item = try reader.object(element, at: path)
            let itemKind = try reader.optionalString(item, "kind", at: path) ?? listKinds[0]
            guard listKinds.contains(itemKind) else {
                throw reader.error(path + ".kind", "expected \(listKinds == kinds ? expected : "\"\(listKinds[0])\""), found \"\(itemKind)\"")
            }
            result.append((item, path, itemKind))
        }
        return result
    }

    // MARK: - Objects

    /// Whether a pod has finished: `status.phase` is `Succeeded` or `Failed` (Kubernetes pod
    /// lifecycle: all containers terminated and will not be restarted).
    static func isFinished(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Bool {
        guard let status = try reader.optionalObject(item, "status", at: path) else { return false }
        let phase = try reader.optionalString(status, "phase", at: path + ".status")
        return phase == "Succeeded" || phase == "Failed"
    }

    static func namespace(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Namespace {
        let metadataPath = path + ".metadata"
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(metadataPath, "missing")
        }
        return Namespace(name: try reader.requiredString(metadata, "name", at: metadataPath),
                         labels: try reader.stringMap(metadata, "labels", at: metadataPath))
    }

    static func node(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Node {
        let metadataPath = path + ".metadata"
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(metadataPath, "missing")
        }
        var node = Node(name: try reader.requiredString(metadata, "name", at: metadataPath),
                        labels: try reader.stringMap(metadata, "labels", at: metadataPath))
        let statusPath = path + ".status"
        if let status = try reader.optionalObject(item, "status", at: path),
           let addresses = try reader.optionalArray(status, "addresses", at: statusPath) {
            for (index, element) in addresses.enumerated() {
                let addressPath = statusPath + ".addresses[\(index)]"
                let address = try reader.object(element, at: addressPath)
                guard try reader.optionalString(address, "type", at: addressPath) == "InternalIP" else { continue }
                let ip = try ipAddress(address, "address", at: addressPath, reader: reader)
                if !node.internalIPs.contains(ip) { node.internalIPs.append(ip) }
            }
        }
        return node
    }

    static func pod(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Pod {
        let metadataPath = path + ".metadata"
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(metadataPath, "missing")
        }
        var pod = Pod(name: try reader.requiredString(metadata, "name", at: metadataPath),
                      namespace: try reader.requiredString(metadata, "namespace", at: metadataPath),
                      labels: try reader.stringMap(metadata, "labels", at: metadataPath),
                      location: path)
        pod.workload = try workload(metadata, at: metadataPath, labels: pod.labels, reader: reader)

        let specPath = path + ".spec"
        if let spec = try reader.optionalObject(item, "spec", at: path) {
            pod.nodeName = try reader.optionalString(spec, "nodeName", at: specPath).flatMap { $0.isEmpty ? nil : $0 }
            pod.hostNetwork = try reader.optionalBool(spec, "hostNetwork", at: specPath) ?? false
            pod.serviceAccount = try reader.optionalString(spec, "serviceAccountName", at: specPath)
            if pod.serviceAccount == nil {
                pod.serviceAccount = try reader.optionalString(spec, "serviceAccount", at: specPath)
            }
            if pod.serviceAccount?.isEmpty == true { pod.serviceAccount = nil }
            pod.namedPorts = try namedPorts(spec, at: specPath, reader: reader)
        }

        let statusPath = path + ".status"
        if let status = try reader.optionalObject(item, "status", at: path) {
            if let podIPs = try reader.optionalArray(status, "podIPs", at: statusPath), !podIPs.isEmpty {
                for (index, element) in podIPs.enumerated() {
                    let elementPath = statusPath + ".podIPs[\(index)]"
                    let ip = try ipAddress(try reader.object(element, at: elementPath), "ip", at: elementPath, reader: reader)
                    if !pod.ips.contains(ip) { pod.ips.append(ip) }
                }
            } else if let text = try reader.optionalString(status, "podIP", at: statusPath), !text.isEmpty {
                pod.ips.append(try parseIP(text, at: statusPath + ".podIP", reader: reader))
            }
            if let hostIPs = try reader.optionalArray(status, "hostIPs", at: statusPath), !hostIPs.isEmpty {
                for (index, element) in hostIPs.enumerated() {
                    let elementPath = statusPath + ".hostIPs[\(index)]"
                    let ip = try ipAddress(try reader.object(element, at: elementPath), "ip", at: elementPath, reader: reader)
                    if !pod.hostIPs.contains(ip) { pod.hostIPs.append(ip) }
                }
            }
            if let text = try reader.optionalString(status, "hostIP", at: statusPath), !text.isEmpty {
                let ip = try parseIP(text, at: statusPath + ".hostIP", reader: reader)
                if !pod.hostIPs.contains(ip) { pod.hostIPs.insert(ip, at: 0) }
            }
        }
        return pod
    }

    /// Named container ports of `spec.containers[]`.
    static func namedPorts(_ spec: JSONObject, at specPath: String, reader: JSONReader) throws(AgentError) -> [NamedPort] {
        guard let containers = try reader.optionalArray(spec, "containers", at: specPath) else { return [] }
        var result: [NamedPort] = []
        for (containerIndex, element) in containers.enumerated() {
            let containerPath = specPath + ".containers[\(containerIndex)]"
            let container = try reader.object(element, at: containerPath)
            guard let ports = try reader.optionalArray(container, "ports", at: containerPath) else { continue }
            for (portIndex, portElement) in ports.enumerated() {
                let portPath = containerPath + ".ports[\(portIndex)]"
                let port = try reader.object(portElement, at: portPath)
                guard let name = try reader.optionalString(port, "name", at: portPath), !name.isEmpty else { continue }
                let (number, ipProtocol) = try portAndProtocol(port, key: "containerPort", at: portPath, reader: reader)
                let namedPort = NamedPort(name: name, port: number, ipProtocol: ipProtocol)
                if !result.contains(namedPort) { result.append(namedPort) }
            }
        }
        return result
    }

    /// A Kubernetes port object's number (`key`: `containerPort`, `port`; 1-65535, required) and
    /// `protocol` (TCP when absent, UDP or SCTP), as a port and an IP protocol number.
    static func portAndProtocol(_ object: JSONObject, key: String, at path: String, reader: JSONReader)
        throws(AgentError) -> (UInt16, UInt8)
    {
        guard let number = try reader.optionalInteger(object, key, at: path) else {
            throw reader.error(path + "." + key, "missing")
        }
        guard (1...65535).contains(number) else {
            throw reader.error(path + "." + key, "port \(number) is out of range 1-65535")
        }
        let protocolName = try reader.optionalString(object, "protocol", at: path) ?? "TCP"
        switch protocolName {
        case "TCP": return (UInt16(number), IPProtocolNumber.tcp)
        case "UDP": return (UInt16(number), IPProtocolNumber.udp)
        case "SCTP": return (UInt16(number), IPProtocolNumber.sctp)
        default: throw reader.error(path + ".protocol", "expected TCP, UDP or SCTP, found \"\(protocolName)\"")
        }
    }

    /// The workload from the controlling owner reference, climbed one level when the
    /// name shows it, as Cilium's `GetWorkloadMetaFromPod` does:
    /// - ReplicaSet `web-7d4f9c` → Deployment `web`, when the ReplicaSet name is
    ///   `<name>-<pod-template-hash label>`, or (without that label) ends in `-<hash>`
    ///   with 5-10 characters of the alphabet Kubernetes' hashes use (`bcdfghjklmnpqrstvwxz2456789`);
    /// - Job `backup-28934400` → CronJob `backup`, when the suffix is 8 or more digits
    ///   (the scheduled time in minutes that the CronJob controller appends);
    /// - any other controller (StatefulSet, DaemonSet, Job, ReplicaSet, ...) as itself.
    /// No controller reference (a bare pod, a static pod) gives nil.
    static func workload(_ metadata: JSONObject, at metadataPath: String, labels: [String: String],
                         reader: JSONReader) throws(AgentError) -> Workload? {
        guard let owners = try reader.optionalArray(metadata, "ownerReferences", at: metadataPath) else { return nil }
        for (index, element) in owners.enumerated() {
            let ownerPath = metadataPath + ".ownerReferences[\(index)]"
            let owner = try reader.object(element, at: ownerPath)
            guard try reader.optionalBool(owner, "controller", at: ownerPath) == true else { continue }
            let kind = try reader.requiredString(owner, "kind", at: ownerPath)
            let name = try reader.requiredString(owner, "name", at: ownerPath)
            return workload(ownerKind: kind, ownerName: name, podTemplateHash: labels["pod-template-hash"])
        }
        return nil
    }

    package static func workload(ownerKind kind: String, ownerName name: String, podTemplateHash: String?) -> Workload {
        guard let dash = name.lastIndex(of: "-"), dash != name.startIndex else { return Workload(name: name, kind: kind) }
        let base = String(name[..<dash])
        let suffix = name[name.index(after: dash)...]
        switch kind {
        case "ReplicaSet":
            if let hash = podTemplateHash, !hash.isEmpty {
                return hash == suffix ? Workload(name: base, kind: "Deployment") : Workload(name: name, kind: kind)
            }
            let alphabet = Set("bcdfghjklmnpqrstvwxz2456789")
            if (5...10).contains(suffix.count) && suffix.allSatisfy({ alphabet.contains($0) }) {
                return Workload(name: base, kind: "Deployment")
            }
        case "Job":
            if suffix.count >= 8 && suffix.allSatisfy({ $0.isASCII && $0.isNumber }) {
                return Workload(name: base, kind: "CronJob")
            }
        default:
            break
        }
        return Workload(name: name, kind: kind)
    }

    static func ipAddress(_ object: JSONObject, _ key: String, at path: String, reader: JSONReader) throws(AgentError) -> IPAddress {
        guard let text = try reader.optionalString(object, key, at: path) else {
            throw reader.error(path + "." + key, "missing")
        }
        return try parseIP(text, at: path + "." + key, reader: reader)
    }

    static func parseIP(_ text: String, at path: String, reader: JSONReader) throws(AgentError) -> IPAddress {
        guard let ip = IPAddress(text: text) else {
            throw reader.error(path, "not an IP address: \"\(text)\"")
        }
        return ip
    }

    // MARK: - Consistency

    /// Keeps the first pod of each namespace/name (Kubernetes has one; two mean two dumps were
    /// joined), dropping later ones with a warning:
    /// `pods.json: $.items[9]: pod shop/web appears again (first at $.items[2]); using the first`.
    static func removeDuplicateNames(_ pods: inout [Pod], file: String) -> [String] {
        var first: [String: String] = [:]
        var warnings: [String] = []
        pods.removeAll { pod in
            let name = pod.namespace + "/" + pod.name
            if let location = first[name] {
                warnings.append("\(file): \(pod.location): pod \(name) appears again (first at \(location)); using the first")
                return true
            }
            first[name] = pod.location
            return false
        }
        return warnings
    }

    /// Keeps each pod IP with the first pod (in file order) that claims it; host-network
    /// pods share their node's addresses and are not checked.
    static func resolveDuplicateIPs(_ pods: inout [Pod], file: String) -> [String] {
        var owner: [IPAddress: Int] = [:]
        var warnings: [String] = []
        for index in pods.indices where !pods[index].hostNetwork {
            var kept: [IPAddress] = []
            for ip in pods[index].ips {
                if let first = owner[ip] {
                    let winner = pods[first].namespace + "/" + pods[first].name
                    let loser = pods[index].namespace + "/" + pods[index].name
                    warnings.append("\(file): \(pods[index].location): \(ip.text) is claimed by \(winner) and \(loser); using \(winner)")
                } else {
                    owner[ip] = index
                    kept.append(ip)
                }
            }
            pods[index].ips = kept
        }
        return warnings
    }

    static func addImpliedNamespaces(_ inventory: inout Inventory, file: String?) -> [String] {
        var known = Set(inventory.namespaces.map(\.name))
        var warnings: [String] = []
        for pod in inventory.pods where !known.contains(pod.namespace) {
            known.insert(pod.namespace)
            inventory.namespaces.append(Namespace(name: pod.namespace, labels: [SecurityLabels.namespaceNameLabel: pod.namespace]))
            if let file {
                warnings.append("\(file): namespace \"\(pod.namespace)\" of pod \(pod.namespace)/\(pod.name) is not in the file; assuming its only label is \(SecurityLabels.namespaceNameLabel)=\(pod.namespace)")
            }
        }
        return warnings
    }

    static func addImpliedNodes(_ inventory: inout Inventory, file: String?) -> [String] {
        var index: [String: Int] = [:]
        for (position, node) in inventory.nodes.enumerated() where index[node.name] == nil {
            index[node.name] = position
        }
        let fromFile = inventory.nodes.count
        var warnings: [String] = []
        for pod in inventory.pods {
            guard let name = pod.nodeName else { continue }
            var position: Int
            if let existing = index[name] {
                position = existing
            } else {
                position = inventory.nodes.count
                index[name] = position
                inventory.nodes.append(Node(name: name))
                if let file {
                    warnings.append("\(file): node \"\(name)\" of pod \(pod.namespace)/\(pod.name) is not in the file; taking its addresses from the pods")
                }
            }
            // Nodes from the file keep their InternalIPs; implied nodes collect the pods' view.
            if position >= fromFile {
                for ip in pod.hostIPs + (pod.hostNetwork ? pod.ips : []) where !inventory.nodes[position].internalIPs.contains(ip) {
                    inventory.nodes[position].internalIPs.append(ip)
                }
            }
        }
        return warnings
    }
}
