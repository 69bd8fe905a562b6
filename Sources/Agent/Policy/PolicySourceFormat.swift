import Yams

/// Recognizes files that hold policies in a form flowmon does not read, so the message can
/// name the format instead of the first type mismatch it causes: unrendered Go/Helm
/// templates and JSON rule arrays of the old `cilium policy import` command.
enum PolicySourceFormat {
    /// The first Go template action (`{{ … }}` on one line, outside a `#` comment line) and
    /// its 1-based line. text/template's delimiters are `{{` and `}}`; Helm charts use them too.
    static func templateAction(in text: String) -> (text: String, line: Int)? {
        // A byte scan: most files have no `{{`.
        guard zip(text.utf8, text.utf8.dropFirst()).contains(where: { $0 == UInt8(ascii: "{") && $1 == UInt8(ascii: "{") }) else {
            return nil
        }
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            guard let open = line.range(of: "{{"), let close = line.range(of: "}}", range: open.upperBound..<line.endIndex),
                  line.first(where: { $0 != " " && $0 != "\t" }) != "#" else { continue }
            var action = String(line[open.lowerBound..<close.upperBound])
            if action.count > 60 { action = String(action.prefix(57)) + "...}}" }
            return (action, lineNumber)
        }
        return nil
    }

    /// The error for a document that is a list rather than an object. A list of maps with
    /// `endpointSelector` or `nodeSelector` is the rule array the agent's `cilium policy
    /// import` read (`[{endpointSelector: …, ingress: …}]`; Cilium's `examples/policies` still
    /// held such .json files in August 2024); a Kubernetes API server reads objects with
    /// `apiVersion` and `kind` only.
    static func topLevelListError(_ sequence: PolicyYAMLNode.Sequence, file: String, documentIndex: Int) -> AgentError {
        let line = sequence.mark?.line
        let isRuleArray = sequence.contains { item in
            guard case .mapping(let mapping) = item else { return false }
            return mapping["endpointSelector"] != nil || mapping["nodeSelector"] != nil
        }
        if isRuleArray {
            return AgentError(file: file, location: "document \(documentIndex)",
                              message: "a JSON rule array of the old `cilium policy import` format, not a Kubernetes object: wrap the rules in a CiliumNetworkPolicy (apiVersion: cilium.io/v2, kind: CiliumNetworkPolicy, metadata.name, and the rules as its specs)",
                              line: line, code: "policy.format.rule-array")
        }
        return AgentError(file: file, location: "document \(documentIndex)",
                          message: "a list of \(sequence.count) item\(sequence.count == 1 ? "" : "s"), not a Kubernetes object: flowmon reads objects with apiVersion and kind (several in one file as YAML documents separated by --- or as a kind: List)",
                          line: line, code: "policy.format.list")
    }
}
