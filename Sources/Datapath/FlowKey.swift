import FlowCore

/// Direction-independent connection key: both directions of a connection map to the
/// same key. Fixed size, heap-free, hashed without allocation.
///
/// The "ports" are TCP/UDP/SCTP ports; for ICMP queries (echo, timestamp, information,
/// address mask) both hold the query identifier so a request and its reply meet; for
/// other ICMP messages they hold type and code (errors: see `PacketObservation`). `vni` is
/// the tunnel's VNI (0 if none), so the same inner 5-tuple in two overlays stays two flows; with
/// `--tunnel-key auto` it is the VNI of the connection's first packet (`TunnelKeyMode.auto`).
@frozen
public struct FlowKey: Hashable, Sendable {
    public var lowAddress: IPAddress
    public var highAddress: IPAddress
    public var lowPort: UInt16
    public var highPort: UInt16
    public var ipProtocol: UInt8
    public var vni: UInt32

    @inlinable
    public init(lowAddress: IPAddress, highAddress: IPAddress, lowPort: UInt16, highPort: UInt16,
                ipProtocol: UInt8, vni: UInt32) {
        self.lowAddress = lowAddress
        self.highAddress = highAddress
        self.lowPort = lowPort
        self.highPort = highPort
        self.ipProtocol = ipProtocol
        self.vni = vni
    }

    /// The key for a packet from (`source`, `sourcePort`) to (`destination`, `destinationPort`),
    /// and whether the packet travels from the low endpoint to the high one.
    @inlinable
    public static func canonical(source: IPAddress, sourcePort: UInt16, destination: IPAddress,
                                 destinationPort: UInt16, ipProtocol: UInt8, vni: UInt32)
        -> (key: FlowKey, fromLow: Bool)
    {
        let fromLow = source < destination || (source == destination && sourcePort <= destinationPort)
        if fromLow {
            return (FlowKey(lowAddress: source, highAddress: destination, lowPort: sourcePort,
                            highPort: destinationPort, ipProtocol: ipProtocol, vni: vni), true)
        }
        return (FlowKey(lowAddress: destination, highAddress: source, lowPort: destinationPort,
                        highPort: sourcePort, ipProtocol: ipProtocol, vni: vni), false)
    }

    /// Whether `other` has the same addresses, ports and protocol, whatever its VNI.
    @inlinable
    public func sameFiveTuple(_ other: FlowKey) -> Bool {
        self.lowAddress == other.lowAddress && self.highAddress == other.highAddress && self.lowPort == other.lowPort
            && self.highPort == other.highPort && self.ipProtocol == other.ipProtocol
    }

    /// `hashValue64` with the VNI left out: the same for every VNI of one 5-tuple.
    @inlinable
    public var fiveTupleHash: UInt64 {
        var bare = self
        bare.vni = 0
        return bare.hashValue64
    }

    /// A hash of an address pair and protocol alone, the same both ways: the pipeline shares
    /// connections out by it (every fragment of a datagram and every port of a pair land
    /// together), and an ICMP error about an untracked connection carries 16 bits of it.
    @inlinable
    public static func addressPairHash(_ a: IPAddress, _ b: IPAddress, ipProtocol: UInt8) -> UInt64 {
        FlowKey(lowAddress: min(a, b), highAddress: max(a, b), lowPort: 0, highPort: 0, ipProtocol: ipProtocol, vni: 0)
            .hashValue64
    }

    /// A 64-bit hash that is the same for both directions (the key is canonical) and
    /// needs no allocation. Multiply-fold mixing, as in wyhash's `mum`.
    @inlinable
    public var hashValue64: UInt64 {
        @inline(__always) func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
            let product = (a ^ 0xa076_1d64_78bd_642f).multipliedFullWidth(by: b ^ 0xe703_7ed1_a0b4_28db)
            return product.high ^ product.low
        }
        let ports = UInt64(self.lowPort) << 48 | UInt64(self.highPort) << 32 | UInt64(self.vni) << 8
            | UInt64(self.ipProtocol)
        let h1 = mix(self.lowAddress.high ^ self.highAddress.low, self.lowAddress.low)
        let h2 = mix(self.highAddress.high, ports ^ h1)
        return mix(h2, self.highAddress.low ^ 0x8ebc_6af0_9c88_c6e3)
    }
}
