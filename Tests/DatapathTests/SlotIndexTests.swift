@testable import Datapath
import Testing

/// The flow and fragment tables' hash index: it grows with its members (from 4,096 slots,
/// doubling past half full, up to twice the capacity) and, through growth, collisions and
/// deletions that shift probe runs back, always finds exactly the members it holds.
@Suite struct SlotIndexTests {
    /// A deterministic generator (SplitMix64), so a failure replays.
    struct SplitMix {
        var state: UInt64
        mutating func next() -> UInt64 {
            self.state &+= 0x9E37_79B9_7F4A_7C15
            var z = self.state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// Random inserts and removals against a dictionary, with hashes that often share their
    /// low bits (long probe runs, runs that wrap past the last slot): every member is found
    /// under its hash, nothing else is.
    @Test(arguments: [(capacity: 100_000, hashBits: 64), (capacity: 6_000, hashBits: 12)])
    func findsExactlyItsMembersAsItGrowsAndShrinks(capacity: Int, hashBits: Int) {
        var index = SlotIndex(capacity: capacity)
        defer { index.free() }
        #expect(index.slotCount == 4096)
        var random = SplitMix(state: UInt64(hashBits))
        var members: [(entry: Int, hash: UInt64)] = []
        var free = Array((0..<capacity).reversed())
        func lost() -> [Int] {
            members.compactMap { entry, hash in index.find(hash: hash) { $0 == entry } == entry ? nil : entry }
        }
        for step in 0..<(capacity * 3) {
            let grow = members.count < capacity / 2 || (members.count < capacity && random.next() % 3 != 0)
            if grow, let entry = free.popLast() {
                let hash = hashBits == 64 ? random.next() : random.next() & ((1 << UInt64(hashBits)) - 1) | 0xABCD << 48
                index.insert(hash: hash, entry: entry)
                members.append((entry, hash))
            } else if !members.isEmpty {
                let position = Int(random.next() % UInt64(members.count))
                members.swapAt(position, members.count - 1)
                let (entry, hash) = members.removeLast()
                index.remove(hash: hash, entry: entry)
                free.append(entry)
                #expect(index.find(hash: hash) { $0 == entry } == -1)
            }
            if step % 9973 == 0 { #expect(lost().isEmpty, "step \(step)") }
        }
        #expect(lost().isEmpty)
        // It grew to what its members needed at most, and never past its bound.
        var bound = 16
        while bound < capacity * 2 { bound <<= 1 }
        #expect(index.slotCount > 4096 && index.slotCount <= bound)
    }

    /// A node-sized bound with few members keeps few slots.
    @Test func aLargeBoundWithFewMembersStaysSmall() {
        var index = SlotIndex(capacity: 524_288)
        defer { index.free() }
        for entry in 0..<50_000 { index.insert(hash: UInt64(entry) &* 0x9E37_79B9_7F4A_7C15, entry: entry) }
        #expect(index.slotCount == 131_072)
        for entry in 0..<50_000 { #expect(index.find(hash: UInt64(entry) &* 0x9E37_79B9_7F4A_7C15) { $0 == entry } == entry) }
    }
}
