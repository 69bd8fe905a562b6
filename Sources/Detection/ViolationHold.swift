import Datapath
import FlowCore

/// Policy violations waiting for the scan detectors (docs/alerts.md, "Folding"). A violation is
/// known when its connection starts; whether a port scan or sweep explains it is known only when
/// the scan's probes end (a refused attempt after `--timeout-closed`, an unanswered one after
/// `--timeout-new`). So a violation waits here up to `hold` of packet time: a scan that fires
/// meanwhile takes the ones it explains (`fold`), the others are handed back when their hold
/// ends (`release`), or as soon as their connection shows it is no probe (`take`: a handshake
/// the originator went on with, a UDP reply). A ring of fixed capacity, allocated once, in the order the violations came
/// (single-pass order: the same with any number of workers); when it is full the oldest is
/// handed back early (counted in `releasedEarly`). Per violation and per answered connection
/// the work is constant: `take` first asks a count of held entries by connection-id bucket.
final class ViolationHold {
    struct Held {
        var fire: AlertFire
        var key: TrackerKey
        var flow: FlowEntry
        var releaseAt: Int64
        /// Folded into a scan, or handed back early (`take`): skipped when its turn comes.
        var done: Bool
    }

    let hold: Int64
    let capacity: Int
    private let ring: UnsafeMutablePointer<Held>
    private var start = 0
    private(set) var count = 0
    /// Entries in the ring that are done (folded, or handed back by `take`).
    private var doneCount = 0
    /// How many entries of the ring each bucket of connection ids holds (`bucket(_:)`): `take`,
    /// asked about every answered connection, returns at once for the many that hold none.
    private let heldByBucket: UnsafeMutablePointer<UInt32>
    private static let bucketCount = 1 << 14
    /// Violations handed back before their hold ended because the ring was full.
    private(set) var releasedEarly: UInt64 = 0

    init(capacity: Int, hold: Int64) {
        self.capacity = max(1, capacity)
        self.hold = max(0, hold)
        self.ring = .allocate(capacity: self.capacity)
        self.heldByBucket = .allocate(capacity: Self.bucketCount)
        self.heldByBucket.initialize(repeating: 0, count: Self.bucketCount)
    }

    deinit {
        for offset in 0..<self.count { (self.ring + (self.start + offset) % self.capacity).deinitialize(count: 1) }
        self.ring.deallocate()
        self.heldByBucket.deallocate()
    }

    @inline(__always)
    private static func bucket(_ flowID: UInt64) -> Int { Int(truncatingIfNeeded: (flowID &* 0x9E37_79B9_7F4A_7C15) >> 50) }

    /// Holds a violation. When the ring is full, the entries that are done are dropped if they
    /// are an eighth of it or more (so dropping them pays for itself); otherwise the oldest is
    /// handed to `release` (early, when it was still waiting).
    func add(_ fire: AlertFire, key: TrackerKey, flow: FlowEntry, release: (Held) -> Void) {
        if self.count == self.capacity && self.doneCount > 0 && self.doneCount >= self.capacity / 8 { self.compact() }
        if self.count == self.capacity {
            if !self.ring[self.start].done { self.releasedEarly &+= 1 }
            self.popFirst(release)
        }
        (self.ring + (self.start + self.count) % self.capacity)
            .initialize(to: Held(fire: fire, key: key, flow: flow, releaseAt: fire.firstSeen.nanoseconds &+ self.hold,
                                 done: false))
        self.heldByBucket[Self.bucket(flow.flowID)] &+= 1
        self.count += 1
    }

    /// Marks the held violations `explains` accepts as folded; returns how many it took.
    func fold(_ explains: (Held) -> Bool) -> UInt64 {
        var taken: UInt64 = 0
        for offset in 0..<self.count {
            let slot = self.ring + (self.start + offset) % self.capacity
            if !slot.pointee.done && explains(slot.pointee) {
                slot.pointee.done = true
                taken &+= 1
            }
        }
        self.doneCount += Int(taken)
        return taken
    }

    /// Hands back the held violation of connection `flowID` now, if there is one (searching from
    /// the newest: it is asked for soon after it came).
    func take(flowID: UInt64, _ body: (Held) -> Void) {
        guard self.heldByBucket[Self.bucket(flowID)] > 0 else { return }
        var offset = self.count
        while offset > 0 {
            offset -= 1
            let slot = self.ring + (self.start + offset) % self.capacity
            guard slot.pointee.flow.flowID == flowID else { continue }
            if !slot.pointee.done {
                slot.pointee.done = true
                self.doneCount += 1
                body(slot.pointee)
            }
            return
        }
    }

    /// Hands back, oldest first, the violations whose hold has ended by `time` (all, when nil),
    /// skipping those a scan folded.
    func release(endingBy time: Int64?, _ body: (Held) -> Void) {
        while self.count > 0 {
            if let time, self.ring[self.start].releaseAt > time { return }
            self.popFirst(body)
        }
    }

    /// Drops the entries that are done, keeping the others in order.
    private func compact() {
        var kept = 0
        for offset in 0..<self.count {
            let slot = self.ring + (self.start + offset) % self.capacity
            if slot.pointee.done {
                self.heldByBucket[Self.bucket(slot.pointee.flow.flowID)] &-= 1
                slot.deinitialize(count: 1)
            } else {
                if kept != offset { (self.ring + (self.start + kept) % self.capacity).moveInitialize(from: slot, count: 1) }
                kept += 1
            }
        }
        self.count = kept
        self.doneCount = 0
    }

    private func popFirst(_ body: (Held) -> Void) {
        let held = (self.ring + self.start).move()
        self.start = (self.start + 1) % self.capacity
        self.count -= 1
        self.heldByBucket[Self.bucket(held.flow.flowID)] &-= 1
        if held.done { self.doneCount -= 1 } else { body(held) }
    }
}
