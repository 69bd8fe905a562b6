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

/// Deterministic identity numbering.
///
/// Cilium hands out numbers in the order label sets first appear in the cluster's kvstore
/// or CRDs, which a file cannot tell. flowmon numbers them so that the same inventory
/// always gives the same numbers: the distinct label sets are sorted by their canonical
/// text (`SecurityLabels.canonical`, byte order) and numbered from 256 (`Identity.firstAllocated`)
/// up. A label set's number depends only on which label sets sort before it in the same file.
///
/// CIDR identities are node-local like Cilium's: the scope byte 0x01 (`Identity.localScopeFlag`)
/// plus 1, 2, ... in the order of (family, IPv4 first; address; prefix length).
package enum IdentityAllocator {
    /// The largest identity of cluster 0 (identities are 16 bits per cluster).
    package static let lastAllocated = Identity(65535)

    /// One identity per distinct label set. The label sets must be sorted (as
    /// `SecurityLabels.forPod` returns them). Fails when there are more distinct label
    /// sets than cluster 0 has numbers (65,280).
    package static func allocate(labelSets: [[SecurityLabel]]) throws(AgentError) -> [String: Identity] {
        var distinct: [String: [SecurityLabel]] = [:]
        for labels in labelSets {
            distinct[SecurityLabels.canonical(labels)] = labels
        }
        let capacity = Int(lastAllocated.rawValue - Identity.firstAllocated.rawValue) + 1
        guard distinct.count <= capacity else {
            throw AgentError(file: "inventory", message: "\(distinct.count) distinct security label sets; at most \(capacity) identities fit in 256-65535")
        }
        let ordered = distinct.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        var result: [String: Identity] = [:]
        result.reserveCapacity(ordered.count)
        for (offset, canonical) in ordered.enumerated() {
            result[canonical] = Identity(Identity.firstAllocated.rawValue + UInt32(offset))
        }
        return result
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
