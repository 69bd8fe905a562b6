import Datapath
import FlowCore

/// One alert to write: its kind, how many occurrences it stands for, and the detector's
/// numbers. A first occurrence is written at once (`count` 1); repeats of the same kind,
/// source and target within the aggregation window are counted and written as one summary
/// (`isSummary`, `count` = every occurrence in the window, first included) when it closes.
public struct AlertFire: Sendable, Equatable {
    public var kind: AlertKind
    public var count: UInt64 = 1
    public var firstSeen: CaptureTime
    public var lastSeen: CaptureTime
    public var isSummary = false
    /// Port scan and sweep: distinct ports or hosts counted when the threshold was reached;
    /// SYN flood: half-open connections then; tunnel identity mismatch: the packet's VNI;
    /// DNS tunnelling and NXDOMAIN bursts: distinct names counted then.
    public var distinct: UInt64 = 0
    /// SYN flood: distinct sources counted then; tunnel identity mismatch: the sender's identity.
    public var sources: UInt64 = 0
    /// The detector's counting window, nanoseconds (0 for per-connection alerts).
    public var window: Int64 = 0
    /// DNS alerts: what was found in the message that raised it (its name's bytes are in the
    /// finding buffer of the event that raised it; summaries do not show them).
    public var dns: DNSFinding?
    /// Port scans and sweeps: the policy violations this alert explains, counted here instead
    /// of written (for a summary: every one folded in the window, the first line's included).
    public var folded: UInt64 = 0
    /// Lines of this alert's source the rate limit suppressed since its last written line.
    public var rateLimited: UInt64 = 0

    public init(kind: AlertKind, time: CaptureTime) {
        self.kind = kind
        self.firstSeen = time
        self.lastSeen = time
    }
}

/// Open aggregation windows, at most `capacity` (an `EvictingHashTable`: a full bucket closes
/// the window that ends first). Each keeps the first alert and its connection, so the summary
/// names the same connection the first line did.
final class AlertAggregator {
    struct Key: Equatable {
        var kind: AlertKind
        var target: TrackerKey
    }

    struct Aggregate {
        var windowEnd: Int64
        var fire: AlertFire
        /// Violations folded after the first line was written: they make a summary needed.
        var foldedLater: UInt64 = 0
        /// The window's first connection (nil only in slots never used).
        var flow: FlowEntry?
    }

    let window: Int64
    private let table: EvictingHashTable<Key, Aggregate>
    /// Scratch space for closing windows in a stable order.
    private let closing: UnsafeMutablePointer<Int>
    var evicted: UInt64 { self.table.evicted }

    init(capacity: Int, window: Int64) {
        self.window = window
        self.table = EvictingHashTable(capacity: capacity)
        self.closing = .allocate(capacity: self.table.slotCount)
    }

    deinit { self.closing.deallocate() }

    /// One occurrence. Calls `emit` for the alert to write now: the occurrence itself when it
    /// opens a window, and before it the summary of a window it closes or evicts.
    func note(_ fire: AlertFire, key target: TrackerKey, flow: FlowEntry,
              emit: (AlertFire, FlowEntry) -> Void) {
        let time = fire.lastSeen.nanoseconds
        let key = Key(kind: fire.kind, target: target)
        let place = self.table.place(key, hash: target.hash &+ UInt64(fire.kind.rawValue)) { $0.windowEnd }
        switch place {
        case .found(let index) where time < self.table[index].windowEnd:
            self.table[index].fire.count &+= 1
            self.table[index].fire.folded &+= fire.folded
            self.table[index].foldedLater &+= fire.folded
            if fire.lastSeen > self.table[index].fire.lastSeen { self.table[index].fire.lastSeen = fire.lastSeen }
            // A held policy violation is noted when it is let go, after later ones may have
            // opened the window: the summary's first_seen is still the earliest occurrence.
            if fire.firstSeen < self.table[index].fire.firstSeen { self.table[index].fire.firstSeen = fire.firstSeen }
            return
        case .found(let index), .evicting(let index):
            self.close(index, emit: emit)  // its window has ended, or (full bucket) it ends first
        case .free:
            break
        }
        emit(fire, flow)
        self.table.store(key, Aggregate(windowEnd: time &+ self.window, fire: fire, flow: flow), at: place.index)
    }

    /// Counts a policy violation at `time` into the open window of the `kind` alert about
    /// `target`, if there is one and `time` is inside it; returns whether it did.
    func fold(into kind: AlertKind, key target: TrackerKey, time: Int64) -> Bool {
        guard let index = self.table.find(Key(kind: kind, target: target), hash: target.hash &+ UInt64(kind.rawValue)),
            time < self.table[index].windowEnd
        else { return false }
        self.table[index].fire.folded &+= 1
        self.table[index].foldedLater &+= 1
        return true
    }

    /// Closes every window that has ended by `time` (all of them when `time` is nil), writing
    /// the summaries of those that counted repeats, in the order the windows opened.
    func close(endingBy time: Int64?, emit: (AlertFire, FlowEntry) -> Void) {
        var count = 0
        for index in 0..<self.table.slotCount where self.table.key(at: index) != nil {
            if let time, self.table[index].windowEnd > time { continue }
            self.closing[count] = index
            count += 1
        }
        // Insertion sort by opening time, kind and key: few windows close at once, and it
        // needs no allocation (the standard library's sort may take a buffer).
        if count > 1 {
            for position in 1..<count {
                let item = self.closing[position]
                var slot = position
                while slot > 0 && self.precedes(item, self.closing[slot - 1]) {
                    self.closing[slot] = self.closing[slot - 1]
                    slot -= 1
                }
                self.closing[slot] = item
            }
        }
        for position in 0..<count { self.close(self.closing[position], emit: emit) }
    }

    private func precedes(_ a: Int, _ b: Int) -> Bool {
        guard let x = self.table.key(at: a), let y = self.table.key(at: b) else { return false }  // both are in use
        let xFirst = self.table[a].fire.firstSeen, yFirst = self.table[b].fire.firstSeen
        if xFirst != yFirst { return xFirst < yFirst }
        if x.kind != y.kind { return x.kind.rawValue < y.kind.rawValue }
        if x.target.first != y.target.first { return x.target.first < y.target.first }
        if x.target.second != y.target.second { return x.target.second < y.target.second }
        return x.target.port < y.target.port
    }

    private func close(_ index: Int, emit: (AlertFire, FlowEntry) -> Void) {
        if self.table[index].fire.count > 1 || self.table[index].foldedLater > 0, let flow = self.table[index].flow {
            var summary = self.table[index].fire
            summary.isSummary = true
            emit(summary, flow)
        }
        self.table.remove(at: index)
    }
}
