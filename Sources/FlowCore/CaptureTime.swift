/// A point in time as nanoseconds since the Unix epoch (UTC).
///
/// Time is an input in flowmon: replay passes capture timestamps, live capture the
/// kernel's, tests literals. Nothing below the CLI reads a clock.
@frozen
public struct CaptureTime: Hashable, Comparable, Sendable {
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    @inlinable
    public init(seconds: Int64, nanoseconds: Int64 = 0) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    public static let zero = CaptureTime(nanoseconds: 0)

    @inlinable
    public static func < (lhs: CaptureTime, rhs: CaptureTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    @inlinable
    public static func + (lhs: CaptureTime, rhs: Duration) -> CaptureTime {
        CaptureTime(nanoseconds: lhs.nanoseconds &+ rhs.flowmonNanoseconds)
    }

    /// Whole seconds since the epoch (floor).
    @inlinable
    public var seconds: Int64 {
        self.nanoseconds >= 0 ? self.nanoseconds / 1_000_000_000 : (self.nanoseconds - 999_999_999) / 1_000_000_000
    }

    /// Nanoseconds within the second, 0..<1e9.
    @inlinable
    public var subsecondNanoseconds: Int64 { self.nanoseconds - self.seconds * 1_000_000_000 }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating at `Int64` bounds.
    @inlinable
    public var flowmonNanoseconds: Int64 {
        let (seconds, attoseconds) = self.components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return scaled &+ attoseconds / 1_000_000_000
    }
}
