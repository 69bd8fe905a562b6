import Datapath
import Output

/// One generation of what the agent gives the datapath and the output: the numeric snapshot
/// new connections are judged by and the detectors' view of the cluster (which the datapath
/// loads), and the names records are rendered with (which only the output reads). Built by
/// `AgentState` when inventory and policies load; a reload (SIGHUP) builds the next one.
package struct PolicyContext: Sendable {
    package let snapshot: PolicySnapshot
    package let annotations: FlowAnnotations
    /// Pod CIDRs, sensitive and allow-listed identities, for the detectors.
    package let detection: DetectionScope
    /// The `toFQDNs` selectors a DNS name matches (bit i: selector i, `Identity.fqdnSelector(i)`).
    package var fqdnSelectors: @Sendable (String) -> UInt64 = { _ in 0 }
    /// The ports the policies' `rules.dns` name: their payload is DNS.
    package var dnsRulePorts: [UInt16] = []

    package init(snapshot: PolicySnapshot, annotations: FlowAnnotations, detection: DetectionScope = .empty) {
        self.snapshot = snapshot
        self.annotations = annotations
        self.detection = detection
    }
}
