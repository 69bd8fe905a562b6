import FlowCore
import L7
import Yams

// CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy bodies, with the checks of Cilium's
// CRD schema and of `Rule.Sanitize()` (pkg/policy/api/rule_validation.go).

struct CiliumPolicyReader {
    let context: PolicyDocumentContext
    let clusterwide: Bool

    static let ruleFields = ["endpointSelector", "nodeSelector", "ingress", "ingressDeny", "egress", "egressDeny",
                             "labels", "enableDefaultDeny", "description", "log"]
    static let ingressFields = ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromRequires",
                                "toPorts", "icmps", "fromGroups", "authentication"]
    static let ingressDenyFields = ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromRequires",
                                    "toPorts", "icmps", "fromGroups"]
    static let egressFields = ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toNodes", "toRequires", "toPorts",
                               "icmps", "toServices", "toFQDNs", "toGroups", "authentication"]
    static let egressDenyFields = ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toNodes", "toRequires", "toPorts",
                                   "icmps", "toServices", "toGroups"]
    /// Peer kinds of which Cilium allows one per rule (`Combining X and Y is not supported`).
    static let ingressPeers: Set<String> = ["fromEndpoints", "fromCIDR", "fromCIDRSet", "fromEntities", "fromNodes", "fromGroups"]
    static let egressPeers: Set<String> = ["toEndpoints", "toCIDR", "toCIDRSet", "toEntities", "toNodes", "toGroups",
                                           "toServices", "toFQDNs"]
    static let portRuleFields = ["ports", "terminatingTLS", "originatingTLS", "serverNames", "listener", "rules"]
    static let portDenyRuleFields = ["ports"]
    static let portFields = ["port", "endPort", "protocol"]
    static let l7Fields = ["http", "kafka", "dns", "l7proto", "l7"]
    static let cidrRuleFields = ["cidr", "cidrGroupRef", "cidrGroupSelector", "except"]
    static let maxPorts = 40
    static let maxICMPFields = 40

    /// `spec` (index 0) then every `specs` item (1...), in file order.
    func rules(_ top: YAMLFieldMap) throws(AgentError) -> [CiliumRule] {
        let specNode = top["spec"]
        let specsNode = top["specs"]
        guard specNode != nil || specsNode != nil else {
            let kind = self.clusterwide ? PolicyKind.ciliumClusterwideNetworkPolicy : .ciliumNetworkPolicy
            throw self.context.error("spec", "a \(kind.rawValue) needs spec or specs", line: top.line)
        }
        var rules: [CiliumRule] = []
        if let specNode {
            rules.append(try self.rule(specNode, path: "spec", index: 0))
        }
        if let specsNode {
            for (index, item) in try self.context.list(specsNode, "specs").enumerated() {
                rules.append(try self.rule(item, path: "specs[\(index)]", index: index + 1))
            }
        }
        return rules
    }

    func rule(_ node: PolicyYAMLNode, path: String, index: Int) throws(AgentError) -> CiliumRule {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.ruleFields, context: self.context)
        var rule = CiliumRule(index: index)
        let hasEndpointSelector = map["endpointSelector"] != nil
        let hasNodeSelector = map["nodeSelector"] != nil
        if hasNodeSelector && !self.clusterwide {
            throw self.context.error(map.path("nodeSelector"), "nodeSelector is only allowed in a CiliumClusterwideNetworkPolicy",
                                     line: map.keyLine("nodeSelector"))
        }
        if hasEndpointSelector && hasNodeSelector {
            throw self.context.error(map.path("nodeSelector"), "endpointSelector and nodeSelector cannot both be set",
                                     line: map.keyLine("nodeSelector"))
        }
        if !hasEndpointSelector && !hasNodeSelector {
            throw self.context.error(path, self.clusterwide ? "a rule needs endpointSelector or nodeSelector"
                                                            : "a rule needs endpointSelector", line: map.line)
        }
        if let node = map["endpointSelector"] {
            rule.endpointSelector = try self.context.labelSelector(node, map.path("endpointSelector"), cilium: true)
        }
        if let node = map["nodeSelector"] {
            rule.nodeSelector = try self.context.labelSelector(node, map.path("nodeSelector"), cilium: true)
            self.context.notEvaluated("host policies (nodeSelector)",
                                      "flowmon judges pods' traffic only; these rules select no endpoint and the nodes' own traffic is not judged",
                                      path: map.path("nodeSelector"), line: map.keyLine("nodeSelector"))
        }
        let hostPolicy = hasNodeSelector
        if let node = map["ingress"] {
            rule.ingress = try self.context.eachRule(node, map.path("ingress")) { (item, itemPath) throws(AgentError) in
                try self.ingressRule(item, path: itemPath, deny: false, hostPolicy: hostPolicy)
            }
        }
        if let node = map["ingressDeny"] {
            rule.ingressDeny = try self.context.eachRule(node, map.path("ingressDeny")) { (item, itemPath) throws(AgentError) in
                try self.ingressRule(item, path: itemPath, deny: true, hostPolicy: hostPolicy)
            }
        }
        if let node = map["egress"] {
            rule.egress = try self.context.eachRule(node, map.path("egress")) { (item, itemPath) throws(AgentError) in
                try self.egressRule(item, path: itemPath, deny: false, hostPolicy: hostPolicy)
            }
        }
        if let node = map["egressDeny"] {
            rule.egressDeny = try self.context.eachRule(node, map.path("egressDeny")) { (item, itemPath) throws(AgentError) in
                try self.egressRule(item, path: itemPath, deny: true, hostPolicy: hostPolicy)
            }
        }
        if let node = map["enableDefaultDeny"] {
            let deny = try YAMLFieldMap(node, path: map.path("enableDefaultDeny"), allowed: ["ingress", "egress"], context: self.context)
            if let value = deny["ingress"] { rule.enableDefaultDenyIngress = try self.context.boolean(value, deny.path("ingress")) }
            if let value = deny["egress"] { rule.enableDefaultDenyEgress = try self.context.boolean(value, deny.path("egress")) }
        }
        if let node = map["description"] {
            rule.description = try self.context.string(node, map.path("description"))
        }
        if let node = map["log"] {
            let log = try YAMLFieldMap(node, path: map.path("log"), allowed: ["value"], context: self.context)
            if let value = log["value"] {
                let text = try self.context.string(value, log.path("value"))
                if text.count > 32 {
                    throw self.context.error(log.path("value"), "log value is \(text.count) characters long (at most 32)", at: value)
                }
            }
        }
        if let node = map["labels"] {
            // Cilium `labels.LabelArray`: [{key, value, source}]; kept only for validation.
            for (index, item) in try self.context.list(node, map.path("labels")).enumerated() {
                let label = try YAMLFieldMap(item, path: "\(map.path("labels"))[\(index)]", allowed: ["key", "value", "source"],
                                             context: self.context)
                for field in label.keys { _ = try self.context.string(label[field]!, label.path(field)) }
            }
        }
        return rule
    }


    // MARK: Ingress / egress

    func ingressRule(_ node: PolicyYAMLNode, path: String, deny: Bool, hostPolicy: Bool) throws(AgentError) -> CiliumIngressRule {
        let map = try YAMLFieldMap(node, path: path, allowed: deny ? Self.ingressDenyFields : Self.ingressFields, context: self.context)
        let peers = try self.peers(map, prefix: "from", exclusive: Self.ingressPeers, deny: deny, hostPolicy: hostPolicy)
        return CiliumIngressRule(fromEndpoints: peers.endpoints, fromCIDR: peers.cidr, fromCIDRSet: peers.cidrSet,
                                 fromEntities: peers.entities, fromNodes: peers.nodes, toPorts: peers.toPorts, icmps: peers.icmps)
    }

    func egressRule(_ node: PolicyYAMLNode, path: String, deny: Bool, hostPolicy: Bool) throws(AgentError) -> CiliumEgressRule {
        let map = try YAMLFieldMap(node, path: path, allowed: deny ? Self.egressDenyFields : Self.egressFields, context: self.context)
        let peers = try self.peers(map, prefix: "to", exclusive: Self.egressPeers, deny: deny, hostPolicy: hostPolicy)
        return CiliumEgressRule(toEndpoints: peers.endpoints, toCIDR: peers.cidr, toCIDRSet: peers.cidrSet,
                                toEntities: peers.entities, toNodes: peers.nodes, toPorts: peers.toPorts, icmps: peers.icmps,
                                toFQDNs: peers.fqdns)
    }

    struct Peers {
        var endpoints: [LabelSelector]?
        var cidr: [CIDR]?
        var cidrSet: [CIDRRule]?
        var entities: [Entity]?
        var nodes: [LabelSelector]?
        var toPorts: [PortRule]?
        var icmps: [ICMPRule]?
        var fqdns: [FQDNSelector]?
    }

    /// The fields common to ingress and egress items (`prefix` is "from" or "to"), after the
    /// peer-exclusivity checks of Cilium's `sanitize()`.
    private func peers(_ map: YAMLFieldMap, prefix p: String, exclusive: Set<String>, deny: Bool,
                       hostPolicy: Bool) throws(AgentError) -> Peers {
        // Exclusivity first, on non-empty lists (Cilium counts `len()`), in file order.
        var firstPeer: String?
        var counts: [String: Int] = [:]
        for key in map.keys where exclusive.contains(key) || key == "toPorts" || key == "icmps" {
            let count = try self.context.list(map[key]!, map.path(key)).count
            counts[key] = count
            guard count > 0, exclusive.contains(key) else { continue }
            if let firstPeer {
                throw self.context.error(map.path(key),
                                         "\(firstPeer) and \(key) cannot be combined in one rule (Cilium allows one kind of peer per rule; write separate rules)",
                                         line: map.keyLine(key))
            }
            firstPeer = key
        }
        if (counts["toServices"] ?? 0) > 0 && (counts["toPorts"] ?? 0) > 0 {
            throw self.context.error(map.path("toPorts"), "toServices and toPorts cannot be combined in one rule (Cilium does not support it)",
                                     line: map.keyLine("toPorts"))
        }
        if (counts["icmps"] ?? 0) > 0 && (counts["toPorts"] ?? 0) > 0 {
            throw self.context.error(map.path("icmps"), "icmps and toPorts cannot be combined in one rule (Cilium: write a separate rule for toPorts)",
                                     line: map.keyLine("icmps"))
        }

        var peers = Peers()
        var selectsNothing = false
        if let node = map[p + "Endpoints"] {
            peers.endpoints = try self.context.labelSelectorList(node, map.path(p + "Endpoints"), cilium: true)
        }
        if let node = map[p + "CIDR"] {
            let path = map.path(p + "CIDR")
            var cidrs: [CIDR] = []
            for (index, item) in try self.context.list(node, path).enumerated() {
                cidrs.append(try self.context.cidr(item, "\(path)[\(index)]", allowBareAddress: true, kubernetes: false))
            }
            peers.cidr = cidrs
        }
        if let node = map[p + "CIDRSet"] {
            let path = map.path(p + "CIDRSet")
            let items = try self.context.list(node, path)
            var rules: [CIDRRule] = []
            for (index, item) in items.enumerated() {
                if let rule = try self.cidrRule(item, path: "\(path)[\(index)]") { rules.append(rule) }
            }
            if rules.isEmpty && !items.isEmpty {
                selectsNothing = true   // only CIDR groups, which flowmon cannot resolve
            } else {
                peers.cidrSet = rules
            }
        }
        if let node = map[p + "Entities"] {
            let path = map.path(p + "Entities")
            var entities: [Entity] = []
            for (index, item) in try self.context.list(node, path).enumerated() {
                let text = try self.context.string(item, "\(path)[\(index)]")
                guard let entity = Entity(rawValue: text) else {
                    let allowed = Entity.allCases.map(\.rawValue).joined(separator: ", ")
                    throw self.context.error("\(path)[\(index)]", "unknown entity '\(text)' (allowed: \(allowed))", at: item)
                }
                entities.append(entity)
            }
            peers.entities = entities
        }
        if let node = map[p + "Nodes"] {
            peers.nodes = try self.context.labelSelectorList(node, map.path(p + "Nodes"), cilium: true)
        }
        if let node = map[p + "Requires"] {
            let key = p + "Requires"
            _ = try self.context.labelSelectorList(node, map.path(key), cilium: true)
            self.context.notEvaluated(key, "it is ignored (Cilium deprecated it)", path: map.path(key), line: map.keyLine(key))
        }
        if let node = map[p + "Groups"] {
            let key = p + "Groups"
            let items = try self.context.list(node, map.path(key))
            for (index, item) in items.enumerated() {
                _ = try YAMLFieldMap(item, path: "\(map.path(key))[\(index)]", allowed: ["aws"], context: self.context)
            }
            if !items.isEmpty {
                selectsNothing = true
                self.context.notEvaluated(key, "flowmon has no cloud provider groups; these rules select no peer", path: map.path(key),
                                          line: map.keyLine(key))
            }
        }
        if p == "to", let node = map["toServices"] {
            let items = try self.context.list(node, map.path("toServices"))
            for (index, item) in items.enumerated() {
                _ = try YAMLFieldMap(item, path: "\(map.path("toServices"))[\(index)]", allowed: ["k8sService", "k8sServiceSelector"],
                                     context: self.context)
            }
            if !items.isEmpty {
                selectsNothing = true
                self.context.notEvaluated("toServices", "these rules select no peer", path: map.path("toServices"),
                                          line: map.keyLine("toServices"))
            }
        }
        if let node = map["toFQDNs"] {
            peers.fqdns = try self.fqdns(node, path: map.path("toFQDNs"))
        }
        if let node = map["toPorts"] {
            let path = map.path("toPorts")
            var rules: [PortRule] = []
            for (index, item) in try self.context.list(node, path).enumerated() {
                let rule = try self.portRule(item, path: "\(path)[\(index)]", deny: deny, ingress: p == "from")
                if rule.hasL7Rules && hostPolicy {
                    throw self.context.error("\(path)[\(index)].rules", "host policies (nodeSelector) do not support L7 rules",
                                             at: item)
                }
                rules.append(rule)
            }
            peers.toPorts = rules
        }
        if let node = map["icmps"] {
            let path = map.path("icmps")
            var rules: [ICMPRule] = []
            for (index, item) in try self.context.list(node, path).enumerated() {
                rules.append(try self.icmpRule(item, path: "\(path)[\(index)]"))
            }
            peers.icmps = rules
        }
        if let node = map["authentication"] {
            let auth = try YAMLFieldMap(node, path: map.path("authentication"), allowed: ["mode"], context: self.context)
            if let modeNode = auth["mode"] {
                let mode = try self.context.string(modeNode, auth.path("mode"))
                let modes = ["disabled", "required", "test-always-fail"]
                guard modes.contains(mode) else {
                    throw self.context.error(auth.path("mode"), "unknown authentication mode '\(mode)' (allowed: \(modes.joined(separator: ", ")))",
                                             at: modeNode)
                }
                if mode != "disabled" {
                    self.context.notEvaluated("authentication", "these rules apply as if no authentication were required",
                                              path: map.path("authentication"), line: map.keyLine("authentication"))
                }
            }
        }
        if selectsNothing {
            peers.endpoints = []
        }
        return peers
    }

    // MARK: CIDR rules

    /// `nil` for an item that names a CIDR group (flowmon cannot resolve it; a notice says so).
    private func cidrRule(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> CIDRRule? {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.cidrRuleFields, context: self.context)
        let sources = ["cidr", "cidrGroupRef", "cidrGroupSelector"].filter { map[$0] != nil }
        guard sources.count == 1 else {
            if sources.isEmpty {
                throw self.context.error(path, "a CIDR rule needs one of cidr, cidrGroupRef, cidrGroupSelector", line: map.line)
            }
            throw self.context.error(map.path(sources[1]), "\(sources[0]) and \(sources[1]) cannot both be set",
                                     line: map.keyLine(sources[1]))
        }
        guard let cidrNode = map["cidr"] else {
            if let ref = map["cidrGroupRef"] {
                _ = try self.context.string(ref, map.path("cidrGroupRef"))
            } else if let selector = map["cidrGroupSelector"] {
                _ = try self.context.labelSelector(selector, map.path("cidrGroupSelector"), cilium: true)
            }
            if let except = map["except"] { _ = try self.context.stringList(except, map.path("except")) }
            self.context.notEvaluated(sources[0], "flowmon has no CiliumCIDRGroup objects; these items select no address",
                                      path: map.path(sources[0]), line: map.keyLine(sources[0]))
            return nil
        }
        let cidr = try self.context.cidr(cidrNode, map.path("cidr"), allowBareAddress: false, kubernetes: false)
        var except: [CIDR] = []
        if let node = map["except"] {
            except = try self.context.exceptList(node, map.path("except"), of: cidr, kubernetes: false)
        }
        return CIDRRule(cidr: cidr, except: except)
    }

    // MARK: Ports

    func portRule(_ node: PolicyYAMLNode, path: String, deny: Bool, ingress: Bool) throws(AgentError) -> PortRule {
        let map = try YAMLFieldMap(node, path: path, allowed: deny ? Self.portDenyRuleFields : Self.portRuleFields, context: self.context)
        var ports: [PortProtocol] = []
        if let portsNode = map["ports"] {
            let portsPath = map.path("ports")
            let items = try self.context.list(portsNode, portsPath)
            if items.count > Self.maxPorts {
                throw self.context.error(portsPath, "too many ports: \(items.count) (Cilium allows at most \(Self.maxPorts) in one toPorts item)",
                                         at: portsNode)
            }
            for (index, item) in items.enumerated() {
                ports.append(try self.port(item, path: "\(portsPath)[\(index)]"))
            }
        }
        var l7 = try self.l7Rules(map, ports: ports, ingress: ingress)
        if let node = map["serverNames"] {
            let names = try self.serverNames(node, path: map.path("serverNames"))
            if !names.isEmpty {
                if l7 == nil { l7 = L7RuleSet() }
                l7?.serverNames = names
            }
        }
        for field in ["terminatingTLS", "originatingTLS", "listener"] {
            if let node = map[field], node.policyValueKind != .map {
                throw self.context.typeError(map.path(field), expected: PolicyValueKind.map.phrase, node)
            }
        }
        if let field = ["terminatingTLS", "originatingTLS", "listener"].first(where: { map[$0] != nil }) {
            self.context.notEvaluated("TLS and listener settings (toPorts: terminatingTLS, originatingTLS, listener)",
                                      "their ports are judged without them", path: map.path(field), line: map.keyLine(field))
        }
        return PortRule(ports: ports, l7: l7)
    }

    /// One `PortProtocol`. `port` is optional in Cilium's CRD: omitted, empty or "0" is every
    /// port (pkg/policy/api/l4.go), so `- protocol: UDP` is all UDP ports.
    private func port(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> PortProtocol {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.portFields, context: self.context)
        let portPath = map.path("port")
        var port = PortProtocol.Port.number(0)
        if let portNode = map["port"] {
            switch try self.context.intOrString(portNode, portPath) {
            case .int(let value):
                guard (0...65535).contains(value) else {
                    throw self.context.error(portPath, "port \(value) is out of range 0-65535", at: portNode)
                }
                port = .number(UInt16(value))
            case .string(let text):
                if text.isEmpty {
                    port = .number(0)
                } else if PolicyValidation.isAllDigits(text) {
                    guard let value = Int(text), (0...65535).contains(value) else {
                        throw self.context.error(portPath, "port \(text) is out of range 0-65535", at: portNode)
                    }
                    port = .number(UInt16(value))
                } else if PolicyValidation.isPortName(text, caseInsensitive: true) {
                    port = .name(text.lowercased())
                } else {
                    throw self.context.error(portPath, "port '\(text)' is neither a number nor a valid port name (\(PolicyValidation.portNameRule))",
                                             at: portNode)
                }
            }
        }
        var endPort: UInt16?
        if let endNode = map["endPort"] {
            let value = try self.context.integer(endNode, map.path("endPort"))
            guard (0...65535).contains(value) else {
                throw self.context.error(map.path("endPort"), "endPort \(value) is out of range 0-65535", at: endNode)
            }
            if value != 0 {
                switch port {
                case .name(let name):
                    throw self.context.error(map.path("endPort"), "endPort cannot be used with the named port '\(name)'", at: endNode)
                case .number(let start):
                    if value < Int(start) {
                        throw self.context.error(map.path("endPort"), "endPort \(value) is less than port \(start)", at: endNode)
                    }
                }
                endPort = UInt16(value)
            }
        }
        var proto = TransportProtocol.any
        if let protoNode = map["protocol"] {
            let text = try self.context.string(protoNode, map.path("protocol"))
            switch text {
            case "": proto = .any
            case "ICMP", "ICMPv6", "ICMPV6":
                throw self.context.error(map.path("protocol"), "protocol '\(text)' is not allowed in toPorts; use icmps for ICMP",
                                         at: protoNode)
            default:
                guard let value = TransportProtocol(rawValue: text) else {
                    let allowed = TransportProtocol.allCases.map(\.rawValue).joined(separator: ", ")
                    throw self.context.error(map.path("protocol"), "protocol '\(text)' is not one of \(allowed)", at: protoNode)
                }
                proto = value
            }
            // VRRP and IGMP have no ports: the only port Cilium can match for them is "all".
            if !proto.hasPorts && (port != .number(0) || endPort != nil) {
                throw self.context.error(map.path(endPort != nil && port == .number(0) ? "endPort" : "port"),
                                         "protocol \(proto.rawValue) has no ports; leave port out (or 0) for it", line: map.line)
            }
        }
        return PortProtocol(port: port, endPort: endPort, protocol: proto)
    }

    // MARK: ICMP

    func icmpRule(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> ICMPRule {
        let map = try YAMLFieldMap(node, path: path, allowed: ["fields"], context: self.context)
        var fields: [ICMPField] = []
        if let fieldsNode = map["fields"] {
            let fieldsPath = map.path("fields")
            let items = try self.context.list(fieldsNode, fieldsPath)
            if items.count > Self.maxICMPFields {
                throw self.context.error(fieldsPath, "too many ICMP fields: \(items.count) (Cilium allows at most \(Self.maxICMPFields))",
                                         at: fieldsNode)
            }
            for (index, item) in items.enumerated() {
                fields.append(try self.icmpField(item, path: "\(fieldsPath)[\(index)]"))
            }
        }
        return ICMPRule(fields: fields)
    }

    private func icmpField(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> ICMPField {
        let map = try YAMLFieldMap(node, path: path, allowed: ["family", "type"], context: self.context)
        var family = ICMPField.Family.ipv4
        if let familyNode = map["family"] {
            let text = try self.context.string(familyNode, map.path("family"))
            guard let value = ICMPField.Family(rawValue: text) else {
                throw self.context.error(map.path("family"), "family '\(text)' is not one of IPv4, IPv6", at: familyNode)
            }
            family = value
        }
        guard let typeNode = map["type"] else {
            throw self.context.error(map.path("type"), "required field is missing", line: map.line)
        }
        let typePath = map.path("type")
        switch try self.context.intOrString(typeNode, typePath) {
        case .int(let value):
            guard (0...255).contains(value) else {
                throw self.context.error(typePath, "ICMP type \(value) is out of range 0-255", at: typeNode)
            }
            return ICMPField(family: family, type: UInt8(value))
        case .string(let text):
            if PolicyValidation.isAllDigits(text) {
                guard let value = Int(text), (0...255).contains(value) else {
                    throw self.context.error(typePath, "ICMP type \(text) is out of range 0-255", at: typeNode)
                }
                return ICMPField(family: family, type: UInt8(value))
            }
            let names = ICMPType.ciliumNames(ipv6: family == .ipv6)
            guard let value = names.first(where: { $0.name.description == text })?.type else {
                let known = names.map { $0.name.description }.joined(separator: ", ")
                throw self.context.error(typePath, "ICMP type '\(text)' is not a known \(family.rawValue) type name (known: \(known))",
                                         at: typeNode)
            }
            return ICMPField(family: family, type: value)
        }
    }
}
