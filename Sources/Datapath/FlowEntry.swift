import Decoding
import FlowCore

/// One tracked connection: the conntrack entry of this system. "To server" is the
/// initiator's direction (EVE's `toserver`); `src` in output is always the initiator.
public struct FlowEntry: Sendable {
    public var key: FlowKey
    /// The VNI of the first packet (VXLAN/Geneve), and (`responseTunnelVNI`) of the first tunneled
    /// packet going the other way, the responder's unless its packet came first: with Cilium's
    /// overlay the VNI is the sender's security identity, so the two differ.
    /// (Declared here, after the 44-byte key, where it fills what would be padding.)
    public var tunnelVNI: UInt32 = 0
    /// Deterministic id: a hash of the key and the first packet's time, below 2^52
    /// so JSON readers that use doubles keep it exact.
    public var flowID: UInt64
    public var start: CaptureTime
    public var end: CaptureTime
    public var packetsToServer: UInt64 = 0
    public var packetsToClient: UInt64 = 0
    public var bytesToServer: UInt64 = 0
    public var bytesToClient: UInt64 = 0
    /// TCP flags seen from each side, OR-ed.
    public var flagsToServer: UInt16 = 0
    public var flagsToClient: UInt16 = 0
    /// True when the initiator is the key's low endpoint.
    public var initiatorIsLow: Bool
    public var ipVersion: UInt8
    public var tcpState: TCPConnectionState = .new
    /// Where the first packet was captured: the observation point on the node (and, below,
    /// the interface: 0 when the capture does not say). (Declared here, where it fills what
    /// would be padding before the history.)
    public var observationPoint: ObservationPoint = .unknown
    public var history = ConnectionHistory()
    public var phase: FlowPhase = .new

    /// ICMP type/code of the initiator's first ICMP message, and of the responder's.
    public var icmpType: UInt8 = 0
    public var icmpCode: UInt8 = 0
    public var responseICMPType: UInt8 = 0
    public var responseICMPCode: UInt8 = 0
    public var hasICMP = false
    public var hasResponseICMP = false

    /// VLAN tags and tunnel of the first packet.
    public var vlanCount: UInt8 = 0
    public var vlanIDs: (UInt16, UInt16, UInt16) = (0, 0, 0)
    public var tunnel: TunnelKind = .none
    public var tunnelDepth: UInt8 = 0
    /// The names the responder had looked up for the initiator's address when the connection
    /// started (an index into the DNS name cache's name sets, 0 = none): Hubble's
    /// `source_names`, as `destinationNameSet` is its `destination_names`. (Declared here, where
    /// it fills what would be padding before the interface.)
    public var sourceNameSet: UInt16 = 0
    public var interfaceIndex: UInt32 = 0
    public var tunnelSource: IPAddress = .zero
    public var tunnelDestination: IPAddress = .zero
    public var responseTunnelVNI: UInt32 = 0
    public var hasResponseTunnel = false
    /// The application protocol seen on the connection (`L7.AppProtocol` raw value; 0: none):
    /// Suricata's `app_proto`. (Here, with the next field, in the padding before the identities.)
    public var applicationProtocol: UInt8 = 0
    /// The names the initiator had looked up for the responder's address when the connection
    /// started (an index into the DNS name cache's name sets, 0 = none): Hubble's
    /// `destination_names`.
    public var destinationNameSet: UInt16 = 0

    /// Who is on each end (ipcache lookups when the flow started; `.unknown` without an inventory),
    /// the agent's endpoint index for names (0 = none), and the policy decisions taken then:
    /// egress at the source endpoint, ingress at the destination endpoint, each only when that
    /// side is a local endpoint. Decided once; later policy changes do not rewrite them.
    public var sourceIdentity: Identity = .unknown
    public var destinationIdentity: Identity = .unknown
    public var sourceEndpoint: UInt32 = 0
    public var destinationEndpoint: UInt32 = 0
    public var hasPolicyVerdict = false
    /// Per-connection alerts already raised (`FlowEntry.raisedInvalidFlags`, `.raisedTunnelMismatch`
    /// bits): each is raised once per connection.
    public var raisedAlerts: UInt8 = 0
    /// Which identity/policy generation judged the connection (SIGHUP reloads add one), so its
    /// record names the endpoints as that generation knew them.
    public var policyGeneration: UInt16 = 0
    public var egressEvaluated = false
    public var ingressEvaluated = false
    /// The ClusterIP service the connection was sent to (`--services`; an index into the agent's
    /// service names, 0 = none): policy judged it against the service's backends. (Declared here,
    /// where it fills the two bytes of padding before the decisions.)
    public var destinationService: UInt16 = 0
    public var egressDecision = PolicyDecision(outcome: .notEnforced)
    public var ingressDecision = PolicyDecision(outcome: .notEnforced)

    // Table bookkeeping.
    /// The table clock when the flow was last touched; orders the expiry lists.
    public internal(set) var lastActivity: Int64 = 0

    
    init(key: FlowKey, initiatorIsLow: Bool, ipVersion: UInt8, time: CaptureTime) {
        self.key = key
        self.initiatorIsLow = initiatorIsLow
        self.ipVersion = ipVersion
        self.start = time
        self.end = time
        self.flowID = 0
    }

    public var sourceAddress: IPAddress { self.initiatorIsLow ? self.key.lowAddress : self.key.highAddress }
    public var destinationAddress: IPAddress { self.initiatorIsLow ? self.key.highAddress : self.key.lowAddress }
    public var sourcePort: UInt16 { self.initiatorIsLow ? self.key.lowPort : self.key.highPort }
    public var destinationPort: UInt16 { self.initiatorIsLow ? self.key.highPort : self.key.lowPort }
    public var ipProtocol: UInt8 { self.key.ipProtocol }

    /// False when the first packet was the responder's (`ConnectionHistory.responderFirst`).
    public var firstFromInitiator: Bool { self.history.rawValue & ConnectionHistory.responderFirst == 0 }

    /// The VNI of this connection's packets from the key's low endpoint (`fromLow`) or from its
    /// high one, and whether any went that way yet: the first packet's way has the key's VNI, the
    /// other way the VNI of its first packet (0 if not VXLAN/Geneve). For `FlowTable.findSegment`.
    func tunnelWay(fromLow: Bool) -> (seen: Bool, vni: UInt32) {
        let fromInitiator = fromLow == self.initiatorIsLow
        if fromInitiator == self.firstFromInitiator { return (true, self.key.vni) }
        return (self.history.has(ConnectionHistory.sent, fromInitiator: fromInitiator),
                self.hasResponseTunnel ? self.responseTunnelVNI : 0)
    }

    /// Zeek's `conn_state` for this connection.
    public var connState: StaticString { self.history.zeekConnState(ipProtocol: self.key.ipProtocol) }

    /// True when the transport has ports worth printing (TCP, UDP, SCTP).
    public var hasPorts: Bool {
        IPProtocolNumber.carriesPorts(self.key.ipProtocol)
    }
}
