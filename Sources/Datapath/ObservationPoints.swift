import Decoding
import FlowCore

/// Which of the packets a node capture sees count, so that each packet that crosses the node is
/// counted once although it may be seen at several interfaces (a pod-to-pod packet leaves the
/// sender's veth and enters the receiver's; a packet from another node crosses the uplink,
/// the overlay device and the pod's veth). Used when one capture covers several interfaces and
/// says per packet where it was seen and which way (Linux cooked headers: `any`).
///
/// The rule, for packets whose capture point is known:
/// - **At a pod-facing interface** (the host end of a pod's veth), a packet arriving from the
///   pod is counted, and its source address is learned as a local pod behind that interface;
///   a packet leaving towards the pod is counted unless its source is a learned local pod,
///   whose own veth already counted it (pod → pod on the node). So a pod's traffic with other
///   pods, the host and remote peers is counted exactly once, as the pod sent or received it
///   (before source NAT, after destination NAT is undone: the pod's view, which is what
///   policy judges).
/// - **At any other interface** (an uplink, or another device named with `--interface`), a
///   packet is counted only when neither end is a learned local pod: the node's own traffic
///   (and, after masquerading, the node's view of pod traffic, which is the pod's traffic a
///   second time, as the node sends it). At loopback, a packet is counted arriving. A pod is
///   learned when it first sends: packets from another node to a pod that has sent nothing
///   yet are counted at the uplink and again at the pod's veth.
/// A packet whose interface is not one of these (or a capture that does not say) is counted.
///
/// The eBPF datapath's mode 2 (`--ebpf-mode flows`) applies this same rule in the kernel to the
/// packets it counts without sending them up (`observation_admits` in bpf/flowmon.bpf.c, with its
/// own memory of local pods); the packets it sends up come here. The twin cannot be avoided: the
/// kernel must decide before it counts, and this decides for what the kernel does not parse.
/// Change both together.
///
/// Owned by the thread that decodes (the capture thread); updated there when interfaces come
/// and go. `admits` allocates nothing.
public final class ObservationPoints {
    public enum Role: UInt8, Sendable {
        /// The host end of a pod's veth.
        case podFacing = 1
        /// An uplink or another interface of the node.
        case other = 2
        /// Loopback, where every packet is seen leaving and arriving: counted arriving.
        case loopback = 3
    }

    /// Interface index → role.
    private var roles = StaticHashTable<Role>([], empty: .other)
    /// Local pod addresses → (interface behind which the pod sent, packet time last seen).
    private let localPods: EvictingHashTable<IPAddress, LocalPod>
    /// Packets counted and skipped (seen before at another interface), in `stats.capture`.
    public private(set) var skipped: UInt64 = 0

    struct LocalPod {
        var interfaceIndex: UInt32
        var seen: Int64
    }

    /// `capacity`: local pod addresses remembered (the least recently seen gives way).
    public init(capacity: Int = 16_384) {
        self.localPods = EvictingHashTable(capacity: capacity)
    }

    /// Sets the observed interfaces and their roles; addresses learned behind interfaces that
    /// are no longer pod-facing are forgotten (a deleted pod's address may be reused elsewhere).
    public func setInterfaces(_ interfaces: [(index: UInt32, role: Role)]) {
        self.roles = StaticHashTable(interfaces.map { (Self.key($0.index), $0.role) }, empty: .other)
        for slot in 0..<self.localPods.slotCount {
            guard self.localPods.key(at: slot) != nil else { continue }
            let interface = self.localPods[slot].interfaceIndex
            if self.roles.find(Self.key(interface)) != .podFacing { self.localPods.remove(at: slot) }
        }
    }

    /// Whether `summary` counts (see the type's rule), noting where it was observed; learns
    /// local pods as it goes.
    @inline(__always)
    public func admits(_ summary: inout PacketSummary, time: CaptureTime) -> Bool {
        let direction = summary.direction
        guard direction != .unknown, summary.ipVersion != 0,
              let role = self.roles.find(Self.key(summary.interfaceIndex)) else { return true }
        let source = summary.source
        let inbound = direction == .inbound
        switch role {
        case .podFacing:
            summary.observationPoint = inbound ? .fromEndpoint : .toEndpoint
            if inbound {
                self.learn(source, behind: summary.interfaceIndex, time: time)
                return true
            }
            return self.counts(!self.isLocalPod(source))
        case .other:
            summary.observationPoint = inbound ? .fromNetwork : .toNetwork
            let destination = summary.destination
            let local = self.isLocalPod(source) || self.isLocalPod(destination)
            return self.counts(!local)
        case .loopback:
            summary.observationPoint = .fromStack
            return self.counts(inbound)
        }
    }

    @inline(__always)
    private func counts(_ admitted: Bool) -> Bool {
        if !admitted { self.skipped &+= 1 }
        return admitted
    }

    @inline(__always)
    private func isLocalPod(_ address: IPAddress) -> Bool {
        self.localPods.find(address, hash: Self.hash(address)) != nil
    }

    @inline(__always)
    private func learn(_ address: IPAddress, behind interface: UInt32, time: CaptureTime) {
        let place = self.localPods.place(address, hash: Self.hash(address)) { $0.seen }
        self.localPods.store(address, LocalPod(interfaceIndex: interface, seen: time.nanoseconds), at: place.index)
    }

    @inline(__always)
    static func key(_ index: UInt32) -> StaticHashTable<Role>.Key {
        StaticHashTable.Key(high: 0, low: UInt64(index), tag: 0)
    }

    @inline(__always)
    static func hash(_ address: IPAddress) -> UInt64 {
        FlowKey(lowAddress: address, highAddress: .zero, lowPort: 0, highPort: 0, ipProtocol: 0, vni: 0).hashValue64
    }
}
