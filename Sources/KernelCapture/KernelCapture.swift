internal import CBPF
import FlowCore
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The eBPF datapath (`flowmon capture --datapath ebpf`): flowmon's TC programs
/// (bpf/flowmon.bpf.c, embedded in the binary) attached at the ingress and egress of each
/// observed interface, writing each packet's metadata and first bytes into a BPF ring buffer
/// that `poll` reads in batches (epoll on the ring; no system call per packet). The records
/// become `CapturedPacket`s for the same pipeline a libpcap capture feeds.
///
/// The only module that talks to libbpf, as `Capture` alone talks to libpcap. Needs CAP_BPF and
/// CAP_NET_ADMIN (or root); `requiredCapabilities` says which are missing.
package final class KernelCapture {
    package struct Options: Sendable {
        /// Bytes of each packet copied into its record (1 ... `maximumSnaplen`).
        package var snaplen: Int
        /// Size of the ring buffer in bytes: a power of two, at least a page.
        package var ringBytes: Int
        package var attachment: TCAttachment.Mode

        package init(snaplen: Int = 192, ringBytes: Int = 8 << 20, attachment: TCAttachment.Mode = .auto) {
            self.snaplen = snaplen
            self.ringBytes = ringBytes
            self.attachment = attachment
        }
    }

    /// The most bytes of a packet a record carries.
    package static let maximumSnaplen = Int(FLOWMON_MAX_SNAPLEN)

    /// A packet read from the ring. `bytes` lie in the ring: valid only during the call it is
    /// handed to.
    package struct Record {
        /// LINKTYPE_ value of `bytes`: 1 Ethernet, 101 raw IP.
        package var linkType: UInt32
        package var time: CaptureTime
        /// The frame's length as the interface carries it; `bytes.count` is the captured part.
        package var wireLength: UInt32
        package var bytes: PacketBytes
        /// The interface's index (the kernel's ifindex).
        package var interfaceIndex: UInt32
        /// Whether the interface sent the packet (TC egress) rather than received it.
        package var outbound: Bool
    }

    /// Totals of the programs' per-CPU counters.
    package struct Counters: Sendable, Equatable {
        /// Packets the programs saw (on every observed interface, before the observation rule).
        package var packets: UInt64 = 0
        package var bytes: UInt64 = 0
        /// Packets whose record found the ring buffer full (lost; Hubble's ring-buffer loss).
        package var ringLost: UInt64 = 0
    }

    package let options: Options
    let object: OpaquePointer
    let ingressProgram: Int32
    let egressProgram: Int32
    let interfacesMap: Int32
    let countersMap: Int32
    let ring: OpaquePointer
    /// Written by `stop` to wake `poll`; polled beside the ring's epoll descriptor.
    let wakeDescriptor: Int32
    private let stopped = Atomic<Bool>(false)
    /// The programs' attachments, by interface index.
    package private(set) var attachments: [Int32: TCAttachment] = [:]
    /// How the programs were attached (tcx links or clsact filters), once one is.
    package private(set) var attachedWith: TCAttachment.Mode?
    private let possibleCPUs: Int
    /// What the ring's C callback reads during `consume`.
    private let delivery = Delivery()

    /// Loads the programs (nothing is attached yet): the embedded object with `options`' snaplen
    /// and ring size. A verifier rejection throws with the verifier's last lines.
    package init(options: Options) throws(KernelCaptureError) {
        guard (1...Self.maximumSnaplen).contains(options.snaplen) else {
            throw KernelCaptureError("'--snaplen' must be between 1 and \(Self.maximumSnaplen) with the eBPF datapath")
        }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard options.ringBytes >= page, options.ringBytes & (options.ringBytes - 1) == 0 else {
            throw KernelCaptureError("the eBPF ring buffer must be a power of two of at least \(page) bytes (got \(options.ringBytes))")
        }
        if let missing = Self.missingCapabilities() {
            throw KernelCaptureError(permission: true, "the eBPF datapath needs \(missing) (run as root, or grant them to flowmon)")
        }
        self.options = options
        let log = BPFLog.capture()
        guard let data = Data(base64Encoded: embeddedBPFObjectBase64) else {
            throw KernelCaptureError("the embedded BPF object is damaged (rebuild flowmon)")
        }
        let object: OpaquePointer? = data.withUnsafeBytes { bytes in
            var openOptions = bpf_object_open_opts()
            openOptions.sz = MemoryLayout<bpf_object_open_opts>.size
            return "flowmon".withCString { name in
                openOptions.object_name = name
                return bpf_object__open_mem(bytes.baseAddress, bytes.count, &openOptions)
            }
        }
        guard let object else {
            throw KernelCaptureError("cannot open flowmon's BPF object: \(Self.errorText(errno))\(log.tail())")
        }
        func fail(_ message: String) -> KernelCaptureError {
            bpf_object__close(object)
            return KernelCaptureError(message)
        }
        guard let ringMap = bpf_object__find_map_by_name(object, "flowmon_ring"),
              let rodata = bpf_object__find_map_by_name(object, ".rodata"),
              let ingress = bpf_object__find_program_by_name(object, "flowmon_ingress"),
              let egress = bpf_object__find_program_by_name(object, "flowmon_egress")
        else { throw fail("flowmon's BPF object lacks its ring, configuration or programs (rebuild flowmon)") }
        bpf_map__set_max_entries(ringMap, UInt32(options.ringBytes))
        var size = 0
        guard let initial = bpf_map__initial_value(rodata, &size), size >= MemoryLayout<flowmon_config>.size else {
            throw fail("flowmon's BPF object has no configuration to set (rebuild flowmon)")
        }
        var config = flowmon_config()
        config.snaplen = UInt32(options.snaplen)
        UnsafeMutableRawPointer(mutating: initial).storeBytes(of: config, as: flowmon_config.self)
        let loaded = bpf_object__load(object)
        guard loaded == 0 else {
            let error = -loaded
            let reason = error == EPERM || error == EACCES && !log.lines.contains(where: { $0.contains("BEGIN PROG LOAD LOG") })
                ? "permission denied (CAP_BPF and CAP_NET_ADMIN, or root)" : Self.errorText(error)
            throw fail("the kernel refused flowmon's BPF programs: \(reason)\(log.tail(verifier: true))")
        }
        self.object = object
        self.ingressProgram = bpf_program__fd(ingress)
        self.egressProgram = bpf_program__fd(egress)
        self.interfacesMap = bpf_object__find_map_fd_by_name(object, "flowmon_interfaces")
        self.countersMap = bpf_object__find_map_fd_by_name(object, "flowmon_counters")
        self.possibleCPUs = max(1, Int(libbpf_num_possible_cpus()))
        self.wakeDescriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        let context = Unmanaged.passUnretained(self.delivery).toOpaque()
        guard let ring = ring_buffer__new(bpf_map__fd(ringMap), deliverRecord, context, nil) else {
            bpf_object__close(object)
            throw KernelCaptureError("cannot map the eBPF ring buffer: \(Self.errorText(errno))")
        }
        self.ring = ring
        guard ring_buffer__epoll_fd(ring) >= 0, self.wakeDescriptor >= 0 else {
            ring_buffer__free(ring)
            bpf_object__close(object)
            throw KernelCaptureError("cannot poll the eBPF ring buffer: \(Self.errorText(errno))")
        }
    }

    deinit {
        self.detachAll()
        ring_buffer__free(self.ring)
        bpf_object__close(self.object)
        close(self.wakeDescriptor)
    }

    // MARK: Interfaces

    /// Attaches the programs to `interfaces` (index, LINKTYPE_ of their bytes, observation role)
    /// and detaches them from every other interface: the observed set as it is now. Returns one
    /// warning per interface that could not be attached (it vanished, or the kernel refused).
    @discardableResult
    package func observe(_ interfaces: [(index: Int32, linkType: UInt16, role: UInt8)]) -> [String] {
        let wanted = Set(interfaces.map(\.index))
        for (index, attachment) in self.attachments where !wanted.contains(index) {
            attachment.detach()
            self.attachments[index] = nil
            var key = UInt32(bitPattern: index)
            bpf_map_delete_elem(self.interfacesMap, &key)
        }
        var warnings: [String] = []
        for interface in interfaces where self.attachments[interface.index] == nil {
            var key = UInt32(bitPattern: interface.index)
            var value = flowmon_interface(link_type: interface.linkType, role: interface.role, reserved: 0)
            bpf_map_update_elem(self.interfacesMap, &key, &value, UInt64(BPF_ANY))
            do throws(KernelCaptureError) {
                let attachment = try TCAttachment(interface: interface.index, ingress: self.ingressProgram,
                                                  egress: self.egressProgram, mode: self.attachedWith ?? self.options.attachment)
                self.attachedWith = attachment.mode
                self.attachments[interface.index] = attachment
            } catch {
                bpf_map_delete_elem(self.interfacesMap, &key)
                warnings.append(error.message)
            }
        }
        return warnings
    }

    /// Detaches the programs from every interface.
    package func detachAll() {
        for attachment in self.attachments.values { attachment.detach() }
        self.attachments.removeAll()
    }

    // MARK: Reading

    /// Waits up to `timeoutMilliseconds` for a batch of records, then hands each available one
    /// to `body` (at most `maxRecords`), oldest first. Returns the number handed over; 0 when
    /// there was none, or after `stop`. A record's bytes are valid only during its call.
    ///
    /// The programs wake the reader once per batch of unread bytes, not per record
    /// (bpf/flowmon.bpf.c, `wakeup`): what a timeout finds is read too, so a quiet interface's
    /// packets wait at most `timeoutMilliseconds`.
    package func poll(timeoutMilliseconds: Int32, maxRecords: Int, _ body: (Record) -> Void) -> Int {
        guard !self.isStopped else { return 0 }
        var descriptors = (pollfd(fd: ring_buffer__epoll_fd(self.ring), events: Int16(POLLIN), revents: 0),
                           pollfd(fd: self.wakeDescriptor, events: Int16(POLLIN), revents: 0))
        let ready = withUnsafeMutableBytes(of: &descriptors) { raw in
            Glibc.poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, timeoutMilliseconds)
        }
        guard ready >= 0, !self.isStopped else { return 0 }
        return self.consume(maxRecords: maxRecords, body)
    }

    /// Hands every record available now to `body` (at most `maxRecords`) without waiting.
    package func consume(maxRecords: Int, _ body: (Record) -> Void) -> Int {
        var realtime = timespec()
        var monotonic = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        // bpf_ktime_get_ns() is CLOCK_MONOTONIC: records are placed on the wall clock by the
        // offset between the two clocks now (re-read every batch, so a clock step shows at once).
        let offset = (Int64(realtime.tv_sec) - Int64(monotonic.tv_sec)) &* 1_000_000_000
            &+ (Int64(realtime.tv_nsec) - Int64(monotonic.tv_nsec))
        return withoutActuallyEscaping(body) { body in
            self.delivery.body = body
            self.delivery.clockOffset = offset
            self.delivery.remaining = maxRecords
            defer { self.delivery.body = nil }
            _ = ring_buffer__consume(self.ring)
            return maxRecords - self.delivery.remaining
        }
    }

    /// Wakes a waiting `poll` and makes later ones return at once (signal-safe).
    package func stop() {
        self.stopped.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(self.wakeDescriptor, &one, 8)
    }

    package var isStopped: Bool { self.stopped.load(ordering: .acquiring) }

    /// The programs' counters, summed over the CPUs.
    package func counters() -> Counters {
        var totals = Counters()
        var values = [UInt64](repeating: 0, count: self.possibleCPUs)
        func sum(_ counter: flowmon_counter) -> UInt64 {
            var key = UInt32(counter.rawValue)
            guard values.withUnsafeMutableBytes({ bpf_map_lookup_elem(self.countersMap, &key, $0.baseAddress) }) == 0 else { return 0 }
            return values.reduce(0, &+)
        }
        totals.packets = sum(FLOWMON_COUNTER_PACKETS)
        totals.bytes = sum(FLOWMON_COUNTER_BYTES)
        totals.ringLost = sum(FLOWMON_COUNTER_RING_LOST)
        return totals
    }

    // MARK: Privileges

    /// "CAP_BPF and CAP_NET_ADMIN" when the process lacks what loading and attaching need (with
    /// CAP_SYS_ADMIN standing in for CAP_BPF, as on kernels before 5.8); nil when it has them.
    package static func missingCapabilities() -> String? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("CapEff:") }),
              let effective = UInt64(line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces), radix: 16)
        else { return nil }
        func has(_ capability: Int) -> Bool { effective & (1 << UInt64(capability)) != 0 }
        let (netAdmin, sysAdmin, bpf) = (12, 21, 39)
        var missing: [String] = []
        if !has(bpf) && !has(sysAdmin) { missing.append("CAP_BPF") }
        if !has(netAdmin) { missing.append("CAP_NET_ADMIN") }
        return missing.isEmpty ? nil : missing.joined(separator: " and ")
    }

    static func errorText(_ error: Int32) -> String { String(cString: strerror(error)) }
}

/// What the ring's C callback needs during one `consume` call: the batch's body, the clock
/// offset, and how many more records the batch takes.
private final class Delivery {
    var body: ((KernelCapture.Record) -> Void)?
    var clockOffset: Int64 = 0
    var remaining = 0

    /// One record from the ring: decoded and handed to the batch's body. Returns -1 once the
    /// batch has its `maxRecords`, which stops libbpf's loop after this record.
    @inline(__always)
    func deliver(_ data: UnsafeRawPointer, size: Int) -> Int32 {
        let headerSize = MemoryLayout<flowmon_packet_record>.size
        guard size >= headerSize, let body = self.body else { return 0 }
        let header = data.loadUnaligned(as: flowmon_packet_record.self)
        guard header.kind == UInt8(FLOWMON_RECORD_PACKET.rawValue) else { return 0 }
        let captured = min(Int(header.captured), size - headerSize)
        body(KernelCapture.Record(
            linkType: UInt32(header.link_type),
            time: CaptureTime(nanoseconds: Int64(bitPattern: header.time_ns) &+ self.clockOffset),
            wireLength: header.wire_length,
            bytes: PacketBytes(UnsafeRawBufferPointer(start: data + headerSize, count: captured)),
            interfaceIndex: header.ifindex, outbound: header.direction == UInt8(FLOWMON_EGRESS.rawValue)))
        self.remaining -= 1
        return self.remaining > 0 ? 0 : -1
    }
}

/// libbpf's `ring_buffer_sample_fn`: the context is the capture's `Delivery`.
private let deliverRecord: ring_buffer_sample_fn = { context, data, size in
    guard let context, let data else { return 0 }
    return Unmanaged<Delivery>.fromOpaque(context)._withUnsafeGuaranteedRef { $0.deliver(data, size: size) }
}
