import Foundation
import L7
import Yams

/// Everything loaded from a set of policy files.
package struct PolicySet: Sendable {
    /// Policies in load order (paths in the order given, files of a directory in sorted
    /// path order, documents in file order).
    package var documents: [PolicyDocument]
    /// One line per skipped document (another kind, an identical copy) and one line per
    /// feature flowmon reads but does not evaluate, for the whole load, e.g.
    /// `p.yaml: skipped: Deployment 'web' (document 3): not a network policy` or
    /// `read but not evaluated: toRequires: it is ignored (Cilium deprecated it); at p.yaml: document 1: spec.egress[0].toRequires (line 9), and 2 more places`.
    package var notices: [String]
    /// One error per document that could not be loaded, or per file that could not be read or
    /// parsed (`PolicyLoader.loadEach(paths:)`); a file with an error contributes no document
    /// and no notice.
    package var errors: [AgentError]
    /// Warnings found while reading (`policy.kind.typo`, `policy.port.integer`, ...), for
    /// `flowmon policy check`; `load(paths:)` drops them (its skip notices name the documents
    /// left out).
    package var warnings: [PolicyFinding] = []
    /// Field positions of each loaded document, when the load was asked to record them.
    package var positions: [PolicySource: PolicyPositions] = [:]

    package init(documents: [PolicyDocument] = [], notices: [String] = [], errors: [AgentError] = []) {
        self.documents = documents
        self.notices = notices
        self.errors = errors
    }
}

/// Loads CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and Kubernetes NetworkPolicy
/// objects from YAML or JSON files into the typed model, with strict validation: the first
/// problem in a document stops that document with an `AgentError` naming file, document
/// (1-based), field path and line; the file's other documents and the other files are still
/// read, every error is reported, and a file with any error contributes no policy.
///
/// Files that are not Kubernetes objects are named by their format: an unrendered Go/Helm
/// template (`{{ … }}`) or a JSON rule array of the old `cilium policy import`.
///
/// Documents: every YAML document counts as one, including empty ones (which are skipped);
/// a `List` (or `*List`) document counts as its items instead, so in a file holding one
/// JSON List, item k is document k.
///
/// Decisions where the APIs leave room:
/// - A key with a `null` value is treated as absent (Go's JSON decoding does the same).
/// - Cilium CIDRs with host bits set are masked silently (`10.0.0.1/8` is `10.0.0.0/8`), as
///   Cilium does; a Kubernetes `ipBlock` with host bits set is an error, as Kubernetes
///   rejects it. `CIDR.text` keeps the text as written.
/// - IPv4-mapped IPv6 CIDRs (`::ffff:10.0.0.0/104`) are rejected: flowmon stores IPv4
///   addresses in that form, so they would silently match IPv4 traffic.
/// - Cilium ports may be written as a YAML integer or a string; Kubernetes ports follow
///   IntOrString (`"80"` is a port *name* and therefore invalid).
/// - Cilium `endPort: 0` means no range (Go's zero value).
/// - Peers flowmon cannot evaluate (`fromGroups`/`toGroups`, `toServices`, a `CIDRSet` item
///   with `cidrGroupRef`/`cidrGroupSelector` only) select nothing: the rule gets
///   `fromEndpoints: []` / `toEndpoints: []`. `fromRequires`/`toRequires` and `authentication`
///   are ignored; Kafka and `l7proto` rules and TLS termination/listener settings leave their
///   ports judged at L3/L4; host policies (`nodeSelector`) select no endpoint; a header match
///   on a Secret checks presence only. Each of these features gets one notice for the whole
///   load ("read but not evaluated"). `toFQDNs`, `rules.http`, `rules.dns` and `serverNames`
///   are compiled (`FQDNSelector`, `L7RuleSet`).
/// - The same object twice (kind, namespace, name and spec equal) is one policy, as
///   `kubectl apply` of it twice is; the same name with another spec is an error.
package enum PolicyLoader {
    /// File name extensions read when a directory is given.
    package static let fileExtensions: Set<String> = ["yaml", "yml", "json"]

    /// Loads every path: a file, or a directory walked recursively for `.yaml`, `.yml` and
    /// `.json` files in sorted path order. The same policy (kind, namespace, name) twice
    /// across all files is an error unless both copies are identical. Every file is read even
    /// when one fails; the error thrown is the first file's, with the others in `further`.
    package static func load(paths: [String]) throws(AgentError) -> PolicySet {
        // The warnings are `policy check`'s: the skip notices already name the documents left out.
        var set = self.loadEach(paths: paths)
        set.warnings = []
        if var first = set.errors.first {
            first.further = Array(set.errors.dropFirst())
            throw first
        }
        return set
    }

    /// Like `load(paths:)`, but a file that fails is left out and its error goes to `errors`,
    /// and the load goes on with the other files (`flowmon policy check`). With
    /// `recordingPositions`, the position of every field of every loaded document is kept
    /// (`PolicySet.positions`), for warnings that name a line.
    package static func loadEach(paths: [String], recordingPositions: Bool = false) -> PolicySet {
        var session = PolicyLoadSession()
        session.recordsPositions = recordingPositions
        var errors: [AgentError] = []
        for path in paths {
            let files: [String]
            do {
                files = try self.policyFiles(at: path)
            } catch {
                errors.append(error)
                continue
            }
            for file in files {
                do {
                    errors += session.loadCollecting(text: try self.readFile(file), file: file)
                } catch {
                    errors.append(error)
                }
            }
        }
        var set = session.result
        set.errors = errors
        return set
    }

    /// Loads the documents of one text, named `file` in messages.
    package static func load(text: String, file: String) throws(AgentError) -> PolicySet {
        var session = PolicyLoadSession()
        let errors = session.loadCollecting(text: text, file: file)
        if var first = errors.first {
            first.further = Array(errors.dropFirst())
            throw first
        }
        var set = session.result
        set.warnings = []
        return set
    }

    /// The files `load(paths:)` reads for one path, in order.
    package static func policyFiles(at path: String) throws(AgentError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AgentError(file: path, message: "no such file or directory", code: "policy.file.unreadable")
        }
        guard isDirectory.boolValue else { return [path] }
        guard let enumerator = FileManager.default.enumerator(atPath: path) else {
            throw AgentError(file: path, message: "cannot read directory", code: "policy.file.unreadable")
        }
        let base = path.hasSuffix("/") ? path : path + "/"
        var files: [String] = []
        while let relative = enumerator.nextObject() as? String {
            guard let dot = relative.lastIndex(of: "."),
                  self.fileExtensions.contains(relative[relative.index(after: dot)...].lowercased()) else { continue }
            let full = base + relative
            var childIsDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: full, isDirectory: &childIsDirectory), !childIsDirectory.boolValue {
                files.append(full)
            }
        }
        return files.sorted()
    }

    static func readFile(_ file: String) throws(AgentError) -> String {
        guard FileManager.default.isReadableFile(atPath: file), let data = FileManager.default.contents(atPath: file) else {
            throw AgentError(file: file, message: "cannot read file", code: "policy.file.unreadable")
        }
        guard let text = String(bytes: data, encoding: .utf8) else {
            throw AgentError(file: file, message: "file is not valid UTF-8", code: "policy.file.unreadable")
        }
        return text
    }
}

/// State across the files of one load: the documents so far, where each policy was
/// defined (to report duplicates), and what was read but not evaluated (reported once per
/// feature).
struct PolicyLoadSession {
    private var set = PolicySet()
    private var seen: [String: (index: Int, line: Int?)] = [:]
    /// Features read but not evaluated, in first-seen order: the first place and how many.
    private var unevaluated: [(feature: String, effect: String, place: String, count: Int)] = []
    /// Those of the file being read, counted once the whole file has loaded.
    private var fileUnevaluated: [PolicyUnevaluated] = []
    /// The errors of the file being read, one per failed document (or one for the file).
    private var fileErrors: [AgentError] = []
    /// Whether field positions are kept (`PolicySet.positions`).
    var recordsPositions = false

    /// The documents, the skip notices, then one notice per feature read but not evaluated,
    /// naming its first place and how many more there are.
    var result: PolicySet {
        var set = self.set
        for item in self.unevaluated {
            var line = "read but not evaluated: \(item.feature): \(item.effect); at \(item.place)"
            if item.count > 1 {
                line += ", and \(item.count - 1) more place\(item.count == 2 ? "" : "s")"
            }
            set.notices.append(line)
        }
        if let line = Self.fqdnCapacityNotice(set.documents) { set.notices.append(line) }
        return set
    }

    /// The judge consults one 64-bit mask of FQDN selectors per address, so the compiler
    /// numbers at most `FQDNSelectorTable.capacity` distinct selectors; the others select no
    /// address, which this notice says, naming where the first of them is.
    static func fqdnCapacityNotice(_ documents: [PolicyDocument]) -> String? {
        let selectors = PolicyCompiler.fqdnSelectors(in: documents)
        let capacity = FQDNSelectorTable.capacity
        guard selectors.count > capacity else { return nil }
        let first = selectors[capacity]
        let document = documents.first { document in
            PolicyCompiler.fqdnSelectors(in: [document]).contains(first)
        }
        let place = document.map { "\($0.source.file): document \($0.source.documentIndex)" } ?? "?"
        return "read but not evaluated: toFQDNs selectors beyond the first \(capacity): the policies have \(selectors.count) distinct selectors and flowmon tracks \(capacity), so \(selectors.count - capacity) select no address; at \(place) (\(first)), the first of them"
    }

    /// Loads one file's documents and returns its errors: one per document that fails (each
    /// document is read even when an earlier one failed), or one for the whole file (YAML
    /// syntax, template). When there is any, the session keeps none of the file's policies and
    /// notices, as it was before, but keeps its warnings.
    mutating func loadCollecting(text: String, file: String) -> [AgentError] {
        let documentCount = self.set.documents.count
        let noticeCount = self.set.notices.count
        self.fileUnevaluated = []
        self.fileErrors = []
        do {
            try self.loadDocuments(text: text, file: file)
        } catch {
            self.fileErrors.append(error)
        }
        guard self.fileErrors.isEmpty else {
            for document in self.set.documents[documentCount...] {
                self.seen[Self.key(document)] = nil
                self.set.positions[document.source] = nil
            }
            self.set.documents.removeSubrange(documentCount...)
            self.set.notices.removeSubrange(noticeCount...)
            return self.fileErrors
        }
        for item in self.fileUnevaluated {
            if let position = self.unevaluated.firstIndex(where: { $0.feature == item.feature }) {
                self.unevaluated[position].count += 1
            } else {
                self.unevaluated.append((item.feature, item.effect, item.place, 1))
            }
        }
        return []
    }

    static func key(_ document: PolicyDocument) -> String {
        "\(document.kind.rawValue)/\(document.namespace ?? "")/\(document.name)"
    }

    private mutating func loadDocuments(text: String, file: String) throws(AgentError) {
        if let template = PolicySourceFormat.templateAction(in: text) {
            throw AgentError(file: file, message: "this looks like a Go/Helm template ('\(template.text)'), not a policy: render it first (helm template, or the tool that fills it in) and check the output",
                             line: template.line, code: "policy.format.template")
        }
        var documents: YamlSequence<PolicyYAMLNode>
        do {
            // The encoding given: Yams' default reads the whole process environment on every call.
            documents = try Yams.compose_all(yaml: text, Resolver.basic, .default, .utf8)
        } catch {
            throw Self.yamlError(error, file: file, text: text)
        }
        var index = 0
        while let root = documents.next() {
            if case .sequence(let sequence) = root {
                index += 1
                self.fileErrors.append(PolicySourceFormat.topLevelListError(sequence, file: file, documentIndex: index))
                continue
            }
            self.handleCollecting(root, file: file, index: &index)
        }
        if let error = documents.error {
            throw Self.yamlError(error, file: file, text: text)
        }
    }

    /// `handle`, with a failure recorded in `fileErrors` (the document, or List item, counted).
    private mutating func handleCollecting(_ root: PolicyYAMLNode, file: String, index: inout Int) {
        let before = index
        do {
            try self.handle(root, file: file, index: &index)
        } catch {
            self.fileErrors.append(error)
            if index == before { index += 1 }
        }
    }

    /// One YAML document, or one item of a List.
    private mutating func handle(_ root: PolicyYAMLNode, file: String, index: inout Int) throws(AgentError) {
        if root.policyValueKind == .null {
            index += 1
            return
        }
        if case .mapping(let mapping) = root, let kindNode = mapping["kind"], case .scalar(let kindScalar) = kindNode,
           kindNode.policyValueKind == .string, kindScalar.string == "List" || kindScalar.string.hasSuffix("List"),
           mapping["items"] != nil {
            let context = PolicyDocumentContext(file: file, documentIndex: index + 1)
            let map = try YAMLFieldMap(root, path: "", allowed: ["apiVersion", "kind", "metadata", "items"], context: context)
            guard let itemsNode = map["items"] else { return }
            for item in try context.list(itemsNode, "items") {
                self.handleCollecting(item, file: file, index: &index)
            }
            return
        }
        index += 1
        let context = PolicyDocumentContext(file: file, documentIndex: index)
        defer { self.set.warnings += context.warnings }
        let read: (document: PolicyDocument, nameLine: Int?)?
        do {
            read = try PolicyDocumentReader(context: context).read(root)
        } catch {
            // The broken rules read before the error come first, in document order.
            self.fileErrors += context.ruleErrors
            throw error
        }
        if let last = context.ruleErrors.last {
            // A broken rule refuses the document, as the first error always did.
            self.fileErrors += context.ruleErrors.dropLast()
            throw last
        }
        guard let parsed = read else {
            self.set.notices.append(contentsOf: context.notices)
            return
        }
        let document = parsed.document
        let key = Self.key(document)
        if let first = self.seen[key] {
            let firstDocument = self.set.documents[first.index]
            let shown = document.namespace.map { "\($0)/\(document.name)" } ?? document.name
            let firstLine = first.line.map { ", line \($0)" } ?? ""
            let firstPlace = "\(firstDocument.source.file) (document \(firstDocument.source.documentIndex)\(firstLine))"
            // `kubectl apply` of the same object twice changes nothing: an identical copy is
            // one policy. Two different specs under one name would leave only the last one in
            // the cluster, which is almost always a mistake, so that stays an error.
            guard firstDocument.body == document.body else {
                throw context.error("metadata.name",
                                    "duplicate \(document.kind.rawValue) '\(shown)': already defined differently in \(firstPlace)",
                                    line: parsed.nameLine, code: "policy.name.duplicate")
            }
            self.set.notices.append("\(file): skipped: \(document.kind.rawValue) '\(shown)' (document \(index)): identical to \(firstPlace); applying the same object twice is one policy")
            return
        }
        self.seen[key] = (self.set.documents.count, parsed.nameLine)
        self.set.documents.append(document)
        if self.recordsPositions {
            var positions = PolicyPositions()
            positions.record(root, path: "")
            self.set.positions[document.source] = positions
            if document.kind != .networkPolicy {
                self.set.warnings += Self.integerPorts(root, path: "", source: document.source)
            }
        }
        self.set.notices.append(contentsOf: context.notices)
        self.fileUnevaluated += context.unevaluated
    }

    /// `toPorts[].ports[].port` written as a YAML integer in a Cilium policy: the CRD's schema
    /// types it as a string (cilium.io_ciliumnetworkpolicies.yaml, `port: type: string`), so
    /// a server-side apply validated against the CRD rejects `port: 8080` although Cilium's
    /// own decoding would read it. `policy.port.integer`.
    static func integerPorts(_ node: PolicyYAMLNode, path: String, source: PolicySource) -> [PolicyFinding] {
        switch node {
        case .mapping(let mapping):
            var findings: [PolicyFinding] = []
            for (key, value) in mapping {
                guard let name = key.scalar?.string else { continue }
                let child = path.isEmpty ? name : path + "." + name
                if name == "port", value.policyValueKind == .integer, let bracket = path.lastIndex(of: "["),
                   path[..<bracket].hasSuffix(".ports"), path.contains("toPorts[") {
                    let text = value.scalar?.string ?? ""
                    findings.append(PolicyFinding(severity: .warning, code: "policy.port.integer", file: source.file,
                                                  document: source.documentIndex, field: child, line: value.mark?.line,
                                                  column: value.mark?.column,
                                                  message: "port \(text) is an integer; the CiliumNetworkPolicy CRD types it as a string: write port: \"\(text)\" (kubectl apply --server-side and CRD validation reject the integer)"))
                }
                findings += self.integerPorts(value, path: child, source: source)
            }
            return findings
        case .sequence(let sequence):
            return sequence.enumerated().flatMap { self.integerPorts($1, path: "\(path)[\($0)]", source: source) }
        case .scalar, .alias:
            return []
        }
    }

    /// A Yams error as `FILE: YAML syntax error: PROBLEM (line L)`.
    static func yamlError(_ error: any Error, file: String, text: String) -> AgentError {
        guard let yamlError = error as? YamlError else {
            return AgentError(file: file, message: "YAML error: \(error)", code: "policy.yaml.syntax")
        }
        switch yamlError {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let detail = context.map { " \($0.text)" } ?? ""
            return AgentError(file: file, message: "YAML syntax error: \(problem)\(detail)", line: mark.line, column: mark.column,
                              code: "policy.yaml.syntax")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.sorted().map { "'\($0)'" }.joined(separator: ", ")
            return AgentError(file: file, message: "YAML syntax error: duplicate key \(keys) in a map", line: context.mark.line,
                              code: "policy.yaml.syntax")
        case .reader(let problem, let offset, _, _):
            var line: Int?
            if let offset {
                line = 1 + text.prefix(offset).reduce(0) { $1 == "\n" ? $0 + 1 : $0 }
            }
            return AgentError(file: file, message: "YAML syntax error: \(problem)", line: line, code: "policy.yaml.syntax")
        default:
            return AgentError(file: file, message: "YAML error: \(yamlError)", code: "policy.yaml.syntax")
        }
    }
}

/// Reads one object: recognizes `apiVersion`/`kind`, reads metadata, hands the body to the
/// Cilium or Kubernetes reader.
struct PolicyDocumentReader {
    let context: PolicyDocumentContext

    static let ciliumAPIVersion = "cilium.io/v2"
    static let kubernetesAPIVersion = "networking.k8s.io/v1"
    static let metadataFields = ["name", "namespace", "labels", "annotations", "uid", "resourceVersion", "generation",
                                 "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generateName",
                                 "ownerReferences", "finalizers", "managedFields", "selfLink"]

    /// `nil` when the object is not a network policy (a notice says so).
    func read(_ root: PolicyYAMLNode) throws(AgentError) -> (document: PolicyDocument, nameLine: Int?)? {
        guard case .mapping(let mapping) = root else {
            throw self.context.typeError("", expected: PolicyValueKind.map.phrase, root)
        }
        guard let kindNode = mapping["kind"], kindNode.policyValueKind != .null else {
            throw self.context.error("kind", "required field is missing", at: root)
        }
        let kindText = try self.context.string(kindNode, "kind")
        var apiVersion: String?
        if let node = mapping["apiVersion"], node.policyValueKind != .null {
            apiVersion = try self.context.string(node, "apiVersion")
        }
        let expectedVersion: String
        let kind: PolicyKind
        switch kindText {
        case PolicyKind.ciliumNetworkPolicy.rawValue: kind = .ciliumNetworkPolicy; expectedVersion = Self.ciliumAPIVersion
        case PolicyKind.ciliumClusterwideNetworkPolicy.rawValue:
            kind = .ciliumClusterwideNetworkPolicy; expectedVersion = Self.ciliumAPIVersion
        case PolicyKind.networkPolicy.rawValue: kind = .networkPolicy; expectedVersion = Self.kubernetesAPIVersion
        default:
            self.skip(kindText, mapping, reason: "not a network policy")
            if let finding = PolicyKindCheck.finding(kind: kindText, apiVersion: apiVersion, node: kindNode, context: self.context) {
                self.context.warnings.append(finding)
            }
            return nil
        }
        guard let apiVersion else {
            throw self.context.error("apiVersion", "required field is missing", at: root)
        }
        guard apiVersion == expectedVersion else {
            self.skip(kindText, mapping, reason: "apiVersion '\(apiVersion)' is not \(expectedVersion)")
            let node = mapping["apiVersion"] ?? root
            self.context.warnings.append(PolicyFinding(
                severity: .warning, code: "policy.apiVersion.unknown", file: self.context.file,
                document: self.context.documentIndex, field: "apiVersion", line: node.mark?.line, column: node.mark?.column,
                message: "\(kindText) with apiVersion '\(apiVersion)' is not the \(expectedVersion) \(kindText) flowmon evaluates: the document is skipped"))
            return nil
        }
        let topFields = kind == .networkPolicy
            ? ["apiVersion", "kind", "metadata", "spec", "status"]
            : ["apiVersion", "kind", "metadata", "spec", "specs", "status"]
        let top = try YAMLFieldMap(root, path: "", allowed: topFields, context: self.context)
        let (name, namespace, nameLine) = try self.metadata(top, kind: kind)
        let source = PolicySource(file: self.context.file, documentIndex: self.context.documentIndex)
        let body: PolicyDocument.Body
        if kind == .networkPolicy {
            body = .kubernetes(try KubernetesPolicyReader(context: self.context).spec(top))
        } else {
            body = .cilium(try CiliumPolicyReader(context: self.context, clusterwide: kind == .ciliumClusterwideNetworkPolicy)
                .rules(top))
        }
        return (PolicyDocument(kind: kind, name: name, namespace: namespace, source: source, body: body), nameLine)
    }

    private func skip(_ kind: String, _ mapping: PolicyYAMLNode.Mapping, reason: String) {
        var name = ""
        if let metadata = mapping["metadata"], case .mapping(let meta) = metadata, let nameNode = meta["name"],
           case .scalar(let scalar) = nameNode {
            name = " '\(scalar.string)'"
        }
        self.context.notices.append("\(self.context.file): skipped: \(kind)\(name) (document \(self.context.documentIndex)): \(reason)")
    }

    private func metadata(_ top: YAMLFieldMap, kind: PolicyKind) throws(AgentError) -> (String, String?, Int?) {
        guard let metaNode = top["metadata"] else {
            throw self.context.error("metadata.name", "required field is missing", line: top.line)
        }
        let meta = try YAMLFieldMap(metaNode, path: "metadata", allowed: Self.metadataFields, context: self.context)
        guard let nameNode = meta["name"] else {
            throw self.context.error("metadata.name", "required field is missing", line: meta.line)
        }
        let name = try self.context.string(nameNode, "metadata.name")
        guard PolicyValidation.isDNSSubdomain(Substring(name)) else {
            throw self.context.error("metadata.name", "invalid name '\(name)': \(PolicyValidation.dnsSubdomainRule)", at: nameNode)
        }
        for field in ["labels", "annotations"] {
            guard let node = meta[field] else { continue }
            guard case .mapping(let mapping) = node else {
                throw self.context.typeError(meta.path(field), expected: PolicyValueKind.map.phrase, node)
            }
            for (key, value) in mapping where value.policyValueKind != .string {
                let keyText = key.scalar?.string ?? ""
                throw self.context.typeError(meta.path(field) + "." + keyText, expected: PolicyValueKind.string.phrase, value)
            }
        }
        var namespace: String?
        if let nsNode = meta["namespace"] {
            let ns = try self.context.string(nsNode, "metadata.namespace")
            if kind == .ciliumClusterwideNetworkPolicy {
                throw self.context.error("metadata.namespace",
                                         "a CiliumClusterwideNetworkPolicy is cluster-scoped and cannot have a namespace",
                                         line: meta.keyLine("namespace"))
            }
            guard PolicyValidation.isDNSLabel(ns.utf8) else {
                throw self.context.error("metadata.namespace", "invalid namespace '\(ns)': \(PolicyValidation.dnsLabelRule)",
                                         at: nsNode)
            }
            namespace = ns
        } else if kind != .ciliumClusterwideNetworkPolicy {
            namespace = "default"
        }
        return (name, namespace, nameNode.policyLine)
    }
}
