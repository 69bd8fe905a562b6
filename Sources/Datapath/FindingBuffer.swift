import FlowCore

/// The findings a worker's datapath made since its last hand-off, for the detectors (which
/// run on one thread over every worker's findings, in single-pass order): a fixed capacity
/// (`DetectorSettings.maxPendingEvents`), allocated once; the rest are counted, not kept.
/// DNS findings keep their query name's UTF-8 bytes beside them, in a byte store of fixed
/// size (`nameCapacity`): the alert line shows the name; once it is full, names are not kept.
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
    private let names: UnsafeMutableRawPointer
    public let nameCapacity: Int
    private var namesUsed = 0

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.storage = .allocate(capacity: self.capacity)
        // Room for the names of a sixteenth of the findings at the longest (255 bytes, RFC 1035 §2.3.4).
        self.nameCapacity = max(4096, self.capacity / 16 * 256)
        self.names = .allocate(byteCount: self.nameCapacity, alignment: 1)
    }

    deinit {
        self.storage.deinitialize(count: self.count)
        self.storage.deallocate()
        self.names.deallocate()
    }

    /// Keeps a name's bytes (at most 255) for `finding`, if there is room.
    public func keepName(_ bytes: UnsafeRawBufferPointer, in finding: inout DNSFinding) {
        let length = min(bytes.count, 255)
        guard length > 0, self.namesUsed + length <= self.nameCapacity, let base = bytes.baseAddress else { return }
        (self.names + self.namesUsed).copyMemory(from: base, byteCount: length)
        finding.nameOffset = UInt32(self.namesUsed)
        finding.nameStored = UInt16(length)
        self.namesUsed += length
    }

    /// The bytes `keepName` kept for `finding` (empty when none were).
    public func name(of finding: DNSFinding) -> UnsafeRawBufferPointer {
        let offset = Int(finding.nameOffset), length = Int(finding.nameStored)
        guard length > 0, offset + length <= self.namesUsed else { return UnsafeRawBufferPointer(start: nil, count: 0) }
        return UnsafeRawBufferPointer(start: self.names + offset, count: length)
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
        self.namesUsed = 0
    }
}
