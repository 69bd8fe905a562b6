import FlowCore

/// Idle timeouts per flow state, in the spirit of Suricata's `FlowProtoTimeout`
/// (new 30 s, established 300 s, closed 10 s are its TCP defaults).
public struct FlowTimeouts: Sendable, Equatable {
    /// A flow that has not seen a reply (or, for TCP, not completed its handshake).
    public var new: Duration
    /// A flow that has seen traffic both ways and is not closed.
    public var established: Duration
    /// A TCP connection closed by FIN both ways or reset.
    public var closed: Duration

    public init(new: Duration = .seconds(30), established: Duration = .seconds(300), closed: Duration = .seconds(10)) {
        self.new = new
        self.established = established
        self.closed = closed
    }

    @inlinable
    public func nanoseconds(for phase: FlowPhase) -> Int64 {
        switch phase {
        case .new: self.new.flowmonNanoseconds
        case .established: self.established.flowmonNanoseconds
        case .closed: self.closed.flowmonNanoseconds
        }
    }
}

/// The coarse flow state that selects the timeout, and EVE's `flow.state`.
public enum FlowPhase: UInt8, Sendable, CaseIterable {
    case new = 0
    case established = 1
    case closed = 2

    public var name: StaticString {
        switch self {
        case .new: "new"
        case .established: "established"
        case .closed: "closed"
        }
    }
}

/// Why a flow record was written (EVE `flow.reason`).
public enum FlowEndReason: UInt8, Sendable {
    /// Idle longer than its state's timeout, measured in packet time.
    case timeout
    /// Removed to make room when the table was full (`--max-flows`).
    case evicted
    /// A new TCP SYN reused the 5-tuple of a closed connection (Suricata's `tcp_reuse`).
    case tcpReuse
    /// Still open when the input ended or the process was asked to stop.
    case shutdown

    public var name: StaticString {
        switch self {
        case .timeout: "timeout"
        case .evicted: "evicted"
        case .tcpReuse: "tcp_reuse"
        case .shutdown: "shutdown"
        }
    }
}

/// Whether a tunnel's VNI is part of the connection key (`--tunnel-key`, docs/output.md "Tunnels").
public enum TunnelKeyMode: String, Sendable, CaseIterable {
    /// Each direction of a connection keeps the VNI of its first packet; the two may differ.
    /// A packet joins the connection of its 5-tuple whose VNI in its own direction is the
    /// packet's; failing that, one whose other direction is still silent: the one whose first
    /// VNI is the packet's (one segment both ways, RFC 7348 and RFC 8926; flannel's VNI 1), or
    /// else the only one (Cilium's overlay, where the VNI is the sender's security identity, so a
    /// reply's differs). Otherwise the packet starts a connection: the same 5-tuple in another
    /// segment. A packet outside VXLAN/Geneve has no VNI and shares connections only with others
    /// that have none. At most `FlowTable.maxSegments` connections per 5-tuple. Found in `FlowTable.findSegment`.
    case auto
    /// The same inner 5-tuple under two VNIs is two connections, whatever the direction
    /// (VXLAN/Geneve segments as RFC 7348 and RFC 8926 define them).
    case vni
    /// The VNI is ignored for keying: one connection per inner 5-tuple, whatever its VNIs.
    case none
}
