import Foundation
import TestSupport
import Yams

/// The Kubernetes objects in `deploy/kubernetes/`, each with the file and document it came from.
struct DeployManifests {
    struct Document {
        var file: String
        var index: Int
        var object: [String: Any]

        var kind: String { self.object["kind"] as? String ?? "" }
        var apiVersion: String { self.object["apiVersion"] as? String ?? "" }
        var name: String { (self.object["metadata"] as? [String: Any])?["name"] as? String ?? "" }
        /// `deploy/kubernetes/10-rbac.yaml, document 2 (ClusterRole flowmon-inventory-reader)`.
        var place: String { "deploy/kubernetes/\(self.file), document \(self.index) (\(self.kind) \(self.name))" }
    }

    static let deploy = FlowmonTestSupport.root.appendingPathComponent("deploy")

    let documents: [Document]

    init() throws {
        let directory = Self.deploy.appendingPathComponent("kubernetes")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        var documents: [Document] = []
        for file in files {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var index = 0
            for node in try Yams.load_all(yaml: text) {
                index += 1
                guard let object = node as? [String: Any] else {
                    throw ManifestError("deploy/kubernetes/\(file), document \(index): not a mapping")
                }
                documents.append(Document(file: file, index: index, object: object))
            }
        }
        self.documents = documents
    }

    /// The one document of `kind` (and `name`, when given).
    func one(_ kind: String, named name: String? = nil) throws -> Document {
        let found = self.documents.filter { $0.kind == kind && (name == nil || $0.name == name) }
        guard found.count == 1 else { throw ManifestError("expected one \(kind) \(name ?? ""), found \(found.count)") }
        return found[0]
    }

    /// The DaemonSet's pod spec.
    func podSpec() throws -> [String: Any] {
        let daemonSet = try self.one("DaemonSet").object
        guard let spec = daemonSet["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
              let podSpec = template["spec"] as? [String: Any] else { throw ManifestError("DaemonSet without spec.template.spec") }
        return podSpec
    }

    /// The container (or init container) named `name` of the DaemonSet's pod.
    func container(_ name: String) throws -> [String: Any] {
        let podSpec = try self.podSpec()
        let all = (podSpec["containers"] as? [[String: Any]] ?? []) + (podSpec["initContainers"] as? [[String: Any]] ?? [])
        guard let container = all.first(where: { $0["name"] as? String == name }) else {
            throw ManifestError("the DaemonSet has no container '\(name)'")
        }
        return container
    }

    /// The value of environment variable `name` in `container` (a literal `value` only).
    static func environment(_ container: [String: Any], _ name: String) -> String? {
        let env = container["env"] as? [[String: Any]] ?? []
        return env.first(where: { $0["name"] as? String == name })?["value"] as? String
    }
}

struct ManifestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
