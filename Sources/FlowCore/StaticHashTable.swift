/// A table built once from its entries and then only read, as the agent's ipcache and service
/// table are (Cilium's `cilium_ipcache` and `cilium_lb*_services` maps in miniature): open
/// addressing with linear probing at no more than half full, keys of 128 bits of address plus a
/// 32-bit tag, and the first of two entries with the same key kept. Lookups allocate nothing.
public struct StaticHashTable<Value: Sendable>: Sendable {
    /// An address (`IPAddress.high`/`low`, already masked where the user keys prefixes) and what
    /// else tells keys apart (a prefix length code, a port and protocol).
    public struct Key: Equatable, Sendable {
        public var high: UInt64
        public var low: UInt64
        public var tag: UInt32

        @inlinable
        public init(high: UInt64, low: UInt64, tag: UInt32) {
            self.high = high
            self.low = low
            self.tag = tag
        }
    }

    @usableFromInline
    struct Slot: Sendable {
        @usableFromInline var key: Key
        @usableFromInline var used: Bool
        @usableFromInline var value: Value
    }

    @usableFromInline let slots: [Slot]
    @usableFromInline let shift: UInt64
    /// The number of distinct keys stored.
    public let count: Int

    /// `empty` fills the free slots (never returned).
    public init(_ entries: [(key: Key, value: Value)], empty: Value) {
        var slotCount = 16
        while slotCount < entries.count * 2 { slotCount <<= 1 }
        var bits: UInt64 = 0
        while (1 << bits) < slotCount { bits += 1 }
        let shift = 64 - bits
        var slots = [Slot](repeating: Slot(key: Key(high: 0, low: 0, tag: 0), used: false, value: empty), count: slotCount)
        var stored = 0
        entry: for (key, value) in entries {
            var slot = Self.slotIndex(key, shift: shift)
            while slots[slot].used {
                if slots[slot].key == key { continue entry }
                slot = (slot + 1) & (slotCount - 1)
            }
            slots[slot] = Slot(key: key, used: true, value: value)
            stored += 1
        }
        self.slots = slots
        self.shift = shift
        self.count = stored
    }

    /// The value stored under `key`, or nil.
    @inlinable
    public func find(_ key: Key) -> Value? {
        let mask = self.slots.count - 1
        return self.slots.withUnsafeBufferPointer { slots in
            var slot = Self.slotIndex(key, shift: self.shift)
            while true {
                let candidate = slots.baseAddress.unsafelyUnwrapped + slot
                if !candidate.pointee.used { return nil }
                if candidate.pointee.key == key { return candidate.pointee.value }
                slot = (slot &+ 1) & mask
            }
        }
    }

    /// The top bits of a multiplicative mix of the key (splitmix64's constants).
    @inlinable @inline(__always)
    static func slotIndex(_ key: Key, shift: UInt64) -> Int {
        var hash = key.high &* 0x9e37_79b9_7f4a_7c15
        hash ^= (key.low ^ (UInt64(key.tag) << 32)) &* 0xc2b2_ae3d_27d4_eb4f
        hash ^= hash >> 31
        hash = hash &* 0x94d0_49bb_1331_11eb
        return Int(truncatingIfNeeded: hash >> shift)
    }
}
