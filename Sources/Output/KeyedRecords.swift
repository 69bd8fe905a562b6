import Datapath

/// Records one worker emitted since the last hand-off, with their keys. The bytes live in
/// blocks of about 1 MiB, reused for the next batch: an epoch that ends hundreds of
/// thousands of flows at once (the end of a replay) adds blocks instead of copying one
/// ever larger buffer.
package final class KeyedRecords {
    package final class Block {
        package var buffer = JSONBuffer(capacity: KeyedRecords.blockBytes + 65_536)
    }

    static let blockBytes = 1 << 20
    private var blocks: [Block] = [Block()]
    private var current = 0
    /// The block being written (`block.buffer` between `beginRecord` and `endRecord`), held
    /// apart so writing a record does not go through the array.
    package private(set) var block: Block
    /// Each record's key and bytes; for a flow record also its flow id and where its
    /// `flow.alerted` value (`false`) starts, from the record's start (-1 for other records).
    package var entries: [(key: EmissionKey, block: Int, start: Int, count: Int, flowID: UInt64, alertedAt: Int)] = []
    private var recordStart = 0

    package init() {
        self.block = self.blocks[0]
        self.entries.reserveCapacity(1024)
    }

    package func beginRecord() {
        if self.block.buffer.count >= Self.blockBytes {
            self.current += 1
            if self.current == self.blocks.count { self.blocks.append(Block()) }
            self.block = self.blocks[self.current]
        }
        self.recordStart = self.block.buffer.count
    }

    /// Ends the record begun last; `alertedAt` is the buffer position of a flow record's
    /// `flow.alerted` value.
    package func endRecord(_ key: EmissionKey, flowID: UInt64 = 0, alertedAt: Int? = nil) {
        self.entries.append((key, self.current, self.recordStart, self.block.buffer.count - self.recordStart, flowID,
                             alertedAt.map { $0 - self.recordStart } ?? -1))
    }

    /// The bytes of entry `index`.
    package func bytes(_ index: Int) -> UnsafeRawBufferPointer {
        let entry = self.entries[index]
        return UnsafeRawBufferPointer(rebasing: self.blocks[entry.block].buffer.bytes[entry.start..<(entry.start + entry.count)])
    }

    package func removeAll() {
        for index in 0...self.current { self.blocks[index].buffer.removeAll() }
        self.current = 0
        self.block = self.blocks[0]
        self.entries.removeAll(keepingCapacity: true)
    }

    package var isEmpty: Bool { self.entries.isEmpty }
}

/// A record (or detector event) of an epoch: its key, then which worker's buffer and which
/// entry of it, so equal keys keep the workers' order.
package typealias KeyedItem = (key: EmissionKey, buffer: Int, index: Int)

extension [KeyedItem] {
    /// Sorts by key, buffer and index, in place: a heapsort, because the standard library's
    /// sort allocates a buffer and a single pass sorts on its packet path. The items are all
    /// different, so the order is the one any sort gives.
    package mutating func sortByKey() {
        self.withUnsafeMutableBufferPointer { items in
            // One worker's records come in key order (its events, expiries by deadline, the
            // end by start): then there is nothing to do (half a million at the end of a run).
            var sorted = true
            for index in items.indices.dropFirst() where !Self.less(items[index - 1], items[index]) {
                sorted = false
                break
            }
            if sorted { return }
            var start = items.count / 2
            while start > 0 {
                start -= 1
                Self.siftDown(items, start, items.count)
            }
            var end = items.count
            while end > 1 {
                end -= 1
                items.swapAt(0, end)
                Self.siftDown(items, 0, end)
            }
        }
    }

    private static func siftDown(_ items: UnsafeMutableBufferPointer<KeyedItem>, _ start: Int, _ end: Int) {
        var root = start
        while 2 * root + 1 < end {
            var child = 2 * root + 1
            if child + 1 < end, Self.less(items[child], items[child + 1]) { child += 1 }
            guard Self.less(items[root], items[child]) else { return }
            items.swapAt(root, child)
            root = child
        }
    }

    private static func less(_ a: KeyedItem, _ b: KeyedItem) -> Bool {
        (a.key, a.buffer, a.index) < (b.key, b.buffer, b.index)
    }
}
