import Datapath
import FlowCore

/// What a tracker counts for: the scanning source and target host (vertical scan), the source
/// and target port (horizontal scan), the target host and port (SYN flood), the source (sweep).
struct TrackerKey: Equatable {
    var first: IPAddress
    var second: IPAddress
    var port: UInt16
    var ipProtocol: UInt8

    var hash: UInt64 {
        FlowKey(lowAddress: self.first, highAddress: self.second, lowPort: self.port, highPort: 0,
                ipProtocol: self.ipProtocol, vni: 0).hashValue64
    }
}

/// A fixed-capacity table of sliding windows over packet time: per key, the distinct values
/// (ports, hosts, sources) seen in the last `window`, each with the time it was last seen,
/// remembered exactly up to `threshold` (all a threshold test needs), and the attempts in the
/// last `window`, counted in eight sub-buckets (so the count slides in steps of window/8).
/// "Now" is the latest time the key has seen: events may arrive a little out of order (scan
/// attempts are judged when their connections end), and an older one still counts while it is
/// inside the window. An `EvictingHashTable`: a full bucket gives up the key seen least
/// recently (counted in `evicted`). Allocated once; nothing allocates afterwards.
final class DistinctTracker {
    struct Window {
        /// The latest time seen for this key: the window is (latest - window, latest].
        var latest: Int64
        var lastFired: Int64
        var distinct: Int
        /// Absolute number of the newest attempt sub-bucket (time / bucketWidth).
        var newestBucket: Int64
    }

    static let subBuckets = 8
    let threshold: Int
    let window: Int64
    private let bucketWidth: Int64
    private let table: EvictingHashTable<TrackerKey, Window>
    /// Per slot, `threshold` distinct values and the times they were last seen.
    private let values: UnsafeMutablePointer<UInt64>
    private let valueTimes: UnsafeMutablePointer<Int64>
    /// Per slot, attempts per sub-bucket (ring indexed by bucket number modulo 8).
    private let attempts: UnsafeMutablePointer<UInt32>
    var evicted: UInt64 { self.table.evicted }

    init(capacity: Int, threshold: Int, window: Int64) {
        self.threshold = max(1, threshold)
        self.window = max(1, window)
        self.bucketWidth = max(1, (self.window + Int64(Self.subBuckets) - 1) / Int64(Self.subBuckets))
        self.table = EvictingHashTable(capacity: capacity)
        let count = self.table.slotCount
        // Values are written before they are read (a slot's first `distinct` entries), and a
        // slot's attempt ring is zeroed when the slot is taken, so these stay untouched (and
        // not resident) until keys arrive.
        self.values = .allocate(capacity: count * self.threshold)
        self.valueTimes = .allocate(capacity: count * self.threshold)
        self.attempts = .allocate(capacity: count * Self.subBuckets)
    }

    deinit {
        self.values.deallocate()
        self.valueTimes.deallocate()
        self.attempts.deallocate()
    }

    /// Counts one attempt with `value` at `time`. Returns the attempts and distinct values in
    /// the window, and whether the key fires now: `crossed` holds and it has not fired within
    /// the last `window` (so a scan alerts once per window, not once per probe).
    func note(_ key: TrackerKey, value: UInt64, time: Int64,
              crossed: (_ attempts: UInt64, _ distinct: Int) -> Bool) -> (attempts: UInt64, distinct: Int, fires: Bool) {
        let index = self.slot(for: key, time: time)
        if time > self.table[index].latest { self.table[index].latest = time }
        let now = self.table[index].latest
        guard now &- time < self.window else { return (0, self.table[index].distinct, false) }  // older than the window

        // Distinct values: drop those that left the window, then add or refresh this one.
        let values = self.values + index * self.threshold
        let times = self.valueTimes + index * self.threshold
        var kept = 0
        var known = false
        for position in 0..<self.table[index].distinct where now &- times[position] < self.window {
            values[kept] = values[position]
            times[kept] = times[position]
            if values[kept] == value {
                known = true
                if time > times[kept] { times[kept] = time }
            }
            kept += 1
        }
        if !known && kept < self.threshold {
            values[kept] = value
            times[kept] = time
            kept += 1
        }
        self.table[index].distinct = kept

        // Attempts: advance the sub-bucket ring to `now`, then count this one in its bucket.
        let ring = self.attempts + index * Self.subBuckets
        let newest = now / self.bucketWidth
        if newest > self.table[index].newestBucket {
            let stale = min(newest &- self.table[index].newestBucket, Int64(Self.subBuckets))
            for step in 0..<stale {
                ring[Self.ringIndex(newest &- step)] = 0
            }
            self.table[index].newestBucket = newest
        }
        let bucket = time / self.bucketWidth
        if newest &- bucket < Int64(Self.subBuckets) {
            ring[Self.ringIndex(bucket)] &+= 1
        }
        var total: UInt64 = 0
        for position in 0..<Self.subBuckets { total &+= UInt64(ring[position]) }

        var fires = false
        if crossed(total, kept) && (self.table[index].lastFired == .min || now &- self.table[index].lastFired >= self.window) {
            self.table[index].lastFired = now
            fires = true
        }
        return (total, kept, fires)
    }

    /// A sub-bucket's place in the ring (never negative, whatever the time).
    @inline(__always)
    static func ringIndex(_ bucket: Int64) -> Int { Int(UInt64(bitPattern: bucket) & UInt64(Self.subBuckets - 1)) }

    /// The key's slot; a new one starts its window at `time`.
    private func slot(for key: TrackerKey, time: Int64) -> Int {
        let place = self.table.place(key, hash: key.hash) { $0.latest }
        if case .found(let index) = place { return index }
        self.table.store(key, Window(latest: time, lastFired: .min, distinct: 0, newestBucket: time / self.bucketWidth),
                         at: place.index)
        let ring = self.attempts + place.index * Self.subBuckets
        for position in 0..<Self.subBuckets { ring[position] = 0 }
        return place.index
    }
}
