import Decoding

/// A TCP connection's state as flowmon tracks it from both directions (RFC 9293 §3.3.2,
/// simplified to what an observer can see; midstream pickup as Linux conntrack's loose mode).
public enum TCPConnectionState: UInt8, Sendable {
    /// No handshake packet seen yet (midstream traffic, one direction only).
    case new = 0
    /// The initiator's SYN was seen.
    case synSent
    /// The responder's SYN-ACK was seen.
    case synReceived
    /// Handshake completed, or midstream traffic seen both ways.
    case established
    /// One side sent FIN.
    case closing
    /// Both sides sent FIN.
    case closed
    /// A RST was seen.
    case reset

    /// The state as Suricata's EVE `tcp.state` names it (its stream engine's session states,
    /// `stream-tcp.c`: none, syn_sent, syn_recv, established, fin_wait1, fin_wait2, time_wait,
    /// last_ack, close_wait, closing, closed). Suricata names a half-closed session from the
    /// responder's side: the initiator's FIN gives `close_wait`, the responder's `fin_wait1`.
    /// A RST closes the session (`closed`, as Suricata's `StreamTcpCloseSsnWithReset`); so do
    /// FINs both ways. No handshake packet seen is `none`.
    public func eveName(initiatorSentFIN: Bool) -> StaticString {
        switch self {
        case .new: "none"
        case .synSent: "syn_sent"
        case .synReceived: "syn_recv"
        case .established: "established"
        case .closing: initiatorSentFIN ? "close_wait" : "fin_wait1"
        case .closed, .reset: "closed"
        }
    }
}

/// What each side of a connection has done, as bits; Zeek's `conn_state` is derived from it.
@frozen
public struct ConnectionHistory: Sendable, Equatable {
    public var rawValue: UInt16

    @inlinable public init(rawValue: UInt16 = 0) { self.rawValue = rawValue }

    // Bits for the initiator (originator); the responder's are shifted by `responderShift`.
    public static let syn: UInt16 = 0x01        // SYN without ACK
    public static let synAck: UInt16 = 0x02     // SYN with ACK
    public static let fin: UInt16 = 0x04
    public static let rst: UInt16 = 0x08
    public static let sent: UInt16 = 0x10       // any packet
    public static let responderShift: UInt16 = 5
    /// Set when the initiator sent the first RST of the connection.
    public static let initiatorResetFirst: UInt16 = 0x400
    /// Set when the connection's first packet was the responder's (a SYN-ACK or a reply seen
    /// before anything from the initiator; Zeek's `^`, "direction flipped").
    public static let responderFirst: UInt16 = 0x800

    public func has(_ bit: UInt16, fromInitiator: Bool) -> Bool {
        self.rawValue & (fromInitiator ? bit : bit << Self.responderShift) != 0
    }

    public mutating func insert(_ bit: UInt16, fromInitiator: Bool) {
        self.rawValue |= fromInitiator ? bit : bit << Self.responderShift
    }
}

extension ConnectionHistory {
    /// Zeek's `conn_state` (base/protocols/conn/main.zeek) for a connection with this
    /// history. For non-TCP protocols: S0 (no reply), SF (both directions), SHR (only the
    /// responder was seen, e.g. an ICMP reply captured without its request).
    public func zeekConnState(ipProtocol: UInt8) -> StaticString {
        let initiatorSent = self.has(Self.sent, fromInitiator: true)
        let responderSent = self.has(Self.sent, fromInitiator: false)
        guard ipProtocol == 6 else {
            if initiatorSent && responderSent { return "SF" }
            return initiatorSent ? "S0" : "SHR"
        }
        let syn = self.has(Self.syn, fromInitiator: true)
        let synAck = self.has(Self.synAck, fromInitiator: false)
        let initiatorFin = self.has(Self.fin, fromInitiator: true)
        let responderFin = self.has(Self.fin, fromInitiator: false)
        let initiatorRst = self.has(Self.rst, fromInitiator: true)
        let responderRst = self.has(Self.rst, fromInitiator: false)

        if !syn && !synAck { return "OTH" }  // midstream: no handshake packet seen
        if syn && !synAck {
            if responderRst { return "REJ" }  // SYN answered by RST
            if initiatorRst { return "RSTOS0" }  // SYN, then the originator reset
            if initiatorFin { return "SH" }  // SYN, then FIN, no SYN-ACK
            return responderSent ? "OTH" : "S0"
        }
        if synAck && !syn && !initiatorSent {  // only the responder's half of a handshake was seen
            if responderRst { return "RSTRH" }
            if responderFin { return "SHR" }
            return "OTH"
        }
        if initiatorRst || responderRst {
            return self.rawValue & Self.initiatorResetFirst != 0 ? "RSTO" : "RSTR"
        }
        if initiatorFin && responderFin { return "SF" }
        if initiatorFin { return "S2" }
        if responderFin { return "S3" }
        return "S1"
    }
}
