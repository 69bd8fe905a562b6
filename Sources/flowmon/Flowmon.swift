import ArgumentParser

@main
struct Flowmon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowmon",
        abstract: "Turn packets into flows on a Kubernetes node, written as JSON lines.",
        discussion: """
            flowmon decodes packets (Ethernet, Linux cooked, raw IP; VLAN, MPLS; IPv4/IPv6 with \
            options, extension headers and fragments; TCP, UDP, SCTP, ICMP; GRE, VXLAN and Geneve \
            overlays), tracks each connection in both directions, and writes one Suricata-EVE-style \
            JSON line per connection when it ends, then a stats line. Given the cluster's pods and its \
            CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy objects, each \
            connection also carries the pods, identities and the verdict Cilium would give it, with \
            the policies responsible.
            """,
        version: "0.1.0",
        subcommands: [Replay.self, CaptureCommand.self, Observe.self, Policy.self, Map.self]
    )
}
