import Yams

// Kubernetes NetworkPolicy (networking.k8s.io/v1) bodies, with the checks of the API
// server's validation (pkg/apis/networking/validation).

struct KubernetesPolicyReader {
    let context: PolicyDocumentContext

    static let specFields = ["podSelector", "policyTypes", "ingress", "egress"]
    static let ingressFields = ["from", "ports"]
    static let egressFields = ["to", "ports"]
    static let peerFields = ["podSelector", "namespaceSelector", "ipBlock"]
    static let portFields = ["protocol", "port", "endPort"]

    /// A missing `spec` reads as `{}` (all pods, ingress isolated), as the API server defaults it.
    func spec(_ top: YAMLFieldMap) throws(AgentError) -> KubernetesNetworkPolicySpec {
        var spec = KubernetesNetworkPolicySpec(podSelector: LabelSelector())
        guard let specNode = top["spec"] else { return spec }
        let map = try YAMLFieldMap(specNode, path: "spec", allowed: Self.specFields, context: self.context)
        if let node = map["podSelector"] {
            spec.podSelector = try self.context.labelSelector(node, map.path("podSelector"), cilium: false)
        }
        if let node = map["policyTypes"] {
            let path = map.path("policyTypes")
            let items = try self.context.list(node, path)
            if items.count > 2 {
                throw self.context.error(path, "policyTypes may list at most 2 values", at: node)
            }
            var types: [KubernetesNetworkPolicySpec.PolicyType] = []
            for (index, item) in items.enumerated() {
                let text = try self.context.string(item, "\(path)[\(index)]")
                guard let type = KubernetesNetworkPolicySpec.PolicyType(rawValue: text) else {
                    throw self.context.error("\(path)[\(index)]", "policy type '\(text)' is not one of Ingress, Egress", at: item)
                }
                if types.contains(type) {
                    throw self.context.error("\(path)[\(index)]", "policy type '\(text)' is listed twice", at: item)
                }
                types.append(type)
            }
            spec.policyTypes = types
        }
        if let node = map["ingress"] {
            let path = map.path("ingress")
            spec.ingress = try self.context.eachRule(node, path) { (item, itemPath) throws(AgentError) in
                let rule = try YAMLFieldMap(item, path: itemPath, allowed: Self.ingressFields, context: self.context)
                return KubernetesIngressRule(from: try self.peers(rule, "from"), ports: try self.ports(rule))
            }
        }
        if let node = map["egress"] {
            let path = map.path("egress")
            spec.egress = try self.context.eachRule(node, path) { (item, itemPath) throws(AgentError) in
                let rule = try YAMLFieldMap(item, path: itemPath, allowed: Self.egressFields, context: self.context)
                return KubernetesEgressRule(to: try self.peers(rule, "to"), ports: try self.ports(rule))
            }
        }
        return spec
    }

    private func peers(_ rule: YAMLFieldMap, _ key: String) throws(AgentError) -> [KubernetesPeer]? {
        guard let node = rule[key] else { return nil }
        let path = rule.path(key)
        var peers: [KubernetesPeer] = []
        for (index, item) in try self.context.list(node, path).enumerated() {
            let itemPath = "\(path)[\(index)]"
            let map = try YAMLFieldMap(item, path: itemPath, allowed: Self.peerFields, context: self.context)
            var peer = KubernetesPeer()
            if let ipBlock = map["ipBlock"] {
                if let other = ["podSelector", "namespaceSelector"].first(where: { map[$0] != nil }) {
                    throw self.context.error(map.path("ipBlock"), "ipBlock cannot be combined with \(other) in one peer",
                                             line: map.keyLine("ipBlock"))
                }
                peer.ipBlock = try self.ipBlock(ipBlock, path: map.path("ipBlock"))
            } else if map["podSelector"] == nil && map["namespaceSelector"] == nil {
                throw self.context.error(itemPath, "a peer needs podSelector, namespaceSelector or ipBlock", line: map.line)
            }
            if let node = map["podSelector"] {
                peer.podSelector = try self.context.labelSelector(node, map.path("podSelector"), cilium: false)
            }
            if let node = map["namespaceSelector"] {
                peer.namespaceSelector = try self.context.labelSelector(node, map.path("namespaceSelector"), cilium: false)
            }
            peers.append(peer)
        }
        return peers
    }

    private func ipBlock(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> CIDRRule {
        let map = try YAMLFieldMap(node, path: path, allowed: ["cidr", "except"], context: self.context)
        guard let cidrNode = map["cidr"] else {
            throw self.context.error(map.path("cidr"), "required field is missing", line: map.line)
        }
        let cidr = try self.context.cidr(cidrNode, map.path("cidr"), allowBareAddress: false, kubernetes: true)
        var except: [CIDR] = []
        if let node = map["except"] {
            except = try self.context.exceptList(node, map.path("except"), of: cidr, kubernetes: true)
        }
        return CIDRRule(cidr: cidr, except: except)
    }

    private func ports(_ rule: YAMLFieldMap) throws(AgentError) -> [KubernetesPort]? {
        guard let node = rule["ports"] else { return nil }
        let path = rule.path("ports")
        var ports: [KubernetesPort] = []
        for (index, item) in try self.context.list(node, path).enumerated() {
            let map = try YAMLFieldMap(item, path: "\(path)[\(index)]", allowed: Self.portFields, context: self.context)
            var port = KubernetesPort()
            if let protoNode = map["protocol"] {
                let text = try self.context.string(protoNode, map.path("protocol"))
                switch text {
                case "TCP": port.protocol = .tcp
                case "UDP": port.protocol = .udp
                case "SCTP": port.protocol = .sctp
                default:
                    throw self.context.error(map.path("protocol"), "protocol '\(text)' is not one of TCP, UDP, SCTP", at: protoNode)
                }
            }
            if let portNode = map["port"] {
                let portPath = map.path("port")
                switch try self.context.intOrString(portNode, portPath) {
                case .int(let value):
                    guard (1...65535).contains(value) else {
                        throw self.context.error(portPath, "port \(value) is out of range 1-65535", at: portNode)
                    }
                    port.port = .number(UInt16(value))
                case .string(let text):
                    if PolicyValidation.isAllDigits(text) {
                        throw self.context.error(portPath, "port '\(text)' is a string, so it must be a port name; write a number without quotes",
                                                 at: portNode)
                    }
                    guard PolicyValidation.isPortName(text, caseInsensitive: false) else {
                        throw self.context.error(portPath, "port '\(text)' is neither a number nor a valid port name (\(PolicyValidation.portNameRule))",
                                                 at: portNode)
                    }
                    port.port = .name(text)
                }
            }
            if let endNode = map["endPort"] {
                let endPath = map.path("endPort")
                let value = try self.context.integer(endNode, endPath)
                guard (1...65535).contains(value) else {
                    throw self.context.error(endPath, "endPort \(value) is out of range 1-65535", at: endNode)
                }
                switch port.port {
                case nil:
                    throw self.context.error(endPath, "endPort requires port", at: endNode)
                case .name(let name):
                    throw self.context.error(endPath, "endPort cannot be used with the named port '\(name)'", at: endNode)
                case .number(let start):
                    if value < Int(start) {
                        throw self.context.error(endPath, "endPort \(value) is less than port \(start)", at: endNode)
                    }
                }
                port.endPort = UInt16(value)
            }
            ports.append(port)
        }
        return ports
    }
}
