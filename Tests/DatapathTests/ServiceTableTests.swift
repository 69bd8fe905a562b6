import Datapath
import FlowCore
import Testing

private func v4(_ a: UInt32, _ b: UInt32, _ c: UInt32, _ d: UInt32) -> IPAddress {
    IPAddress(ipv4: a << 24 | b << 16 | c << 8 | d)
}

private func service(_ address: IPAddress, _ port: UInt16, _ ipProtocol: UInt8, index: UInt16, backend: UInt32,
                     target: UInt16, local: Bool = false) -> ServiceTableEntry {
    ServiceTableEntry(address: address, port: port, ipProtocol: ipProtocol,
                      value: ServiceValue(service: index, backend: Identity(backend), targetPort: target, backendIsLocal: local))
}

/// The service table: (ClusterIP, port, protocol) → (service, backend identity, target port),
/// looked up when a connection starts.
struct ServiceTableTests {
    static let kubeDNS = v4(10, 96, 0, 10)

    @Test func anEmptyTableTranslatesNothing() {
        let table = ServiceTable()
        #expect(table.isEmpty && table.count == 0)
        #expect(table.lookup(Self.kubeDNS, port: 53, ipProtocol: 17) == nil)
        var port: UInt16 = 53
        var destination = IPCacheValue(identity: .world)
        #expect(table.translate(Self.kubeDNS, port: &port, ipProtocol: 17, destination: &destination) == (0, false))
        #expect(port == 53 && destination == IPCacheValue(identity: .world))
    }

    @Test func theKeyIsAddressPortAndProtocol() {
        let table = ServiceTable([
            service(Self.kubeDNS, 53, 17, index: 1, backend: 265, target: 53, local: true),
            service(Self.kubeDNS, 53, 6, index: 1, backend: 265, target: 5353),
            service(v4(10, 96, 0, 1), 443, 6, index: 2, backend: 0, target: 0),
        ])
        #expect(table.count == 3)
        #expect(table.lookup(Self.kubeDNS, port: 53, ipProtocol: 17)
            == ServiceValue(service: 1, backend: Identity(265), targetPort: 53, backendIsLocal: true))
        #expect(table.lookup(Self.kubeDNS, port: 53, ipProtocol: 6)?.targetPort == 5353)
        #expect(table.lookup(Self.kubeDNS, port: 53, ipProtocol: 132) == nil, "another protocol")
        #expect(table.lookup(Self.kubeDNS, port: 54, ipProtocol: 17) == nil, "another port")
        #expect(table.lookup(v4(10, 96, 0, 11), port: 53, ipProtocol: 17) == nil, "another address")
        // The same bits as an IPv6 address are another address.
        #expect(table.lookup(IPAddress(high: 0, low: UInt64(Self.kubeDNS.ipv4Value)), port: 53, ipProtocol: 17) == nil)
    }

    @Test func translationReplacesIdentityAndPortAndNamesTheService() {
        let table = ServiceTable([service(Self.kubeDNS, 53, 6, index: 4, backend: 265, target: 5353, local: true)])
        var port: UInt16 = 53
        var destination = IPCacheValue(identity: .world)
        #expect(table.translate(Self.kubeDNS, port: &port, ipProtocol: 6, destination: &destination) == (4, true))
        #expect(port == 5353)
        #expect(destination == IPCacheValue(identity: Identity(265), endpoint: 0, isLocalEndpoint: true))
    }

    @Test func aServiceWithoutKnownBackendsIsNamedButNotTranslated() {
        let table = ServiceTable([service(v4(10, 96, 0, 1), 443, 6, index: 2, backend: 0, target: 0)])
        var port: UInt16 = 443
        var destination = IPCacheValue(identity: .world)
        #expect(table.translate(v4(10, 96, 0, 1), port: &port, ipProtocol: 6, destination: &destination) == (2, false))
        #expect(port == 443 && destination == IPCacheValue(identity: .world))
    }

    @Test func ipv6ClusterIPs() {
        let address = IPAddress(high: 0xfd00_0010_0096_0000, low: 0xa)
        let table = ServiceTable([service(address, 53, 17, index: 1, backend: 300, target: 1053)])
        #expect(table.lookup(address, port: 53, ipProtocol: 17)?.targetPort == 1053)
        #expect(table.lookup(IPAddress(high: 0xfd00_0010_0096_0000, low: 0xb), port: 53, ipProtocol: 17) == nil)
    }

    @Test func theFirstOfADuplicateKeyIsKept() {
        let table = ServiceTable([
            service(Self.kubeDNS, 53, 17, index: 1, backend: 265, target: 53),
            service(Self.kubeDNS, 53, 17, index: 2, backend: 999, target: 99),
        ])
        #expect(table.count == 1)
        #expect(table.lookup(Self.kubeDNS, port: 53, ipProtocol: 17)?.service == 1)
    }

    /// Thousands of service ports, every one found, none invented (the table grows to stay at
    /// most half full, so probe sequences end).
    @Test func manyEntries() {
        var entries: [ServiceTableEntry] = []
        for index in 0..<5000 {
            let address = v4(10, 96, UInt32(index / 250), UInt32(index % 250))
            entries.append(service(address, UInt16(80 + index % 7), index % 2 == 0 ? 6 : 17,
                                   index: UInt16(index + 1), backend: UInt32(256 + index), target: UInt16(8000 + index % 100)))
        }
        let table = ServiceTable(entries)
        #expect(table.count == 5000)
        for entry in entries {
            #expect(table.lookup(entry.address, port: entry.port, ipProtocol: entry.ipProtocol) == entry.value)
            #expect(table.lookup(entry.address, port: entry.port &+ 7, ipProtocol: entry.ipProtocol) == nil)
        }
    }

    /// The service index fits the two bytes of padding before the policy decisions: a tracked
    /// connection still costs 256 bytes.
    @Test func theFlowEntryDidNotGrow() {
        #expect(MemoryLayout<FlowEntry>.stride <= 228)
        #expect(FlowTable.bytesPerFlow <= 256)
    }

    /// A service whose ClusterIP and backends are both `world` (an ExternalName-like service
    /// with endpoints outside the cluster) is still judged at its backends' target port.
    @Test func aTranslationToTheSameIdentityIsStillATranslation() {
        let clusterIP = v4(10, 96, 0, 20)
        let snapshot = PolicySnapshot(ipcache: IPCache([]),
                                      services: ServiceTable([service(clusterIP, 80, 6, index: 3, backend: 2, target: 8080)]))
        let judgement = snapshot.judge(source: v4(10, 244, 0, 5), destination: clusterIP, port: 80, ipProtocol: 6)
        #expect(judgement.destination == judgement.addressed, "both world")
        #expect(judgement.isTranslated && judgement.port == 8080 && judgement.service == 3)
    }
}
