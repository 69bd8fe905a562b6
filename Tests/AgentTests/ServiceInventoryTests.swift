import Agent
import Datapath
import FlowCore
import Foundation
import Testing

/// `--services`: the loader's errors (file and JSON path, as for pods) and how services compile
/// into the service table (backends, their identity, target ports).
struct ServiceInventoryTests {
    typealias F = InventoryFixtures

    static func serviceList(_ items: [String]) -> String {
        #"{"apiVersion":"v1","kind":"List","items":["# + items.joined(separator: ",") + "]}"
    }

    static func service(_ name: String, namespace: String = "shop", type: String? = nil, clusterIPs: [String] = ["10.96.0.20"],
                        ports: String = #"[{"name":"http","port":80,"protocol":"TCP","targetPort":8080}]"#,
                        selector: [String: String]? = ["app": "web"]) -> String {
        var spec: [String] = []
        if let type { spec.append(#""type":""# + type + "\"") }
        if let first = clusterIPs.first {
            spec.append(#""clusterIP":""# + first + "\"")
            spec.append(#""clusterIPs":["# + clusterIPs.map { "\"" + $0 + "\"" }.joined(separator: ",") + "]")
        }
        spec.append(#""ports":"# + ports)
        if let selector {
            spec.append(#""selector":{"# + selector.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\"\($0.value)\"" }.joined(separator: ",") + "}")
        }
        return #"{"apiVersion":"v1","kind":"Service","metadata":{"name":""# + name + #"","namespace":""# + namespace
            + #""},"spec":{"# + spec.joined(separator: ",") + "}}"
    }

    static func message(_ text: String) -> String? {
        let path = F.write(text, name: "services.json")
        do {
            _ = try ServiceLoader.load(path: path)
            return nil
        } catch {
            return error.description.replacingOccurrences(of: path, with: "services.json")
        }
    }

    /// Compiles `services` against pods (node-a is the local node).
    static func compile(pods: [String], services: [String]) throws -> (CompiledServices, EndpointTable) {
        let inventory = try F.loadPods(pods)
        let endpoints = try EndpointTable.build(inventory: inventory, localNode: "node-a")
        let loaded = try ServiceLoader.load(json: Data(serviceList(services).utf8), file: "services.json")
        return (try CompiledServices.compile(loaded, endpoints: endpoints, ipcache: endpoints.ipCache(), file: "services.json"),
                endpoints)
    }

    static func identity(_ endpoints: EndpointTable, _ pod: String, namespace: String = "shop") -> Identity {
        endpoints.endpoint(namespace: namespace, pod: pod)!.identity
    }

    @Test func theDemoServicesFileLoads() throws {
        let path = F.repository.appendingPathComponent("Captures/demo/demo-cluster.services.json").path
        let services = try ServiceLoader.load(path: path)
        #expect(services.count == 9)
        let dns = try #require(services.first { $0.name == "kube-dns" })
        #expect(dns.namespace == "kube-system" && dns.type == "ClusterIP" && dns.selector == ["k8s-app": "kube-dns"])
        #expect(dns.clusterIPs.map(\.text) == ["10.96.0.10", "fd00:10:96::a"])
        #expect(dns.ports == [ServicePort(name: "main", port: 53, ipProtocol: 17, target: .number(53)),
                              ServicePort(name: "dns-tcp", port: 53, ipProtocol: 6, target: .number(53))])
        let kubernetes = try #require(services.first { $0.name == "kubernetes" })
        #expect(kubernetes.selector == nil && kubernetes.ports[0].target == .number(6443))
        // The API server's address, from the Endpoints object after the services.
        #expect(kubernetes.endpointAddresses?.map(\.text) == ["172.18.0.4"])
        #expect(services.filter { $0.endpointAddresses != nil }.count == 1)
        #expect(dns.location == "$.items[0]")
    }

    @Test func fieldsAndDefaults() throws {
        let text = Self.serviceList([
            // No targetPort: the port; targetPort 0: the port too; a name; protocol defaults to TCP.
            Self.service("web", ports: #"[{"port":80},{"port":81,"targetPort":0},{"port":82,"targetPort":"http"},{"port":53,"protocol":"UDP","targetPort":5353}]"#),
            Self.service("headless", clusterIPs: ["None"]),
            Self.service("external", type: "ExternalName", clusterIPs: []),
            #"{"kind":"Service","metadata":{"name":"bare","namespace":"x"}}"#,
        ])
        let services = try ServiceLoader.load(json: Data(text.utf8), file: "services.json")
        #expect(services.map(\.name) == ["web", "headless", "external", "bare"])
        #expect(services[0].ports.map(\.target) == [.number(80), .number(81), .name("http"), .number(5353)])
        #expect(services[0].ports.map(\.ipProtocol) == [6, 6, 6, 17])
        #expect(services[1].clusterIPs.isEmpty, "headless: clusterIP None")
        #expect(services[2].type == "ExternalName")
        #expect(services[3].ports.isEmpty && services[3].selector == nil)
    }

    @Test func errorsNameTheFileAndThePath() {
        #expect(Self.message(Self.serviceList([Self.service("a"), Self.service("b", clusterIPs: ["10.96.0.300"])]))
            == #"services.json: $.items[1].spec.clusterIPs[0]: not an IP address: "10.96.0.300""#)
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"port":80},{"port":70000}]"#)]))
            == "services.json: $.items[0].spec.ports[1].port: port 70000 is out of range 1-65535")
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"name":"x"}]"#)]))
            == "services.json: $.items[0].spec.ports[0].port: missing")
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"port":80,"targetPort":"HTTP_1"}]"#)]))
            == #"services.json: $.items[0].spec.ports[0].targetPort: invalid port name "HTTP_1": IANA_SVC_NAME: at most 15 lowercase letters, digits and '-', at least one letter, no leading, trailing or double '-'"#)
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"port":80,"targetPort":true}]"#)]))
            == "services.json: $.items[0].spec.ports[0].targetPort: expected an integer, found a boolean (true)")
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"port":80,"targetPort":-1}]"#)]))
            == "services.json: $.items[0].spec.ports[0].targetPort: port -1 is out of range 1-65535")
        #expect(Self.message(Self.serviceList([Self.service("a", ports: #"[{"port":80,"protocol":"ICMP"}]"#)]))
            == #"services.json: $.items[0].spec.ports[0].protocol: expected TCP, UDP or SCTP, found "ICMP""#)
        #expect(Self.message(Self.serviceList([Self.service("a", type: "Fancy")]))
            == #"services.json: $.items[0].spec.type: expected ClusterIP, NodePort, LoadBalancer or ExternalName, found "Fancy""#)
        #expect(Self.message(Self.serviceList([#"{"kind":"Service","metadata":{"name":"a"}}"#]))
            == "services.json: $.items[0].metadata.namespace: missing")
        #expect(Self.message(Self.serviceList([#"{"kind":"Service","metadata":{"name":"a","namespace":"x"},"spec":{"selector":{"app":1}}}"#]))
            == "services.json: $.items[0].spec.selector.app: expected a string, found the number 1")
        // The pods file given as the services file.
        #expect(Self.message(F.podList([F.pod("a")]))
            == #"services.json: $.items[0].kind: expected "Service", "Endpoints" or "EndpointSlice", found "Pod""#)
        #expect(Self.message(#"{"kind":"PodList","items":[]}"#)
            == #"services.json: $.kind: expected a List of Service, Endpoints, EndpointSlice (kubectl get services,endpoints -A -o json), found "PodList""#)
        #expect(Self.message("{\"kind\":")?.hasPrefix("services.json: not JSON") == true)
    }

    @Test func aServicePortTranslatesToItsBackendsIdentityAndTargetPort() throws {
        let (compiled, endpoints) = try Self.compile(
            pods: [F.pod("web-1", labels: ["app": "web"], ips: ["10.244.0.5"]),
                   F.pod("web-2", labels: ["app": "web"], ips: ["10.244.1.5"], node: "node-b")],
            services: [Self.service("web", ports: #"[{"port":80,"targetPort":8080},{"port":443,"targetPort":"http"},{"port":53,"protocol":"UDP","targetPort":"dns"}]"#)])
        let web = Self.identity(endpoints, "web-1")
        let ip = IPAddress(text: "10.96.0.20")!
        #expect(compiled.table.lookup(ip, port: 80, ipProtocol: 6)
            == ServiceValue(service: 1, backend: web, targetPort: 8080, backendIsLocal: true))
        #expect(compiled.table.lookup(ip, port: 443, ipProtocol: 6)?.targetPort == 8080, "named: the pods' 'http' container port")
        #expect(compiled.table.lookup(ip, port: 53, ipProtocol: 17)?.targetPort == 53, "named UDP port 'dns'")
        #expect(compiled.references[1] == ServiceReference(name: "web", namespace: "shop"))
        #expect(compiled.reference(1)?.name == "web" && compiled.reference(0) == nil)
        #expect(compiled.warnings.isEmpty)
    }

    @Test func backendsOnlyOnOtherNodesAreNotLocal() throws {
        let (compiled, _) = try Self.compile(
            pods: [F.pod("client", labels: ["app": "client"], ips: ["10.244.0.9"]),
                   F.pod("web-2", labels: ["app": "web"], ips: ["10.244.1.5"], node: "node-b")],
            services: [Self.service("web")])
        #expect(compiled.table.lookup(IPAddress(text: "10.96.0.20")!, port: 80, ipProtocol: 6)?.backendIsLocal == false)
    }

    /// Backends with different identities: the identity of the most backends, ties to the lowest
    /// number, with a warning.
    @Test func backendsOfSeveralIdentities() throws {
        let (compiled, endpoints) = try Self.compile(
            pods: [F.pod("web-a", labels: ["app": "web", "track": "canary"], ips: ["10.244.0.5"]),
                   F.pod("web-b", labels: ["app": "web"], ips: ["10.244.0.6"]),
                   F.pod("web-c", labels: ["app": "web"], ips: ["10.244.0.7"], node: "node-b")],
            services: [Self.service("web")])
        let stable = Self.identity(endpoints, "web-b")
        let canary = Self.identity(endpoints, "web-a")
        let value = try #require(compiled.table.lookup(IPAddress(text: "10.96.0.20")!, port: 80, ipProtocol: 6))
        #expect(value.backend == stable && value.backendIsLocal)
        #expect(compiled.warnings == ["services.json: $.items[0]: service shop/web 10.96.0.20 port 80/TCP: its backends have 2 identities (\(stable.rawValue): 2 pods, \(canary.rawValue): 1 pod); policy is judged against identity \(stable.rawValue)"])

        let (tie, tieEndpoints) = try Self.compile(
            pods: [F.pod("web-a", labels: ["app": "web", "track": "canary"], ips: ["10.244.0.5"]),
                   F.pod("web-b", labels: ["app": "web"], ips: ["10.244.0.6"])],
            services: [Self.service("web")])
        let lowest = min(Self.identity(tieEndpoints, "web-a"), Self.identity(tieEndpoints, "web-b"))
        #expect(tie.table.lookup(IPAddress(text: "10.96.0.20")!, port: 80, ipProtocol: 6)?.backend == lowest)
    }

    /// No selector, a selector that selects nothing (or only pods of another namespace), a named
    /// port no backend has: the service is named, nothing is translated.
    @Test func servicesWithoutKnownBackends() throws {
        let (compiled, _) = try Self.compile(
            pods: [F.pod("web-1", labels: ["app": "web"], ips: ["10.244.0.5"]),
                   F.pod("other", namespace: "elsewhere", labels: ["app": "db"], ips: ["10.244.0.9"])],
            services: [Self.service("manual", clusterIPs: ["10.96.0.1"], selector: nil),
                       Self.service("db", clusterIPs: ["10.96.0.2"], selector: ["app": "db"]),
                       Self.service("named", clusterIPs: ["10.96.0.3"], ports: #"[{"port":80,"targetPort":"grpc"}]"#)])
        for (index, address) in ["10.96.0.1", "10.96.0.2", "10.96.0.3"].enumerated() {
            let value = try #require(compiled.table.lookup(IPAddress(text: address)!, port: 80, ipProtocol: 6))
            #expect(value.service == UInt16(index + 1) && value.backend == .unknown)
        }
    }

    @Test func familiesHeadlessExternalNameAndDuplicates() throws {
        let (compiled, endpoints) = try Self.compile(
            pods: [F.pod("web-1", labels: ["app": "web"], ips: ["10.244.0.5"])],
            services: [Self.service("web", clusterIPs: ["10.96.0.20", "fd00:10:96::14"]),
                       Self.service("headless", clusterIPs: ["None"]),
                       Self.service("external", type: "ExternalName", clusterIPs: []),
                       Self.service("again", clusterIPs: ["10.96.0.20"])])
        // The pod has no IPv6 address: the IPv6 ClusterIP has no backend.
        #expect(compiled.table.lookup(IPAddress(text: "10.96.0.20")!, port: 80, ipProtocol: 6)?.backend
            == Self.identity(endpoints, "web-1"))
        #expect(compiled.table.lookup(IPAddress(text: "fd00:10:96::14")!, port: 80, ipProtocol: 6)?.backend == .unknown)
        #expect(compiled.table.count == 2)
        #expect(compiled.warnings == ["services.json: $.items[3]: 10.96.0.20 port 80/TCP is claimed by shop/web and shop/again; using shop/web"])
    }

    /// Host-network backends have their node's identity (host here, remote-node elsewhere).
    @Test func hostNetworkBackends() throws {
        let (compiled, _) = try Self.compile(
            pods: [F.pod("agent", labels: ["app": "agent"], ips: ["172.18.0.2"], hostNetwork: true)],
            services: [Self.service("agent", selector: ["app": "agent"])])
        let value = try #require(compiled.table.lookup(IPAddress(text: "10.96.0.20")!, port: 80, ipProtocol: 6))
        #expect(value.backend == .host && value.backendIsLocal)
    }
}
