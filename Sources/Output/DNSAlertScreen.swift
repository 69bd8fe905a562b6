import Datapath
import Detection
import FlowCore
import L7

/// The worker's part of the DNS detectors: it reads each DNS message the application layer
/// parsed, applies the tests that need the name's text (is it long or high-entropy, is it under
/// an ignored suffix) and hands the detectors numbers: `ConnectionFinding.dnsQuery` (the first
/// query of a connection from a pod to a resolver that is not the cluster's),
/// `.dnsSuspiciousName` and `.dnsNXDomain`, each with the question's
/// bytes kept beside it in the worker's finding buffer for the alert line. Counting, the
/// cluster's resolvers and the allow-list are the detectors' (`DetectorEngine`), which see every
/// worker's findings in capture order, so alerts do not depend on the number of workers.
package final class DNSAlertScreen {
    let settings: DetectorSettings
    /// The cluster domain and `nxdomainIgnoredSuffixes`: the names whose NXDOMAIN is not
    /// counted, as given and with a leading dot.
    let suffixes: [String]
    let dottedSuffixes: [String]
    /// The detectors' view of the cluster per policy generation (`FlowEntry.policyGeneration`),
    /// as the datapath loads it: a first query goes to the detectors only when it is from a
    /// pod to a resolver that is not the cluster's, so a busy node's DNS does not fill the
    /// finding buffer (the detectors judge it again, with the allow-list).
    private var scopes: [DetectionScope] = []

    /// nil when no DNS detector is enabled (or alerts are off).
    package init?(_ settings: DetectorSettings?) {
        guard let settings, settings.connectionChecks.contains(.dnsMessages) else { return nil }
        self.settings = settings
        self.suffixes = [settings.nxdomainClusterDomain] + settings.nxdomainIgnoredSuffixes
        self.dottedSuffixes = self.suffixes.map { "." + $0 }
    }

    /// The scope of the next policy generation (at start, and on reload).
    package func add(_ scope: DetectionScope) { self.scopes.append(scope) }

    /// Whether the first query of `flow` goes to the detectors.
    func isExternalQuery(_ flow: FlowEntry) -> Bool {
        guard flow.sourceIdentity.isWorkload, !self.scopes.isEmpty else { return false }
        let generation = Int(flow.policyGeneration)
        let scope = generation < self.scopes.count ? self.scopes[generation] : self.scopes[self.scopes.count - 1]
        return !scope.isClusterResolver(flow.destinationAddress, identity: flow.destinationIdentity)
    }

    /// Whether a query name is suspicious by the tunnelling thresholds.
    package func isSuspicious(_ shape: DNSNameShape) -> Bool {
        shape.length >= self.settings.tunnelNameLength || shape.longestLabel >= self.settings.tunnelLabelLength
            || (shape.longestLabel >= self.settings.tunnelEntropyLength
                && shape.entropyMillibits >= self.settings.tunnelEntropyMillibits)
    }

    /// Whether an NXDOMAIN for `name` is left uncounted (a search-path expansion).
    package func isIgnored(_ name: String) -> Bool {
        for (index, dotted) in self.dottedSuffixes.enumerated() where name.hasSuffix(dotted) || name == self.suffixes[index] {
            return true
        }
        return false
    }

    /// One parsed DNS message on `flow`; findings go to the renderer's buffer, keyed after the
    /// message's `dns` record (`primary` 4).
    func screen(_ digest: DNSDigest, flow: UnsafeMutablePointer<FlowEntry>, fromInitiator: Bool, time: CaptureTime,
                renderer: EventRenderer, nextKey: () -> EmissionKey) {
        guard let buffer = renderer.findings, let question = digest.questions.first, digest.opcode == 0 else { return }
        let settings = self.settings
        var facts = DNSFinding()
        facts.queryType = question.rrtype
        facts.rcode = digest.rcode
        let name = question.name
        func hand(_ facts: DNSFinding, _ finding: (DNSFinding) -> ConnectionFinding) {
            var facts = facts
            if buffer.count < buffer.capacity {
                var text = name
                text.withUTF8 { buffer.keepName(UnsafeRawBufferPointer($0), in: &facts) }
            }
            var key = nextKey()
            key.primary = 4  // after the message's `dns` record
            renderer.receive(.finding(finding(facts), flow.pointee, time: time, key: key))
        }
        if !digest.isResponse && fromInitiator {
            let shape = DNSNameShape(name)
            facts.nameLength = UInt16(clamping: shape.length)
            facts.longestLabel = UInt16(clamping: shape.longestLabel)
            facts.entropyMillibits = UInt16(clamping: shape.entropyMillibits)
            if settings.isEnabled(.dnsExternalResolver) && flow.pointee.raisedAlerts & FlowEntry.raisedDNSQuery == 0 {
                flow.pointee.raisedAlerts |= FlowEntry.raisedDNSQuery
                if self.isExternalQuery(flow.pointee) {
                    facts.nameHash = DNSNameShape.hash(name)
                    hand(facts, ConnectionFinding.dnsQuery)
                }
            }
            if settings.isEnabled(.dnsTunneling) && self.isSuspicious(shape) {
                facts.nameHash = shape.labelHash
                hand(facts, ConnectionFinding.dnsSuspiciousName)
            }
        } else if digest.isResponse && !fromInitiator && digest.rcode == 3 && settings.isEnabled(.dnsNXDomainBurst)
            && !self.isIgnored(name)
        {
            facts.nameHash = DNSNameShape.hash(name)
            hand(facts, ConnectionFinding.dnsNXDomain)
        }
    }
}

extension DNSNameShape {
    /// FNV-1a of a whole name (lowercased).
    static func hash(_ name: String) -> UInt64 {
        var name = name
        return name.withUTF8 { Self.hash(UnsafeRawBufferPointer($0)) }
    }
}
