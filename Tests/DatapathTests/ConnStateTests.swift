import Datapath
import Decoding
import FlowCore
import Testing

/// Zeek `conn_state` and flowmon's TCP state for packet sequences, one row per state as
/// defined in Zeek's base/protocols/conn/main.zeek. `true` = from the initiator (port 40000).
struct ConnStateTests {
    static let rows: [(String, [(Bool, UInt16)], String, TCPConnectionState)] = [
        ("S0", [(true, SYN)], "S0", .synSent),
        ("S0 retransmitted", [(true, SYN), (true, SYN)], "S0", .synSent),
        ("S1", [(true, SYN), (false, SYN | ACK), (true, ACK), (true, PSH | ACK), (false, ACK)], "S1", .established),
        ("SF", [(true, SYN), (false, SYN | ACK), (true, ACK), (true, FIN | ACK), (false, FIN | ACK), (true, ACK)], "SF", .closed),
        ("REJ", [(true, SYN), (false, RST | ACK)], "REJ", .reset),
        ("RSTO", [(true, SYN), (false, SYN | ACK), (true, ACK), (true, RST)], "RSTO", .reset),
        ("RSTR", [(true, SYN), (false, SYN | ACK), (true, ACK), (false, RST)], "RSTR", .reset),
        ("RSTO first", [(true, SYN), (false, SYN | ACK), (true, ACK), (true, RST), (false, RST)], "RSTO", .reset),
        ("RSTOS0", [(true, SYN), (true, RST)], "RSTOS0", .reset),
        ("RSTRH", [(false, SYN | ACK), (false, RST)], "RSTRH", .reset),
        ("SH", [(true, SYN), (true, FIN)], "SH", .closing),
        ("SHR", [(false, SYN | ACK), (false, FIN | ACK)], "SHR", .closing),
        ("OTH midstream", [(true, PSH | ACK), (false, ACK)], "OTH", .established),
        ("OTH one-way", [(true, ACK)], "OTH", .new),
        ("S2", [(true, SYN), (false, SYN | ACK), (true, ACK), (true, FIN | ACK)], "S2", .closing),
        ("S3", [(true, SYN), (false, SYN | ACK), (true, ACK), (false, FIN | ACK)], "S3", .closing),
        ("SYN-ACK lost: no handshake reply seen, as Zeek reports it", [(true, SYN), (false, ACK), (true, ACK)], "OTH", .established),
    ]

    @Test(arguments: rows)
    func sequenceGivesZeekConnState(name: String, packets: [(Bool, UInt16)], expected: String, tcpState: TCPConnectionState) {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        for (index, (fromInitiator, flags)) in packets.enumerated() {
            let packet = fromInitiator ? Packet.tcp(1, 40000, 2, 80, flags) : Packet.tcp(2, 80, 1, 40000, flags)
            table.record(packet, time: Packet.at(Double(index)), length: 60, onEnd: ended.callAsFunction)
        }
        table.flushAll(onEnd: ended.callAsFunction)
        #expect(ended.flows.count == 1, "\(name)")
        let flow = ended.flows[0].0
        #expect(flow.connState.description == expected, "\(name)")
        #expect(flow.tcpState == tcpState, "\(name)")
        #expect(flow.sourcePort == 40000, "\(name): the initiator is the port-40000 side")
    }

    /// EVE's `tcp.state` in Suricata's vocabulary (its stream engine's states): a half-closed
    /// session is named from the responder's side, a RST closes it, and no handshake is `none`.
    static let eveStates: [String: String] = [
        "S0": "syn_sent", "S0 retransmitted": "syn_sent", "S1": "established", "SF": "closed", "REJ": "closed",
        "RSTO": "closed", "RSTR": "closed", "RSTO first": "closed", "RSTOS0": "closed", "RSTRH": "closed",
        "SH": "close_wait", "SHR": "fin_wait1", "OTH midstream": "established", "OTH one-way": "none",
        "S2": "close_wait", "S3": "fin_wait1",
        "SYN-ACK lost: no handshake reply seen, as Zeek reports it": "established",
    ]

    @Test(arguments: rows)
    func sequenceGivesSuricatasTCPState(name: String, packets: [(Bool, UInt16)], expected: String, tcpState: TCPConnectionState) {
        let table = FlowTable(capacity: 4)
        let ended = EndedFlows()
        for (index, (fromInitiator, flags)) in packets.enumerated() {
            let packet = fromInitiator ? Packet.tcp(1, 40000, 2, 80, flags) : Packet.tcp(2, 80, 1, 40000, flags)
            table.record(packet, time: Packet.at(Double(index)), length: 60, onEnd: ended.callAsFunction)
        }
        table.flushAll(onEnd: ended.callAsFunction)
        let flow = ended.flows[0].0
        let state = flow.tcpState.eveName(initiatorSentFIN: flow.history.has(ConnectionHistory.fin, fromInitiator: true))
        #expect(state.description == Self.eveStates[name], "\(name)")
    }
}
