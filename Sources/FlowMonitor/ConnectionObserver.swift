import Agent
import Datapath

/// Collects every new connection a processor judges, as the advisor needs it (initiator and
/// responder addresses, protocol, the responder's port or the ICMP type), with how often each
/// was seen. Used by `flowmon policy advise` on a single-pass replay (one thread: the observer is
/// not synchronised, so it must not be shared by pipeline workers); the normal datapath runs
/// without one.
public final class ConnectionObserver: @unchecked Sendable {
    public private(set) var connections: [ObservedConnection: Int] = [:]
    public private(set) var total = 0

    public init() {}

    /// `port`: the responder's port or the ICMP type, as `PolicyContext.classify` judged it.
    func observe(_ flow: FlowEntry, port: UInt16) {
        let connection = ObservedConnection(source: flow.sourceAddress, destination: flow.destinationAddress,
                                            ipProtocol: flow.ipProtocol, port: port)
        self.connections[connection, default: 0] += 1
        self.total += 1
    }
}
