/// A Cilium-style numeric security identity: the number every flow endpoint resolves to
/// through the ipcache, and what policy is keyed on.
///
/// Layout as Cilium uses it (`pkg/identity/numericidentity.go`):
/// - 0 is "unknown"; 1-10 are the reserved identities below; 11-255 are reserved too
///   (well-known identities 100-115, user-reserved 128-255), none of which flowmon allocates.
/// - 256 and up (`firstAllocated`) are allocated, one per distinct set of security labels;
///   bits 16-23 would carry a cluster id (always 0 here).
/// - Bits 24-31 are the scope: `localScopeFlag` (0x01) marks node-local identities such as
///   the ones allocated for CIDRs from policies; 0x02 marks remote-node-scoped ones.
@frozen
public struct Identity: RawRepresentable, Hashable, Comparable, Sendable {
    public var rawValue: UInt32

    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    @inlinable
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }

    public static let unknown = Identity(0)
    public static let host = Identity(1)
    public static let world = Identity(2)
    public static let unmanaged = Identity(3)
    public static let health = Identity(4)
    /// Cilium's "init": an endpoint whose labels are not known yet.
    public static let initializing = Identity(5)
    public static let remoteNode = Identity(6)
    public static let kubeAPIServer = Identity(7)
    public static let ingress = Identity(8)
    /// `0.0.0.0/0` in dual-stack mode (single-stack clusters use `world` for both families).
    public static let worldIPv4 = Identity(9)
    /// `::/0` in dual-stack mode.
    public static let worldIPv6 = Identity(10)

    /// The first identity allocated for a label set.
    public static let firstAllocated = Identity(256)

    /// The scope byte (bits 24-31) of node-local identities (CIDR identities).
    public static let localScopeFlag: UInt32 = 0x0100_0000
    /// The mask of the scope byte.
    public static let scopeMask: UInt32 = 0xff00_0000
    /// The scope byte of the pseudo-identities that stand for `toFQDNs` selectors: flowmon's
    /// own, no Cilium identity has it (Cilium uses scope 0x00 cluster, 0x01 local, 0x02
    /// remote-node), and flowmon allocates only 256-65535 and 0x01xxxxxx (`IdentityAllocator`).
    public static let fqdnSelectorScope: UInt32 = 0xfe00_0000

    /// The pseudo-identity of FQDN selector `index` (an index into the agent's selector
    /// table): the remote identity of the map entries compiled from `toFQDNs` peers. No
    /// address maps to it in the ipcache; the judge consults it for the addresses whose
    /// learned names the selector matches.
    @inlinable
    public static func fqdnSelector(_ index: Int) -> Identity {
        Identity(Identity.fqdnSelectorScope | UInt32(truncatingIfNeeded: index) & 0x00ff_ffff)
    }

    /// The selector index of an FQDN pseudo-identity, or nil.
    @inlinable
    public var fqdnSelectorIndex: Int? {
        self.rawValue & Identity.scopeMask == Identity.fqdnSelectorScope ? Int(self.rawValue & 0x00ff_ffff) : nil
    }

    /// True for 1-255: the reserved and well-known range below `firstAllocated`
    /// (unknown, 0, is not reserved: it is the absence of an identity).
    @inlinable
    public var isReserved: Bool { self.rawValue != 0 && self.rawValue < Identity.firstAllocated.rawValue }

    /// True for node-local identities (scope byte 0x01), e.g. CIDR identities.
    @inlinable
    public var isLocalScope: Bool { self.rawValue & Identity.scopeMask == Identity.localScopeFlag }

    /// True for `world`, `worldIPv4` and `worldIPv6`.
    @inlinable
    public var isWorld: Bool { self == .world || self == .worldIPv4 || self == .worldIPv6 }

    /// Cilium's name of a reserved identity (`reserved:<name>` is its label), or nil.
    public var reservedName: StaticString? {
        switch self.rawValue {
        case 0: return "unknown"
        case 1: return "host"
        case 2: return "world"
        case 3: return "unmanaged"
        case 4: return "health"
        case 5: return "init"
        case 6: return "remote-node"
        case 7: return "kube-apiserver"
        case 8: return "ingress"
        case 9: return "world-ipv4"
        case 10: return "world-ipv6"
        default: return nil
        }
    }

    /// The reserved identities 1-10 in number order.
    public static let allReserved: [Identity] = (1...10).map { Identity($0) }

    @inlinable
    public static func < (lhs: Identity, rhs: Identity) -> Bool { lhs.rawValue < rhs.rawValue }
}
