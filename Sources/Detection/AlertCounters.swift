/// The detectors' counters, for `stats.alerts`: alerts written per kind, occurrences folded
/// into summaries, occurrences from allow-listed sources, and what bounded state gave up.
public struct AlertCounters: Sendable, Equatable {
    /// By `AlertKind.rawValue`.
    public var raised = [UInt64](repeating: 0, count: AlertKind.allCases.count)
    public var aggregated: UInt64 = 0
    public var allowlisted: UInt64 = 0
    /// Connection events a worker could not hand to the detectors (its event buffer was full).
    public var eventsDropped: UInt64 = 0
    public var trackersEvicted: UInt64 = 0
    public var aggregatesEvicted: UInt64 = 0
    /// Policy violations counted in a scan alert instead of written (docs/alerts.md, "Folding").
    public var folded: UInt64 = 0
    /// Held violations handed back before their hold ended because the hold was full.
    public var heldReleasedEarly: UInt64 = 0
    /// Alert lines the per-source rate limit suppressed.
    public var rateLimited: UInt64 = 0

    public init() {}
}

extension DetectorEngine {
    public var counters: AlertCounters {
        var counters = AlertCounters()
        counters.raised = self.raised
        counters.aggregated = self.aggregated
        counters.allowlisted = self.allowlisted
        counters.trackersEvicted = self.trackersEvicted
        counters.aggregatesEvicted = self.aggregatesEvicted
        counters.folded = self.folded
        counters.heldReleasedEarly = self.heldReleasedEarly
        counters.rateLimited = self.rateLimited
        return counters
    }
}
