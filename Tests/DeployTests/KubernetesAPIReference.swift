import Foundation

/// The Kubernetes API definitions vendored in `deploy/api-reference/` (OpenAPI v2 shape: a
/// definition's `properties`, each a `$ref`, a `type` with `items` or `additionalProperties`,
/// or `{}` for IntOrString), and a walk of a manifest object against them: every field must be
/// a property of its definition, with a value of the property's type, and every required
/// property present. A field whose type is not vendored is a failure too, so the reference has
/// to grow with the manifests.
struct KubernetesAPIReference {
    let definitions: [String: [String: Any]]
    /// "apiVersion kind" (`apps/v1 DaemonSet`, `v1 ConfigMap`) -> definition name.
    let kinds: [String: String]

    init() throws {
        let url = DeployManifests.deploy.appendingPathComponent("api-reference/kubernetes-definitions.json")
        let root = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        guard let definitions = root?["definitions"] as? [String: [String: Any]] else {
            throw ManifestError("\(url.path): no definitions")
        }
        var kinds: [String: String] = [:]
        for (name, definition) in definitions {
            for gvk in definition["x-kubernetes-group-version-kind"] as? [[String: String]] ?? [] {
                let group = gvk["group"] ?? "", version = gvk["version"] ?? "", kind = gvk["kind"] ?? ""
                kinds["\(group.isEmpty ? version : "\(group)/\(version)") \(kind)"] = name
            }
        }
        self.definitions = definitions
        self.kinds = kinds
    }

    /// Every problem of `object` (a whole manifest document), each naming its field path.
    func problems(of object: [String: Any]) -> [String] {
        let key = "\(object["apiVersion"] as? String ?? "?") \(object["kind"] as? String ?? "?")"
        guard let definition = self.kinds[key] else { return ["$: \(key) is not a kind the reference knows"] }
        var problems: [String] = []
        self.walk(object, against: ["$ref": "#/definitions/\(definition)"], at: "$", into: &problems)
        return problems
    }

    private func walk(_ value: Any, against schema: [String: Any], at path: String, into problems: inout [String]) {
        if let reference = schema["$ref"] as? String {
            let name = String(reference.dropFirst("#/definitions/".count))
            guard let definition = self.definitions[name] else {
                problems.append("\(path): its type \(name) is not in deploy/api-reference (vendor its definition)")
                return
            }
            guard let object = value as? [String: Any] else {
                problems.append("\(path): expected an object (\(name)), found \(Self.describe(value))")
                return
            }
            let properties = definition["properties"] as? [String: [String: Any]] ?? [:]
            for required in definition["required"] as? [String] ?? [] where object[required] == nil {
                problems.append("\(path): missing required field '\(required)' of \(name)")
            }
            for (field, fieldValue) in object.sorted(by: { $0.key < $1.key }) {
                guard let property = properties[field] else {
                    problems.append("\(path).\(field): no such field in \(name)")
                    continue
                }
                self.walk(fieldValue, against: property, at: "\(path).\(field)", into: &problems)
            }
            return
        }
        switch schema["type"] as? String {
        case "array":
            guard let array = value as? [Any] else { return problems.append("\(path): expected a list, found \(Self.describe(value))") }
            let items = schema["items"] as? [String: Any] ?? [:]
            for (index, item) in array.enumerated() { self.walk(item, against: items, at: "\(path)[\(index)]", into: &problems) }
        case "object":
            guard let object = value as? [String: Any] else { return problems.append("\(path): expected a map, found \(Self.describe(value))") }
            let values = schema["additionalProperties"] as? [String: Any] ?? [:]
            for (key, item) in object.sorted(by: { $0.key < $1.key }) { self.walk(item, against: values, at: "\(path).\(key)", into: &problems) }
        case "string":
            if !(value is String) { problems.append("\(path): expected a string, found \(Self.describe(value))") }
        case "integer":
            if !(value is Int) { problems.append("\(path): expected an integer, found \(Self.describe(value))") }
        case "boolean":
            if !(value is Bool) { problems.append("\(path): expected true or false, found \(Self.describe(value))") }
        case "number":
            if !(value is Int || value is Double) { problems.append("\(path): expected a number, found \(Self.describe(value))") }
        default:  // {}: IntOrString
            if !(value is Int || value is String) { problems.append("\(path): expected an integer or a string, found \(Self.describe(value))") }
        }
    }

    static func describe(_ value: Any) -> String {
        switch value {
        case is [String: Any]: "a map"
        case is [Any]: "a list"
        case let string as String: "the string \"\(string)\""
        case let bool as Bool: "\(bool)"
        case let int as Int: "the integer \(int)"
        default: "\(value)"
        }
    }
}
