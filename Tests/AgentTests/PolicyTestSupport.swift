import Agent
import Foundation

/// Helpers for the policy loader tests.
enum PolicyTestSupport {
    /// The repository root (Tests/AgentTests/ is two levels below it).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ text: String, file: String = "t.yaml") throws -> PolicySet {
        try PolicyLoader.load(text: text, file: file)
    }

    /// The error line a text produces, or nil when it loads.
    static func errorLine(_ text: String, file: String = "t.yaml") -> String? {
        do {
            _ = try PolicyLoader.load(text: text, file: file)
            return nil
        } catch {
            return error.description
        }
    }

    static func ciliumRules(_ set: PolicySet, _ index: Int = 0) -> [CiliumRule] {
        guard case .cilium(let rules) = set.documents[index].body else { return [] }
        return rules
    }

    static func kubernetesSpec(_ set: PolicySet, _ index: Int = 0) -> KubernetesNetworkPolicySpec? {
        guard case .kubernetes(let spec) = set.documents[index].body else { return nil }
        return spec
    }

    /// A CNP header around an indented `spec` body.
    static func cnp(_ spec: String, name: String = "p") -> String {
        """
        apiVersion: cilium.io/v2
        kind: CiliumNetworkPolicy
        metadata:
          name: \(name)
        spec:
        \(spec)
        """
    }
}
