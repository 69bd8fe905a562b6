import Capture
import Decoding
import FlowCore
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A fixed-size, preallocated single-producer/single-consumer byte ring that hands packets
/// from the capture thread to one worker, the way a BPF ring buffer hands events to user
/// space: variable-length records, 8-byte aligned, written in place; a record that would
/// not fit before the end of the buffer leaves a padding record and starts again at 0.
///
/// Positions are monotonic byte counters; `head` (consumer) and `tail` (producer) are
/// published with release stores and read with acquire loads, in batches: the producer
/// publishes after a capture batch (`publish()`), the consumer after draining what it saw.
/// No lock, no allocation and no system call per packet.
///
///     storage: [ ...consumed... | head → records ready for the worker → tail | free ... ]
final class PacketRing: @unchecked Sendable {
    /// What a record carries.
    enum Kind: UInt8, Sendable {
        /// Fills the space up to the end of the buffer; skipped by the consumer.
        case padding = 0
        /// Expire idle flows at `time` (the pipeline's sweep, so every worker sweeps at the same instants).
        case sweep = 2
        /// No more records: flush everything at `time`.
        case end = 3
        /// Use policy generation `sequence` for connections that start from now on.
        case reload = 4
        /// A packet already decoded by the capture thread: the bytes are its summary.
        case decoded = 5
        /// What the kernel counted for one connection since the last read (eBPF mode 2): the
        /// bytes are a `FlowAggregate`.
        case aggregate = 6
        /// A decoded packet whose application payload goes with it (DNS, HTTP, TLS): the bytes
        /// are its summary, then from `summaryBytes` on the payload (cut to `maximumApplicationBytes`).
        case decodedWithPayload = 7
    }

    /// Where the payload starts in a `decodedWithPayload` record's bytes.
    static let summaryBytes = (MemoryLayout<PacketSummary>.size + 7) & ~7
    /// The most payload bytes a record carries: a DNS message over UDP (EDNS buffers are 1,232
    /// to 4,096 bytes), a segment of an HTTP head. A longer payload is cut, and the application
    /// layer counts the stream as incomplete.
    static let maximumApplicationBytes = 4096
    /// The largest record payload a worker's ring holds.
    static let maximumWorkerPayload = summaryBytes + maximumApplicationBytes

    /// The fixed header before each record's bytes.
    struct Header: Sendable {
        /// Record length including this header, a multiple of 8.
        var totalLength: UInt32
        var kind: Kind
        var originalLength: UInt32
        var capturedLength: UInt32
        var time: Int64
        /// Position of the record in the capture (packets) or of the event (markers),
        /// used to merge the workers' output in capture order.
        var sequence: UInt64
    }

    static let headerSize = (MemoryLayout<Header>.size + 7) & ~7

    let capacity: Int
    let mask: Int
    let storage: UnsafeMutableRawPointer
    let head = Atomic<Int>(0)
    let tail = Atomic<Int>(0)
    /// The largest record accepted; bigger payloads are cut to it.
    let maximumRecordBytes: Int

    // Producer-side state (touched only by the producer thread).
    var producerTail = 0
    var producerKnownHead = 0
    // Consumer-side state (touched only by the consumer thread).
    var consumerHead = 0

    /// - Parameters:
    ///   - bytes: ring size, rounded up to a power of two (at least 4 × the largest record).
    ///   - maximumPayloadBytes: the largest payload; longer payloads are truncated to it.
    init(bytes: Int, maximumPayloadBytes: Int) {
        let record = (Self.headerSize + maximumPayloadBytes + 7) & ~7
        var capacity = 1 << 16
        while capacity < max(bytes, 4 * record) { capacity <<= 1 }
        self.capacity = capacity
        self.mask = capacity - 1
        self.maximumRecordBytes = record
        // Mapped lazily: a short capture touches only the ring's first pages.
        self.storage = UnsafeMutableRawPointer(ZeroedMemory.allocate(UInt64.self, count: capacity / 8))
    }

    deinit { ZeroedMemory.free(self.storage.assumingMemoryBound(to: UInt64.self), count: self.capacity / 8) }

    // MARK: Producer

    /// Copies one record whose bytes are `payload` (a decoded packet's summary; empty for
    /// markers) and whose header describes `packet`; returns false (nothing written) when the
    /// ring is full. Not visible to the consumer until `publish()`.
    func write(kind: Kind, packet: CapturedPacket?, payload: UnsafeRawBufferPointer, time: Int64,
                      sequence: UInt64) -> Bool {
        let captured = min(payload.count, self.maximumRecordBytes - Self.headerSize)
        let length = (Self.headerSize + captured + 7) & ~7
        guard let start = self.reserve(length) else { return false }
        start.storeBytes(
            of: Header(totalLength: UInt32(length), kind: kind, originalLength: packet?.originalLength ?? 0,
                       capturedLength: UInt32(captured), time: time, sequence: sequence),
            as: Header.self)
        if captured > 0, let source = payload.baseAddress {
            start.advanced(by: Self.headerSize).copyMemory(from: source, byteCount: captured)
        }
        self.producerTail += length
        return true
    }

    /// A decoded packet and its application payload, as one `decodedWithPayload` record.
    func write(packet: CapturedPacket, summary: UnsafeRawBufferPointer, application: UnsafeRawBufferPointer,
               time: Int64, sequence: UInt64) -> Bool {
        let payload = min(application.count, Self.maximumApplicationBytes)
        let length = (Self.headerSize + Self.summaryBytes + payload + 7) & ~7
        guard let start = self.reserve(length) else { return false }
        start.storeBytes(
            of: Header(totalLength: UInt32(length), kind: .decodedWithPayload, originalLength: packet.originalLength,
                       capturedLength: UInt32(Self.summaryBytes + payload), time: time, sequence: sequence),
            as: Header.self)
        start.advanced(by: Self.headerSize).copyMemory(from: summary.baseAddress!, byteCount: summary.count)
        if payload > 0 {
            start.advanced(by: Self.headerSize + Self.summaryBytes).copyMemory(from: application.baseAddress!,
                                                                              byteCount: payload)
        }
        self.producerTail += length
        return true
    }

    /// Room for a record of `length` bytes at the tail (after a padding record when it would
    /// cross the end of the buffer), or nil when the ring is full.
    private func reserve(_ length: Int) -> UnsafeMutableRawPointer? {
        let offset = self.producerTail & self.mask
        let untilEnd = self.capacity - offset
        let needed = length <= untilEnd ? length : untilEnd + length
        if self.capacity - (self.producerTail - self.producerKnownHead) < needed {
            self.producerKnownHead = self.head.load(ordering: .acquiring)
            if self.capacity - (self.producerTail - self.producerKnownHead) < needed { return nil }
        }
        if length > untilEnd {
            // Pad to the end of the buffer; the record starts again at 0. A gap too short to
            // hold a header is left unwritten: the consumer skips any such gap by itself.
            if untilEnd >= Self.headerSize {
                self.storage.advanced(by: offset).storeBytes(
                    of: Header(totalLength: UInt32(untilEnd), kind: .padding, originalLength: 0, capturedLength: 0, time: 0,
                               sequence: 0), as: Header.self)
            }
            self.producerTail += untilEnd
        }
        return self.storage.advanced(by: self.producerTail & self.mask)
    }

    /// Makes every record written so far visible to the consumer.
    func publish() {
        self.tail.store(self.producerTail, ordering: .releasing)
    }

    // MARK: Consumer

    /// Hands every published record to `body` (bytes valid until `done` returns), then calls
    /// `done` and releases their space at once. Returns how many records were handed over
    /// (padding not counted).
    func drain(_ body: (Header, PacketBytes) -> Void, done: () -> Void = {}) -> Int {
        let tail = self.tail.load(ordering: .acquiring)
        var count = 0
        while self.consumerHead < tail {
            let offset = self.consumerHead & self.mask
            if self.capacity - offset < Self.headerSize {
                self.consumerHead += self.capacity - offset  // a gap shorter than a header: wrap
                continue
            }
            let start = self.storage.advanced(by: offset)
            let header = start.loadUnaligned(as: Header.self)
            if header.kind != .padding {
                body(header, PacketBytes(UnsafeRawBufferPointer(start: start.advanced(by: Self.headerSize),
                                                                count: Int(header.capturedLength))))
                count += 1
            }
            self.consumerHead += Int(header.totalLength)
        }
        done()
        if count > 0 || self.consumerHead != self.head.load(ordering: .relaxed) {
            self.head.store(self.consumerHead, ordering: .releasing)
        }
        return count
    }

    /// The idle path of either side: a 50 µs sleep, taken only when the ring is empty (consumer)
    /// or full (producer in replay), so a busy ring costs no system call per packet.
    static func pause(nanoseconds: Int = 50_000) {
        var pause = timespec(tv_sec: 0, tv_nsec: nanoseconds)
        _ = nanosleep(&pause, nil)
    }
}
