import FlowCore
import Yams

// Label selectors (Kubernetes `LabelSelector`, Cilium `EndpointSelector`) and CIDRs,
// shared by the Cilium and Kubernetes readers.

extension PolicyDocumentContext {
    static let selectorFields = ["matchLabels", "matchExpressions"]
    static let requirementFields = ["key", "operator", "values"]

    /// `cilium`: keys may carry a Cilium label source (`k8s:app`, `reserved:host`).
    func labelSelector(_ node: PolicyYAMLNode, _ path: String, cilium: Bool) throws(AgentError) -> LabelSelector {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.selectorFields, context: self)
        var selector = LabelSelector()
        if let labelsNode = map["matchLabels"] {
            let labelsPath = map.path("matchLabels")
            guard case .mapping(let labels) = labelsNode else {
                throw self.typeError(labelsPath, expected: PolicyValueKind.map.phrase, labelsNode)
            }
            try self.spend(labels.count, at: labelsNode)
            selector.matchLabels.reserveCapacity(labels.count)
            for (keyNode, valueNode) in labels {
                guard case .scalar(let keyScalar) = keyNode else {
                    throw self.error(labelsPath, "map keys must be strings, found \(keyNode.policyValueKind.phrase)", at: keyNode)
                }
                let key = keyScalar.string
                if let problem = PolicyValidation.labelKeyProblem(key, cilium: cilium) {
                    throw self.error(labelsPath, problem, at: keyNode)
                }
                let value = try self.string(valueNode, labelsPath + "." + key)
                if let problem = PolicyValidation.labelValueProblem(value, key: key) {
                    throw self.error(labelsPath, problem, at: valueNode)
                }
                selector.matchLabels[key] = value
            }
        }
        if let expressionsNode = map["matchExpressions"] {
            let expressionsPath = map.path("matchExpressions")
            let items = try self.list(expressionsNode, expressionsPath)
            selector.matchExpressions.reserveCapacity(items.count)
            for (index, item) in items.enumerated() {
                selector.matchExpressions.append(try self.requirement(item, "\(expressionsPath)[\(index)]", cilium: cilium))
            }
        }
        return selector
    }

    private func requirement(_ node: PolicyYAMLNode, _ path: String, cilium: Bool) throws(AgentError) -> LabelSelectorRequirement {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.requirementFields, context: self)
        guard let keyNode = map["key"] else { throw self.error(map.path("key"), "required field is missing", line: map.line) }
        let key = try self.string(keyNode, map.path("key"))
        if let problem = PolicyValidation.labelKeyProblem(key, cilium: cilium) {
            throw self.error(map.path("key"), problem, at: keyNode)
        }
        guard let operatorNode = map["operator"] else {
            throw self.error(map.path("operator"), "required field is missing", line: map.line)
        }
        let operatorText = try self.string(operatorNode, map.path("operator"))
        guard let op = LabelSelectorRequirement.Operator(rawValue: operatorText) else {
            let allowed = LabelSelectorRequirement.Operator.allCases.map(\.rawValue).joined(separator: ", ")
            throw self.error(map.path("operator"), "unknown operator '\(operatorText)' (allowed: \(allowed))", at: operatorNode)
        }
        var values: [String] = []
        if let valuesNode = map["values"] {
            values = try self.stringList(valuesNode, map.path("values"))
            for (index, value) in values.enumerated() {
                if let problem = PolicyValidation.labelValueProblem(value, key: key) {
                    throw self.error("\(map.path("values"))[\(index)]", problem, line: map.keyLine("values"))
                }
            }
        }
        switch op {
        case .in, .notIn:
            if values.isEmpty {
                throw self.error(map.path("values"), "values must not be empty for operator \(op.rawValue)",
                                 line: map["values"] == nil ? map.line : map.keyLine("values"))
            }
        case .exists, .doesNotExist:
            if !values.isEmpty {
                throw self.error(map.path("values"), "values must be empty for operator \(op.rawValue)",
                                 line: map.keyLine("values"))
            }
        }
        return LabelSelectorRequirement(key: key, operator: op, values: values)
    }

    func labelSelectorList(_ node: PolicyYAMLNode, _ path: String, cilium: Bool) throws(AgentError) -> [LabelSelector] {
        let items = try self.list(node, path)
        var selectors: [LabelSelector] = []
        selectors.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            selectors.append(try self.labelSelector(item, "\(path)[\(index)]", cilium: cilium))
        }
        return selectors
    }

    // MARK: CIDRs

    /// A CIDR string. `kubernetes`: host bits must be zero; otherwise they are masked.
    func cidr(_ node: PolicyYAMLNode, _ path: String, allowBareAddress: Bool, kubernetes: Bool) throws(AgentError) -> CIDR {
        let text = try self.string(node, path)
        switch IPPrefix.parse(text, allowBareAddress: allowBareAddress) {
        case .failure(let problem):
            throw self.error(path, problem.message, at: node)
        case .success(let parsed):
            let network = parsed.masked
            if kubernetes && network != parsed {
                throw self.error(path, "invalid CIDR '\(text)': host bits are set (the network is '\(network)')",
                                 at: node)
            }
            var cidr = CIDR(prefix: network)
            cidr.text = text
            return cidr
        }
    }

    /// `except` entries of a CIDR rule: same family and inside `cidr` (for Kubernetes a
    /// strict subset).
    func exceptList(_ node: PolicyYAMLNode, _ path: String, of cidr: CIDR, kubernetes: Bool) throws(AgentError) -> [CIDR] {
        let items = try self.list(node, path)
        var result: [CIDR] = []
        result.reserveCapacity(items.count)
        for (index, item) in items.enumerated() {
            let itemPath = "\(path)[\(index)]"
            let except = try self.cidr(item, itemPath, allowBareAddress: false, kubernetes: kubernetes)
            if except.isIPv4 != cidr.isIPv4 {
                throw self.error(itemPath, "except '\(except.text)' is \(except.isIPv4 ? "IPv4" : "IPv6") but cidr '\(cidr.text)' is \(cidr.isIPv4 ? "IPv4" : "IPv6")",
                                 at: item)
            }
            let inside = cidr.prefix.contains(except.prefix)
            if kubernetes {
                if !inside || except.prefix.length == cidr.prefix.length {
                    throw self.error(itemPath, "except '\(except.text)' is not a strict subset of cidr '\(cidr.text)'", at: item)
                }
            } else if !inside {
                throw self.error(itemPath, "except '\(except.text)' is not inside cidr '\(cidr.text)'", at: item)
            }
            result.append(except)
        }
        return result
    }
}
