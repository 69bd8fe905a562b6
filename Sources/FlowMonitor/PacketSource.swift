import Capture
import Datapath
import Decoding
import KernelCapture

/// What a live capture reads its packets from (`flowmon capture --datapath`): libpcap (a packet
/// socket on `any` or on one interface, filtered in the kernel), or flowmon's TC programs
/// through a BPF ring buffer (the capture filter then runs in user space, on the packet framed
/// as a capture on `any` frames it).
/// Both hand the pipeline the same `CapturedPacket`s; the capture thread reads them in batches.
/// `stop` is the one call made from another thread (the signal handler's), and it is thread-safe.
enum PacketSource: @unchecked Sendable {
    case pcap(LiveCapture)
    case ebpf(KernelCapture, filter: PacketFilter?)

    var datapath: CaptureDatapath {
        switch self {
        case .pcap: .pcap
        case .ebpf: .ebpf
        }
    }

    /// Reads one batch (at most `maxPackets`, waiting up to 100 ms for the first) into
    /// `pipeline`; returns the packets that passed the filter (as libpcap counts them, for
    /// `--count`). Throws when the interface went away (libpcap).
    @inline(__always)
    func read(maxPackets: Int, into pipeline: Pipeline) throws(CaptureError) -> Int {
        switch self {
        case .pcap(let capture):
            return try capture.dispatch(maxPackets: maxPackets) { pipeline.submit($0) }
        case .ebpf(let kernel, let filter):
            var passed = 0
            _ = kernel.poll(timeoutMilliseconds: 100, maxRecords: maxPackets) { record in
                if Self.submit(record, filter, into: pipeline) { passed += 1 }
            }
            return passed
        }
    }

    /// Hands every record waiting in the BPF ring buffer to `pipeline` without waiting (eBPF;
    /// libpcap has nothing to give): in mode 2 before a sweep hands over the kernel's
    /// aggregates (`Pipeline.idle(now:drain:)`), and at the end.
    func readWaiting(into pipeline: Pipeline) {
        guard case .ebpf(let kernel, let filter) = self else { return }
        _ = kernel.consume(maxRecords: .max) { _ = Self.submit($0, filter, into: pipeline) }
        pipeline.publish()
    }

    /// Ends the capture's reading: with eBPF the programs are detached, then every record still
    /// in the ring is read into `pipeline` (a record left there would be neither counted nor
    /// lost). libpcap keeps nothing flowmon could still read once stopped.
    func finishReading(into pipeline: Pipeline) {
        guard case .ebpf(let kernel, _) = self else { return }
        kernel.detachAll()
        self.readWaiting(into: pipeline)
    }

    /// Hands one record to the pipeline unless the filter rejects it (counted); returns whether it passed.
    @inline(__always)
    static func submit(_ record: KernelCapture.Record, _ filter: PacketFilter?, into pipeline: Pipeline) -> Bool {
        let packet = CapturedPacket(linkType: record.linkType, interfaceIndex: 0, time: record.time,
                                    originalLength: record.wireLength, bytes: record.bytes)
        if let filter, !filter.matchesCooked(packet, interfaceIndex: record.interfaceIndex, outbound: record.outbound) {
            pipeline.countFilteredOut()
            return false
        }
        pipeline.submit(packet, interfaceIndex: record.interfaceIndex, direction: record.outbound ? .outbound : .inbound)
        return true
    }

    /// Wakes a waiting `read` and ends the capture (signal-safe).
    func stop() {
        switch self {
        case .pcap(let capture): capture.stop()
        case .ebpf(let kernel, _): kernel.stop()
        }
    }

    var isStopped: Bool {
        switch self {
        case .pcap(let capture): capture.isStopped
        case .ebpf(let kernel, _): kernel.isStopped
        }
    }

    /// Packets lost in the kernel (libpcap's buffer, or the BPF ring buffer) and at the interface.
    func drops() -> (kernel: UInt64, interface: UInt64) {
        switch self {
        case .pcap(let capture):
            let statistics = capture.statistics()
            return (statistics.droppedByKernel, statistics.droppedByInterface)
        case .ebpf(let kernel, _):
            return (kernel.ringLost, 0)
        }
    }
}
