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
/// port as it does after Cilium's socket or BPF load balancer. Lookups allocate nothing; the
/// table holds at most 1/2 load with linear probing. The first entry of a duplicate key is kept.
public struct ServiceTable: Sendable {
    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var high: UInt64
        @usableFromInline var low: UInt64
        @usableFromInline var port: UInt16
        @usableFromInline var ipProtocol: UInt8
        /// False for a free slot.
        @usableFromInline var used: Bool
        @usableFromInline var value: ServiceValue
    }

    @usableFromInline let slots: [Slot]
    @usableFromInline let mask: Int
    /// The number of distinct keys stored.
    public let count: Int

    /// An empty table: nothing is translated.
    public init() {
        self.init([])
    }

    public init(_ entries: [ServiceTableEntry]) {
        var slotCount = 16
        while slotCount < entries.count * 2 { slotCount <<= 1 }
        let empty = Slot(high: 0, low: 0, port: 0, ipProtocol: 0, used: false,
                         value: ServiceValue(service: 0, backend: .unknown, targetPort: 0, backendIsLocal: false))
        var slots = [Slot](repeating: empty, count: slotCount)
        let mask = slotCount - 1
        var stored = 0
        for entry in entries {
            var slot = Self.slotIndex(entry.address, port: entry.port, ipProtocol: entry.ipProtocol, mask: mask)
            var duplicate = false
            while slots[slot].used {
                if slots[slot].high == entry.address.high && slots[slot].low == entry.address.low
                    && slots[slot].port == entry.port && slots[slot].ipProtocol == entry.ipProtocol {
                    duplicate = true
                    break
                }
                slot = (slot + 1) & mask
            }
            if duplicate { continue }
            slots[slot] = Slot(high: entry.address.high, low: entry.address.low, port: entry.port,
                               ipProtocol: entry.ipProtocol, used: true, value: entry.value)
            stored += 1
        }
        self.slots = slots
        self.mask = mask
        self.count = stored
    }

    public var isEmpty: Bool { self.count == 0 }

    /// The service port at this address, port and protocol, or nil. Allocation-free.
    @inlinable
    public func lookup(_ address: IPAddress, port: UInt16, ipProtocol: UInt8) -> ServiceValue? {
        guard self.count > 0 else { return nil }
        let mask = self.mask
        return self.slots.withUnsafeBufferPointer { slots in
            var slot = Self.slotIndex(address, port: port, ipProtocol: ipProtocol, mask: mask)
            while true {
                let candidate = slots.baseAddress.unsafelyUnwrapped + slot
                if !candidate.pointee.used { return nil }
                if candidate.pointee.low == address.low && candidate.pointee.high == address.high
                    && candidate.pointee.port == port && candidate.pointee.ipProtocol == ipProtocol {
                    return candidate.pointee.value
                }
                slot = (slot &+ 1) & mask
            }
        }
    }

    /// Translates a new connection's destination as the load balancer would before policy:
    /// when `address`:`port`/`ipProtocol` is a service port with known backends, `destination`
    /// becomes the backends' identity (no endpoint: which backend pod got it is not known) and
    /// `port` their target port. Returns the service index (0 when no service port matched), which
    /// is also returned for a service without known backends, whose destination is left as it is.
    @inlinable
    public func translate(_ address: IPAddress, port: inout UInt16, ipProtocol: UInt8,
                          destination: inout IPCacheValue) -> UInt16 {
        guard let value = self.lookup(address, port: port, ipProtocol: ipProtocol) else { return 0 }
        if value.backend != .unknown {
            destination = IPCacheValue(identity: value.backend, endpoint: 0, isLocalEndpoint: value.backendIsLocal)
            port = value.targetPort
        }
        return value.service
    }

    @inlinable @inline(__always)
    static func slotIndex(_ address: IPAddress, port: UInt16, ipProtocol: UInt8, mask: Int) -> Int {
        var hash = address.high &* 0x9e37_79b9_7f4a_7c15
        hash ^= (address.low ^ (UInt64(port) << 40) ^ (UInt64(ipProtocol) << 56)) &* 0xc2b2_ae3d_27d4_eb4f
        hash ^= hash >> 31
        hash = hash &* 0x94d0_49bb_1331_11eb
        return Int(truncatingIfNeeded: hash >> 32) & mask
    }
}
