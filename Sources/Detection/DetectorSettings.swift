import Datapath
import FlowCore

/// Thresholds, windows and limits of the detectors: numbers only, built by the agent from
/// the alerts configuration (`--alerts-config`), or the defaults below.
///
/// Windows are in packet time: replay gives the same alerts on every run.
public struct DetectorSettings: Sendable, Equatable {
    /// Enabled detectors, one bit per `AlertDetector`.
    public var enabled: UInt16 = 0x3ff
    /// Severity per `AlertKind` (1 = highest), after overrides.
    public var severities: [UInt8] = AlertKind.allCases.map(\.defaultSeverity)

    /// Port scans, in the style of Zeek's `policy/misc/scan.zeek`: failed attempts from one
    /// source to `scanPorts` distinct ports of one host, or to one port of `scanHosts`
    /// distinct hosts, within `scanWindow`.
    public var scanPorts = 15
    public var scanHosts = 25
    public var scanWindow: Int64 = 300_000_000_000
    /// SYN flood: at least `floodConnections` half-open connections to one destination port,
    /// from at least `floodSources` distinct sources, within `floodWindow`.
    public var floodConnections = 200
    public var floodSources = 20
    public var floodWindow: Int64 = 10_000_000_000
    /// ICMP sweep: echo requests from one source to `sweepHosts` distinct hosts within `sweepWindow`.
    public var sweepHosts = 25
    public var sweepWindow: Int64 = 300_000_000_000
    /// DNS tunnelling (docs/alerts.md): a query name is suspicious when it has at least
    /// `tunnelNameLength` characters, or its longest label left of the registered domain
    /// (`DNSNameShape`) has at least `tunnelLabelLength`, or at least `tunnelEntropyLength`
    /// characters with a Shannon entropy of at least `tunnelEntropyMillibits` / 1000 bits per
    /// character. One source asking `tunnelNames` distinct such labels within `tunnelWindow` alerts.
    public var tunnelNameLength = 120
    public var tunnelLabelLength = 52
    public var tunnelEntropyLength = 24
    public var tunnelEntropyMillibits = 4000
    public var tunnelNames = 10
    public var tunnelWindow: Int64 = 60_000_000_000
    /// NXDOMAIN burst: one client receiving NXDOMAIN for `nxdomainNames` distinct names within
    /// `nxdomainWindow`. Names under `nxdomainClusterDomain` are not counted: the search-path
    /// expansions a pod's resolver tries first (Kubernetes writes `search <ns>.svc.<domain>
    /// svc.<domain> <domain>` into every pod's resolv.conf, kubelet's `--cluster-domain`), whatever
    /// `nxdomainIgnoredSuffixes` adds (node search domains; lowercase, no trailing dot).
    public var nxdomainNames = 20
    public var nxdomainWindow: Int64 = 60_000_000_000
    public var nxdomainClusterDomain = "cluster.local"
    public var nxdomainIgnoredSuffixes: [String] = []

    /// Repeats of one alert (same kind, source and target) within this window after the
    /// first are counted into one summary alert instead of written one by one.
    public var aggregationWindow: Int64 = 60_000_000_000
    /// Folding (docs/alerts.md): a policy violation that a port scan or ICMP sweep from the
    /// same source explains is counted in the scan's alert instead of written. Violations are
    /// held up to `foldHold` of packet time (nil: the new-connection timeout plus 2 s, so a
    /// scan's unanswered probes are judged first), at most `maxHeld` at once.
    public var foldsPolicyViolations = true
    public var foldHold: Int64?
    public var maxHeld = 8_192
    /// Rate limit (Suricata's `threshold type limit, track by_src`, across every kind): at most
    /// `rateLimitCount` alert lines per source address in a `rateLimitWindow` that starts at the
    /// source's first line; the rest are counted, not written. 0: no limit.
    public var rateLimitCount = 100
    public var rateLimitWindow: Int64 = 60_000_000_000
    /// The hold when neither the configuration nor the run gives one: the default
    /// `--timeout-new` (30 s) plus 2 s.
    public static let defaultFoldHold: Int64 = 32_000_000_000

    /// Bounded state: counting trackers per detector, open aggregates, and detector events a
    /// worker may hold between two hand-offs (one second of packet time).
    public var maxTrackers = 16_384
    public var maxAggregates = 8_192
    public var maxPendingEvents = 16_384

    /// Sources no detector alerts on (policy violations excepted): address prefixes.
    public var allowedPrefixes: [IPPrefix] = []

    public init() {}

    public func isEnabled(_ detector: AlertDetector) -> Bool { self.enabled & (1 << detector.rawValue) != 0 }

    public mutating func setEnabled(_ detector: AlertDetector, _ on: Bool) {
        if on { self.enabled |= 1 << detector.rawValue } else { self.enabled &= ~(1 << detector.rawValue) }
    }

    /// The datapath checks the enabled detectors judge. Failed attempts are found whenever a
    /// detector is on, as the allow-list counter (`stats.alerts.allowlisted`) counts them.
    public var connectionChecks: ConnectionChecks {
        guard self.enabled != 0 else { return [] }
        var checks = ConnectionChecks.failedAttempts
        for detector in AlertDetector.allCases where self.isEnabled(detector) { checks.formUnion(detector.row.checks) }
        if self.foldsPolicyViolations && self.isEnabled(.policyViolation) { checks.insert(.answers) }
        return checks
    }

    public func severity(of kind: AlertKind) -> UInt8 { self.severities[Int(kind.rawValue)] }

    /// The largest distinct-value threshold a tracker has to remember.
    public static let maximumThreshold = 4096
}
