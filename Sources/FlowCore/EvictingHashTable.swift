/// A fixed-capacity table written as keys arrive, as the detectors' counting and aggregation
/// windows are. `StaticHashTable` is built once from all its entries and then only read; this
/// one takes keys one at a time on the packet path into 4-way set-associative buckets (chosen
/// by the low bits of the caller's 64-bit hash), and when a key's bucket is full the entry the
/// caller ranks lowest (the first such in the bucket) gives way, counted in `evicted`. Entries
/// are addressed by slot index, so a caller can keep per-slot arrays beside the table. Storage
/// is allocated in `init`; nothing allocates afterwards. Keys and values are trivial types
/// (`ZeroedMemory`). Single-threaded.
public final class EvictingHashTable<Key: Equatable, Value> {
    /// Where `place` puts a key.
    public enum Place {
        /// The slot holding the key.
        case found(Int)
        /// A free slot (`store` the key's entry there).
        case free(Int)
        /// The slot whose entry gives way; still readable until `store` replaces it.
        case evicting(Int)

        @inlinable
        public var index: Int {
            switch self {
            case .found(let index), .free(let index), .evicting(let index): index
            }
        }
    }

    public static var ways: Int { 4 }
    /// Slots in all: the capacity rounded up to a power-of-two number of buckets.
    public let slotCount: Int
    @usableFromInline let bucketMask: Int
    /// Whether each slot holds a key: the keys and values of other slots are never read.
    @usableFromInline let occupied: UnsafeMutablePointer<Bool>
    @usableFromInline let keys: UnsafeMutablePointer<Key>
    @usableFromInline let values: UnsafeMutablePointer<Value>
    @usableFromInline var evictions: UInt64 = 0

    /// Storage for `capacity` entries (rounded up to whole buckets), mapped lazily
    /// (`ZeroedMemory`): a table sized for a busy node costs only the buckets keys reached.
    public init(capacity: Int) {
        var buckets = 1
        while buckets * Self.ways < max(capacity, Self.ways) { buckets <<= 1 }
        self.bucketMask = buckets - 1
        self.slotCount = buckets * Self.ways
        self.occupied = ZeroedMemory.allocate(Bool.self, count: self.slotCount)
        self.keys = ZeroedMemory.allocate(Key.self, count: self.slotCount)
        self.values = ZeroedMemory.allocate(Value.self, count: self.slotCount)
    }

    deinit {
        ZeroedMemory.free(self.occupied, count: self.slotCount)
        ZeroedMemory.free(self.keys, count: self.slotCount)
        ZeroedMemory.free(self.values, count: self.slotCount)
    }

    /// Entries given up because their bucket was full.
    public var evicted: UInt64 { self.evictions }

    /// The slot for `key` in the bucket `hash` selects: the key's own, else the first free one,
    /// else (counted in `evicted`) the first with the lowest `rank`.
    @inlinable
    public func place(_ key: Key, hash: UInt64, rank: (Value) -> Int64) -> Place {
        let base = (Int(truncatingIfNeeded: hash) & self.bucketMask) * Self.ways
        var free = -1
        for index in base..<(base + Self.ways) {
            if self.occupied[index] {
                if self.keys[index] == key { return .found(index) }
            } else if free < 0 {
                free = index
            }
        }
        if free >= 0 { return .free(free) }
        var victim = base
        for index in (base + 1)..<(base + Self.ways) where rank(self.values[index]) < rank(self.values[victim]) {
            victim = index
        }
        self.evictions &+= 1
        return .evicting(victim)
    }

    /// The slot holding `key` in the bucket `hash` selects, or nil; places nothing.
    @inlinable
    public func find(_ key: Key, hash: UInt64) -> Int? {
        let base = (Int(truncatingIfNeeded: hash) & self.bucketMask) * Self.ways
        for index in base..<(base + Self.ways) where self.occupied[index] && self.keys[index] == key { return index }
        return nil
    }

    /// Puts `key` and its entry in slot `index` (from `place`).
    @inlinable
    public func store(_ key: Key, _ value: Value, at index: Int) {
        self.occupied[index] = true
        self.keys[index] = key
        self.values[index] = value
    }

    /// Frees slot `index`.
    @inlinable
    public func remove(at index: Int) { self.occupied[index] = false }

    /// The key in slot `index`; nil when the slot is free.
    @inlinable
    public func key(at index: Int) -> Key? { self.occupied[index] ? self.keys[index] : nil }

    /// The entry in slot `index`, read and written in place.
    @inlinable
    public subscript(index: Int) -> Value {
        unsafeAddress { UnsafePointer(self.values + index) }
        unsafeMutableAddress { self.values + index }
    }
}
