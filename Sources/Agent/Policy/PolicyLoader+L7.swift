import L7

// `toFQDNs`, `toPorts.rules` and `toPorts.serverNames`: validated as Cilium validates them
// (pkg/policy/api fqdn.go, http.go, l4.go, rule_validation.go) and compiled once into the
// L7 module's matchers; a selector or regular expression Cilium would reject is an error at
// its field and line.

extension CiliumPolicyReader {
    static let fqdnSelectorFields = ["matchName", "matchPattern"]
    static let httpRuleFields = ["method", "path", "host", "headers", "headerMatches"]
    static let headerMatchFields = ["name", "value", "secret", "mismatch"]
    static let secretFields = ["name", "namespace"]
    static let kafkaRuleFields = ["role", "apiKey", "apiVersion", "clientID", "topic"]

    /// `toFQDNs`: one selector per item, exactly one of matchName / matchPattern.
    func fqdns(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> [FQDNSelector] {
        var selectors: [FQDNSelector] = []
        for (index, item) in try self.context.list(node, path).enumerated() {
            let itemPath = "\(path)[\(index)]"
            let map = try YAMLFieldMap(item, path: itemPath, allowed: Self.fqdnSelectorFields, context: self.context)
            guard let selector = try self.fqdnSelector(map, itemPath: itemPath) else {
                throw self.context.error(itemPath, "an FQDN selector needs matchName or matchPattern", line: map.line)
            }
            selectors.append(selector)
        }
        return selectors
    }

    /// The selector of a `{matchName | matchPattern}` map; nil when neither is set.
    func fqdnSelector(_ map: YAMLFieldMap, itemPath: String) throws(AgentError) -> FQDNSelector? {
        if map["matchName"] != nil && map["matchPattern"] != nil {
            throw self.context.error(map.path("matchPattern"), "matchName and matchPattern cannot both be set",
                                     line: map.keyLine("matchPattern"))
        }
        for field in Self.fqdnSelectorFields {
            guard let node = map[field] else { continue }
            let text = try self.context.string(node, map.path(field))
            do {
                return field == "matchName" ? try FQDNSelector(matchName: text) : try FQDNSelector(matchPattern: text)
            } catch {
                throw self.context.error(map.path(field), error.description, at: node)
            }
        }
        return nil
    }

    /// `toPorts[i].serverNames`: TLS SNI patterns (the CRD's `^([-a-zA-Z0-9_*]+[.]?)+$`,
    /// matched with `matchPattern`'s semantics).
    func serverNames(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> [FQDNSelector] {
        var names: [FQDNSelector] = []
        for (index, item) in try self.context.list(node, path).enumerated() {
            let text = try self.context.string(item, "\(path)[\(index)]")
            do {
                names.append(try FQDNSelector(matchPattern: text))
            } catch {
                let message = error.problem == .empty ? "empty server name is not allowed"
                    : error.description.replacingOccurrences(of: "matchPattern", with: "server name")
                throw self.context.error("\(path)[\(index)]", message, at: item)
            }
        }
        return names
    }

    /// `toPorts[i].rules` (Cilium `L7Rules`): one kind per item; `http` and `dns` compiled,
    /// `kafka` and `l7proto`/`l7` read but not evaluated. `ports` are the item's ports, for
    /// Cilium's checks that tie rules to ports.
    func l7Rules(_ map: YAMLFieldMap, ports: [PortProtocol], ingress: Bool) throws(AgentError) -> L7RuleSet? {
        guard let rulesNode = map["rules"] else { return nil }
        let rulesPath = map.path("rules")
        let rules = try YAMLFieldMap(rulesNode, path: rulesPath, allowed: Self.l7Fields, context: self.context)
        var set = L7RuleSet()
        // Cilium counts a kind when its list is present (even empty), and l7proto when non-empty.
        var kinds: [String] = []
        if let node = rules["http"] {
            kinds.append("http")
            var http: [HTTPRule] = []
            for (index, item) in try self.context.list(node, rules.path("http")).enumerated() {
                http.append(try self.httpRule(item, path: "\(rules.path("http"))[\(index)]"))
            }
            set.http = http
        }
        if let node = rules["kafka"] {
            kinds.append("kafka")
            // Cilium `PortRuleKafka` (pkg/policy/api/kafka), its fields checked, not evaluated.
            for (index, item) in try self.context.list(node, rules.path("kafka")).enumerated() {
                let kafka = try YAMLFieldMap(item, path: "\(rules.path("kafka"))[\(index)]", allowed: Self.kafkaRuleFields,
                                             context: self.context)
                for field in kafka.keys { _ = try self.context.string(kafka[field]!, kafka.path(field)) }
            }
            set.unevaluated.append("kafka")
        }
        if let node = rules["dns"] {
            kinds.append("dns")
            var dns: [DNSRule] = []
            for (index, item) in try self.context.list(node, rules.path("dns")).enumerated() {
                let itemPath = "\(rules.path("dns"))[\(index)]"
                let selectorMap = try YAMLFieldMap(item, path: itemPath, allowed: Self.fqdnSelectorFields, context: self.context)
                dns.append(DNSRule(selector: try self.fqdnSelector(selectorMap, itemPath: itemPath)))
            }
            set.dns = dns
        }
        var l7proto = ""
        if let node = rules["l7proto"] { l7proto = try self.context.string(node, rules.path("l7proto")) }
        if let node = rules["l7"] {
            guard !l7proto.isEmpty else {
                throw self.context.error(rules.path("l7"), "'l7' may only be specified when a 'l7proto' is also specified",
                                         line: rules.keyLine("l7"))
            }
            // Key-value pairs the named protocol's parser interprets.
            for (index, item) in try self.context.list(node, rules.path("l7")).enumerated() where item.policyValueKind != .map {
                throw self.context.typeError("\(rules.path("l7"))[\(index)]", expected: PolicyValueKind.map.phrase, item)
            }
        }
        if !l7proto.isEmpty {
            kinds.append("l7proto")
            set.unevaluated.append("l7proto \(l7proto)")
        }
        if kinds.count > 1 {
            throw self.context.error(rulesPath, "multiple L7 protocol rule types specified in single rule (\(kinds.joined(separator: ", ")))",
                                     line: map.keyLine("rules"))
        }
        // "DNS L7 rules can be TCP, UDP or ANY, all others are TCP only" (PortRule.sanitize).
        if set.dns == nil, !kinds.isEmpty, let index = ports.firstIndex(where: { $0.protocol != .tcp }) {
            throw self.context.error("\(map.path("ports"))[\(index)]",
                                     "L7 rules can only apply to TCP (not \(ports[index].protocol.rawValue)) except for DNS rules",
                                     line: map.keyLine("rules"))
        }
        if set.dns != nil {
            if ingress {
                throw self.context.error(rules.path("dns"), "DNS rules are not allowed on ingress", line: rules.keyLine("dns"))
            }
            if ports.isEmpty {
                throw self.context.error(rules.path("dns"), "port 53 must be specified for DNS rules", line: rules.keyLine("dns"))
            }
        }
        if !set.unevaluated.isEmpty {
            self.context.notEvaluated("Kafka and l7proto rules (toPorts.rules: kafka, l7proto, l7)",
                                      "flowmon parses neither Kafka nor generic L7 protocols; every request on their ports is allowed",
                                      path: rulesPath, line: map.keyLine("rules"))
        }
        return set.isEmpty && kinds.isEmpty ? nil : set
    }

    /// One `rules.http` item (Cilium `PortRuleHTTP`), regular expressions compiled now.
    private func httpRule(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> HTTPRule {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.httpRuleFields, context: self.context)
        var rule = HTTPRule()
        func regex(_ field: String) throws(AgentError) -> HTTPRegex? {
            guard let node = map[field] else { return nil }
            let text = try self.context.string(node, map.path(field))
            if text.isEmpty { return nil }  // "If omitted or empty, ... all allowed"
            do {
                return try HTTPRegex(text)
            } catch {
                throw self.context.error(map.path(field), error.description, at: node)
            }
        }
        rule.method = try regex("method")
        rule.path = try regex("path")
        rule.host = try regex("host")
        if let node = map["headers"] { rule.headers = try self.context.stringList(node, map.path("headers")) }
        if let node = map["headerMatches"] {
            let matchesPath = map.path("headerMatches")
            for (index, item) in try self.context.list(node, matchesPath).enumerated() {
                rule.headerMatches.append(try self.headerMatch(item, path: "\(matchesPath)[\(index)]"))
            }
        }
        return rule
    }

    /// One `headerMatches` item (Cilium `HeaderMatch`, checked as `PortRuleHTTP.Sanitize()`).
    private func headerMatch(_ node: PolicyYAMLNode, path: String) throws(AgentError) -> HTTPHeaderMatch {
        let map = try YAMLFieldMap(node, path: path, allowed: Self.headerMatchFields, context: self.context)
        guard let nameNode = map["name"] else {
            throw self.context.error(map.path("name"), "Header name missing", line: map.line)
        }
        let name = try self.context.string(nameNode, map.path("name"))
        if name.isEmpty { throw self.context.error(map.path("name"), "Header name missing", at: nameNode) }
        var match = HTTPHeaderMatch(name: name)
        if let node = map["value"] { match.value = try self.context.string(node, map.path("value")) }
        if let node = map["mismatch"] {
            let text = try self.context.string(node, map.path("mismatch"))
            guard let action = HTTPHeaderMatch.MismatchAction(rawValue: text) else {
                let allowed = HTTPHeaderMatch.MismatchAction.allCases.dropFirst().map(\.rawValue).joined(separator: ", ")
                throw self.context.error(map.path("mismatch"), "Invalid header action: \(text) (allowed: \(allowed), or none)", at: node)
            }
            match.mismatch = action
        }
        if let node = map["secret"] {
            let secret = try YAMLFieldMap(node, path: map.path("secret"), allowed: Self.secretFields, context: self.context)
            let secretName = try secret["name"].map { (node) throws(AgentError) in try self.context.string(node, secret.path("name")) } ?? ""
            if secretName.isEmpty { throw self.context.error(secret.path("name"), "Secret name missing", line: secret.line) }
            let namespace = try secret["namespace"].map { (node) throws(AgentError) in
                try self.context.string(node, secret.path("namespace"))
            } ?? ""
            match.secret = "\(namespace)/\(secretName)"
            if match.mismatch == .fail {
                self.context.notEvaluated("headerMatches secrets",
                                          "flowmon cannot read Kubernetes Secrets; the header's presence is checked, not its value",
                                          path: map.path("secret"), line: map.keyLine("secret"))
            }
        }
        return match
    }
}
