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
/// that `poll` reads in batches (poll(2) on the ring, then its records read in place; no system
/// call per packet). The records become `CapturedPacket`s for the same pipeline a libpcap
/// capture feeds.
///
/// The only module that talks to libbpf, as `Capture` alone talks to libpcap. Needs CAP_BPF and
/// CAP_NET_ADMIN (or root); `missingCapabilities` says which are missing.
package final class KernelCapture {
    package struct Options: Sendable {
        /// Bytes of each packet copied into its record (1 ... `maximumSnaplen`).
        package var snaplen: Int
        /// Size of the ring buffer in bytes: a power of two, at least a page.
        package var ringBytes: Int
        package var attachment: TCAttachment.Mode
        /// The BPF object (ELF) to load: nil for the one built into flowmon. Tests load others
        /// (one the verifier refuses).
        package var object: [UInt8]?

        package init(snaplen: Int = 192, ringBytes: Int = 8 << 20, attachment: TCAttachment.Mode = .auto, object: [UInt8]? = nil) {
            self.snaplen = snaplen
            self.ringBytes = ringBytes
            self.attachment = attachment
            self.object = object
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
    let ring: RingBufferReader
    /// Written by `stop` to wake `poll`; polled beside the ring buffer map's descriptor.
    let wakeDescriptor: Int32
    private let stopped = Atomic<Bool>(false)
    /// The programs' attachments, by interface index.
    package private(set) var attachments: [Int32: TCAttachment] = [:]
    /// How the programs were attached (tcx links or clsact filters), once one is.
    package private(set) var attachedWith: TCAttachment.Mode?
    private let possibleCPUs: Int
    /// Where a per-CPU counter's values are read (one per possible CPU).
    private let counterValues: UnsafeMutablePointer<UInt64>

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
            throw KernelCaptureError(permission: true, "the eBPF datapath needs \(missing), which flowmon does not have (run it as root, or add the capabilities to its container)")
        }
        self.options = options
        let log = BPFLog.capture()
        guard let data = options.object.map({ Data($0) }) ?? Data(base64Encoded: embeddedBPFObjectBase64) else {
            throw KernelCaptureError("the embedded BPF object is damaged (rebuild flowmon)")
        }
        let object: OpaquePointer? = data.withUnsafeBytes { bytes in
            var openOptions = bpf_object_open_opts()
            // Up to its last field, as TCAttachment's options (libbpf checks the padding after it).
            openOptions.sz = MemoryLayout<bpf_object_open_opts>.offset(of: \.kernel_log_level)! + MemoryLayout<UInt32>.size
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
            let verified = log.lines.contains { $0.contains("BEGIN PROG LOAD LOG") }
            let reason = verified ? "the verifier rejected a program"
                : error == EPERM || error == EACCES ? "permission denied (CAP_BPF and CAP_NET_ADMIN, or root; or a seccomp profile that refuses bpf(2))"
                : Self.errorText(error)
            throw fail("the kernel refused flowmon's BPF programs: \(reason)\(log.tail(verifier: verified))")
        }
        self.object = object
        self.ingressProgram = bpf_program__fd(ingress)
        self.egressProgram = bpf_program__fd(egress)
        self.interfacesMap = bpf_object__find_map_fd_by_name(object, "flowmon_interfaces")
        self.countersMap = bpf_object__find_map_fd_by_name(object, "flowmon_counters")
        self.possibleCPUs = max(1, Int(libbpf_num_possible_cpus()))
        self.counterValues = .allocate(capacity: self.possibleCPUs)
        do throws(KernelCaptureError) {
            self.ring = try RingBufferReader(descriptor: bpf_map__fd(ringMap), size: options.ringBytes)
        } catch {
            bpf_object__close(object)
            throw error
        }
        self.wakeDescriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard self.wakeDescriptor >= 0 else {
            self.ring.unmap()
            bpf_object__close(object)
            throw KernelCaptureError("cannot create an eventfd: \(Self.errorText(errno))")
        }
    }

    deinit {
        self.detachAll()
        self.ring.unmap()
        bpf_object__close(self.object)
        close(self.wakeDescriptor)
        self.counterValues.deallocate()
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
        var descriptors = (pollfd(fd: self.ring.descriptor, events: Int16(POLLIN), revents: 0),
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
        let headerSize = MemoryLayout<flowmon_packet_record>.size
        return self.ring.drain(maxRecords: maxRecords) { record in
            guard record.count >= headerSize, let base = record.baseAddress else { return }
            let header = base.loadUnaligned(as: flowmon_packet_record.self)
            guard header.kind == UInt8(FLOWMON_RECORD_PACKET.rawValue) else { return }
            let captured = min(Int(header.captured), record.count - headerSize)
            body(Record(linkType: UInt32(header.link_type),
                        time: CaptureTime(nanoseconds: Int64(bitPattern: header.time_ns) &+ offset),
                        wireLength: header.wire_length,
                        bytes: PacketBytes(UnsafeRawBufferPointer(start: base + headerSize, count: captured)),
                        interfaceIndex: header.ifindex, outbound: header.direction == UInt8(FLOWMON_EGRESS.rawValue)))
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
        Counters(packets: self.sum(FLOWMON_COUNTER_PACKETS), bytes: self.sum(FLOWMON_COUNTER_BYTES),
                 ringLost: self.sum(FLOWMON_COUNTER_RING_LOST))
    }

    /// Packets lost because the ring buffer was full, over every CPU (read after each batch:
    /// one system call, no allocation).
    package var ringLost: UInt64 { self.sum(FLOWMON_COUNTER_RING_LOST) }

    private func sum(_ counter: flowmon_counter) -> UInt64 {
        var key = UInt32(counter.rawValue)
        guard bpf_map_lookup_elem(self.countersMap, &key, self.counterValues) == 0 else { return 0 }
        var total: UInt64 = 0
        for cpu in 0..<self.possibleCPUs { total &+= self.counterValues[cpu] }
        return total
    }

    // MARK: Privileges

    /// What attaching the programs to an interface needs, kept across `--user`: CAP_NET_ADMIN
    /// (12) and CAP_BPF (39).
    package static let attachingCapabilities = [12, 39]

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
