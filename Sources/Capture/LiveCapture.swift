import CPcap
import FlowCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A live capture on one network interface through libpcap (a `TPACKET_V3` memory-mapped
/// ring on Linux with libpcap 1.10). Owns one activated `pcap_t`.
///
/// One thread reads with `dispatch(maxPackets:_:)`; any thread, including one that handles
/// signals, may call `stop()`. `statistics()` belongs to the reading thread, or to any thread
/// once reading has ended (libpcap accumulates the kernel counters in the handle).
///
///     let capture = try LiveCapture(options: .init(interface: "eth0", filter: "tcp"))
///     while !capture.isStopped {
///         _ = try capture.dispatch(maxPackets: 512) { packet in ... }
///     }
package final class LiveCapture: @unchecked Sendable {
    /// What to capture and how; the values are handed to libpcap before activation.
    package struct Options: Sendable {
        /// The interface; `nil` picks libpcap's default device (`defaultInterface()`), and
        /// `"any"` captures on all interfaces with Linux cooked headers (LINKTYPE_LINUX_SLL2).
        package var interface: String?
        /// Bytes kept of each packet (1...262144); longer packets are truncated.
        package var snaplen: Int
        /// Whether to put the interface into promiscuous mode (needs CAP_NET_ADMIN).
        package var promiscuous: Bool
        /// Size of the kernel ring buffer in MiB (1...2047).
        package var bufferSizeMiB: Int
        /// How long the kernel may hold packets before handing over a partly filled ring block
        /// (TPACKET_V3 hands over whole blocks: this is the latency of a quiet interface), and
        /// how long `dispatch` waits when no packet arrives. At least 1.
        package var timeoutMilliseconds: Int
        /// A tcpdump-syntax filter, compiled for the interface and run in the kernel.
        package var filter: String?

        package init(
            interface: String? = nil, snaplen: Int = 262_144, promiscuous: Bool = false, bufferSizeMiB: Int = 32,
            timeoutMilliseconds: Int = 100, filter: String? = nil
        ) {
            self.interface = interface
            self.snaplen = snaplen
            self.promiscuous = promiscuous
            self.bufferSizeMiB = bufferSizeMiB
            self.timeoutMilliseconds = timeoutMilliseconds
            self.filter = filter
        }
    }

    /// The interface captured on (the default device's name when `Options.interface` was `nil`).
    package let interfaceName: String
    /// LINKTYPE_ value of the packets (libpcap's DLT_ value mapped, for example DLT_RAW 12 -> 101).
    package let linkType: UInt32
    /// Whether packet times carry nanoseconds; otherwise the kernel refused nanosecond
    /// precision and times are microseconds (times 1000).
    package let nanosecondTimestamps: Bool
    /// The snapshot length libpcap uses, which may differ from the one asked for.
    package let snapshotLength: Int
    /// The filter expression installed, if any.
    package let filter: String?
    /// Messages for the warnings `pcap_activate` returned; the capture runs regardless
    /// (for example promiscuous mode not supported).
    package let warnings: [String]

    let handle: OpaquePointer
    let stopped = Atomic<Bool>(false)
    /// The descriptor `dispatch` polls for packets (the packet socket).
    let packetDescriptor: Int32
    /// An eventfd `stop()` writes to, so that a `dispatch` waiting in `poll` wakes up.
    let stopDescriptor: Int32
    /// `poll`'s timeout in milliseconds.
    let pollTimeoutMilliseconds: Int32
    /// Whether the interface was up (`IFF_UP`) when last looked at: after each wait that
    /// brought no packet, so a capture that keeps receiving never asks. The reading thread's.
    package internal(set) var interfaceIsUp = true

    /// Opens and activates a capture, then installs the filter.
    ///
    /// The corresponding C functions are `pcap_create`, `pcap_set_snaplen`, `pcap_set_promisc`,
    /// `pcap_set_buffer_size`, `pcap_set_timeout`, `pcap_set_immediate_mode`,
    /// `pcap_set_tstamp_precision`, `pcap_activate`, `pcap_compile` and `pcap_setfilter`.
    package init(options: Options) throws(CaptureError) {
        try Self.validate(options)
        let name: String
        if let interface = options.interface { name = interface } else { name = try Self.defaultInterface() }
        let handle = try Self.create(name)
        do throws(CaptureError) {
            try Self.configure(handle, name: name, options: options)
            self.nanosecondTimestamps = Self.requestNanosecondPrecision(handle)
            self.warnings = try Self.activate(handle, name: name)
            Self.preferLinuxCookedV2(handle)
            if let expression = options.filter { try Self.install(expression, on: handle, name: name) }
            (self.packetDescriptor, self.stopDescriptor) = try Self.prepareWaiting(handle, name: name)
        } catch {
            pcap_close(handle)
            throw error
        }
        self.pollTimeoutMilliseconds = Self.pollTimeout(handle, timeoutMilliseconds: options.timeoutMilliseconds)
        self.handle = handle
        self.interfaceName = name
        self.filter = options.filter
        self.linkType = linkTypeValue(forDataLinkType: pcap_datalink(handle))
        self.snapshotLength = Int(pcap_snapshot(handle))
    }

    deinit {
        pcap_close(self.handle)
        _ = close(self.stopDescriptor)
    }

    /// Whether `stop()` was called; once true, `dispatch` returns 0 without waiting.
    package var isStopped: Bool { self.stopped.load(ordering: .acquiring) }

    /// Makes a `dispatch` in progress (or the next one) return 0, and every later one too.
    /// Safe from any thread, and from a signal handler: it sets an atomic flag, asks libpcap to
    /// leave its packet loop, and writes to an eventfd that wakes a `dispatch` waiting in `poll`.
    ///
    /// The corresponding C functions are `pcap_breakloop` and `write`.
    package func stop() {
        self.stopped.store(true, ordering: .releasing)
        pcap_breakloop(self.handle)
        var one: UInt64 = 1
        _ = write(self.stopDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    /// Reads one batch: calls `body` for each packet the kernel has handed over, at most
    /// `maxPackets` (≤ 0: a whole ring block). If none is ready, first waits for a block, for at
    /// most `timeoutMilliseconds`. Returns how many packets `body` got:
    /// 0 on a timeout, on a signal interrupting the wait, and after `stop()`.
    ///
    /// `packet.bytes` points into the kernel ring and is valid only during the call; copy what
    /// must outlive it. Nothing is allocated per packet.
    ///
    /// libpcap's own read timeout starts only once a packet has arrived, so an idle interface
    /// would block `pcap_dispatch` indefinitely; the handle is therefore non-blocking and the
    /// wait is a `poll` on its descriptor and on the descriptor `stop()` writes to.
    ///
    /// As with libpcap's own loop (and tcpdump), an interface that goes down is waited out:
    /// `dispatch` keeps returning 0 until it comes back up, and `interfaceIsUp` tells the
    /// caller, which reports it. An interface that is deleted ends the capture with an error.
    ///
    /// The corresponding C functions are `pcap_dispatch` and `poll`.
    package func dispatch(maxPackets: Int, _ body: (CapturedPacket) -> Void) throws(CaptureError) -> Int {
        if self.isStopped { return 0 }
        let count = try self.read(maxPackets: maxPackets, body)
        if count != 0 || self.isStopped { return count }
        switch self.waitForPackets() {
        case .ready:
            return try self.read(maxPackets: maxPackets, body)
        case .socketError:
            try self.checkSocketError()
            let count = try self.read(maxPackets: maxPackets, body)
            if count == 0 { try self.checkInterfaceIsUp() }
            return count
        case .stopped:
            self.stopped.store(true, ordering: .releasing)
            return 0
        case .timedOut:
            try self.checkInterfaceIsUp()
            return 0
        case .interrupted:
            return 0
        }
    }

    /// Packets the kernel handed to the capture, and packets it dropped, since the capture
    /// was opened (libpcap adds up the kernel's counters, which reset on each read).
    ///
    /// The corresponding C function is `pcap_stats`.
    package func statistics() -> LiveStatistics {
        var stats = pcap_stat()
        guard pcap_stats(self.handle, &stats) == 0 else { return LiveStatistics() }
        return LiveStatistics(
            received: UInt64(stats.ps_recv), droppedByKernel: UInt64(stats.ps_drop),
            droppedByInterface: UInt64(stats.ps_ifdrop))
    }

    /// One `pcap_dispatch` call; with the handle non-blocking it returns 0 when no block is ready.
    ///
    /// The corresponding C function is `pcap_dispatch`.
    private func read(maxPackets: Int, _ body: (CapturedPacket) -> Void) throws(CaptureError) -> Int {
        let handle = self.handle
        let linkType = self.linkType
        let nanoseconds = self.nanosecondTimestamps
        let count = withoutActuallyEscaping(body) { body -> Int32 in
            var context = DispatchContext(body: body, linkType: linkType, nanosecondTimestamps: nanoseconds)
            return withUnsafeMutablePointer(to: &context) { context in
                // The context travels as libpcap's `u_char *user`; only the callback reads it.
                let user = UnsafeMutableRawPointer(context).assumingMemoryBound(to: UInt8.self)
                return pcap_dispatch(handle, Int32(clamping: maxPackets), deliverPacket, user)
            }
        }
        if count >= 0 { return Int(count) }
        if count == PCAP_ERROR_BREAK {
            self.stopped.store(true, ordering: .releasing)
            return 0
        }
        let message = String(cString: pcap_geterr(handle))
        let kind: CaptureError.Kind = count == PCAP_ERROR_IFACE_NOT_UP ? .interfaceDown : .io
        throw CaptureError(kind, "capture on '\(self.interfaceName)' failed: \(message)")
    }
}

/// Counters of a live capture since it was opened.
package struct LiveStatistics: Sendable, Equatable {
    /// Packets that passed the filter (`ps_recv`), including those then dropped.
    package var received: UInt64
    /// Packets the kernel dropped because the ring was full (`ps_drop`).
    package var droppedByKernel: UInt64
    /// Packets the interface or its driver dropped (`ps_ifdrop`; 0 for "any").
    package var droppedByInterface: UInt64

    package init(received: UInt64 = 0, droppedByKernel: UInt64 = 0, droppedByInterface: UInt64 = 0) {
        self.received = received
        self.droppedByKernel = droppedByKernel
        self.droppedByInterface = droppedByInterface
    }
}

// MARK: Dispatch

/// What the C callback needs: lives on `dispatch`'s stack for one `pcap_dispatch` call.
private struct DispatchContext {
    var body: (CapturedPacket) -> Void
    var linkType: UInt32
    var nanosecondTimestamps: Bool
}

/// libpcap's `pcap_handler`: turns the header and bytes into a `CapturedPacket` for the
/// context's closure. A C function pointer, so it captures nothing.
private let deliverPacket: pcap_handler = { user, header, bytes in
    guard let user, let header else { return }
    let context = UnsafeMutableRawPointer(user).assumingMemoryBound(to: DispatchContext.self)
    let ts = header.pointee.ts
    // With nanosecond precision libpcap stores nanoseconds in `tv_usec`.
    let fraction = context.pointee.nanosecondTimestamps ? Int64(ts.tv_usec) : Int64(ts.tv_usec) &* 1000
    let packet = CapturedPacket(
        linkType: context.pointee.linkType, interfaceIndex: 0,
        time: CaptureTime(seconds: Int64(ts.tv_sec), nanoseconds: fraction),
        originalLength: header.pointee.len,
        bytes: PacketBytes(UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : Int(header.pointee.caplen))))
    context.pointee.body(packet)
}
