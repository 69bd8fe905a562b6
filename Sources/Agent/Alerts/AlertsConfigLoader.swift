import Detection
import FlowCore
import Datapath
import Yams

/// Reads an alerts configuration file (YAML; see `AlertsConfiguration`). Errors name the file,
/// the field's path and its line, like the policy loader's:
/// `alerts.yaml: document 1: port_scan.ports: expected an integer, found a string (line 3)`.
package enum AlertsConfigLoader {
    static let topFields = ["aggregation_window", "max_trackers", "max_aggregates", "max_pending_events", "allowlist",
                            "fold_policy_violations", "rate_limit"]
        + AlertDetector.allCases.map(\.configurationKey)

    package static func load(path: String) throws(AgentError) -> AlertsConfiguration {
        try self.load(text: try PolicyLoader.readFile(path), file: path)
    }

    package static func load(text: String, file: String) throws(AgentError) -> AlertsConfiguration {
        let root: PolicyYAMLNode?
        do {
            root = try Yams.compose(yaml: text, Resolver.basic)
        } catch {
            throw PolicyLoadSession.yamlError(error, file: file, text: text)
        }
        var configuration = AlertsConfiguration()
        guard let root, root.policyValueKind != .null else { return configuration }
        let context = PolicyDocumentContext(file: file, documentIndex: 1)
        let map = try YAMLFieldMap(root, path: "", allowed: Self.topFields, context: context)
        var settings = DetectorSettings()
        if let node = map["aggregation_window"] {
            settings.aggregationWindow = try context.duration(node, map.path("aggregation_window"))
        }
        if let node = map["max_trackers"] { settings.maxTrackers = try context.count(node, map.path("max_trackers"), in: 16...16_777_216) }
        if let node = map["max_aggregates"] {
            settings.maxAggregates = try context.count(node, map.path("max_aggregates"), in: 16...16_777_216)
        }
        if let node = map["max_pending_events"] {
            settings.maxPendingEvents = try context.count(node, map.path("max_pending_events"), in: 16...16_777_216)
        }
        if let node = map["fold_policy_violations"] {
            let fold = try YAMLFieldMap(node, path: map.path("fold_policy_violations"), allowed: ["enabled", "hold", "max_held"],
                                        context: context)
            if let n = fold["enabled"] { settings.foldsPolicyViolations = try context.boolean(n, fold.path("enabled")) }
            if let n = fold["hold"] { settings.foldHold = try context.duration(n, fold.path("hold")) }
            if let n = fold["max_held"] { settings.maxHeld = try context.count(n, fold.path("max_held"), in: 16...16_777_216) }
        }
        if let node = map["rate_limit"] {
            let limit = try YAMLFieldMap(node, path: map.path("rate_limit"), allowed: ["count", "window"], context: context)
            if let n = limit["count"] { settings.rateLimitCount = try context.count(n, limit.path("count"), in: 0...1_000_000) }
            if let n = limit["window"] { settings.rateLimitWindow = try context.duration(n, limit.path("window")) }
        }
        for detector in AlertDetector.allCases {
            guard let node = map[detector.configurationKey] else { continue }
            try self.readDetector(detector, node, map.path(detector.configurationKey), context: context,
                                  into: &configuration, settings: &settings)
        }
        if let node = map["allowlist"] {
            let path = map.path("allowlist")
            for (index, item) in try context.list(node, path).enumerated() {
                let itemPath = "\(path)[\(index)]"
                let entry = try YAMLFieldMap(item, path: itemPath, allowed: ["cidr", "namespace", "selector"], context: context)
                if let cidrNode = entry["cidr"] {
                    guard entry["namespace"] == nil && entry["selector"] == nil else {
                        throw context.error(itemPath, "'cidr' cannot be combined with 'namespace' or 'selector'", line: entry.line)
                    }
                    settings.allowedPrefixes.append(try context.prefix(cidrNode, entry.path("cidr")))
                } else {
                    configuration.allowedWorkloads.append(try context.workload(entry, itemPath))
                }
            }
        }
        configuration.settings = settings
        return configuration
    }

    static func readDetector(_ detector: AlertDetector, _ node: PolicyYAMLNode, _ path: String,
                             context: PolicyDocumentContext, into configuration: inout AlertsConfiguration,
                             settings: inout DetectorSettings) throws(AgentError) {
        var fields = ["enabled", "severity"]
        switch detector {
        case .portScan: fields += ["ports", "hosts", "window"]
        case .synFlood: fields += ["half_open", "sources", "window"]
        case .icmpSweep: fields += ["hosts", "window"]
        case .spoofedSource: fields += ["pod_cidrs", "tunnel_identity"]
        case .worldEgress: fields += ["sensitive"]
        case .dnsExternalResolver: fields += ["resolvers", "cluster_defaults"]
        case .dnsTunneling: fields += ["name_length", "label_length", "entropy", "entropy_length", "names", "window"]
        case .dnsNXDomainBurst: fields += ["names", "window", "cluster_domain", "ignore_suffixes"]
        case .policyViolation, .invalidTCPFlags: break
        }
        let map = try YAMLFieldMap(node, path: path, allowed: fields, context: context)
        if let enabled = map["enabled"] { settings.setEnabled(detector, try context.boolean(enabled, map.path("enabled"))) }
        if let severityNode = map["severity"] {
            let severity = UInt8(try context.count(severityNode, map.path("severity"), in: 1...255))
            for kind in AlertKind.allCases where kind.detector == detector { settings.severities[Int(kind.rawValue)] = severity }
        }
        let threshold = 1...DetectorSettings.maximumThreshold
        switch detector {
        case .portScan:
            if let n = map["ports"] { settings.scanPorts = try context.count(n, map.path("ports"), in: threshold) }
            if let n = map["hosts"] { settings.scanHosts = try context.count(n, map.path("hosts"), in: threshold) }
            if let n = map["window"] { settings.scanWindow = try context.duration(n, map.path("window")) }
        case .synFlood:
            if let n = map["half_open"] { settings.floodConnections = try context.count(n, map.path("half_open"), in: 1...Int(Int32.max)) }
            if let n = map["sources"] { settings.floodSources = try context.count(n, map.path("sources"), in: threshold) }
            if let n = map["window"] { settings.floodWindow = try context.duration(n, map.path("window")) }
        case .icmpSweep:
            if let n = map["hosts"] { settings.sweepHosts = try context.count(n, map.path("hosts"), in: threshold) }
            if let n = map["window"] { settings.sweepWindow = try context.duration(n, map.path("window")) }
        case .spoofedSource:
            if let n = map["pod_cidrs"] {
                let listPath = map.path("pod_cidrs")
                var prefixes: [IPPrefix] = []
                for (index, item) in try context.list(n, listPath).enumerated() {
                    prefixes.append(try context.prefix(item, "\(listPath)[\(index)]"))
                }
                configuration.podCIDRs = prefixes
            }
            if let n = map["tunnel_identity"] {
                configuration.checksTunnelIdentity = try context.boolean(n, map.path("tunnel_identity"))
            }
        case .worldEgress:
            if let n = map["sensitive"] {
                let listPath = map.path("sensitive")
                for (index, item) in try context.list(n, listPath).enumerated() {
                    let itemPath = "\(listPath)[\(index)]"
                    let entry = try YAMLFieldMap(item, path: itemPath, allowed: ["namespace", "selector"], context: context)
                    configuration.sensitive.append(try context.workload(entry, itemPath))
                }
            }
        case .dnsExternalResolver:
            if let n = map["cluster_defaults"] {
                configuration.includesDefaultResolvers = try context.boolean(n, map.path("cluster_defaults"))
            }
            if let n = map["resolvers"] {
                let listPath = map.path("resolvers")
                for (index, item) in try context.list(n, listPath).enumerated() {
                    let itemPath = "\(listPath)[\(index)]"
                    let entry = try YAMLFieldMap(item, path: itemPath, allowed: ["cidr", "namespace", "selector"], context: context)
                    if let cidrNode = entry["cidr"] {
                        guard entry["namespace"] == nil && entry["selector"] == nil else {
                            throw context.error(itemPath, "'cidr' cannot be combined with 'namespace' or 'selector'", line: entry.line)
                        }
                        configuration.resolverPrefixes.append(try context.prefix(cidrNode, entry.path("cidr")))
                    } else {
                        configuration.resolverWorkloads.append(try context.workload(entry, itemPath))
                    }
                }
            }
        case .dnsTunneling:
            // RFC 1035 §2.3.4: names of at most 255 octets (253 characters in text), labels of at most 63.
            if let n = map["name_length"] { settings.tunnelNameLength = try context.count(n, map.path("name_length"), in: 16...253) }
            if let n = map["label_length"] { settings.tunnelLabelLength = try context.count(n, map.path("label_length"), in: 8...63) }
            if let n = map["entropy_length"] {
                settings.tunnelEntropyLength = try context.count(n, map.path("entropy_length"), in: 8...63)
            }
            if let n = map["entropy"] { settings.tunnelEntropyMillibits = try context.entropy(n, map.path("entropy")) }
            if let n = map["names"] { settings.tunnelNames = try context.count(n, map.path("names"), in: threshold) }
            if let n = map["window"] { settings.tunnelWindow = try context.duration(n, map.path("window")) }
        case .dnsNXDomainBurst:
            if let n = map["names"] { settings.nxdomainNames = try context.count(n, map.path("names"), in: threshold) }
            if let n = map["window"] { settings.nxdomainWindow = try context.duration(n, map.path("window")) }
            // A domain name as the NXDOMAIN test compares it: lowercase, without its outer dots.
            func domain(_ node: PolicyYAMLNode, _ nodePath: String) throws(AgentError) -> String {
                var suffix = try context.string(node, nodePath).lowercased()
                while suffix.hasPrefix(".") { suffix.removeFirst() }
                while suffix.hasSuffix(".") { suffix.removeLast() }
                guard !suffix.isEmpty, suffix.utf8.count <= 253, !suffix.contains(" ") else {
                    throw context.error(nodePath, "expected a domain name such as cluster.local", at: node)
                }
                return suffix
            }
            if let n = map["cluster_domain"] { settings.nxdomainClusterDomain = try domain(n, map.path("cluster_domain")) }
            if let n = map["ignore_suffixes"] {
                let listPath = map.path("ignore_suffixes")
                var suffixes: [String] = []
                for (index, item) in try context.list(n, listPath).enumerated() {
                    suffixes.append(try domain(item, "\(listPath)[\(index)]"))
                }
                settings.nxdomainIgnoredSuffixes = suffixes
            }
        case .policyViolation, .invalidTCPFlags:
            break
        }
    }
}

extension PolicyDocumentContext {
    /// A whole number within `range`.
    func count(_ node: PolicyYAMLNode, _ path: String, in range: ClosedRange<Int>) throws(AgentError) -> Int {
        let value = try self.integer(node, path)
        guard range.contains(value) else {
            throw self.error(path, "\(value) is out of range (\(range.lowerBound)…\(range.upperBound))", at: node)
        }
        return value
    }

    /// Shannon entropy in bits per character, 1.0 to 6.0 (a whole number or one with a
    /// fraction: `4`, `3.75`); returned in thousandths.
    func entropy(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> Int {
        guard case .scalar(let scalar) = node, node.policyValueKind == .integer || node.policyValueKind == .float,
            let value = Double(scalar.string), value.isFinite
        else { throw self.typeError(path, expected: "bits per character such as 4.0", node) }
        guard (1.0...6.0).contains(value) else {
            throw self.error(path, "\(scalar.string) is out of range (1.0…6.0 bits per character)", at: node)
        }
        return Int((value * 1000).rounded())
    }

    /// A window: whole seconds (`300`) or a number with a unit (`300s`, `5m`, `1h`), 1 s to 7 days;
    /// returned in nanoseconds.
    func duration(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> Int64 {
        let seconds: Int
        switch node.policyValueKind {
        case .integer:
            seconds = try self.integer(node, path)
        case .string:
            let text = try self.string(node, path)
            let units: [Character: Int] = ["s": 1, "m": 60, "h": 3600]
            guard let unit = text.last, let multiplier = units[unit], let number = Int(text.dropLast()), number >= 0 else {
                throw self.error(path, "expected seconds or a duration such as 30s, 5m or 1h, found '\(text)'", at: node)
            }
            seconds = number.multipliedReportingOverflow(by: multiplier).overflow ? Int.max : number * multiplier
        default:
            throw self.typeError(path, expected: "seconds or a duration such as 30s, 5m or 1h", node)
        }
        guard (1...604_800).contains(seconds) else {
            throw self.error(path, "\(seconds) s is out of range (1 s to 7 days)", at: node)
        }
        return Int64(seconds) * 1_000_000_000
    }

    /// A CIDR or address (`10.244.0.0/16`, `fd00::1`).
    func prefix(_ node: PolicyYAMLNode, _ path: String) throws(AgentError) -> IPPrefix {
        let text = try self.string(node, path)
        guard case .success(let prefix) = IPPrefix.parse(text, allowBareAddress: true) else {
            throw self.error(path, "'\(text)' is not an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/64)", at: node)
        }
        return prefix.masked
    }

    /// `{namespace: NAME, selector: {matchLabels, matchExpressions}}`; at least one of the two.
    func workload(_ map: YAMLFieldMap, _ path: String) throws(AgentError) -> WorkloadSelector {
        var workload = WorkloadSelector()
        if let node = map["namespace"] { workload.namespace = try self.string(node, map.path("namespace")) }
        if let node = map["selector"] { workload.selector = try self.labelSelector(node, map.path("selector"), cilium: true) }
        guard workload.namespace != nil || workload.selector != nil else {
            throw self.error(path, "give 'namespace', 'selector' or both ('cidr' in an allowlist)", line: map.line)
        }
        return workload
    }
}
