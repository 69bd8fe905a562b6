import Datapath
import Foundation
import FlowCore

/// The cluster's own identity numbers (`--identities`), read from
/// - `kubectl get ciliumidentities -o json`: CiliumIdentity (cilium.io/v2, cluster-scoped),
///   whose `metadata.name` is the numeric identity and whose `security-labels` maps
///   `source:key` to the value (the CRD's schema: both required; Cilium's
///   pkg/k8s/apis/cilium.io/client/crds/v2/ciliumidentities.yaml);
/// - `kubectl get ciliumendpoints -A -o json`: CiliumEndpoint (namespaced, named after its
///   pod), whose `status.identity.id` is the endpoint's identity, `status.identity.labels` its
///   labels as `source:key=value` strings, and `status.networking.addressing[].ipv4`/`ipv6` its
///   addresses (ciliumendpoints.yaml in the same directory).
///
/// A file may hold either kind or both (`kubectl get ciliumidentities,ciliumendpoints -A -o json`).
/// Reserved identities (below 256) are skipped: flowmon knows them. Errors name the file and
/// the JSON path, as the inventory's do.
package struct ClusterIdentities: Sendable {
    /// Canonical label text (`SecurityLabels.canonical`) → the cluster's number.
    package var byLabels: [String: Identity] = [:]
    /// `namespace/name` of a CiliumEndpoint (its pod's) → its identity.
    package var byEndpoint: [String: Identity] = [:]
    /// A CiliumEndpoint's address → its identity.
    package var byAddress: [IPAddress: Identity] = [:]
    /// Every number the files name (256 and up): numbers flowmon never gives another label set.
    package var numbers: Set<Identity> = []
    /// Conflicts that do not stop loading, `FILE: PATH: message`.
    package var warnings: [String] = []

    package init() {}

    /// The largest number a cluster identity has: 16 bits of identity and 8 of cluster id
    /// (Cilium's `ClusterIDShift` 16; bits 24-31 are the scope, and CRDs hold only global ones).
    package static let largest = Identity(0x00ff_ffff)

    package static func load(paths: [String]) throws(AgentError) -> ClusterIdentities {
        var result = ClusterIdentities()
        for path in paths {
            try result.add(try JSONReader.parseFile(path), file: path)
        }
        return result
    }

    /// The same from in-memory JSON text; `file` names each source in messages.
    package static func load(sources: [(file: String, data: Data)]) throws(AgentError) -> ClusterIdentities {
        var result = ClusterIdentities()
        for source in sources {
            try result.add(try JSONReader.parse(source.data, file: source.file), file: source.file)
        }
        return result
    }

    /// Adds the objects of one file (`file` names it in messages).
    package mutating func add(_ root: JSONValue, file: String) throws(AgentError) {
        let reader = JSONReader(file: file)
        let command = "kubectl get ciliumidentities,ciliumendpoints -A -o json"
        for (item, path, kind) in try InventoryLoader.items(root, kinds: ["CiliumIdentity", "CiliumEndpoint"],
                                                            command: command, reader: reader) {
            if kind == "CiliumIdentity" {
                try self.addIdentity(item, at: path, reader: reader)
            } else {
                try self.addEndpoint(item, at: path, reader: reader)
            }
        }
    }

    private mutating func addIdentity(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) {
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(path + ".metadata", "missing")
        }
        let name = try reader.requiredString(metadata, "name", at: path + ".metadata")
        guard let number = UInt32(name), number > 0, number <= Self.largest.rawValue else {
            throw reader.error(path + ".metadata.name", "expected the numeric identity (1-\(Self.largest.rawValue)), found \"\(name)\"")
        }
        guard reader.optional(item, "security-labels") != nil else { throw reader.error(path + ".security-labels", "missing") }
        var labels: [SecurityLabel] = []
        for (key, value) in try reader.stringMap(item, "security-labels", at: path).sorted(by: { $0.key < $1.key }) {
            let labelPath = path + ".security-labels" + JSONReader.member(key)
            guard let colon = key.firstIndex(of: ":"), colon != key.startIndex, key.index(after: colon) != key.endIndex else {
                throw reader.error(labelPath, "expected a label key \"source:key\" (k8s:app), found \"\(key)\"")
            }
            labels.append(SecurityLabel(source: String(key[..<colon]), key: String(key[key.index(after: colon)...]), value: value))
        }
        self.record(Identity(number), labels: labels, at: reader.file + ": " + path)
    }

    private mutating func addEndpoint(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) {
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(path + ".metadata", "missing")
        }
        let name = try reader.requiredString(metadata, "name", at: path + ".metadata")
        let namespace = try reader.requiredString(metadata, "namespace", at: path + ".metadata")
        // An endpoint without status or identity yet (being created) names nothing.
        guard let status = try reader.optionalObject(item, "status", at: path),
              let identity = try reader.optionalObject(status, "identity", at: path + ".status") else { return }
        let identityPath = path + ".status.identity"
        guard let id = try reader.optionalInteger(identity, "id", at: identityPath) else { return }
        guard id > 0 && id <= Int(Self.largest.rawValue) else {
            throw reader.error(identityPath + ".id", "expected a numeric identity 1-\(Self.largest.rawValue), found \(id)")
        }
        let number = Identity(UInt32(id))
        guard number >= Identity.firstAllocated else { return }
        if let texts = try reader.optionalArray(identity, "labels", at: identityPath) {
            var labels: [SecurityLabel] = []
            for (index, element) in texts.enumerated() {
                let labelPath = identityPath + ".labels[\(index)]"
                let text = try reader.string(element, at: labelPath)
                guard let label = Self.label(text) else {
                    throw reader.error(labelPath, "expected a label \"source:key=value\" (k8s:app=web), found \"\(text)\"")
                }
                labels.append(label)
            }
            if !labels.isEmpty { self.record(number, labels: labels.sorted(), at: reader.file + ": " + path) }
        }
        let key = namespace + "/" + name
        if self.byEndpoint[key] == nil { self.byEndpoint[key] = number }
        self.numbers.insert(number)
        if let networking = try reader.optionalObject(status, "networking", at: path + ".status"),
           let addressing = try reader.optionalArray(networking, "addressing", at: path + ".status.networking") {
            for (index, element) in addressing.enumerated() {
                let pairPath = path + ".status.networking.addressing[\(index)]"
                let pair = try reader.object(element, at: pairPath)
                for family in ["ipv4", "ipv6"] {
                    guard let text = try reader.optionalString(pair, family, at: pairPath), !text.isEmpty else { continue }
                    guard let address = IPAddress(text: text) else {
                        throw reader.error(pairPath + "." + family, "not an IP address: \"\(text)\"")
                    }
                    if self.byAddress[address] == nil { self.byAddress[address] = number }
                }
            }
        }
    }

    /// A label as CiliumEndpoint's status lists it: `source:key=value`, or `source:key`.
    static func label(_ text: String) -> SecurityLabel? {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else { return nil }
        let rest = text[text.index(after: colon)...]
        let equals = rest.firstIndex(of: "=")
        let key = equals.map { rest[..<$0] } ?? rest
        guard !key.isEmpty else { return nil }
        return SecurityLabel(source: String(text[..<colon]), key: String(key),
                             value: equals.map { String(rest[rest.index(after: $0)...]) } ?? "")
    }

    /// Gives `labels` the number `identity`; a label set the files number twice keeps its first
    /// number (Cilium may briefly hold two identities for one label set), with a warning.
    private mutating func record(_ identity: Identity, labels: [SecurityLabel], at place: String) {
        guard identity >= Identity.firstAllocated else { return }
        self.numbers.insert(identity)
        let canonical = SecurityLabels.canonical(labels)
        if let existing = self.byLabels[canonical], existing != identity {
            self.warnings.append("\(place): identity \(identity.rawValue) has the labels of identity \(existing.rawValue); using \(existing.rawValue)")
            return
        }
        self.byLabels[canonical] = identity
    }
}
