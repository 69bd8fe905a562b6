import FlowCore

/// At most `limit` alert lines per source address per `window` of packet time, across every
/// kind: Suricata's `threshold: type limit, track by_src, count N, seconds S` (its
/// `ThresholdHandlePacket`: a source's first line opens a window of `S` seconds; the first `N`
/// lines in it are written, the rest suppressed; the next line after the window opens a new
/// one), applied to all of flowmon's signatures together rather than to each. The suppressed
/// lines are counted, in total (`suppressed`) and per source, so the source's next written line
/// says how many of its lines were suppressed before it. An `EvictingHashTable` (a full bucket
/// gives up the source whose window started first); allocated once.
final class SourceRateLimit {
    struct Window {
        var start: Int64
        var written: Int
        /// Lines suppressed since the source's last written line.
        var pending: UInt64
    }

    let limit: Int
    let window: Int64
    private let table: EvictingHashTable<TrackerKey, Window>
    private(set) var suppressed: UInt64 = 0

    init(capacity: Int, limit: Int, window: Int64) {
        self.limit = limit
        self.window = max(1, window)
        self.table = EvictingHashTable(capacity: limit > 0 ? capacity : 1)
    }

    /// Whether a line of `source` at `time` is written; when it is, also how many of the
    /// source's lines were suppressed since its last written one.
    func admit(_ source: IPAddress, time: Int64) -> (written: Bool, suppressedBefore: UInt64) {
        guard self.limit > 0 else { return (true, 0) }
        let key = TrackerKey(first: source, second: .zero, port: 0, ipProtocol: 0)
        let place = self.table.place(key, hash: key.hash) { $0.start }
        guard case .found(let index) = place, time &- self.table[index].start < self.window else {
            // A new window: its first line is written (what a full bucket gave up is forgotten).
            var pending: UInt64 = 0
            if case .found(let index) = place { pending = self.table[index].pending }
            self.table.store(key, Window(start: time, written: 1, pending: 0), at: place.index)
            return (true, pending)
        }
        if self.table[index].written < self.limit {
            self.table[index].written += 1
            let pending = self.table[index].pending
            self.table[index].pending = 0
            return (true, pending)
        }
        self.table[index].pending &+= 1
        self.suppressed &+= 1
        return (false, 0)
    }
}
