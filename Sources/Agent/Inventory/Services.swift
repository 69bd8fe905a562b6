import Datapath
import Foundation
import FlowCore

/// A Service (`kubectl get services -A -o json`, core/v1 Service): what flowmon needs to judge
/// a connection to a ClusterIP as Cilium's load balancer would hand it to policy.
package struct Service: Sendable, Equatable {
    package var name: String
    package var namespace: String
    /// `spec.type`: ClusterIP (the default), NodePort, LoadBalancer or ExternalName.
    package var type: String
    /// `spec.clusterIPs` (or `spec.clusterIP`), without `None` (headless) and empty values.
    package var clusterIPs: [IPAddress]
    package var ports: [ServicePort]
    /// `spec.selector`; nil when the service has none (its endpoints are managed by hand).
    package var selector: [String: String]?
    /// The ready addresses of the service's `Endpoints` object and `EndpointSlice`s in the same
    /// file (`kubectl get services,endpoints -A -o json`), in file order; nil when the file has
    /// none for it. They are the backends of a service without a selector (`default/kubernetes`:
    /// the API server's addresses).
    package var endpointAddresses: [IPAddress]?
    /// Where in the file it came from: `$.items[3]`.
    package var location: String

    package init(name: String, namespace: String, type: String = "ClusterIP", clusterIPs: [IPAddress] = [],
                ports: [ServicePort] = [], selector: [String: String]? = nil, endpointAddresses: [IPAddress]? = nil,
                location: String = "") {
        self.name = name
        self.namespace = namespace
        self.type = type
        self.clusterIPs = clusterIPs
        self.ports = ports
        self.selector = selector
        self.endpointAddresses = endpointAddresses
        self.location = location
    }

    /// The service whose endpoints are the API server's (Kubernetes' `default/kubernetes`).
    package var isKubernetesAPI: Bool { self.namespace == "default" && self.name == "kubernetes" }
}

package struct ServicePort: Sendable, Equatable {
    package enum Target: Sendable, Equatable {
        case number(UInt16)
        /// A named container port of the backend pods.
        case name(String)
    }
    package var name: String?
    package var port: UInt16
    /// 6, 17 or 132 (`protocol`, default TCP).
    package var ipProtocol: UInt8
    /// `targetPort`; the port itself when absent or 0, as Kubernetes defaults it.
    package var target: Target

    package init(name: String? = nil, port: UInt16, ipProtocol: UInt8 = 6, target: Target? = nil) {
        self.name = name
        self.port = port
        self.ipProtocol = ipProtocol
        self.target = target ?? .number(port)
    }
}

/// A service named in flow records (`destination_service`, Hubble's `Service{name, namespace}`).
package struct ServiceReference: Sendable, Hashable {
    package var name: String
    package var namespace: String
    package init(name: String, namespace: String) {
        self.name = name
        self.namespace = namespace
    }
}

/// Reads `kubectl get services -A -o json` (a `List` or `ServiceList` of `Service`, or one
/// `Service`), or `kubectl get services,endpoints -A -o json` (a `List` that mixes `Service`,
/// `Endpoints` and `EndpointSlice` objects; `EndpointsList`/`EndpointSliceList` too).
/// Only `metadata.name`/`namespace` and `spec.type`, `clusterIP(s)`, `ports` and `selector` of
/// a Service are read; of an Endpoints object `subsets[].addresses[].ip` (ready addresses; not
/// `notReadyAddresses`), of an EndpointSlice (discovery.k8s.io/v1) `endpoints[].addresses[]`
/// unless `conditions.ready` is false, its service named by the label
/// `kubernetes.io/service-name`. All type-checked, with errors that name the file and the
/// JSON path, as `InventoryLoader` does for pods:
/// `services.json: $.items[2].spec.ports[0].targetPort: port 70000 is out of range 1-65535`.
package enum ServiceLoader {
    package static func load(path: String) throws(AgentError) -> [Service] {
        try decode(JSONReader.parseFile(path), file: path)
    }

    /// The same from in-memory JSON text; `file` names it in messages.
    package static func load(json data: Data, file: String) throws(AgentError) -> [Service] {
        try decode(JSONReader.parse(data, file: file), file: file)
    }

    static func decode(_ root: JSONValue, file: String) throws(AgentError) -> [Service] {
        let reader = JSONReader(file: file)
        var services: [Service] = []
        // "namespace/name" → addresses and the location of the first object that gave them.
        var addresses: [String: (ips: [IPAddress], location: String)] = [:]
        var order: [String] = []
        func add(_ ips: [IPAddress], namespace: String, name: String, location: String) {
            let key = namespace + "/" + name
            if addresses[key] == nil {
                addresses[key] = ([], location)
                order.append(key)
            }
            for ip in ips where !addresses[key]!.ips.contains(ip) { addresses[key]!.ips.append(ip) }
        }
        for (item, path, kind) in try InventoryLoader.items(root, kinds: ["Service", "Endpoints", "EndpointSlice"],
                                                              command: "kubectl get services,endpoints -A -o json",
                                                              reader: reader) {
            switch kind {
            case "Endpoints":
                let (namespace, name) = try metadataName(item, at: path, reader: reader)
                add(try endpointsAddresses(item, at: path, reader: reader), namespace: namespace, name: name, location: path)
            case "EndpointSlice":
                let metadataPath = path + ".metadata"
                let (namespace, _) = try metadataName(item, at: path, reader: reader)
                let labels = try reader.stringMap(try reader.optionalObject(item, "metadata", at: path) ?? [:], "labels",
                                                  at: metadataPath)
                guard let name = labels["kubernetes.io/service-name"], !name.isEmpty else { continue }
                add(try endpointSliceAddresses(item, at: path, reader: reader), namespace: namespace, name: name, location: path)
            default:
                services.append(try service(item, at: path, reader: reader))
            }
        }
        for key in order {
            let (ips, location) = addresses[key]!
            if let index = services.firstIndex(where: { $0.namespace + "/" + $0.name == key }) {
                services[index].endpointAddresses = ips
            } else {
                let slash = key.firstIndex(of: "/")!
                services.append(Service(name: String(key[key.index(after: slash)...]), namespace: String(key[..<slash]),
                                        endpointAddresses: ips, location: location))
            }
        }
        return services
    }

    static func metadataName(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> (String, String) {
        let metadataPath = path + ".metadata"
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(metadataPath, "missing")
        }
        return (try reader.requiredString(metadata, "namespace", at: metadataPath),
                try reader.requiredString(metadata, "name", at: metadataPath))
    }

    /// `subsets[].addresses[].ip` of a core/v1 Endpoints object.
    static func endpointsAddresses(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> [IPAddress] {
        var result: [IPAddress] = []
        guard let subsets = try reader.optionalArray(item, "subsets", at: path) else { return result }
        for (subsetIndex, element) in subsets.enumerated() {
            let subsetPath = path + ".subsets[\(subsetIndex)]"
            let subset = try reader.object(element, at: subsetPath)
            guard let list = try reader.optionalArray(subset, "addresses", at: subsetPath) else { continue }
            for (index, address) in list.enumerated() {
                let addressPath = subsetPath + ".addresses[\(index)]"
                result.append(try InventoryLoader.ipAddress(try reader.object(address, at: addressPath), "ip", at: addressPath,
                                                            reader: reader))
            }
        }
        return result
    }

    /// `endpoints[].addresses[]` of a discovery.k8s.io/v1 EndpointSlice, without endpoints whose
    /// `conditions.ready` is false (absent means ready).
    static func endpointSliceAddresses(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> [IPAddress] {
        var result: [IPAddress] = []
        guard let endpoints = try reader.optionalArray(item, "endpoints", at: path) else { return result }
        for (endpointIndex, element) in endpoints.enumerated() {
            let endpointPath = path + ".endpoints[\(endpointIndex)]"
            let endpoint = try reader.object(element, at: endpointPath)
            if let conditions = try reader.optionalObject(endpoint, "conditions", at: endpointPath),
               try reader.optionalBool(conditions, "ready", at: endpointPath + ".conditions") == false {
                continue
            }
            guard let list = try reader.optionalArray(endpoint, "addresses", at: endpointPath) else { continue }
            for (index, address) in list.enumerated() {
                let addressPath = endpointPath + ".addresses[\(index)]"
                result.append(try InventoryLoader.parseIP(try reader.string(address, at: addressPath), at: addressPath,
                                                          reader: reader))
            }
        }
        return result
    }

    static let types: Set<String> = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"]

    static func service(_ item: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> Service {
        let metadataPath = path + ".metadata"
        guard let metadata = try reader.optionalObject(item, "metadata", at: path) else {
            throw reader.error(metadataPath, "missing")
        }
        var service = Service(name: try reader.requiredString(metadata, "name", at: metadataPath),
                              namespace: try reader.requiredString(metadata, "namespace", at: metadataPath),
                              location: path)
        let specPath = path + ".spec"
        guard let spec = try reader.optionalObject(item, "spec", at: path) else { return service }
        if let type = try reader.optionalString(spec, "type", at: specPath) {
            guard types.contains(type) else {
                throw reader.error(specPath + ".type", "expected ClusterIP, NodePort, LoadBalancer or ExternalName, found \"\(type)\"")
            }
            service.type = type
        }
        func addClusterIP(_ text: String, at ipPath: String) throws(AgentError) {
            guard !text.isEmpty, text != "None" else { return }
            let ip = try InventoryLoader.parseIP(text, at: ipPath, reader: reader)
            if !service.clusterIPs.contains(ip) { service.clusterIPs.append(ip) }
        }
        if let clusterIPs = try reader.optionalArray(spec, "clusterIPs", at: specPath) {
            for (index, element) in clusterIPs.enumerated() {
                let ipPath = specPath + ".clusterIPs[\(index)]"
                try addClusterIP(try reader.string(element, at: ipPath), at: ipPath)
            }
        }
        if let clusterIP = try reader.optionalString(spec, "clusterIP", at: specPath) {
            try addClusterIP(clusterIP, at: specPath + ".clusterIP")
        }
        if let ports = try reader.optionalArray(spec, "ports", at: specPath) {
            for (index, element) in ports.enumerated() {
                service.ports.append(try port(try reader.object(element, at: specPath + ".ports[\(index)]"),
                                              at: specPath + ".ports[\(index)]", reader: reader))
            }
        }
        let selector = try reader.stringMap(spec, "selector", at: specPath)
        service.selector = selector.isEmpty ? nil : selector
        return service
    }

    static func port(_ object: JSONObject, at path: String, reader: JSONReader) throws(AgentError) -> ServicePort {
        let (number, ipProtocol) = try InventoryLoader.portAndProtocol(object, key: "port", at: path, reader: reader)
        var target: ServicePort.Target?
        if let value = reader.optional(object, "targetPort") {
            let targetPath = path + ".targetPort"
            if case .string(let name) = value {
                guard PolicyValidation.isPortName(name, caseInsensitive: false) else {
                    throw reader.error(targetPath, "invalid port name \"\(name)\": \(PolicyValidation.portNameRule)")
                }
                target = .name(name)
            } else {
                guard let targetNumber = try reader.optionalInteger(object, "targetPort", at: path) else {
                    throw reader.error(targetPath, "missing")
                }
                guard (0...65535).contains(targetNumber) else {
                    throw reader.error(targetPath, "port \(targetNumber) is out of range 1-65535")
                }
                if targetNumber != 0 { target = .number(UInt16(targetNumber)) }
            }
        }
        return ServicePort(name: try reader.optionalString(object, "name", at: path), port: number,
                           ipProtocol: ipProtocol, target: target)
    }
}

/// The services compiled for the datapath: the translation table and the names behind its
/// service indexes.
package struct CompiledServices: Sendable {
    package var table: ServiceTable
    /// Index 0 is unused ("no service"); `ServiceValue.service` indexes this.
    package var references: [ServiceReference]
    /// Problems that do not stop loading (a ClusterIP port claimed twice, backends of several identities).
    package var warnings: [String]

    package init(table: ServiceTable = ServiceTable(), references: [ServiceReference] = [ServiceReference(name: "", namespace: "")],
                warnings: [String] = []) {
        self.table = table
        self.references = references
        self.warnings = warnings
    }

    /// The service of an index, or nil for 0 and unknown indexes.
    package func reference(_ index: UInt16) -> ServiceReference? {
        index == 0 || Int(index) >= self.references.count ? nil : self.references[Int(index)]
    }

    /// Compiles every ClusterIP service port into the translation table (agent side, once).
    ///
    /// - Backends: the pods of the service's namespace whose labels include the selector and that
    ///   have an address of the ClusterIP's family (host-network pods too, with the host or
    ///   remote-node identity, as Cilium gives their addresses), and, for a named `targetPort`, a
    ///   container port of that name and protocol.
    /// - Identity: policy sees one identity per service port. When the backends have several
    ///   (pods of the same selector with different labels or service accounts), the identity
    ///   of the most backends wins, ties going to the lowest number, and a warning says so.
    /// - Target port: the number, or for a name the port of the first backend (in pods-file
    ///   order) with the chosen identity.
    /// - A service without a selector (`default/kubernetes`, hand-managed endpoints) has the
    ///   ready addresses of its Endpoints/EndpointSlices as backends, with the identity the
    ///   ipcache gives each (the API server's: host, kube-apiserver or its CIDR identity), on a
    ///   numeric `targetPort` (Kubernetes leaves the port of such endpoints to whoever writes
    ///   them; for `default/kubernetes` it is the API server's port, as `targetPort` says).
    /// - No backend (none selected, no endpoints, a name no backend has): the service port is
    ///   still recorded, so flows name the service, but nothing is translated and the
    ///   connection is judged against the ClusterIP.
    /// - NodePorts, external and load-balancer addresses are not translated (only ClusterIPs);
    ///   ExternalName and headless services have no ClusterIP and are skipped.
    package static func compile(_ services: [Service], endpoints: EndpointTable, ipcache: IPCache, file: String = "services")
        throws(AgentError) -> CompiledServices
    {
        var compiled = CompiledServices()
        var entries: [ServiceTableEntry] = []
        var claimed: [String: String] = [:]
        // Pod endpoints by namespace, in endpoint (pods-file) order, as indexes (an Endpoint is
        // large to copy).
        var podsByNamespace: [String: [Int]] = [:]
        for (index, endpoint) in endpoints.endpoints.enumerated() where endpoint.pod != nil {
            podsByNamespace[endpoint.namespace ?? "", default: []].append(index)
        }
        for service in services where service.type != "ExternalName" && !service.clusterIPs.isEmpty && !service.ports.isEmpty {
            guard compiled.references.count <= Int(UInt16.max) else {
                throw AgentError(file: file, location: service.location,
                                 message: "more than \(UInt16.max) services with a ClusterIP; flowmon's service table holds at most that many")
            }
            let index = UInt16(compiled.references.count)
            let name = service.namespace + "/" + service.name
            compiled.references.append(ServiceReference(name: service.name, namespace: service.namespace))
            let selected: [Int] = service.selector.map { selector in
                (podsByNamespace[service.namespace] ?? []).filter { index in
                    selector.allSatisfy { endpoints.endpoints[index].pod?.labels[$0.key] == $0.value }
                }
            } ?? []
            for clusterIP in service.clusterIPs {
                for port in service.ports {
                    let protocolName = IPProtocolNumber.eveName(port.ipProtocol).map { "\($0)" } ?? "\(port.ipProtocol)"
                    let key = "\(clusterIP.text) port \(port.port)/\(protocolName)"
                    if let owner = claimed[key] {
                        compiled.warnings.append("\(file): \(service.location): \(key) is claimed by \(owner) and \(name); using \(owner)")
                        continue
                    }
                    claimed[key] = name
                    // The backends that can take this port, each with the port it listens on.
                    var candidates: [(identity: Identity, isLocal: Bool, port: UInt16)] = []
                    for index in selected {
                        let endpoint = endpoints.endpoints[index]
                        guard let pod = endpoint.pod, pod.ips.contains(where: { $0.isIPv4 == clusterIP.isIPv4 }) else { continue }
                        switch port.target {
                        case .number(let number):
                            candidates.append((endpoint.identity, endpoint.isLocal, number))
                        case .name(let portName):
                            if let named = pod.namedPorts.first(where: { $0.name == portName && $0.ipProtocol == port.ipProtocol }) {
                                candidates.append((endpoint.identity, endpoint.isLocal, named.port))
                            }
                        }
                    }
                    if service.selector == nil, case .number(let number) = port.target {
                        for address in service.endpointAddresses ?? [] where address.isIPv4 == clusterIP.isIPv4 {
                            let entry = ipcache.lookup(address)
                            candidates.append((entry.identity, entry.isLocalEndpoint, number))
                        }
                    }
                    var value = ServiceValue(service: index, backend: .unknown, targetPort: 0, backendIsLocal: false)
                    if !candidates.isEmpty {
                        var counts: [Identity: Int] = [:]
                        for candidate in candidates { counts[candidate.identity, default: 0] += 1 }
                        let chosen = counts.max { ($0.value, $1.key.rawValue) < ($1.value, $0.key.rawValue) }!.key
                        let backends = candidates.filter { $0.identity == chosen }
                        value = ServiceValue(service: index, backend: chosen, targetPort: backends[0].port,
                                             backendIsLocal: backends.contains { $0.isLocal })
                        if counts.count > 1 {
                            let listed = counts.sorted { ($1.value, $0.key.rawValue) < ($0.value, $1.key.rawValue) }
                                .map { "\($0.key.rawValue): \($0.value) pod\($0.value == 1 ? "" : "s")" }.joined(separator: ", ")
                            compiled.warnings.append("\(file): \(service.location): service \(name) \(key): its backends have \(counts.count) identities (\(listed)); policy is judged against identity \(chosen.rawValue)")
                        }
                    }
                    entries.append(ServiceTableEntry(address: clusterIP, port: port.port, ipProtocol: port.ipProtocol, value: value))
                }
            }
        }
        compiled.table = ServiceTable(entries)
        return compiled
    }
}
