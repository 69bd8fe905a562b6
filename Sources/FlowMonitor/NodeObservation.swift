import Capture
import Datapath

/// Which of the node's interfaces a capture on `any` observes, kept current as interfaces come
/// and go (rtnetlink change notifications), with the kernel filter that keeps the others out
/// and the rule (`ObservationPoints`) that counts each packet once.
///
/// - `.podFacing` (no `--interface`): the host ends of the pods' veths. Every packet a pod
///   sends or receives crosses its veth exactly once, whatever the CNI (bridge, routed,
///   overlay), so each is counted once, as the pod sees it.
/// - `.all` (`--interface any`): every interface but bridge and overlay devices (whose packets
///   are also seen at a veth or an uplink): the pods' traffic and the node's own.
/// - `.named` (`--interface A --interface B`): those interfaces.
final class NodeObservation {
    let scope: ObservationScope
    let netlink: RouteNetlink
    private(set) var node: NodeInterfaces
    let points = ObservationPoints()
    /// The user's `--filter`, combined with the interface filter.
    let userFilter: String?
    /// The interfaces observed now, by index, with their names and roles.
    private(set) var observed: [(index: Int32, name: String, role: ObservationPoints.Role)] = []

    init(scope: ObservationScope, userFilter: String?) throws(CaptureError) {
        self.scope = scope
        self.userFilter = userFilter
        self.netlink = try RouteNetlink(subscribe: true)
        self.node = try NodeInterfaces.load(from: self.netlink)
        if case .named(let names) = scope {
            let unknown = names.filter { self.node.index(named: $0) == nil }
            if !unknown.isEmpty {
                let known = self.node.links.values.map(\.name).sorted().joined(separator: ", ")
                throw CaptureError(.noSuchInterface, "no such interface \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (available: \(known))")
            }
        }
        self.recompute()
    }

    /// The kernel filter for the observed interfaces (and the user's filter). With no interface
    /// to observe yet (a node with no pod), it matches nothing until one appears.
    var filterExpression: String {
        let interfaces = self.observed.isEmpty ? "ifindex 0"
            : self.observed.map { "ifindex \($0.index)" }.joined(separator: " or ")
        guard let userFilter else { return interfaces }
        return "(\(interfaces)) and (\(userFilter))"
    }

    /// Reads the pending change notifications; returns whether the observed interfaces changed
    /// (the caller installs the new filter).
    func followChanges() throws(CaptureError) -> Bool {
        let (messages, overrun) = self.netlink.pendingChanges()
        var changed = false
        if overrun {
            self.node = try NodeInterfaces.load(from: self.netlink)
            changed = true
        }
        for message in messages where self.node.apply(message) { changed = true }
        guard changed else { return false }
        let before = self.observed.map(\.index)
        self.recompute()
        return self.observed.map(\.index) != before
    }

    private func recompute() {
        var chosen: [(index: Int32, role: ObservationPoints.Role)] = []
        for (index, link) in self.node.links.sorted(by: { $0.key < $1.key }) {
            let role = self.node.role(of: index)
            switch self.scope {
            case .podFacing:
                if role == .podFacing && link.isUp { chosen.append((index, .podFacing)) }
            case .all:
                switch role {
                case .podFacing: chosen.append((index, .podFacing))
                case .uplink: chosen.append((index, .other))
                case .host where link.isLoopback: chosen.append((index, .loopback))
                default: break
                }
            case .named(let names):
                guard names.contains(link.name) else { continue }
                chosen.append((index, role == .podFacing ? .podFacing : link.isLoopback ? .loopback : .other))
            }
        }
        self.points.setInterfaces(chosen.map { (UInt32(bitPattern: $0.index), $0.role) })
        self.observed = chosen.map { ($0.index, self.node.links[$0.index]?.name ?? "", $0.role) }
    }

    /// The observed interfaces as the eBPF datapath attaches to them: index, the LINKTYPE_ of
    /// the bytes its TC programs see there (Ethernet, loopback's included; raw IP on a device
    /// without a link header: WireGuard, tun, IP-in-IP, GRE), and role.
    var attachable: [(index: Int32, linkType: UInt16, role: UInt8)] {
        self.observed.map { interface in
            let hardwareType = self.node.links[interface.index]?.hardwareType ?? 1
            // ARPHRD_ETHER 1, ARPHRD_LOOPBACK 772: an Ethernet header; LINKTYPE_RAW 101 otherwise.
            let linkType: UInt16 = hardwareType == 1 || hardwareType == 772 ? 1 : 101
            return (interface.index, linkType, interface.role.rawValue)
        }
    }

    /// "3 pod interfaces (veth-a, veth-b, veth-c)", for messages.
    var description: String {
        let names = self.observed.map(\.name)
        let what: String
        switch self.scope {
        case .podFacing: what = "pod interface"
        case .all, .named: what = "interface"
        }
        let list = names.count > 8 ? names.prefix(8).joined(separator: ", ") + ", …" : names.joined(separator: ", ")
        return "\(names.count) \(what)\(names.count == 1 ? "" : "s")" + (names.isEmpty ? "" : " (\(list))")
    }
}
