/// What `policy check` says about a document whose `kind` is not one flowmon evaluates:
/// nothing for the usual companions of policies in a manifest (a Deployment, a Service...),
/// `policy.kind.typo` for a near miss of a policy kind (`CiliumNetworkPolcy`, which the API
/// server would refuse but which a loader that skips unknown kinds passes as "0 policies
/// valid"), `policy.kind.unsupported` for network policies of other APIs that flowmon does not
/// evaluate, and `policy.kind.unknown` for any other kind.
enum PolicyKindCheck {
    /// Kinds flowmon evaluates.
    static let policyKinds = PolicyKind.allCases.map(\.rawValue)

    /// Policy kinds of other APIs (Kubernetes network-policy-api, Calico, Cilium's non-policy
    /// traffic rules) that change what traffic passes but that flowmon does not evaluate.
    static let unsupportedKinds: Set<String> = [
        "AdminNetworkPolicy", "BaselineAdminNetworkPolicy", "ClusterNetworkPolicy", "GlobalNetworkPolicy",
        "StagedNetworkPolicy", "StagedGlobalNetworkPolicy", "StagedKubernetesNetworkPolicy", "CiliumEgressGatewayPolicy",
        "CiliumLocalRedirectPolicy",
    ]

    /// Kinds that sit beside policies in manifests (core, apps, batch, RBAC, networking,
    /// Gateway API, Cilium's other CRDs): skipped with a notice, no warning.
    static let companionKinds: Set<String> = [
        "Namespace", "Pod", "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "ReplicationController", "Job", "CronJob",
        "Service", "ServiceAccount", "ConfigMap", "Secret", "Endpoints", "EndpointSlice", "PersistentVolume",
        "PersistentVolumeClaim", "StorageClass", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding", "Ingress",
        "IngressClass", "HorizontalPodAutoscaler", "PodDisruptionBudget", "LimitRange", "ResourceQuota", "PriorityClass",
        "CustomResourceDefinition", "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration", "Gateway",
        "GatewayClass", "HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute", "ReferenceGrant", "CiliumCIDRGroup",
        "CiliumEnvoyConfig", "CiliumClusterwideEnvoyConfig", "CiliumLoadBalancerIPPool", "CiliumL2AnnouncementPolicy",
        "CiliumBGPPeeringPolicy", "CiliumBGPClusterConfig", "CiliumBGPPeerConfig", "CiliumBGPAdvertisement",
        "CiliumBGPNodeConfigOverride", "CiliumNodeConfig", "CiliumPodIPPool", "CiliumNode", "CiliumEndpoint",
        "CiliumIdentity", "Node", "Event", "List",
    ]

    /// The warning for a document of kind `kind`, at the `kind` node; nil for a companion kind.
    static func finding(kind: String, apiVersion: String?, node: PolicyYAMLNode, context: PolicyDocumentContext)
        -> PolicyFinding?
    {
        let message: String
        let code: String
        if let near = self.nearestPolicyKind(kind) {
            code = "policy.kind.typo"
            message = "kind '\(kind)' is not a kind flowmon knows; did you mean \(near)? The document is skipped, so it enforces nothing"
        } else if self.unsupportedKinds.contains(kind) {
            code = "policy.kind.unsupported"
            message = "\(kind)\(apiVersion.map { " (\($0))" } ?? "") changes which traffic passes, but flowmon does not evaluate it: the document is skipped"
        } else if self.companionKinds.contains(kind) {
            return nil
        } else {
            code = "policy.kind.unknown"
            message = "kind '\(kind)' is not a network policy kind flowmon knows (\(self.policyKinds.joined(separator: ", "))): the document is skipped"
        }
        return PolicyFinding(severity: .warning, code: code, file: context.file, document: context.documentIndex, field: "kind",
                             line: node.mark?.line, column: node.mark?.column, message: message)
    }

    /// The policy kind `kind` is a near miss of: equal ignoring case, or at most 2 edits
    /// (insertions, deletions, substitutions; 1 for a kind shorter than 8 characters) away,
    /// compared case-insensitively.
    static func nearestPolicyKind(_ kind: String) -> String? {
        let lowered = Array(kind.lowercased().utf8)
        var best: (kind: String, distance: Int)?
        for candidate in self.policyKinds where candidate != kind {
            let distance = self.editDistance(lowered, Array(candidate.lowercased().utf8))
            let limit = kind.utf8.count < 8 ? 1 : 2
            if distance <= limit, distance < best?.distance ?? Int.max { best = (candidate, distance) }
        }
        return best?.kind
    }

    /// Levenshtein distance (two rows; kinds are short).
    static func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
