/// A map from keys to values over a `SlotIndex`, for tables a packet looks up by a 64-bit hash
/// its key already has or makes cheaply (a flow id, a multiplicative mix of an address): no
/// `Hasher` per lookup, and a lookup touches one 8-byte slot before the entry. Entries live in
/// arrays; a removed entry's place is reused. At most `capacity` members at once (`insert`
/// refuses more); the owner frees the index with `free()`.
public struct SlotMap<Key: Equatable, Value> {
    @usableFromInline var index: SlotIndex
    @usableFromInline var keys: [Key] = []
    @usableFromInline var hashes: [UInt64] = []
    /// nil: a free place.
    @usableFromInline var values: [Value?] = []
    @usableFromInline var freePlaces: [Int] = []
    @usableFromInline var members = 0
    public let capacity: Int

    @inlinable public var count: Int { self.members }

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.index = SlotIndex(capacity: self.capacity)
    }

    public func free() { self.index.free() }

    @inlinable public var isEmpty: Bool { self.members == 0 }

    /// The entry of `key` (hashed to `hash`), or nil.
    @inlinable @inline(__always)
    public func find(_ key: Key, hash: UInt64) -> Int? {
        let entry = self.keys.withUnsafeBufferPointer { keys in
            self.index.find(hash: hash) { keys[$0] == key }
        }
        return entry < 0 ? nil : entry
    }

    /// The value of an entry `find` or `insert` gave.
    @inlinable
    public subscript(entry: Int) -> Value {
        get { self.values[entry]! }
        set { self.values[entry] = newValue }
    }

    /// Adds `key`, which is not in the map, with `value`; returns its entry, or nil when the map
    /// holds `capacity` members.
    @inlinable @discardableResult
    public mutating func insert(_ key: Key, hash: UInt64, _ value: Value) -> Int? {
        guard self.members < self.capacity else { return nil }
        let entry: Int
        if let place = self.freePlaces.popLast() {
            entry = place
            self.keys[entry] = key
            self.hashes[entry] = hash
            self.values[entry] = value
        } else {
            entry = self.values.count
            self.keys.append(key)
            self.hashes.append(hash)
            self.values.append(value)
        }
        self.index.insert(hash: hash, entry: entry)
        self.members += 1
        return entry
    }

    /// Removes an entry; returns its value.
    @inlinable @discardableResult
    public mutating func remove(at entry: Int) -> Value {
        let value = self.values[entry]!
        self.index.remove(hash: self.hashes[entry], entry: entry)
        self.values[entry] = nil
        self.freePlaces.append(entry)
        self.members -= 1
        return value
    }

    /// Removes every member for which `shouldRemove` is true.
    @inlinable
    public mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        for entry in 0..<self.values.count {
            if let value = self.values[entry], shouldRemove(self.keys[entry], value) { self.remove(at: entry) }
        }
    }

    /// Calls `body` with every member, in no particular order.
    @inlinable
    public func forEach(_ body: (Key, Value) -> Void) {
        for entry in 0..<self.values.count {
            if let value = self.values[entry] { body(self.keys[entry], value) }
        }
    }
}
