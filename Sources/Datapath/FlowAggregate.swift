import FlowCore

/// What the eBPF datapath's mode 2 counted in the kernel for one connection since the last
/// read (`flowmon capture --ebpf-mode flows`): packets, bytes and TCP flags each way, relative to
/// the key's order (from its low endpoint, from its high one), and the time of the latest packet.
/// User space reads the kernel's flow map at every sweep and hands each non-zero difference to
/// the worker that owns the connection (`FlowTable.apply(_:onEnd:)`): per connection, not per
/// packet. The packets themselves never reach user space, so they add to the counts and the
/// times only: the connection's first packet each way and every TCP state change came up as
/// records and were decoded and judged as in mode 1.
@frozen
public struct FlowAggregate: Sendable, Equatable {
    /// The connection's key (VNI 0: the kernel aggregates no tunneled packet).
    public var key: FlowKey
    public var packetsFromLow: UInt64
    public var packetsFromHigh: UInt64
    public var bytesFromLow: UInt64
    public var bytesFromHigh: UInt64
    public var flagsFromLow: UInt16
    public var flagsFromHigh: UInt16
    /// The latest packet of the connection the kernel saw.
    public var last: CaptureTime

    public init(key: FlowKey, packetsFromLow: UInt64, packetsFromHigh: UInt64, bytesFromLow: UInt64,
                bytesFromHigh: UInt64, flagsFromLow: UInt16 = 0, flagsFromHigh: UInt16 = 0, last: CaptureTime) {
        self.key = key
        self.packetsFromLow = packetsFromLow
        self.packetsFromHigh = packetsFromHigh
        self.bytesFromLow = bytesFromLow
        self.bytesFromHigh = bytesFromHigh
        self.flagsFromLow = flagsFromLow
        self.flagsFromHigh = flagsFromHigh
        self.last = last
    }

    /// Who started a connection user space no longer has when its aggregate arrives (it was
    /// evicted, or ended): the one side that sent, else for ports the side with the higher
    /// (ephemeral) port, as a client's usually is; else the low endpoint. A guess, as for a
    /// connection picked up midstream: the packets that would say are gone.
    var initiatorIsLow: Bool {
        if self.packetsFromHigh == 0 { return true }
        if self.packetsFromLow == 0 { return false }
        return IPProtocolNumber.carriesPorts(self.key.ipProtocol) ? self.key.lowPort >= self.key.highPort : true
    }
}

extension FlowEntry {
    /// Adds a kernel aggregate (`FlowTable.apply(_:onEnd:)`).
    mutating func apply(_ aggregate: FlowAggregate) {
        if self.end < aggregate.last { self.end = aggregate.last }
        if aggregate.last < self.start { self.start = aggregate.last }
        let lowIsInitiator = self.initiatorIsLow
        let toServer = lowIsInitiator
            ? (aggregate.packetsFromLow, aggregate.bytesFromLow, aggregate.flagsFromLow)
            : (aggregate.packetsFromHigh, aggregate.bytesFromHigh, aggregate.flagsFromHigh)
        let toClient = lowIsInitiator
            ? (aggregate.packetsFromHigh, aggregate.bytesFromHigh, aggregate.flagsFromHigh)
            : (aggregate.packetsFromLow, aggregate.bytesFromLow, aggregate.flagsFromLow)
        let isTCP = self.key.ipProtocol == IPProtocolNumber.tcp
        if toServer.0 > 0 {
            self.packetsToServer &+= toServer.0
            self.bytesToServer &+= toServer.1
            if isTCP { self.flagsToServer |= toServer.2 }
            self.history.insert(ConnectionHistory.sent, fromInitiator: true)
        }
        if toClient.0 > 0 {
            self.packetsToClient &+= toClient.0
            self.bytesToClient &+= toClient.1
            if isTCP { self.flagsToClient |= toClient.2 }
            self.history.insert(ConnectionHistory.sent, fromInitiator: false)
        }
        // No flag moves the state here; a connection created from an aggregate is picked up
        // midstream, as by its first packets (`advanceTCP` with no flags does only that).
        if isTCP { self.advanceTCP(flags: 0, fromInitiator: true) }
        self.updatePhase(isTCPHeader: isTCP)
    }
}
