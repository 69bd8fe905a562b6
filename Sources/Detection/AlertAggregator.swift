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
    /// SYN flood: half-open connections then; tunnel identity mismatch: the packet's VNI.
    public var distinct: UInt64 = 0
    /// SYN flood: distinct sources counted then; tunnel identity mismatch: the sender's identity.
    public var sources: UInt64 = 0
    /// The detector's counting window, nanoseconds (0 for per-connection alerts).
    public var window: Int64 = 0

    public init(kind: AlertKind, time: CaptureTime) {
        self.kind = kind
        self.firstSeen = time
        self.lastSeen = time
    }
}

/// Open aggregation windows, at most `capacity` (4-way buckets). Each keeps the first
/// alert and its connection, so the summary names the same connection the first line did.
final class AlertAggregator {
    struct Slot {
        var key: TrackerKey
        var kind: AlertKind
        var windowEnd: Int64
        var fire: AlertFire
        /// The window's first connection; nil while the slot is free.
        var flow: FlowEntry?
    }

    static let ways = 4
    let window: Int64
    private let bucketMask: Int
    private let slotCount: Int
    private let slots: UnsafeMutablePointer<Slot>
    /// Scratch space for closing windows in a stable order.
    private let closing: UnsafeMutablePointer<Int>
    private(set) var evicted: UInt64 = 0

    init(capacity: Int, window: Int64) {
        var buckets = 1
        while buckets * Self.ways < max(capacity, Self.ways) { buckets <<= 1 }
        self.bucketMask = buckets - 1
        self.slotCount = buckets * Self.ways
        self.window = window
        self.slots = .allocate(capacity: self.slotCount)
        let empty = TrackerKey(first: .zero, second: .zero, port: 0, ipProtocol: 0)
        self.slots.initialize(repeating: Slot(key: empty, kind: .policyViolation, windowEnd: 0,
                                              fire: AlertFire(kind: .policyViolation, time: .zero), flow: nil),
                              count: self.slotCount)
        self.closing = .allocate(capacity: self.slotCount)
    }

    deinit {
        self.slots.deinitialize(count: self.slotCount)
        self.slots.deallocate()
        self.closing.deallocate()
    }

    /// One occurrence. Calls `emit` for the alert to write now: the occurrence itself when it
    /// opens a window, and before it the summary of a window it closes or evicts.
    func note(_ fire: AlertFire, key: TrackerKey, flow: FlowEntry,
              emit: (AlertFire, FlowEntry) -> Void) {
        let time = fire.lastSeen.nanoseconds
        let base = (Int(truncatingIfNeeded: key.hash &+ UInt64(fire.kind.rawValue)) & self.bucketMask) * Self.ways
        var free = -1
        for index in base..<(base + Self.ways) {
            let slot = self.slots + index
            guard slot.pointee.flow != nil else {
                if free < 0 { free = index }
                continue
            }
            guard slot.pointee.kind == fire.kind && slot.pointee.key == key else { continue }
            if time < slot.pointee.windowEnd {
                slot.pointee.fire.count &+= 1
                if fire.lastSeen > slot.pointee.fire.lastSeen { slot.pointee.fire.lastSeen = fire.lastSeen }
                return
            }
            self.close(index, emit: emit)
            free = index
            break
        }
        if free < 0 {
            // Full bucket: the window that ends first is closed early.
            free = base
            for index in (base + 1)..<(base + Self.ways) where self.slots[index].windowEnd < self.slots[free].windowEnd {
                free = index
            }
            self.evicted &+= 1
            self.close(free, emit: emit)
        }
        emit(fire, flow)
        self.slots[free] = Slot(key: key, kind: fire.kind, windowEnd: time &+ self.window, fire: fire,
                                flow: flow)
    }

    /// Closes every window that has ended by `time` (all of them when `time` is nil), writing
    /// the summaries of those that counted repeats, in the order the windows opened.
    func close(endingBy time: Int64?, emit: (AlertFire, FlowEntry) -> Void) {
        var count = 0
        for index in 0..<self.slotCount where self.slots[index].flow != nil {
            if let time, self.slots[index].windowEnd > time { continue }
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
        let x = self.slots + a, y = self.slots + b
        if x.pointee.fire.firstSeen != y.pointee.fire.firstSeen { return x.pointee.fire.firstSeen < y.pointee.fire.firstSeen }
        if x.pointee.kind != y.pointee.kind { return x.pointee.kind.rawValue < y.pointee.kind.rawValue }
        if x.pointee.key.first != y.pointee.key.first { return x.pointee.key.first < y.pointee.key.first }
        if x.pointee.key.second != y.pointee.key.second { return x.pointee.key.second < y.pointee.key.second }
        return x.pointee.key.port < y.pointee.key.port
    }

    private func close(_ index: Int, emit: (AlertFire, FlowEntry) -> Void) {
        let slot = self.slots + index
        if slot.pointee.fire.count > 1, let flow = slot.pointee.flow {
            var summary = slot.pointee.fire
            summary.isSummary = true
            emit(summary, flow)
        }
        slot.pointee.flow = nil
    }
}
