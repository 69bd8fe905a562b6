import Foundation

/// The pods of a watch stream, `kubectl get pods -A --watch --output-watch-events -o json`:
/// each object is a watch event (Kubernetes `meta/v1` WatchEvent) `{"type": …, "object": Pod}`,
/// applied in order:
/// - `ADDED`, `MODIFIED`: the pod is put in place by namespace/name (a pod keeps its place in
///   the order on update); a pod in phase `Succeeded` or `Failed` is taken out, as the file
///   loader leaves it out (Cilium deletes a finished pod's endpoint);
/// - `DELETED`: the pod (its state just before deletion) is taken out;
/// - `BOOKMARK`: a resource version only (watches with `allowWatchBookmarks`); nothing changes;
/// - `ERROR`: the object is a `Status` (e.g. 410 Gone, "too old resource version"): its
///   message is returned as a warning; nothing changes.
///
/// Two more forms are taken, so other ways of running kubectl work too: a bare `Pod` (what
/// `--watch` writes without `--output-watch-events`; it cannot say a pod was deleted) is put in
/// place, and a `List`/`PodList` (`kubectl get pods -A -o json`) replaces every pod, a resync.
/// An object that is not valid is an error naming the stream, the object's number and line and
/// the JSON path, and changes nothing.
package struct PodWatchSet: Sendable {
    /// The stream's name in messages: a FIFO's path, or `standard input`.
    package let source: String
    /// Objects applied so far (numbering starts at 1).
    package private(set) var objects = 0
    private var byName: [String: (order: Int, pod: Pod)] = [:]
    private var nextOrder = 0

    package init(source: String) { self.source = source }

    /// The pods, in the order they first appeared.
    package var pods: [Pod] { self.byName.values.sorted { $0.order < $1.order }.map(\.pod) }

    package var count: Int { self.byName.count }

    /// What one object did.
    package enum Outcome: Equatable, Sendable {
        /// The pod set changed.
        case changed
        /// Nothing to change (a bookmark, an update that changes nothing flowmon reads).
        case unchanged
        /// An `ERROR` event: the API server's message.
        case warning(String)
    }

    /// Applies one object of the stream, `line` the stream line it starts on.
    package mutating func apply(_ bytes: [UInt8], line: Int) throws(AgentError) -> Outcome {
        self.objects += 1
        let place = "object \(self.objects) (line \(line))"
        let reader = JSONReader(file: self.source)
        let root: JSONValue
        do {
            root = try JSONReader.parse(bytes, file: self.source)
        } catch {
            // The parser's line, counted in the stream.
            throw AgentError(file: self.source, location: error.line == nil ? place : "object \(self.objects)",
                             message: error.message, line: error.line.map { line + $0 - 1 })
        }
        let path = "\(place): $"
        let event = try reader.object(root, at: path)
        guard let type = try reader.optionalString(event, "type", at: path) else {
            return try self.applyObject(event, at: path, reader: reader)
        }
        let objectPath = path + ".object"
        guard let value = event["object"] else { throw reader.error(objectPath, "missing") }
        let object = try reader.object(value, at: objectPath)
        switch type {
        case "ADDED", "MODIFIED":
            let kind = try reader.optionalString(object, "kind", at: objectPath) ?? "Pod"
            guard kind == "Pod" else { throw reader.error(objectPath + ".kind", "expected \"Pod\", found \"\(kind)\"") }
            return try self.upsert(object, at: objectPath, reader: reader)
        case "DELETED":
            let metadataPath = objectPath + ".metadata"
            guard let metadata = try reader.optionalObject(object, "metadata", at: objectPath) else {
                throw reader.error(metadataPath, "missing")
            }
            let key = try reader.requiredString(metadata, "namespace", at: metadataPath) + "/"
                + reader.requiredString(metadata, "name", at: metadataPath)
            return self.byName.removeValue(forKey: key) == nil ? .unchanged : .changed
        case "BOOKMARK":
            return .unchanged
        case "ERROR":
            let message = try reader.optionalString(object, "message", at: objectPath) ?? "no message"
            let code = try reader.optionalInteger(object, "code", at: objectPath).map { " (code \($0))" } ?? ""
            return .warning("\(self.source): \(place): the watch reported an error\(code): \(message)")
        default:
            throw reader.error(path + ".type", "expected ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, found \"\(type)\"")
        }
    }

    /// An object without `type`: a bare Pod, or a List that replaces the set.
    private mutating func applyObject(_ object: JSONObject, at path: String, reader: JSONReader)
        throws(AgentError) -> Outcome
    {
        let kind = try reader.optionalString(object, "kind", at: path)
        if kind == "Pod" { return try self.upsert(object, at: path, reader: reader) }
        guard kind == "List" || kind == "PodList" else {
            throw reader.error(path, "expected a watch event {\"type\": ..., \"object\": ...} (kubectl get pods -A --watch --output-watch-events -o json), a Pod or a List of pods, found \(kind.map { "kind \"\($0)\"" } ?? "no type or kind")")
        }
        var replaced = PodWatchSet(source: self.source)
        replaced.objects = self.objects
        let listReader = JSONReader(file: self.source)
        for (item, itemPath) in try InventoryLoader.items(.object(object), kind: "Pod", command: "kubectl get pods -A -o json",
                                                          reader: listReader) {
            _ = try replaced.upsert(item, at: path + itemPath.dropFirst(), reader: reader)
        }
        let changed = replaced.pods.map(Self.comparable) != self.pods.map(Self.comparable)
        self = replaced
        return changed ? .changed : .unchanged
    }

    private mutating func upsert(_ object: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Outcome {
        let finished = try InventoryLoader.isFinished(object, at: path, reader: reader)
        var pod = try InventoryLoader.pod(object, at: path, reader: reader)
        pod.location = String(path.prefix { $0 != ":" })
        let key = pod.namespace + "/" + pod.name
        if finished { return self.byName.removeValue(forKey: key) == nil ? .unchanged : .changed }
        if let old = self.byName[key] {
            self.byName[key] = (old.order, pod)
            return Self.comparable(old.pod) == Self.comparable(pod) ? .unchanged : .changed
        }
        self.byName[key] = (self.nextOrder, pod)
        self.nextOrder += 1
        return .changed
    }

    /// A pod without where it was read, to tell whether an update changed anything.
    private static func comparable(_ pod: Pod) -> Pod {
        var pod = pod
        pod.location = ""
        return pod
    }
}
