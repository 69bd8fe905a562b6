import Decoding
import FlowCore

/// The flow-table view of one packet: its canonical key and what it says about who
/// started the connection.
struct PacketObservation {
    var key: FlowKey
    /// The packet travels from the key's low endpoint to its high one.
    var fromLow: Bool
    /// If this packet creates the flow, whether the initiator is the low endpoint: the
    /// sender, unless the packet is a reply (a SYN-ACK, an ICMP echo reply), in which
    /// case the receiver started the connection.
    var initiatorIsLow: Bool
    /// A TCP SYN without ACK: may start a new connection on a closed 5-tuple.
    var startsNewConnection: Bool
    var ipVersion: UInt8

    init(key: FlowKey, fromLow: Bool, initiatorIsLow: Bool, startsNewConnection: Bool, ipVersion: UInt8) {
        self.key = key
        self.fromLow = fromLow
        self.initiatorIsLow = initiatorIsLow
        self.startsNewConnection = startsNewConnection
        self.ipVersion = ipVersion
    }

    init(_ summary: borrowing PacketSummary, tunnelKey: TunnelKeyMode) {
        var sourcePort: UInt16 = 0
        var destinationPort: UInt16 = 0
        var isReply = false
        var startsNew = false
        if summary.hasPorts {
            sourcePort = summary.sourcePort
            destinationPort = summary.destinationPort
            if summary.ipProtocol == IPProtocolNumber.tcp, summary.tcpHeaderLength > 0 {
                let syn = summary.tcpFlags & TCPFlag.syn != 0
                let ack = summary.tcpFlags & TCPFlag.ack != 0
                isReply = syn && ack
                startsNew = syn && !ack
            }
        } else if summary.hasICMP {
            switch ICMPType.role(summary.icmpType, ipv6: summary.ipVersion == 6) {
            case .request:
                sourcePort = summary.icmpIdentifier
                destinationPort = summary.icmpIdentifier
            case .reply:
                sourcePort = summary.icmpIdentifier
                destinationPort = summary.icmpIdentifier
                isReply = true
            case _ where summary.quotesConnection:
                // An error about a connection the table does not track (a tracked one takes it,
                // `FlowTable.recordRelated`): keyed by type and code, and by 16 bits of the quoted
                // connection's address-pair hash, which also picks the pipeline's shard for it, so
                // its flow is the same whatever the number of workers.
                sourcePort = UInt16(summary.icmpType) << 8 | UInt16(summary.icmpCode)
                destinationPort = UInt16(truncatingIfNeeded: FlowKey.addressPairHash(
                    summary.quotedSource, summary.quotedDestination, ipProtocol: summary.quotedProtocol))
            default:
                sourcePort = UInt16(summary.icmpType)
                destinationPort = UInt16(summary.icmpCode)
            }
        }
        let (key, fromLow) = FlowKey.canonical(
            source: summary.source, sourcePort: sourcePort, destination: summary.destination,
            destinationPort: destinationPort, ipProtocol: summary.ipProtocol, vni: Self.keyVNI(summary, tunnelKey))
        self.key = key
        self.fromLow = fromLow
        self.initiatorIsLow = isReply ? !fromLow : fromLow
        self.startsNewConnection = startsNew
        self.ipVersion = summary.ipVersion
    }
}

extension PacketObservation {
    /// The connection an ICMP error quotes, keyed as that connection's own packets are, and
    /// whether the quoted packet went from the key's low endpoint to its high one.
    static func quotedConnection(_ summary: PacketSummary, tunnelKey: TunnelKeyMode) -> (key: FlowKey, fromLow: Bool) {
        FlowKey.canonical(
            source: summary.quotedSource, sourcePort: summary.quotedSourcePort, destination: summary.quotedDestination,
            destinationPort: summary.quotedDestinationPort, ipProtocol: summary.quotedProtocol,
            vni: Self.keyVNI(summary, tunnelKey))
    }

    /// The VNI that goes into the packet's keys: its tunnel's, unless not tunneled or `--tunnel-key none`.
    /// (With `auto` the table's index leaves it out and `FlowTable.findSegment` compares it.)
    static func keyVNI(_ summary: borrowing PacketSummary, _ tunnelKey: TunnelKeyMode) -> UInt32 {
        summary.tunnel == .none || tunnelKey == .none ? 0 : summary.tunnelVNI
    }
}

extension PacketSummary {
    /// An ICMP error that belongs to the connection it quotes (RFC 792, RFC 4443 §2.4: the
    /// quote lets the sender find that connection): destination unreachable, time exceeded and
    /// parameter problem, and ICMPv6's packet too big, as in Cilium's conntrack, which looks
    /// these up by the quoted tuple and lets them through as `CT_RELATED`, without policy
    /// (bpf/lib/conntrack.h). Source quench and redirect are not; nor is a fragment.
    @inlinable
    public var quotesConnection: Bool {
        guard self.hasICMP && self.hasQuotedPacket && !self.isFragment else { return false }
        return ICMPType.role(self.icmpType, ipv6: self.ipProtocol == IPProtocolNumber.icmpv6) == .connectionError
    }
}

extension FlowEntry {
    /// Accounts an ICMP error about this connection: its packets and bytes, and, for the first
    /// one sent back to the initiator, its type and code as `response_icmp_*`. It is no packet
    /// of the transport: TCP state, history (`conn_state`) and phase do not change.
    mutating func applyRelatedError(_ summary: PacketSummary, fromInitiator: Bool, time: CaptureTime, length: UInt32) {
        if time < self.start { self.start = time }
        if self.end < time { self.end = time }
        if fromInitiator {
            self.packetsToServer &+= 1
            self.bytesToServer &+= UInt64(length)
        } else {
            self.packetsToClient &+= 1
            self.bytesToClient &+= UInt64(length)
            if !self.hasResponseICMP {
                self.hasResponseICMP = true
                self.responseICMPType = summary.icmpType
                self.responseICMPCode = summary.icmpCode
            }
        }
    }

    /// Accounts one packet and advances the connection state.
    
    mutating func apply(_ summary: borrowing PacketSummary, fromInitiator: Bool, time: CaptureTime,
                        length: UInt32, extraPackets: UInt64, extraBytes: UInt64)
    {
        let isFirstPacket = self.packetsToServer == 0 && self.packetsToClient == 0
        if isFirstPacket {
            if !fromInitiator { self.history.rawValue |= ConnectionHistory.responderFirst }
            self.interfaceIndex = summary.interfaceIndex
            self.observationPoint = summary.observationPoint
            self.vlanCount = summary.vlanCount
            self.vlanIDs = summary.vlanIDs
            self.tunnel = summary.tunnel
            self.tunnelDepth = summary.tunnelDepth
            self.tunnelSource = summary.tunnelSource
            self.tunnelDestination = summary.tunnelDestination
            self.tunnelVNI = summary.tunnelVNI
        } else if fromInitiator != self.firstFromInitiator, !self.hasResponseTunnel, summary.tunnel != .none {
            self.hasResponseTunnel = true
            self.responseTunnelVNI = summary.tunnelVNI
        }
        if time < self.start { self.start = time }
        if self.end < time { self.end = time }
        // Not `&&`: its autoclosure cannot capture a borrowed parameter.
        let isTCPHeader = summary.ipProtocol == IPProtocolNumber.tcp ? summary.tcpHeaderLength > 0 : false
        let flags = isTCPHeader ? summary.tcpFlags : 0
        if fromInitiator {
            self.packetsToServer &+= 1 &+ extraPackets
            self.bytesToServer &+= UInt64(length) &+ extraBytes
            self.flagsToServer |= flags
        } else {
            self.packetsToClient &+= 1 &+ extraPackets
            self.bytesToClient &+= UInt64(length) &+ extraBytes
            self.flagsToClient |= flags
        }
        self.history.insert(ConnectionHistory.sent, fromInitiator: fromInitiator)

        if summary.hasICMP {
            if fromInitiator, !self.hasICMP {
                self.hasICMP = true
                self.icmpType = summary.icmpType
                self.icmpCode = summary.icmpCode
            } else if !fromInitiator, !self.hasResponseICMP {
                self.hasResponseICMP = true
                self.responseICMPType = summary.icmpType
                self.responseICMPCode = summary.icmpCode
            }
        }

        if isTCPHeader { self.advanceTCP(flags: flags, fromInitiator: fromInitiator) }
        self.updatePhase(isTCPHeader: isTCPHeader)
    }

    /// The phase (which timeout applies) after a packet or a kernel aggregate: TCP's from its
    /// state; another protocol's is established once both sides sent.
    mutating func updatePhase(isTCPHeader: Bool) {
        let bothSides = self.history.has(ConnectionHistory.sent, fromInitiator: true)
            && self.history.has(ConnectionHistory.sent, fromInitiator: false)
        if isTCPHeader {
            switch self.tcpState {
            case .closed, .reset: self.phase = .closed
            case .established: self.phase = .established
            case .closing: self.phase = bothSides ? .established : .new  // a FIN without any reply is no conversation
            case .new, .synSent, .synReceived: self.phase = .new
            }
        } else if self.key.ipProtocol != IPProtocolNumber.tcp {
            if bothSides && self.phase == .new { self.phase = .established }
        }
    }

    /// The observer's TCP state machine (RFC 9293 §3.3.2 as seen from the wire).
    
    mutating func advanceTCP(flags: UInt16, fromInitiator: Bool) {
        let syn = flags & TCPFlag.syn != 0
        let ack = flags & TCPFlag.ack != 0
        let fin = flags & TCPFlag.fin != 0
        let rst = flags & TCPFlag.rst != 0
        if syn { self.history.insert(ack ? ConnectionHistory.synAck : ConnectionHistory.syn, fromInitiator: fromInitiator) }
        if fin { self.history.insert(ConnectionHistory.fin, fromInitiator: fromInitiator) }
        if rst {
            let anyResetBefore = self.history.has(ConnectionHistory.rst, fromInitiator: true)
                || self.history.has(ConnectionHistory.rst, fromInitiator: false)
            if !anyResetBefore && fromInitiator { self.history.rawValue |= ConnectionHistory.initiatorResetFirst }
            self.history.insert(ConnectionHistory.rst, fromInitiator: fromInitiator)
            self.tcpState = .reset
            return
        }
        switch self.tcpState {
        case .closed, .reset:
            return
        case _ where fin:
            let bothFin = self.history.has(ConnectionHistory.fin, fromInitiator: true)
                && self.history.has(ConnectionHistory.fin, fromInitiator: false)
            self.tcpState = bothFin ? .closed : .closing
        case .new:
            if syn {
                self.tcpState = ack ? .synReceived : .synSent
            } else if self.history.has(ConnectionHistory.sent, fromInitiator: true)
                        && self.history.has(ConnectionHistory.sent, fromInitiator: false) {
                self.tcpState = .established  // midstream pickup: traffic seen both ways
            }
        case .synSent:
            if !fromInitiator && syn && ack {
                self.tcpState = .synReceived
            } else if !fromInitiator && ack && !syn {
                self.tcpState = .established  // the SYN-ACK was not captured
            }
        case .synReceived:
            if fromInitiator && ack && !syn { self.tcpState = .established }
        case .established, .closing:
            return
        }
    }
}
