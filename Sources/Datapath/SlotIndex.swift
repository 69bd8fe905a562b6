import FlowCore

/// An open-addressing hash index from 64-bit hashes to entry numbers, allocated once (lazily
/// mapped: `ZeroedMemory`; an empty slot is 0).
///
/// Linear probing over `2^k >= 2 * capacity` slots; each slot packs a 32-bit hash tag and
/// the entry number, so most mismatches are rejected without touching the entry.
/// Deletion shifts later members of the probe run back (Knuth, TAOCP 6.4, Algorithm R),
/// so there are no tombstones and lookups never degrade. The owner frees it with `free()`.
struct SlotIndex {
    /// 0 = empty; else (hash tag << 32) | (entry + 1).
    private let slots: UnsafeMutablePointer<UInt64>
    private let mask: Int

    init(capacity: Int) {
        var slotCount = 16
        while slotCount < capacity * 2 { slotCount <<= 1 }
        self.mask = slotCount - 1
        self.slots = ZeroedMemory.allocate(UInt64.self, count: slotCount)
    }

    func free() { ZeroedMemory.free(self.slots, count: self.mask + 1) }

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

    /// Adds `entry` under `hash`. The caller guarantees fewer than `capacity` members.
    func insert(hash: UInt64, entry: Int) {
        let tag = UInt64(UInt32(truncatingIfNeeded: hash))
        var slot = Int(truncatingIfNeeded: hash) & self.mask
        while self.slots[slot] != 0 { slot = (slot + 1) & self.mask }
        self.slots[slot] = tag << 32 | UInt64(entry + 1)
    }

    /// Removes `entry`, which must have been inserted under `hash`.
    func remove(hash: UInt64, entry: Int) {
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
