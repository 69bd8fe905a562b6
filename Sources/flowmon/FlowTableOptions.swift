import ArgumentParser
import Datapath
import FlowMonitor

/// Flow-table options shared by every subcommand that tracks flows.
struct FlowTableOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Most connections tracked at once; when full, the least recently active one is written out with reason 'evicted'.", valueName: "n"))
    var maxFlows = ProcessorConfiguration.defaultMaxFlows

    @Option(help: ArgumentHelp("Seconds a connection without a reply (or an unfinished TCP handshake) may stay idle.", valueName: "seconds"))
    var timeoutNew: Double = 30

    @Option(help: ArgumentHelp("Seconds an established connection may stay idle.", valueName: "seconds"))
    var timeoutEstablished: Double = 300

    @Option(help: ArgumentHelp("Seconds a TCP connection closed by FIN or RST is kept for late packets.", valueName: "seconds"))
    var timeoutClosed: Double = 10

    @Option(help: ArgumentHelp("Most fragmented datagrams waiting for their first fragment (which carries the ports); when full, the oldest is dropped and counted as 'fragments.evicted'.", valueName: "n"))
    var maxFragments = 8_192

    @Option(help: ArgumentHelp("Seconds the fragments of a datagram wait for its first fragment.", valueName: "seconds"))
    var timeoutFragments: Double = 60

    @Option(help: ArgumentHelp("How a VXLAN/Geneve VNI is part of the connection key: 'auto' keeps each direction's VNI, joins a reply whose VNI differs (Cilium's overlay: the VNI is the sender's security identity) and keeps one inner 5-tuple in two segments apart when one direction shows both VNIs; 'vni' keeps every VNI apart; 'none' ignores the VNI.", valueName: "auto|vni|none"))
    var tunnelKey: TunnelKeyMode = .auto

    func validate() throws {
        guard self.maxFlows > 0 && self.maxFlows <= 1 << 28 else {
            throw ValidationError("'--max-flows' must be between 1 and \(1 << 28), got \(self.maxFlows).")
        }
        guard self.maxFragments > 0 && self.maxFragments <= 1 << 24 else {
            throw ValidationError("'--max-fragments' must be between 1 and \(1 << 24), got \(self.maxFragments).")
        }
        for (name, value) in [("--timeout-new", self.timeoutNew), ("--timeout-established", self.timeoutEstablished),
                              ("--timeout-closed", self.timeoutClosed), ("--timeout-fragments", self.timeoutFragments)]
        where !(value > 0 && value <= 86_400 * 365) {
            throw ValidationError("'\(name)' must be a number of seconds above 0, got \(value).")
        }
    }

    var configuration: ProcessorConfiguration {
        ProcessorConfiguration(
            maxFlows: self.maxFlows,
            timeouts: FlowTimeouts(new: .seconds(self.timeoutNew), established: .seconds(self.timeoutEstablished),
                                   closed: .seconds(self.timeoutClosed)),
            tunnelKey: self.tunnelKey,
            maxFragmentDatagrams: self.maxFragments, fragmentTimeout: .seconds(self.timeoutFragments))
    }
}

extension TunnelKeyMode: ExpressibleByArgument {}
