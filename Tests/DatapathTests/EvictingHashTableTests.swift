import FlowCore
import Testing

/// The detectors' fixed-capacity table: 4-way buckets, the lowest-ranked entry of a full bucket
/// gives way. Values here are the times keys were last seen (their rank).
@Suite struct EvictingHashTableTests {
    /// Keys that all land in one bucket: the hash's low bits select it, and these differ only above them.
    static func sameBucket(_ n: Int) -> UInt64 { UInt64(n) << 32 }

    static func put(_ table: EvictingHashTable<Int, Int64>, _ key: Int, hash: UInt64, time: Int64) -> EvictingHashTable<Int, Int64>.Place {
        let place = table.place(key, hash: hash) { $0 }
        if case .found = place { table[place.index] = time } else { table.store(key, time, at: place.index) }
        return place
    }

    @Test func capacityRoundsUpToWholeBuckets() {
        #expect(EvictingHashTable<Int, Int64>(capacity: 0).slotCount == 4)
        #expect(EvictingHashTable<Int, Int64>(capacity: 4).slotCount == 4)
        #expect(EvictingHashTable<Int, Int64>(capacity: 5).slotCount == 8)
        #expect(EvictingHashTable<Int, Int64>(capacity: 100).slotCount == 128)
    }

    @Test func storedKeysAreFoundWithTheirValues() {
        let table = EvictingHashTable<Int, Int64>(capacity: 64)
        for key in 1...4 {
            guard case .free = Self.put(table, key, hash: Self.sameBucket(key), time: Int64(key * 10)) else {
                Issue.record("key \(key) did not take a free slot")
                return
            }
        }
        for key in 1...4 {
            let place = table.place(key, hash: Self.sameBucket(key)) { $0 }
            guard case .found(let index) = place else {
                Issue.record("key \(key) not found")
                continue
            }
            #expect(table[index] == Int64(key * 10))
            #expect(table.key(at: index) == key)
                    }
        #expect(table.evicted == 0)
    }

    @Test func aFullBucketGivesUpTheLowestRankedEntry() {
        let table = EvictingHashTable<Int, Int64>(capacity: 64)
        for (key, time) in [(1, 40), (2, 10), (3, 30), (4, 20)] {
            _ = Self.put(table, key, hash: Self.sameBucket(key), time: Int64(time))
        }
        _ = Self.put(table, 1, hash: Self.sameBucket(1), time: 50)  // seen again: stays found, no eviction
        #expect(table.evicted == 0)

        let place = table.place(5, hash: Self.sameBucket(5)) { $0 }
        guard case .evicting(let victim) = place else {
            Issue.record("a fifth key in a full bucket evicted nothing: \(place)")
            return
        }
        #expect(table.key(at: victim) == 2)  // last seen at 10, the least recently
        #expect(table[victim] == 10)  // still readable until replaced
        #expect(table.evicted == 1)
        table.store(5, 60, at: victim)
        guard case .evicting = table.place(2, hash: Self.sameBucket(2), rank: { $0 }) else {
            Issue.record("the evicted key was still found")
            return
        }
        #expect(table.evicted == 2)
    }

    @Test func tiesEvictTheFirstSlotOfTheBucket() {
        let table = EvictingHashTable<Int, Int64>(capacity: 4)
        for key in 1...4 { _ = Self.put(table, key, hash: Self.sameBucket(key), time: 7) }
        let place = table.place(9, hash: Self.sameBucket(9)) { $0 }
        #expect(table.key(at: place.index) == 1)
    }

    @Test func bucketsAreIndependentAndRemovedSlotsAreReused() {
        let table = EvictingHashTable<Int, Int64>(capacity: 8)  // two buckets
        for key in 1...4 { _ = Self.put(table, key, hash: Self.sameBucket(key), time: Int64(key)) }
        guard case .free(let other) = Self.put(table, 100, hash: 1, time: 0) else {
            Issue.record("the other bucket was not free")
            return
        }
        #expect(other >= 4)
        let found = table.place(3, hash: Self.sameBucket(3)) { $0 }
        table.remove(at: found.index)
        #expect(table.key(at: found.index) == nil)
        guard case .free(let reused) = table.place(9, hash: Self.sameBucket(9), rank: { $0 }) else {
            Issue.record("a removed slot was not offered")
            return
        }
        #expect(reused == found.index)
        #expect(table.evicted == 0)
    }
}
