import FlowCore

/// What a service port translates to, as the agent compiled it: the service (an index into
/// the agent's table of service names, from 1), the security identity of its backends and the
/// port they listen on. `backend == .unknown` means the service has no backend flowmon knows
/// (no selector, no pod selected, or a named target port no selected pod has): the connection
/// is then judged against the ClusterIP itself, but still names the service.
public struct ServiceValue: Sendable, Equatable {
    /// Index into the agent's service names; 1 and up (0 is "no service").
    public var service: UInt16
    public var backend: Identity
    /// The backends' port (the service port's `targetPort`, named ports resolved).
    public var targetPort: UInt16
    /// Some backend with this identity runs on the local node, so its ingress policy is evaluated
    /// here. Policy depends on the identity only, so which of those backends got the connection
    /// does not change the verdict.
    public var backendIsLocal: Bool

    @inlinable
    public init(service: UInt16, backend: Identity, targetPort: UInt16, backendIsLocal: Bool) {
        self.service = service
        self.backend = backend
        self.targetPort = targetPort
        self.backendIsLocal = backendIsLocal
    }
}

/// One service port: (ClusterIP, port, protocol) → what it translates to.
public struct ServiceTableEntry: Sendable, Equatable {
    public var address: IPAddress
    public var port: UInt16
    public var ipProtocol: UInt8
    public var value: ServiceValue

    public init(address: IPAddress, port: UInt16, ipProtocol: UInt8, value: ServiceValue) {
        self.address = address
        self.port = port
        self.ipProtocol = ipProtocol
        self.value = value
    }
}

/// The service translation table, Cilium's `cilium_lb4_services_v2`/`lb6` in miniature: a fixed
/// open-addressing table keyed by (ClusterIP, port, protocol), built once by the agent and
/// consulted when a connection starts, before policy, so policy sees the backends' identity and
/// port as it does after Cilium's socket or BPF load balancer. Lookups allocate nothing
/// (`StaticHashTable`); the first entry of a duplicate key is kept.
public struct ServiceTable: Sendable {
    @usableFromInline let table: StaticHashTable<ServiceValue>
    /// The number of distinct keys stored.
    public var count: Int { self.table.count }

    /// An empty table: nothing is translated.
    public init() {
        self.init([])
    }

    public init(_ entries: [ServiceTableEntry]) {
        self.table = StaticHashTable(entries.map { (Self.key($0.address, port: $0.port, ipProtocol: $0.ipProtocol), $0.value) },
                                     empty: ServiceValue(service: 0, backend: .unknown, targetPort: 0, backendIsLocal: false))
    }

    public var isEmpty: Bool { self.count == 0 }

    /// The service port at this address, port and protocol, or nil. Allocation-free.
    @inlinable
    public func lookup(_ address: IPAddress, port: UInt16, ipProtocol: UInt8) -> ServiceValue? {
        guard self.count > 0 else { return nil }
        return self.table.find(Self.key(address, port: port, ipProtocol: ipProtocol))
    }

    /// Translates a new connection's destination as the load balancer would before policy:
    /// when `address`:`port`/`ipProtocol` is a service port with known backends, `destination`
    /// becomes the backends' identity (no endpoint: which backend pod got it is not known) and
    /// `port` their target port. Returns the service index (0 when no service port matched), which
    /// is also returned for a service without known backends, whose destination is left as it is,
    /// and whether the destination was translated (even to a value equal to the one it had, as
    /// when ClusterIP and backends are both `world`).
    @inlinable
    public func translate(_ address: IPAddress, port: inout UInt16, ipProtocol: UInt8,
                          destination: inout IPCacheValue) -> (service: UInt16, translated: Bool) {
        guard let value = self.lookup(address, port: port, ipProtocol: ipProtocol) else { return (0, false) }
        guard value.backend != .unknown else { return (value.service, false) }
        destination = IPCacheValue(identity: value.backend, endpoint: 0, isLocalEndpoint: value.backendIsLocal)
        port = value.targetPort
        return (value.service, true)
    }

    @inlinable @inline(__always)
    static func key(_ address: IPAddress, port: UInt16, ipProtocol: UInt8) -> StaticHashTable<ServiceValue>.Key {
        StaticHashTable.Key(high: address.high, low: address.low, tag: UInt32(port) << 8 | UInt32(ipProtocol))
    }
}
