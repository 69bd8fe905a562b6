import Output

/// Where a record stands in the output order a single pass over the capture gives:
/// the event that emitted it (a sweep, a packet, the end), then the order inside that
/// event (expiry deadline or start time, then flow id). Workers tag records with it so
/// the pipeline can merge their output into exactly the single-worker order.
struct EmissionKey: Comparable, Sendable {
    var event: UInt64
    var primary: Int64
    var secondary: UInt64
    /// 0 for flow records; alerts raised about a record's connection follow it (1, 2, …).
    var alertOrder: UInt64 = 0

    static func < (a: EmissionKey, b: EmissionKey) -> Bool {
        (a.event, a.primary, a.secondary, a.alertOrder) < (b.event, b.primary, b.secondary, b.alertOrder)
    }
}

/// Records one worker emitted since the last hand-off, with their keys; the bytes live in
/// one buffer that is reused for the next batch.
final class KeyedRecords {
    var buffer = JSONBuffer(capacity: 1 << 16)
    var entries: [(key: EmissionKey, start: Int, count: Int)] = []
    private var recordStart = 0

    init() { self.entries.reserveCapacity(1024) }

    func beginRecord() { self.recordStart = self.buffer.count }

    func endRecord(_ key: EmissionKey) {
        self.entries.append((key, self.recordStart, self.buffer.count - self.recordStart))
    }

    func removeAll() {
        self.buffer.removeAll()
        self.entries.removeAll(keepingCapacity: true)
    }

    var isEmpty: Bool { self.entries.isEmpty }
}
