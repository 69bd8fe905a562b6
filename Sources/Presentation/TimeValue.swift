import FlowLog
import Foundation

/// `--since` and `--until` values, as Hubble reads them (hubble/pkg/time `FromString`): a
/// duration before `now` in Go's syntax (`30s`, `5m`, `1h30m`, `1.5h`), or a time: RFC 3339
/// with or without fractional seconds, a date (`2025-01-01`, UTC midnight), or flowmon's own
/// timestamps (`2025-01-01T10:00:02.084069+0000`).
package enum TimeValue {
    package static func parse(_ text: String, now: Date) -> Date? {
        if let duration = Self.duration(text) { return now.addingTimeInterval(-duration) }
        if let time = FlowLogTime.parse(text) { return time }
        let formatter = ISO8601DateFormatter()
        for options: ISO8601DateFormatter.Options in [[.withInternetDateTime, .withFractionalSeconds], [.withInternetDateTime], [.withFullDate]] {
            formatter.formatOptions = options
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    /// Seconds in a Go duration (`time.ParseDuration`): numbers with units ns, us, µs, ms, s, m, h.
    package static func duration(_ text: String) -> TimeInterval? {
        var rest = Substring(text)
        var sign = 1.0
        if rest.first == "-" || rest.first == "+" {
            sign = rest.first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { return nil }
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !($0.isNumber || $0 == ".") }
            rest = rest.dropFirst(unit.count)
            let scale: Double
            switch unit {
            case "ns": scale = 1e-9
            case "us", "µs", "μs": scale = 1e-6
            case "ms": scale = 1e-3
            case "s": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            total += value * scale
        }
        return sign * total
    }
}
