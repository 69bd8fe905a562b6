#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Memory that is zero when allocated and costs nothing until it is written: an anonymous
/// private mapping, whose pages the kernel supplies zero-filled on first touch (mmap(2),
/// `MAP_ANONYMOUS`). Flow tables, indexes and rings sized for the busiest node are allocated
/// this way, so a short capture pays only for the pages it uses, not for the bound.
///
/// Only for types whose all-zero bit pattern is either a valid value or never read before it
/// is written (the owner initializes each element before reading it).
public enum ZeroedMemory {
    /// `count` elements of `T`, zero-filled, not yet backed by memory. Traps only if the
    /// address space is exhausted (as `allocate` would).
    ///
    /// `hugePages`: memory read at random (a flow table's entries and index) asks for 2 MiB
    /// pages (`MADV_HUGEPAGE`, honoured when transparent huge pages are `madvise` or `always`):
    /// a lookup then rarely misses the TLB as well as the cache, and a page fault fills 2 MiB
    /// instead of 4 KiB. The memory used then grows by 2 MiB at a time, so the first 2 MiB keep
    /// small pages: a small capture's table stays small.
    public static func allocate<T>(_ type: T.Type, count: Int, hugePages: Bool = false) -> UnsafeMutablePointer<T> {
        precondition(_isPOD(T.self), "ZeroedMemory holds trivial types only")
        let bytes = Self.mappedBytes(T.self, count: count)
        // MAP_NORESERVE: the size is a bound, not a commitment, so the kernel's overcommit
        // heuristic does not refuse a bound larger than memory (`--max-flows 268435456` maps
        // 60 GB); pages are charged as they are touched (proc(5), overcommit_memory).
        guard let base = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0),
              base != MAP_FAILED
        else { fatalError("ZeroedMemory: cannot map \(bytes) bytes") }
        #if os(Linux)
            // Advice only: where it is refused, the memory works the same with small pages.
            if hugePages && bytes >= 2 * Self.hugePageBytes {
                _ = madvise(base + Self.hugePageBytes, bytes - Self.hugePageBytes, MADV_HUGEPAGE)
            }
        #endif
        return base.bindMemory(to: T.self, capacity: max(1, count))
    }

    /// A transparent huge page on x86-64 and most arm64 kernels.
    static let hugePageBytes = 2 << 20

    /// Returns memory from `allocate` (the same `count`).
    public static func free<T>(_ pointer: UnsafeMutablePointer<T>, count: Int) {
        munmap(UnsafeMutableRawPointer(pointer), Self.mappedBytes(T.self, count: count))
    }

    /// Whole pages for `count` elements (at least one element).
    private static func mappedBytes<T>(_ type: T.Type, count: Int) -> Int {
        let page = 4096
        return (MemoryLayout<T>.stride * max(1, count) + page - 1) / page * page
    }
}
