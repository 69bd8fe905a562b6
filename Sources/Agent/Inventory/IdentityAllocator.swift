import Datapath
import FlowCore

/// A CIDR identity: a node-local identity for a prefix named by a policy
/// (`toCIDR: 10.0.0.0/8`), with the labels `cidr:10.0.0.0/8` and its world label.
package struct CIDRIdentity: Sendable, Equatable {
    /// Host bits cleared.
    package var prefix: IPPrefix
    package var identity: Identity
    package var labels: [SecurityLabel]
}

/// Deterministic identity numbering that does not depend on the other label sets.
///
/// Cilium hands out numbers in the order label sets first appear in the cluster's kvstore
/// or CRDs, which a file cannot tell. With the cluster's own numbers (`--identities`,
/// `ClusterIdentities`) a label set found there takes the cluster's number. Every other label
/// set's number is derived from the label set itself, so adding or removing a pod does not
/// renumber the pods of other label sets:
///
/// - its *home* is `256 + h mod 65280` (`Identity.firstAllocated` ... 65535), where `h` is the
///   64-bit FNV-1a hash (draft-eastlake-fnv, offset basis 0xcbf29ce484222325, prime
///   0x100000001b3) of its canonical text (`SecurityLabels.canonical`: the sorted labels,
///   `source:key=value` joined by `;`), and its *step* is `1 + (h >> 32) mod 65279`, raised to
///   the next number coprime to 65280, so that `home + i·step (mod 65280)`, i = 0, 1, 2 ...
///   visits every number once (double hashing);
/// - numbers the cluster uses are never given to another label set;
/// - collisions are settled in rounds: in round i every label set still without a number
///   claims the i-th number of its sequence; a number nobody holds goes to the claimant whose
///   canonical text sorts first (bytewise), the others go on to round i+1. A number once given
///   is kept.
///
/// So a label set's number changes only when another label set lands on a number of its
/// sequence up to its own: adding one label set to `n` others moves another one with
/// probability at most n/65280 (0.15% for 100 label sets, 1.5% for 1,000), and only the
/// colliding set moves. Removing a label set frees its number, which only a set that had
/// collided with it takes.
///
/// CIDR identities are node-local like Cilium's: the scope byte 0x01 (`Identity.localScopeFlag`)
/// plus 1, 2, ... in the order of (family, IPv4 first; address; prefix length).
package enum IdentityAllocator {
    /// The largest identity of cluster 0 (identities are 16 bits per cluster).
    package static let lastAllocated = Identity(65535)

    /// How many numbers there are to derive from: 256-65535.
    static let range = UInt64(lastAllocated.rawValue - Identity.firstAllocated.rawValue) + 1

    /// One identity per distinct label set. The label sets must be sorted (as
    /// `SecurityLabels.forPod` returns them). `pinned`: canonical texts that take the given
    /// number (the cluster's); `taken`: numbers no other label set gets (every number the
    /// cluster uses). Fails when the other label sets outnumber the free numbers of 256-65535.
    package static func allocate(labelSets: [[SecurityLabel]], pinned: [String: Identity] = [:],
                                 taken: Set<Identity> = []) throws(AgentError) -> [String: Identity] {
        var result: [String: Identity] = [:]
        var holders = Set<UInt32>()
        for identity in taken.union(pinned.values) where identity >= Identity.firstAllocated && identity <= lastAllocated {
            holders.insert(identity.rawValue)
        }
        var pending: [String] = []
        var seen = Set<String>()
        for labels in labelSets {
            let canonical = SecurityLabels.canonical(labels)
            guard seen.insert(canonical).inserted else { continue }
            if let number = pinned[canonical] {
                result[canonical] = number
            } else {
                pending.append(canonical)
            }
        }
        let capacity = Int(range) - holders.count
        guard pending.count <= capacity else {
            throw AgentError(file: "inventory", message: "\(pending.count) distinct security label sets without a cluster identity; \(capacity) numbers of 256-65535 are free")
        }
        // Sorted, so each round's claims are settled in canonical order.
        pending.sort { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var sequences = pending.map(Self.sequence)
        var round: UInt64 = 0
        while !pending.isEmpty {
            var losers: [Int] = []
            for index in pending.indices {
                let (home, step) = sequences[index]
                let number = UInt32(Identity.firstAllocated.rawValue) + UInt32((home &+ round &* step) % range)
                if holders.insert(number).inserted {
                    result[pending[index]] = Identity(number)
                } else {
                    losers.append(index)
                }
            }
            pending = losers.map { pending[$0] }
            sequences = losers.map { sequences[$0] }
            round += 1
        }
        return result
    }

    /// A label set's home and step (see above).
    static func sequence(_ canonical: String) -> (home: UInt64, step: UInt64) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in canonical.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        var step = 1 + (hash >> 32) % (range - 1)
        while gcd(step, range) != 1 { step = step % (range - 1) + 1 }
        return (hash % range, step)
    }

    private static func gcd(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var (a, b) = (a, b)
        while b != 0 { (a, b) = (b, a % b) }
        return a
    }

    /// Local-scope identities for the given prefixes: host bits cleared, duplicates
    /// merged, numbered `0x01000001`... in (IPv4 first, address, length) order.
    /// Prefix lengths beyond the family's width are clamped to it. A /0 gets no CIDR
    /// identity: it is world (`world`, or `worldIPv4`/`worldIPv6` in dual-stack mode).
    package static func allocateCIDRs(_ prefixes: [IPPrefix], dualStack: Bool) -> [CIDRIdentity] {
        var unique = Set<IPPrefix>()
        for prefix in prefixes where prefix.length > 0 {
            unique.insert(IPPrefix(address: prefix.address, length: min(prefix.length, IPPrefix(host: prefix.address).length)).masked)
        }
        let ordered = unique.sorted { lhs, rhs in
            if lhs.isIPv4 != rhs.isIPv4 { return lhs.isIPv4 }
            if lhs.address != rhs.address { return lhs.address < rhs.address }
            return lhs.length < rhs.length
        }
        return ordered.enumerated().map { offset, key in
            CIDRIdentity(prefix: key, identity: Identity(Identity.localScopeFlag | UInt32(offset + 1)),
                         labels: SecurityLabels.forCIDR(key, dualStack: dualStack))
        }
    }

    /// The labels of a reserved identity: `reserved:<name>`; `kube-apiserver` (7) also carries
    /// `reserved:remote-node`, as Cilium defines it (pkg/identity/numericidentity.go,
    /// `reservedIdentityLabels`): it is a remote node that runs the API server, so the
    /// `remote-node` entity selects it too.
    package static func reservedLabels(_ identity: Identity) -> [SecurityLabel] {
        guard identity.reservedName != nil else { return [] }
        if identity == .kubeAPIServer { return [.reserved(identity), .reserved(Identity.remoteNode)].sorted() }
        return [.reserved(identity)]
    }
}
