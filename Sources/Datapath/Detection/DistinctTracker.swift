import FlowCore

/// What a tracker counts for: the scanning source and target host (vertical scan), the source
/// and target port (horizontal scan), the target host and port (SYN flood), the source (sweep).
struct TrackerKey: Equatable {
    var first: IPAddress
    var second: IPAddress
    var port: UInt16
    var ipProtocol: UInt8

    var hash: UInt64 {
        var key = FlowKey(lowAddress: self.first, highAddress: self.second, lowPort: self.port, highPort: 0,
                          ipProtocol: self.ipProtocol, vni: 0)
        key.vni = 0
        return key.hashValue64
    }
}

/// A fixed-capacity table of counting windows: per key, attempts and the distinct values
/// (ports, hosts, sources) seen in the current window, remembered exactly up to `threshold`
/// (all a threshold test needs). 4-way buckets; a full bucket gives up its oldest window
/// (counted in `evicted`). Allocated once; nothing allocates afterwards.
final class DistinctTracker {
    struct Slot {
        var key: TrackerKey
        var windowStart: Int64
        var attempts: UInt64
        var distinct: Int
        var fired: Bool
        var used: Bool
    }

    static let ways = 4
    let threshold: Int
    let window: Int64
    private let bucketMask: Int
    private let slots: UnsafeMutablePointer<Slot>
    private let values: UnsafeMutablePointer<UInt64>
    private(set) var evicted: UInt64 = 0

    init(capacity: Int, threshold: Int, window: Int64) {
        var buckets = 1
        while buckets * Self.ways < max(capacity, Self.ways) { buckets <<= 1 }
        self.bucketMask = buckets - 1
        self.threshold = max(1, threshold)
        self.window = window
        let count = buckets * Self.ways
        self.slots = .allocate(capacity: count)
        let empty = TrackerKey(first: .zero, second: .zero, port: 0, ipProtocol: 0)
        self.slots.initialize(repeating: Slot(key: empty, windowStart: 0, attempts: 0, distinct: 0, fired: false, used: false),
                              count: count)
        self.values = .allocate(capacity: count * self.threshold)
        self.values.initialize(repeating: 0, count: count * self.threshold)
    }

    deinit {
        self.slots.deallocate()
        self.values.deallocate()
    }

    /// Counts one attempt with `value` at `time`. Returns the window's attempts and distinct
    /// values so far, and whether this call is the first to find the window at the thresholds
    /// given by `crossed` (so each window fires once).
    func note(_ key: TrackerKey, value: UInt64, time: Int64,
              crossed: (_ attempts: UInt64, _ distinct: Int) -> Bool) -> (attempts: UInt64, distinct: Int, fires: Bool) {
        let index = self.slot(for: key, time: time)
        let slot = self.slots + index
        if time >= slot.pointee.windowStart &+ self.window {
            // The window has passed: this attempt opens the next one.
            slot.pointee.windowStart = time
            slot.pointee.attempts = 0
            slot.pointee.distinct = 0
            slot.pointee.fired = false
        }
        slot.pointee.attempts &+= 1
        let values = self.values + index * self.threshold
        var known = false
        for position in 0..<slot.pointee.distinct where values[position] == value {
            known = true
            break
        }
        if !known && slot.pointee.distinct < self.threshold {
            values[slot.pointee.distinct] = value
            slot.pointee.distinct += 1
        }
        var fires = false
        if !slot.pointee.fired && crossed(slot.pointee.attempts, slot.pointee.distinct) {
            slot.pointee.fired = true
            fires = true
        }
        return (slot.pointee.attempts, slot.pointee.distinct, fires)
    }

    private func slot(for key: TrackerKey, time: Int64) -> Int {
        let base = (Int(truncatingIfNeeded: key.hash) & self.bucketMask) * Self.ways
        var victim = -1
        for index in base..<(base + Self.ways) {
            if self.slots[index].used {
                if self.slots[index].key == key { return index }
            } else if victim < 0 {
                victim = index
            }
        }
        if victim < 0 {
            // Full bucket: the window that opened first gives way.
            victim = base
            for index in (base + 1)..<(base + Self.ways)
            where self.slots[index].windowStart < self.slots[victim].windowStart {
                victim = index
            }
            self.evicted &+= 1
        }
        self.slots[victim] = Slot(key: key, windowStart: time, attempts: 0, distinct: 0, fired: false, used: true)
        return victim
    }
}
