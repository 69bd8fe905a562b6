import FlowCore
import Foundation

/// One line of flowmon's JSON-lines output, by its `event_type`: a connection (`flow`,
/// schema/flow.schema.json), an alert (schema/alert.schema.json), the run's counters (`stats`,
/// schema/stats.schema.json) or packets lost in a live capture (schema/lost.schema.json).
/// `FlowLogReader.nextEvent()` reads a file of them, `init?(line:)` one line.
package enum FlowLogEvent: Sendable, Equatable {
    case flow(FlowLogRecord)
    case alert(FlowLogAlert)
    case stats(FlowLogStats)
    case lost(FlowLogLost)
    /// A DNS message, HTTP transaction or TLS ClientHello (`dns`, `http`, `tls`).
    case application(FlowLogApplication)

    /// The `event_type`s read; lines of any other are skipped.
    package enum Kind: String, Sendable, Hashable, CaseIterable {
        case flow, alert, stats, lost, dns, http, tls

        /// The application-layer records.
        package static let application: Set<Kind> = [.dns, .http, .tls]
    }

    package var kind: Kind {
        switch self {
        case .flow: .flow
        case .alert: .alert
        case .stats: .stats
        case .lost: .lost
        case .application(let record): record.kind
        }
    }

    /// The connection of a flow, or the one an alert is about; nil for stats and lost records.
    package var connection: FlowLogRecord? {
        switch self {
        case .flow(let record): record
        case .alert(let alert): alert.connection
        case .application(let record): record.connection
        case .stats, .lost: nil
        }
    }

    /// The record in one line as flowmon writes it (as a pipe from it delivers them), or nil
    /// when the line is not one: not JSON, not an object, another `event_type`, a key missing
    /// or of the wrong type.
    package init?(line: ArraySlice<UInt8>) {
        let decoder = FlowLogReader.decoder
        guard let type = try? FlowLogReader.eventType(of: line, decoder: decoder), let kind = Kind(rawValue: type),
              let event = try? Self(kind, line: line, decoder: decoder)
        else { return nil }
        self = event
    }

    /// `line`, a record of `kind`, read by the fast parser, or else by `decoder`, which either
    /// reads it or says precisely what is wrong.
    init(_ kind: Kind, line: ArraySlice<UInt8>, decoder: JSONDecoder) throws {
        self = try FlowLogParser.parse(line, as: kind) ?? Self.decode(kind, from: line, with: decoder)
    }

    /// `line`, a record of `kind`, as `decoder` reads it.
    static func decode(_ kind: Kind, from line: ArraySlice<UInt8>, with decoder: JSONDecoder) throws -> FlowLogEvent {
        let data = Data(line)
        return switch kind {
        case .flow: .flow(try decoder.decode(FlowLogRecord.self, from: data))
        case .alert: .alert(try decoder.decode(FlowLogAlert.self, from: data))
        case .stats: .stats(try decoder.decode(FlowLogStats.self, from: data))
        case .lost: .lost(try decoder.decode(FlowLogLost.self, from: data))
        case .dns, .http, .tls: .application(try decoder.decode(FlowLogApplication.self, from: data))
        }
    }
}

/// One `event_type: "alert"` line (schema/alert.schema.json): what a detector saw on a
/// connection. Read here: `alert.kind`, `signature`, `severity`, `count` and `aggregated`, and
/// the `scan` and `flood` details, all as the schema requires them; the constant `action`, `gid`
/// and `rev`, and `signature_id`, `category`, `first_seen`, `last_seen`, `spoof`,
/// `scan.type` and `flood.window` are skipped, as unknown keys are.
package struct FlowLogAlert: Sendable, Equatable {
    /// The connection: the line's keys that an alert shares with a flow record (`timestamp`,
    /// `flow_id`, `src_ip` ... `source`, `destination`, `policy`), read as a flow record's. Its
    /// counts are 0 (an alert has no `flow` object); its `timestamp` is the alert's.
    package var connection: FlowLogRecord
    /// `policy_violation`, `port_scan_vertical`, `syn_flood`, ... (the schema's `alert.kind`).
    package var kind: String
    /// `FLOWMON SCAN vertical port scan (many ports on one host)`.
    package var signature: String
    /// 1 (highest) to 255.
    package var severity: UInt8
    /// Occurrences this line stands for: 1, or every one of an aggregation window.
    package var count: UInt64
    /// A window's summary (`alert.aggregated`): its `count` includes the first occurrence,
    /// which had a line of its own when the window opened.
    package var aggregated = false
    package var scan: Scan?
    package var flood: Flood?

    /// Occurrences this line adds to those already written: a summary's `count` less the
    /// first occurrence, whose own line counted it.
    package var newOccurrences: UInt64 { self.aggregated ? self.count &- 1 : self.count }

    /// Port scans and ICMP sweeps: the distinct ports or hosts counted in `window` seconds.
    package struct Scan: Sendable, Hashable {
        package var window: UInt64
        package var distinctPorts: UInt64?
        package var distinctHosts: UInt64?
    }

    /// A SYN flood: the half-open connections and their distinct sources counted.
    package struct Flood: Sendable, Hashable {
        package var halfOpen: UInt64
        package var distinctSources: UInt64
    }
}

extension FlowLogAlert.Scan: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EVEKey.self)
        self.window = try container.decode(UInt64.self, forKey: .window)
        self.distinctPorts = try container.decodeIfPresent(UInt64.self, forKey: .distinctPorts)
        self.distinctHosts = try container.decodeIfPresent(UInt64.self, forKey: .distinctHosts)
    }
}

extension FlowLogAlert.Flood: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EVEKey.self)
        self.halfOpen = try container.decode(UInt64.self, forKey: .halfOpen)
        self.distinctSources = try container.decode(UInt64.self, forKey: .distinctSources)
    }
}

extension FlowLogAlert: Decodable {
    package init(from decoder: any Decoder) throws {
        self.connection = try FlowLogRecord(from: decoder)
        let container = try decoder.container(keyedBy: EVEKey.self)
        let alert = try container.nestedContainer(keyedBy: EVEKey.self, forKey: .alert)
        self.kind = try alert.decode(String.self, forKey: .kind)
        self.signature = try alert.decode(String.self, forKey: .signature)
        self.severity = try alert.decode(UInt8.self, forKey: .severity)
        self.count = try alert.decode(UInt64.self, forKey: .count)
        self.aggregated = try alert.decodeIfPresent(Bool.self, forKey: .aggregated) ?? false
        self.scan = try container.decodeIfPresent(Scan.self, forKey: .scan)
        self.flood = try container.decodeIfPresent(Flood.self, forKey: .flood)
    }
}

/// One `event_type: "stats"` line: the run's counters so far, written at the end (and every
/// `--stats-interval` in a live capture). Kept as JSON values, since keys may be added
/// (schema/stats.schema.json): `stats["capture", "packets"]`.
package struct FlowLogStats: Sendable, Hashable {
    package var timestamp: String
    /// The `stats` object: its sections (`capture`, `decoder`, `anomalies`, `flow`,
    /// `fragments`, `alerts`), each an object of counters (`capture.error` is text).
    package var sections: [String: FlowLogValue]

    /// The value at `section.key`; nil when there is none.
    package subscript(section: String, key: String) -> FlowLogValue? { self.sections[section]?[key] }

}

extension FlowLogStats: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EVEKey.self)
        self.timestamp = try container.decode(String.self, forKey: .timestamp)
        self.sections = try container.decode([String: FlowLogValue].self, forKey: .stats)
    }
}

/// One `event_type: "lost"` line (schema/lost.schema.json): packets a live capture lost.
package struct FlowLogLost: Sendable, Hashable {
    package var timestamp: String
    /// `kernel` (pcap's ps_drop), `interface` (ps_ifdrop) or `ring_buffer` (a worker's ring was full).
    package var source: String
    /// `num_events_lost`: packets lost from `source` since its previous report.
    package var count: UInt64
    /// Packets lost from `source` since the capture started.
    package var total: UInt64
}

extension FlowLogLost: Decodable {
    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: EVEKey.self)
        self.timestamp = try container.decode(String.self, forKey: .timestamp)
        let lost = try container.nestedContainer(keyedBy: EVEKey.self, forKey: .lost)
        self.source = try lost.decode(String.self, forKey: .source)
        self.count = try lost.decode(UInt64.self, forKey: .numEventsLost)
        self.total = try lost.decode(UInt64.self, forKey: .total)
    }
}

/// A JSON value, for what is read without a type of its own (the `stats` counters).
package enum FlowLogValue: Sendable, Hashable, Decodable {
    case null
    case bool(Bool)
    case integer(Int)
    /// A number with a fraction or exponent, or an integer beyond `Int`.
    case number(Double)
    case string(String)
    case array([FlowLogValue])
    case object([String: FlowLogValue])

    package init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([FlowLogValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: FlowLogValue].self))
        }
    }

    /// The member `key` of an object.
    package subscript(key: String) -> FlowLogValue? { self.objectValue?[key] }

    package var intValue: Int? { if case .integer(let value) = self { value } else { nil } }
    package var stringValue: String? { if case .string(let value) = self { value } else { nil } }
    package var objectValue: [String: FlowLogValue]? { if case .object(let value) = self { value } else { nil } }
}
