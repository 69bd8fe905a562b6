import Datapath
import Detection
import Testing

/// The alert registry: every kind has one row, and the rows keep the public contract
/// (names and signature ids unique, ids in flowmon's private range 9100000–9100999).
struct AlertKindTests {
    @Test func rowsAreUniqueAndInRange() {
        let kinds = AlertKind.allCases
        #expect(Set(kinds.map { "\($0.name)" }).count == kinds.count)
        #expect(Set(kinds.map(\.signatureID)).count == kinds.count)
        #expect(Set(kinds.map { "\($0.signature)" }).count == kinds.count)
        for kind in kinds {
            #expect((9_100_000...9_100_999).contains(kind.signatureID), "\(kind.name)")
            #expect("\(kind.signature)".hasPrefix("FLOWMON "), "\(kind.name)")
            #expect((1...3).contains(kind.defaultSeverity), "\(kind.name)")
        }
    }

    /// Every detector the configuration names raises at least one kind.
    @Test func everyDetectorRaisesAKind() {
        for detector in AlertDetector.allCases {
            #expect(AlertKind.allCases.contains { $0.detector == detector }, "\(detector.configurationKey)")
        }
    }

    /// Spot checks of the documented contract (README "Alerts").
    @Test func documentedRows() {
        #expect(AlertKind.policyViolation.signatureID == 9_100_001)
        #expect("\(AlertKind.icmpSweep.name)" == "icmp_sweep")
        #expect("\(AlertKind.tcpSynFin.category)" == "Potentially Bad Traffic")
        #expect(AlertKind.synFlood.defaultSeverity == 1)
        #expect(AlertKind.tunnelIdentityMismatch.detector == .spoofedSource)
    }
}
