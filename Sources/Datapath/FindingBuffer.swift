import FlowCore

/// The findings a worker's datapath made since its last hand-off, for the detectors (which
/// run on one thread over every worker's findings, in single-pass order): a fixed capacity
/// (`DetectorSettings.maxPendingEvents`), allocated once; the rest are counted, not kept.
public final class FindingBuffer {
    public struct Entry {
        public var finding: ConnectionFinding
        public var flow: FlowEntry
        public var time: CaptureTime
        public var key: EmissionKey
    }

    private let storage: UnsafeMutablePointer<Entry>
    public let capacity: Int
    public private(set) var count = 0
    public private(set) var dropped: UInt64 = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.storage = .allocate(capacity: self.capacity)
    }

    deinit {
        self.storage.deinitialize(count: self.count)
        self.storage.deallocate()
    }

    @inline(__always)
    public func append(_ finding: ConnectionFinding, flow: FlowEntry, time: CaptureTime, key: EmissionKey) {
        guard self.count < self.capacity else {
            self.dropped &+= 1
            return
        }
        (self.storage + self.count).initialize(to: Entry(finding: finding, flow: flow, time: time, key: key))
        self.count += 1
    }

    public var entries: UnsafeBufferPointer<Entry> { UnsafeBufferPointer(start: self.storage, count: self.count) }

    /// Empties the buffer and its count of dropped findings.
    public func removeAll() {
        self.storage.deinitialize(count: self.count)
        self.count = 0
        self.dropped = 0
    }
}
