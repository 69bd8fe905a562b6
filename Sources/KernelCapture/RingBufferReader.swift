internal import CBPF

#if canImport(Glibc)
import Glibc
#endif

/// The consumer side of a `BPF_MAP_TYPE_RINGBUF`, read in place: the map's pages are mapped
/// into flowmon (the consumer position read-write, the producer position and the data read-only,
/// the data mapped twice in a row so a record that wraps around is contiguous), and `drain`
/// walks the records between the two positions, handing each to its body where it lies, then
/// publishes the new consumer position (Documentation/bpf/ringbuf.rst). No system call and no
/// callback per record; waiting for records is `poll` on the map's descriptor.
///
/// (libbpf 1.1's `ring_buffer__consume` takes a C callback bound at creation, which would mean
/// storing a Swift closure per batch; its `ring__consume` came in 1.3.)
struct RingBufferReader {
    /// `BPF_RINGBUF_BUSY_BIT` and `BPF_RINGBUF_DISCARD_BIT` of a record's length word, and its header size.
    static let busy: UInt32 = 1 << 31
    static let discard: UInt32 = 1 << 30
    static let headerSize = 8

    let descriptor: Int32
    let pageSize: Int
    let dataSize: Int
    let consumerPage: UnsafeMutableRawPointer
    let producerPages: UnsafeMutableRawPointer

    /// Maps the ring buffer map `descriptor` of `size` bytes (a power of two, a multiple of the page).
    init(descriptor: Int32, size: Int) throws(KernelCaptureError) {
        self.descriptor = descriptor
        self.pageSize = Int(sysconf(Int32(_SC_PAGESIZE)))
        self.dataSize = size
        guard let consumer = mmap(nil, self.pageSize, PROT_READ | PROT_WRITE, MAP_SHARED, descriptor, 0),
              consumer != MAP_FAILED else {
            throw KernelCaptureError("cannot map the eBPF ring buffer: \(String(cString: strerror(errno)))")
        }
        guard let producer = mmap(nil, self.pageSize + 2 * size, PROT_READ, MAP_SHARED, descriptor, off_t(self.pageSize)),
              producer != MAP_FAILED else {
            munmap(consumer, self.pageSize)
            throw KernelCaptureError("cannot map the eBPF ring buffer: \(String(cString: strerror(errno)))")
        }
        self.consumerPage = consumer
        self.producerPages = producer
    }

    func unmap() {
        munmap(self.consumerPage, self.pageSize)
        munmap(self.producerPages, self.pageSize + 2 * self.dataSize)
    }

    /// Hands each record available now to `body` (its bytes, valid during the call), oldest
    /// first, at most `maxRecords`; returns how many were handed over. A record the program
    /// is still writing ends the walk (it is read next time); discarded ones are skipped.
    @inline(__always)
    func drain(maxRecords: Int, _ body: (UnsafeRawBufferPointer) -> Void) -> Int {
        let consumerPosition = self.consumerPage.assumingMemoryBound(to: UInt.self)
        let producerPosition = self.producerPages.assumingMemoryBound(to: UInt.self)
        let data = self.producerPages + self.pageSize
        let mask = UInt(self.dataSize - 1)
        var consumer = flowmon_load_acquire(consumerPosition)
        var handed = 0
        while handed < maxRecords {
            let producer = flowmon_load_acquire(producerPosition)
            guard consumer < producer else { break }
            while consumer < producer && handed < maxRecords {
                let record = data + Int(consumer & mask)
                let word = flowmon_load_acquire_u32(record.assumingMemoryBound(to: UInt32.self))
                if word & Self.busy != 0 { return handed }
                let length = Int(word & ~(Self.busy | Self.discard))
                consumer += UInt((length + Self.headerSize + 7) & ~7)
                if word & Self.discard == 0 {
                    body(UnsafeRawBufferPointer(start: record + Self.headerSize, count: length))
                    handed += 1
                }
                flowmon_store_release(consumerPosition, consumer)
            }
        }
        return handed
    }
}
