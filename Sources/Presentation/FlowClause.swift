import Foundation
import FlowCore
import FlowLog

/// One of Hubble's `FlowFilter`s (cilium api/v1/flow/flow.proto; matching as in
/// pkg/hubble/filters): every field that is set must hold (AND), and the values of one field
/// are alternatives (OR). A field left nil asks nothing. `RecordFilter` builds these from the
/// command-line options the way `hubble observe` does (hubble/cmd/observe/flows_filter.go).
struct FlowClause: Sendable, Equatable {
    var sourcePods: [NamespacedName]?
    var destinationPods: [NamespacedName]?
    var sourceServices: [NamespacedName]?
    var destinationServices: [NamespacedName]?
    var sourceIPs: [IPPrefix]?
    var destinationIPs: [IPPrefix]?
    var sourceLabels: [[LabelTerm]]?
    var destinationLabels: [[LabelTerm]]?
    var sourceFQDNs: [FQDNPattern]?
    var destinationFQDNs: [FQDNPattern]?
    var sourcePorts: [UInt16]?
    var destinationPorts: [UInt16]?
    var sourceIdentities: [UInt32]?
    var destinationIdentities: [UInt32]?
    var sourceWorkloads: [WorkloadMatch]?
    var destinationWorkloads: [WorkloadMatch]?
    var verdicts: [VerdictMatch]?
    var protocols: [ProtocolMatch]?
    var types: [TypeMatch]?

    /// True when a field other than `types` is set: the clause asks about a connection.
    var asksAboutConnection: Bool {
        var copy = self
        copy.types = nil
        return copy != FlowClause()
    }

    /// Whether `event` satisfies every field set. A record without a connection (`stats`,
    /// `lost`) is judged on `types` alone; when other fields are set it gets `otherwise`.
    func matches(_ event: FlowLogEvent, otherwise: Bool) -> Bool {
        if let types = self.types, !types.contains(where: { $0.matches(event) }) { return false }
        guard let record = event.connection else { return self.asksAboutConnection ? otherwise : true }
        let source = record.source, destination = record.destination
        func all<T>(_ values: [T]?, _ test: (T) -> Bool) -> Bool { values.map { $0.contains(where: test) } ?? true }
        return all(self.sourcePods) { $0.matches(namespace: source?.namespace, name: source?.podName) }
            && all(self.destinationPods) { $0.matches(namespace: destination?.namespace, name: destination?.podName) }
            // flowmon never learns a service for the initiator (Cilium sets one only for a
            // service frontend's own address): a source service matches nothing.
            && all(self.sourceServices) { _ in false }
            && all(self.destinationServices) {
                $0.matches(namespace: record.destinationService?.namespace, name: record.destinationService?.name)
            }
            && all(self.sourceIPs) { prefix in IPAddress(text: record.sourceIP).map(prefix.contains) ?? false }
            && all(self.destinationIPs) { prefix in IPAddress(text: record.destinationIP).map(prefix.contains) ?? false }
            && all(self.sourceLabels) { LabelTerm.selector($0, matches: source?.labels ?? []) }
            && all(self.destinationLabels) { LabelTerm.selector($0, matches: destination?.labels ?? []) }
            // The names a record carries for each end, as the other end looked them up
            // (`src_names`, `dest_names`).
            && all(self.sourceFQDNs) { pattern in (record.sourceNames ?? []).contains(where: pattern.matches) }
            && all(self.destinationFQDNs) { pattern in (record.destinationNames ?? []).contains(where: pattern.matches) }
            && all(self.sourcePorts) { $0 == record.sourcePort }
            && all(self.destinationPorts) { $0 == record.destinationPort }
            && all(self.sourceIdentities) { $0 == source?.identity }
            && all(self.destinationIdentities) { $0 == destination?.identity }
            && all(self.sourceWorkloads) { $0.matches(source?.workloads ?? []) }
            && all(self.destinationWorkloads) { $0.matches(destination?.workloads ?? []) }
            && all(self.verdicts) { $0.matches(record.verdict) }
            && all(self.protocols) { $0.matches(event, record) }
    }
}

extension StringProtocol {
    func trimming(_ set: String) -> String {
        let characters = Set(set)
        return String(self.drop { characters.contains($0) }.reversed().drop { characters.contains($0) }.reversed())
    }
}
