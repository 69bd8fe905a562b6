import FlowCore

/// What the datapath emits, each a fixed-size value carrying a copy of the connection's entry
/// and its place in single-pass order (`EmissionKey`): Cilium's datapath reports to its agent
/// the same way, by trace, policy-verdict and drop events on a ring.
public enum DatapathEvent {
    /// A new connection was judged (ipcache → service → policy maps); `firstPacketFlags` are
    /// the TCP flags of its first packet (0 for other protocols). Only with a policy loaded.
    case connectionJudged(FlowEntry, firstPacketFlags: UInt16, key: EmissionKey)
    /// A per-connection check found something about the connection (`ConnectionChecks`).
    case finding(ConnectionFinding, FlowEntry, time: CaptureTime, key: EmissionKey)
    /// A connection ended: timed out, evicted, ended by port reuse, or at shutdown.
    case connectionEnded(FlowEntry, reason: FlowEndReason, key: EmissionKey)
}

/// Receives the datapath's events as they happen, on the datapath's thread. The datapath is
/// generic over its sink (no existential on the packet path).
public protocol DatapathEventSink: AnyObject {
    func receive(_ event: DatapathEvent)
}

/// Where an event stands in the output order a single pass over the capture gives: the event
/// (packet, sweep, end) that emitted it, then the order inside that event (expiry deadline or
/// start time, then flow id). Workers tag what they emit with it, so the pipeline can merge
/// their output into exactly the single-worker order.
public struct EmissionKey: Comparable, Sendable {
    public var event: UInt64
    public var primary: Int64
    public var secondary: UInt64
    /// 0 for flow records; alerts raised about a record's connection follow it (1, 2, …).
    public var alertOrder: UInt64 = 0

    public init(event: UInt64, primary: Int64, secondary: UInt64, alertOrder: UInt64 = 0) {
        self.event = event
        self.primary = primary
        self.secondary = secondary
        self.alertOrder = alertOrder
    }

    public static func < (a: EmissionKey, b: EmissionKey) -> Bool {
        (a.event, a.primary, a.secondary, a.alertOrder) < (b.event, b.primary, b.secondary, b.alertOrder)
    }
}
