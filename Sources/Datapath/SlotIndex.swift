internal import CIntrinsics
import FlowCore

/// An open-addressing hash index from 64-bit hashes to entry numbers, lazily mapped
/// (`ZeroedMemory`; an empty slot is 0), that grows with its members up to its bound.
///
/// Linear probing over a power-of-two number of slots, at most half of them used: it starts
/// at 4,096 slots (32 KiB) and doubles, rehashing, when a member would fill more than half,
/// up to `2^k >= 2 * capacity`. So a node-sized bound costs a small table only what its
/// members need, and the slots they use stay dense in the cache (a table of 50,000 members
/// uses 1 MiB of slots, not the 8 MiB of a 524,288 bound). Each slot packs a 32-bit hash tag
/// and the entry number, so most mismatches are rejected without touching the entry, and a
/// member's home slot is found again from its tag when the slots double (every mask is under
/// 32 bits). Deletion shifts later members of the probe run back (Knuth, TAOCP 6.4,
/// Algorithm R), so there are no tombstones and lookups never degrade. The owner frees it
/// with `free()`.
struct SlotIndex {
    /// 0 = empty; else (hash tag << 32) | (entry + 1).
    private var slots: UnsafeMutablePointer<UInt64>
    private var mask: Int
    /// The most slots: twice the capacity, rounded up to a power of two.
    private let maximumSlots: Int
    private var count = 0

    init(capacity: Int) {
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount <<= 1 }
        self.maximumSlots = slotCount
        self.mask = min(slotCount, 4096) - 1
        self.slots = ZeroedMemory.allocate(UInt64.self, count: self.mask + 1, hugePages: true)
    }

    func free() { ZeroedMemory.free(self.slots, count: self.mask + 1) }

    /// The slots mapped now.
    var slotCount: Int { self.mask + 1 }

    /// The entry whose hash is `hash` and for which `matches` is true, or -1.
    @inline(__always)
    func find(hash: UInt64, matches: (Int) -> Bool) -> Int {
        let tag = UInt64(UInt32(truncatingIfNeeded: hash))
        var slot = Int(truncatingIfNeeded: hash) & self.mask
        while true {
            let value = self.slots[slot]
            if value == 0 { return -1 }
            if value >> 32 == tag {
                let entry = Int(value & 0xffff_ffff) - 1
                if matches(entry) { return entry }
            }
            slot = (slot + 1) & self.mask
        }
    }

    /// Starts loading `hash`'s home slot into the cache (`FlowTable.prefetch`).
    @inline(__always)
    func prefetch(hash: UInt64) {
        flowmon_prefetch(self.slots + (Int(truncatingIfNeeded: hash) & self.mask))
    }

    /// The entry of the first slot of `hash`'s probe run that carries its tag, or -1: the
    /// member `find` will most likely compare first, read ahead of time to prefetch it.
    @inline(__always)
    func firstCandidate(hash: UInt64) -> Int {
        let tag = UInt64(UInt32(truncatingIfNeeded: hash))
        var slot = Int(truncatingIfNeeded: hash) & self.mask
        while true {
            let value = self.slots[slot]
            if value == 0 { return -1 }
            if value >> 32 == tag { return Int(value & 0xffff_ffff) - 1 }
            slot = (slot + 1) & self.mask
        }
    }

    /// Adds `entry` under `hash`. The caller guarantees fewer than `capacity` members.
    mutating func insert(hash: UInt64, entry: Int) {
        self.count += 1
        if self.count * 2 > self.mask + 1 && self.mask + 1 < self.maximumSlots { self.double() }
        self.place(UInt64(UInt32(truncatingIfNeeded: hash)) << 32 | UInt64(entry + 1))
    }

    /// Puts a slot value at the first free slot from its home.
    @inline(__always)
    private func place(_ value: UInt64) {
        var slot = Int(value >> 32) & self.mask
        while self.slots[slot] != 0 { slot = (slot + 1) & self.mask }
        self.slots[slot] = value
    }

    /// Twice the slots: every member moves to its place in the new slots.
    private mutating func double() {
        let old = self.slots, oldCount = self.mask + 1
        self.mask = oldCount * 2 - 1
        self.slots = ZeroedMemory.allocate(UInt64.self, count: oldCount * 2, hugePages: true)
        for slot in 0..<oldCount where old[slot] != 0 { self.place(old[slot]) }
        ZeroedMemory.free(old, count: oldCount)
    }

    /// Removes every member: back to the first 4,096 slots.
    mutating func removeAll() {
        ZeroedMemory.free(self.slots, count: self.mask + 1)
        self.mask = min(self.maximumSlots, 4096) - 1
        self.slots = ZeroedMemory.allocate(UInt64.self, count: self.mask + 1, hugePages: true)
        self.count = 0
    }

    /// Removes `entry`, which must have been inserted under `hash`.
    mutating func remove(hash: UInt64, entry: Int) {
        self.count -= 1
        var hole = Int(truncatingIfNeeded: hash) & self.mask
        while Int(self.slots[hole] & 0xffff_ffff) - 1 != entry { hole = (hole + 1) & self.mask }
        var probe = hole
        while true {
            probe = (probe + 1) & self.mask
            let value = self.slots[probe]
            if value == 0 { break }
            let home = Int(value >> 32) & self.mask
            // Move the member back if the hole lies on its probe path (home ... probe).
            if (probe - home) & self.mask >= (probe - hole) & self.mask {
                self.slots[hole] = value
                hole = probe
            }
        }
        self.slots[hole] = 0
    }
}
