/// A borrowed, read-only view of captured bytes.
///
/// `PacketBytes` owns nothing: it is valid only while the buffer that produced it
/// (a capture-file block, a ring-buffer slot) is. Every data-dependent accessor is
/// bounds-checked and returns `nil` instead of trapping: a short or hostile packet
/// is data, not a programmer error (the contract of SwiftNIO's `ByteBuffer.get*`).
@frozen
public struct PacketBytes {
    @usableFromInline
    internal let base: UnsafeRawBufferPointer

    @inlinable
    public init(_ base: UnsafeRawBufferPointer) { self.base = base }

    /// Number of captured bytes (may be less than the length on the wire).
    @inlinable
    public var count: Int { self.base.count }

    /// The underlying bytes, for code that copies them out (tests, the ring buffer).
    @inlinable
    public var rawBuffer: UnsafeRawBufferPointer { self.base }

    /// The byte at `offset`, or `nil` past the end.
    @inlinable
    public func byte(at offset: Int) -> UInt8? {
        guard offset >= 0, offset < self.base.count else { return nil }
        return self.base[offset]
    }

    /// A big-endian integer at `offset`, or `nil` if fewer than its size remain.
    @inlinable
    public func bigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T? {
        // `count &- size` cannot overflow: count >= 0 and size is at most 16.
        guard offset >= 0, offset <= self.base.count &- MemoryLayout<T>.size else { return nil }
        return T(bigEndian: self.base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// A little-endian integer at `offset`, or `nil` if fewer than its size remain.
    @inlinable
    public func littleEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T? {
        guard offset >= 0, offset <= self.base.count &- MemoryLayout<T>.size else { return nil }
        return T(littleEndian: self.base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// The bytes from `offset` to the end, or `nil` if `offset` is past the end.
    @inlinable
    public func dropFirst(_ offset: Int) -> PacketBytes? {
        guard offset >= 0, offset <= self.base.count else { return nil }
        return PacketBytes(UnsafeRawBufferPointer(rebasing: self.base[offset...]))
    }

    /// The first `length` bytes, clipped to what was captured.
    @inlinable
    public func prefix(_ length: Int) -> PacketBytes {
        PacketBytes(UnsafeRawBufferPointer(rebasing: self.base.prefix(Swift.max(0, length))))
    }
}

extension PacketBytes {
    /// Reads a field at a fixed offset that the caller has already proven is in range
    /// (typically in a header view's failable `init`). Asserts in debug builds.
    @inlinable
    public func uncheckedBigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T {
        assert(offset >= 0 && offset + MemoryLayout<T>.size <= self.base.count)
        return T(bigEndian: self.base.loadUnaligned(fromByteOffset: offset, as: T.self))
    }

    /// One byte at an offset the caller has already proven is in range.
    @inlinable
    public func uncheckedByte(at offset: Int) -> UInt8 {
        assert(offset >= 0 && offset < self.base.count)
        return self.base[offset]
    }
}
