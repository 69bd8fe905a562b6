/// A map from keys to values over a `SlotIndex`, for tables a packet looks up by a 64-bit hash
/// its key already has or makes cheaply (a flow id, a multiplicative mix of an address): no
/// `Hasher` per lookup, and a lookup touches one 8-byte slot before the entry. Entries live in
/// arrays; a removed entry's place is reused. At most `capacity` members at once (`insert`
/// refuses more); the owner frees the index with `free()`.
public struct SlotMap<Key: Equatable, Value> {
    /// A member, or (`value` nil) a free place: key and value side by side, so a lookup's
    /// comparison and its read touch one place.
    @usableFromInline struct Entry {
        @usableFromInline var key: Key
        @usableFromInline var hash: UInt64
        @usableFromInline var value: Value?

        @inlinable init(key: Key, hash: UInt64, value: Value?) {
            self.key = key
            self.hash = hash
            self.value = value
        }
    }

    @usableFromInline var index: SlotIndex
    @usableFromInline var entries: [Entry] = []
    @usableFromInline var freePlaces: [Int] = []
    @usableFromInline var members = 0
    public let capacity: Int

    public init(capacity: Int) {
        self.capacity = max(1, capacity)
        self.index = SlotIndex(capacity: self.capacity)
    }

    public func free() { self.index.free() }

    @inlinable public var count: Int { self.members }
    @inlinable public var isEmpty: Bool { self.members == 0 }

    /// The entry of `key` (hashed to `hash`), or nil.
    @inlinable @inline(__always)
    public func find(_ key: Key, hash: UInt64) -> Int? {
        let entry = self.entries.withUnsafeBufferPointer { entries in
            self.index.find(hash: hash) { entries[$0].key == key }
        }
        return entry < 0 ? nil : entry
    }

    /// The value of an entry `find` or `insert` gave.
    @inlinable
    public subscript(entry: Int) -> Value {
        get { self.entries[entry].value! }
        set { self.entries[entry].value = newValue }
    }

    /// Adds `key`, which is not in the map, with `value`; returns its entry, or nil when the map
    /// holds `capacity` members.
    @inlinable @discardableResult
    public mutating func insert(_ key: Key, hash: UInt64, _ value: Value) -> Int? {
        guard self.members < self.capacity else { return nil }
        let entry: Int
        if let place = self.freePlaces.popLast() {
            entry = place
            self.entries[entry] = Entry(key: key, hash: hash, value: value)
        } else {
            entry = self.entries.count
            self.entries.append(Entry(key: key, hash: hash, value: value))
        }
        self.index.insert(hash: hash, entry: entry)
        self.members += 1
        return entry
    }

    /// Removes an entry; returns its value.
    @inlinable @discardableResult
    public mutating func remove(at entry: Int) -> Value {
        let value = self.entries[entry].value!
        self.index.remove(hash: self.entries[entry].hash, entry: entry)
        self.entries[entry].value = nil
        self.freePlaces.append(entry)
        self.members -= 1
        return value
    }

    /// Removes every member for which `shouldRemove` is true.
    @inlinable
    public mutating func removeAll(where shouldRemove: (Key, Value) -> Bool) {
        for entry in 0..<self.entries.count {
            if let value = self.entries[entry].value, shouldRemove(self.entries[entry].key, value) { self.remove(at: entry) }
        }
    }

    /// Calls `body` with every member, in no particular order.
    @inlinable
    public func forEach(_ body: (Key, Value) -> Void) {
        for entry in self.entries {
            if let value = entry.value { body(entry.key, value) }
        }
    }
}
