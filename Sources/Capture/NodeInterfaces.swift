import FlowCore

/// The node's network interfaces as rtnetlink reports them, kept current from its change
/// notifications, and what each is for: the pod-facing interfaces flowmon observes by default
/// (the host ends of the pods' veths: a bridge CNI's bridge ports, Cilium's `lxc*`, Calico's
/// `cali*`), the uplinks (interfaces of a default route), the overlay and bridge devices.
package struct NodeInterfaces: Sendable {
    /// Links by interface index.
    package private(set) var links: [Int32: NetworkLink] = [:]
    /// The node's own addresses, by interface index.
    package private(set) var addresses: [Int32: Set<IPAddress>] = [:]
    /// Interfaces a default route leaves by (the uplinks).
    package private(set) var defaultRouteInterfaces: Set<Int32> = []

    package init() {}

    /// The node's interfaces now (an rtnetlink dump).
    package static func load(from netlink: RouteNetlink) throws(CaptureError) -> NodeInterfaces {
        var interfaces = NodeInterfaces()
        for message in try netlink.dumpAll() { interfaces.apply(message) }
        return interfaces
    }

    /// Applies one change; returns whether it changed anything.
    @discardableResult
    package mutating func apply(_ message: RouteNetlink.Message) -> Bool {
        switch message {
        case .link(let link):
            guard self.links[link.index] != link else { return false }
            self.links[link.index] = link
        case .linkRemoved(let index):
            guard self.links.removeValue(forKey: index) != nil else { return false }
            self.addresses[index] = nil
            self.defaultRouteInterfaces.remove(index)
        case .address(let index, let address):
            return self.addresses[index, default: []].insert(address).inserted
        case .addressRemoved(let index, let address):
            return self.addresses[index]?.remove(address) != nil
        case .route(let index, let isDefault):
            guard isDefault else { return false }
            return self.defaultRouteInterfaces.insert(index).inserted
        case .routeRemoved(let index, let isDefault):
            guard isDefault else { return false }
            return self.defaultRouteInterfaces.remove(index) != nil
        }
        return true
    }

    /// What an interface is for, from its kind, its bridge and the routes.
    package enum Role: Sendable, Equatable {
        /// The host end of a pod's veth: where a pod's packets enter and leave the node.
        case podFacing
        /// An interface a default route leaves by, or another physical or VLAN interface.
        case uplink
        /// A VXLAN/Geneve/IPIP/GRE/WireGuard device: the decapsulated side of the overlay.
        case overlay
        /// A bridge device (`cni0`, `br0`, `docker0`): the host stack's port on the bridge.
        case bridge
        /// Loopback, and the host's own ends of Cilium's internal pair (`cilium_host`, `cilium_net`).
        case host
    }

    /// The role of interface `index` (nil for an unknown index).
    package func role(of index: Int32) -> Role? {
        guard let link = self.links[index] else { return nil }
        if link.isLoopback { return .host }
        switch link.kind {
        case "veth", "netkit":
            // Cilium's host-side pair is a veth pair that no pod holds.
            if link.name == "cilium_host" || link.name == "cilium_net" { return .host }
            // A pod's host end carries no address of the node's (a bridge port, or a routed
            // CNI's device, link-local at most); a veth that does is the node's way out (a
            // node in a container or a namespace reaches its network through one).
            if self.defaultRouteInterfaces.contains(index) || self.hasRoutableAddress(index) { return .uplink }
            return .podFacing
        case "bridge", "openvswitch":
            return .bridge
        case "vxlan", "geneve", "ipip", "ip6tnl", "gre", "gretap", "ip6gre", "sit", "wireguard":
            return .overlay
        default:
            return .uplink
        }
    }

    /// Whether the node has an address on interface `index` outside the link-local ranges
    /// (169.254.0.0/16, fe80::/10: RFC 3927, RFC 4291 §2.5.6).
    func hasRoutableAddress(_ index: Int32) -> Bool {
        self.addresses[index]?.contains { address in
            address.isIPv4 ? address.ipv4Value >> 16 != 0xA9FE : address.high >> 54 != 0x3FA
        } ?? false
    }

    /// The pod-facing interfaces that are up, by index: the default observation points.
    package var podFacingInterfaces: [Int32] {
        self.links.keys.filter { self.role(of: $0) == .podFacing && self.links[$0]?.isUp == true }.sorted()
    }

    /// The node's own addresses on every interface.
    package var allAddresses: Set<IPAddress> {
        self.addresses.values.reduce(into: Set()) { $0.formUnion($1) }
    }

    /// The index of the interface named `name`.
    package func index(named name: String) -> Int32? {
        self.links.first { $0.value.name == name }?.key
    }
}
