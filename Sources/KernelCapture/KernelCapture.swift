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
/// In mode 2 (`Mode.flows`, `--ebpf-mode flows`) the programs count most packets in a flow map
/// instead (bpf/flowmon.bpf.c, `flow_observe`); `readFlows` reads it for user space.
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
        /// Every packet as a record, or most of them counted in the kernel's flow map.
        package var mode: Mode
        /// Connections the flow map holds (mode 2); a new one beyond it goes up as records.
        package var flowEntries: Int
        /// The BPF object (ELF) to load: nil for the one built into flowmon. Tests load others
        /// (one the verifier refuses).
        package var object: [UInt8]?

        package init(snaplen: Int = 192, ringBytes: Int = 8 << 20, attachment: TCAttachment.Mode = .auto,
                     mode: Mode = .packets, flowEntries: Int = 65_536, object: [UInt8]? = nil) {
            self.snaplen = snaplen
            self.ringBytes = ringBytes
            self.attachment = attachment
            self.mode = mode
            self.flowEntries = flowEntries
            self.object = object
        }
    }

    /// What the programs do with a packet (`--ebpf-mode`).
    package enum Mode: String, Sendable, CaseIterable {
        /// Mode 1: every packet's record goes up through the ring buffer.
        case packets
        /// Mode 2: in-kernel flow aggregation; records only for a connection's first packet each
        /// way, its TCP state changes, and what the kernel's parser does not classify.
        case flows
    }

    /// One connection of the flow map, summed over the CPUs (mode 2). The key is flowmon's
    /// symmetric key (`FlowKey` without a VNI): `low` is the endpoint that sorts first. Counts
    /// are what the programs aggregated since the connection entered the map (not the packets
    /// they sent up as records); index 0 is the way from low to high.
    package struct FlowTotals: Sendable, Equatable {
        package var low: IPAddress
        package var high: IPAddress
        package var lowPort: UInt16
        package var highPort: UInt16
        package var ipProtocol: UInt8
        package var packets: (fromLow: UInt64, fromHigh: UInt64)
        package var bytes: (fromLow: UInt64, fromHigh: UInt64)
        package var tcpFlags: (fromLow: UInt16, fromHigh: UInt16)
        /// The connection's latest packet through the map (aggregated or sent up), on the wall clock.
        package var last: CaptureTime

        package init(low: IPAddress, high: IPAddress, lowPort: UInt16, highPort: UInt16, ipProtocol: UInt8,
                     packets: (fromLow: UInt64, fromHigh: UInt64), bytes: (fromLow: UInt64, fromHigh: UInt64),
                     tcpFlags: (fromLow: UInt16, fromHigh: UInt16), last: CaptureTime) {
            self.low = low
            self.high = high
            self.lowPort = lowPort
            self.highPort = highPort
            self.ipProtocol = ipProtocol
            self.packets = packets
            self.bytes = bytes
            self.tcpFlags = tcpFlags
            self.last = last
        }

        package static func == (a: FlowTotals, b: FlowTotals) -> Bool {
            a.low == b.low && a.high == b.high && a.lowPort == b.lowPort && a.highPort == b.highPort
                && a.ipProtocol == b.ipProtocol && a.packets == b.packets && a.bytes == b.bytes
                && a.tcpFlags == b.tcpFlags && a.last == b.last
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
        /// Mode 2: packets counted in the flow map (not sent up), and their bytes.
        package var aggregatedPackets: UInt64 = 0
        package var aggregatedBytes: UInt64 = 0
        /// Mode 2: packets the programs did not count because another interface counts them
        /// (the observation rule), and their bytes.
        package var seenElsewhere: UInt64 = 0
        package var seenElsewhereBytes: UInt64 = 0

        package init() {}
    }

    package let options: Options
    let object: OpaquePointer
    let ingressProgram: Int32
    let egressProgram: Int32
    let interfacesMap: Int32
    let countersMap: Int32
    let flowsMap: Int32
    let localPodsMap: Int32
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
              let flowsMap = bpf_object__find_map_by_name(object, "flowmon_flows"),
              let localPodsMap = bpf_object__find_map_by_name(object, "flowmon_local_pods"),
              let rodata = bpf_object__find_map_by_name(object, ".rodata"),
              let ingress = bpf_object__find_program_by_name(object, "flowmon_ingress"),
              let egress = bpf_object__find_program_by_name(object, "flowmon_egress")
        else { throw fail("flowmon's BPF object lacks its ring, configuration or programs (rebuild flowmon)") }
        bpf_map__set_max_entries(ringMap, UInt32(options.ringBytes))
        // Mode 1 never touches the flow map or the local pods: the smallest maps the kernel makes.
        let flows = options.mode == .flows
        bpf_map__set_max_entries(flowsMap, flows ? UInt32(clamping: max(1, options.flowEntries)) : 1)
        bpf_map__set_max_entries(localPodsMap, flows ? 16_384 : 1)
        var size = 0
        guard let initial = bpf_map__initial_value(rodata, &size), size >= MemoryLayout<flowmon_config>.size else {
            throw fail("flowmon's BPF object has no configuration to set (rebuild flowmon)")
        }
        var config = flowmon_config()
        config.snaplen = UInt32(options.snaplen)
        config.mode = UInt32(flows ? FLOWMON_MODE_FLOWS.rawValue : FLOWMON_MODE_PACKETS.rawValue)
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
        self.flowsMap = bpf_map__fd(flowsMap)
        self.localPodsMap = bpf_map__fd(localPodsMap)
        self.possibleCPUs = max(1, Int(libbpf_num_possible_cpus()))
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
        self.counterValues = .allocate(capacity: self.possibleCPUs)
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
            self.describe(interface: key, linkType: interface.linkType, role: interface.role)
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
        if self.options.mode == .flows {
            self.forgetLocalPods(keeping: Set(interfaces.filter { $0.role == 1 }.map { UInt32(bitPattern: $0.index) }))
        }
        return warnings
    }

    /// Forgets the local pods the programs learned behind interfaces that are no longer
    /// pod-facing (a deleted pod's address may be reused elsewhere), as
    /// `ObservationPoints.setInterfaces` does for user space's copy of the rule.
    func forgetLocalPods(keeping podFacing: Set<UInt32>) {
        var key = (UInt64(0), UInt64(0))
        var next = (UInt64(0), UInt64(0))
        var stale: [(UInt64, UInt64)] = []
        var first = true
        while withUnsafeMutableBytes(of: &next, { next in
            withUnsafeBytes(of: &key) { key in
                bpf_map_get_next_key(self.localPodsMap, first ? nil : key.baseAddress, next.baseAddress)
            }
        }) == 0 {
            first = false
            key = next
            var interface: UInt32 = 0
            if bpf_map_lookup_elem(self.localPodsMap, &key, &interface) == 0, !podFacing.contains(interface) {
                stale.append(key)
            }
        }
        for var address in stale { bpf_map_delete_elem(self.localPodsMap, &address) }
    }

    /// Detaches the programs from every interface.
    package func detachAll() {
        for attachment in self.attachments.values { attachment.detach() }
        self.attachments.removeAll()
    }

    /// Tells the programs about an interface (attached, or for `testRun` not): its link type and
    /// observation role, the same on every CPU, and mode 2's counts there from zero.
    package func describe(interface index: UInt32, linkType: UInt16, role: UInt8) {
        var key = index
        var value = flowmon_interface()
        value.link_type = linkType
        value.role = role
        var values = [flowmon_interface](repeating: value, count: self.possibleCPUs)
        bpf_map_update_elem(self.interfacesMap, &key, &values, UInt64(BPF_ANY))
    }

    // MARK: Testing

    /// Runs the ingress (or egress) program `times` times on `frame` as if interface `index` had
    /// received (or sent) it (BPF_PROG_TEST_RUN; all runs on one CPU): what the programs do with
    /// a packet, for tests. Records go into the ring as usual. Returns 0 or the error number.
    package func testRun(_ frame: [UInt8], interface index: UInt32, egress: Bool = false, times: Int = 1) -> Int32 {
        var context = __sk_buff()
        context.ifindex = index
        return frame.withUnsafeBytes { bytes in
            withUnsafeMutablePointer(to: &context) { context in
                var options = bpf_test_run_opts()
                options.sz = MemoryLayout<bpf_test_run_opts>.size
                options.data_in = bytes.baseAddress
                options.data_size_in = UInt32(bytes.count)
                options.ctx_in = UnsafeRawPointer(context)
                options.ctx_size_in = UInt32(MemoryLayout<__sk_buff>.size)
                options.repeat = Int32(times)
                return bpf_prog_test_run_opts(egress ? self.egressProgram : self.ingressProgram, &options) == 0 ? 0 : errno
            }
        }
    }

    // MARK: Reading

    /// Hands the records available now to `body` (at most `maxRecords`), oldest first; when there
    /// are none, first waits up to `timeoutMilliseconds` for a batch. Returns the number handed
    /// over; 0 when there was none, or after `stop`. A record's bytes are valid only during its
    /// call.
    ///
    /// The programs wake the reader once per batch of unread bytes, not per record
    /// (bpf/flowmon.bpf.c, `wakeup`): what a timeout finds is read too, so a quiet interface's
    /// packets wait at most `timeoutMilliseconds`.
    package func poll(timeoutMilliseconds: Int32, maxRecords: Int, _ body: (Record) -> Void) -> Int {
        guard !self.isStopped else { return 0 }
        // A busy ring has records already: read them without a system call.
        let ready = self.consume(maxRecords: maxRecords, body)
        if ready > 0 { return ready }
        var descriptors = (pollfd(fd: self.ring.descriptor, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: self.wakeDescriptor, events: Int16(POLLIN), revents: 0))
        let woken = withUnsafeMutableBytes(of: &descriptors) { raw in
            Glibc.poll(raw.baseAddress!.assumingMemoryBound(to: pollfd.self), 2, timeoutMilliseconds)
        }
        guard woken >= 0, !self.isStopped else { return 0 }
        return self.consume(maxRecords: maxRecords, body)
    }

    /// Hands every record available now to `body` (at most `maxRecords`) without waiting.
    package func consume(maxRecords: Int, _ body: (Record) -> Void) -> Int {
        let offset = Self.clockOffset()
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

    /// What to add to a bpf_ktime_get_ns() time (CLOCK_MONOTONIC) to place it on the wall clock:
    /// the offset between the two clocks now, re-read for every batch of records and every read
    /// of the flow map, so a clock step shows at once. The one conversion of kernel times.
    static func clockOffset() -> Int64 {
        var realtime = timespec()
        var monotonic = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &realtime)
        return (Int64(realtime.tv_sec) - Int64(monotonic.tv_sec)) &* 1_000_000_000
            &+ (Int64(realtime.tv_nsec) - Int64(monotonic.tv_nsec))
    }

    // MARK: Flow map (mode 2)

    /// Hands every connection of the flow map to `body` (mode 2; a no-op in mode 1). Reads in batches (BPF_MAP_LOOKUP_BATCH, Linux 5.6+), or key by key where
    /// the kernel has no batch lookup for the map. Per connection, not per packet: called at
    /// every sweep (twice a second).
    package func readFlows(_ body: (FlowTotals) -> Void) {
        guard self.options.mode == .flows else { return }
        let offset = Self.clockOffset()
        let batch = 256
        var keys = [flowmon_flow_key](repeating: flowmon_flow_key(), count: batch)
        var values = [flowmon_flow_value](repeating: flowmon_flow_value(), count: batch)
        func deliver(_ key: flowmon_flow_key, _ value: flowmon_flow_value) {
            body(FlowTotals(low: Self.address(key.low_address), high: Self.address(key.high_address),
                            lowPort: key.low_port, highPort: key.high_port, ipProtocol: key.protocol,
                            packets: value.packets, bytes: value.bytes, tcpFlags: value.tcp_flags,
                            last: CaptureTime(nanoseconds: Int64(bitPattern: value.last_ns) &+ offset)))
        }
        var token: UInt64 = 0
        var started = false
        var opts = bpf_map_batch_opts()
        opts.sz = MemoryLayout<bpf_map_batch_opts>.size
        while true {
            var count = UInt32(batch)
            let result = keys.withUnsafeMutableBytes { keyBytes in
                values.withUnsafeMutableBytes { valueBytes in
                    withUnsafeMutablePointer(to: &token) { out in
                        bpf_map_lookup_batch(self.flowsMap, started ? UnsafeMutableRawPointer(out) : nil, out,
                                             keyBytes.baseAddress, valueBytes.baseAddress, &count, &opts)
                    }
                }
            }
            let error = result == 0 ? 0 : errno
            if result != 0 && error != ENOENT {
                // No batch operation here: one key at a time.
                if !started { self.readFlowsKeyByKey(deliver) }
                return
            }
            started = true
            for index in 0..<Int(count) { deliver(keys[index], values[index]) }
            if error == ENOENT { return }
        }
    }

    private func readFlowsKeyByKey(_ deliver: (flowmon_flow_key, flowmon_flow_value) -> Void) {
        var key = flowmon_flow_key()
        var next = flowmon_flow_key()
        var value = flowmon_flow_value()
        var first = true
        while withUnsafePointer(to: &key, { bpf_map_get_next_key(self.flowsMap, first ? nil : $0, &next) }) == 0 {
            first = false
            key = next
            if bpf_map_lookup_elem(self.flowsMap, &key, &value) == 0 { deliver(key, value) }
        }
    }

    /// What the programs counted without sending it up, per attached interface, summed over the
    /// CPUs (mode 2; empty in mode 1): aggregated, and skipped by the observation rule.
    package func interfaceCounts() -> [(index: UInt32, aggregated: (packets: UInt64, bytes: UInt64),
                                        seenElsewhere: (packets: UInt64, bytes: UInt64))] {
        guard self.options.mode == .flows else { return [] }
        var counts: [(index: UInt32, aggregated: (packets: UInt64, bytes: UInt64), seenElsewhere: (packets: UInt64, bytes: UInt64))] = []
        var values = [flowmon_interface](repeating: flowmon_interface(), count: self.possibleCPUs)
        var key: UInt32 = 0
        var next: UInt32 = 0
        var first = true
        while withUnsafePointer(to: &key, { bpf_map_get_next_key(self.interfacesMap, first ? nil : $0, &next) }) == 0 {
            first = false
            key = next
            guard bpf_map_lookup_elem(self.interfacesMap, &key, &values) == 0 else { continue }
            var entry = (index: key, aggregated: (packets: UInt64(0), bytes: UInt64(0)), seenElsewhere: (packets: UInt64(0), bytes: UInt64(0)))
            for value in values {
                entry.aggregated.packets &+= value.aggregated_packets
                entry.aggregated.bytes &+= value.aggregated_bytes
                entry.seenElsewhere.packets &+= value.seen_elsewhere_packets
                entry.seenElsewhere.bytes &+= value.seen_elsewhere_bytes
            }
            counts.append(entry)
        }
        return counts
    }

    /// Deletes a connection from the flow map if its packet counts are still `totals`' (mode 2;
    /// user space deletes the connections idle past their timeout). Returns whether it did. A
    /// packet counted between the check and the delete (a window of a few microseconds, a
    /// connection idle for seconds sending at that very instant) is lost with the entry; a packet
    /// after the delete finds no entry and goes up as a record.
    @discardableResult
    package func deleteFlow(ifUnchanged totals: FlowTotals) -> Bool {
        guard self.options.mode == .flows else { return false }
        var key = flowmon_flow_key()
        key.low_address = Self.words(totals.low)
        key.high_address = Self.words(totals.high)
        key.low_port = totals.lowPort
        key.high_port = totals.highPort
        key.protocol = totals.ipProtocol
        var value = flowmon_flow_value()
        return bpf_map_lookup_elem(self.flowsMap, &key, &value) == 0
            && value.packets.0 &+ value.packets.1 == totals.packets.fromLow &+ totals.packets.fromHigh
            && bpf_map_delete_elem(self.flowsMap, &key) == 0
    }

    /// A key's address: its 16 bytes as on the wire, read as two big-endian numbers.
    static func address(_ words: (UInt64, UInt64)) -> IPAddress {
        IPAddress(high: UInt64(bigEndian: words.0), low: UInt64(bigEndian: words.1))
    }

    static func words(_ address: IPAddress) -> (UInt64, UInt64) {
        (address.high.bigEndian, address.low.bigEndian)
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
        totals.packets = self.sum(FLOWMON_COUNTER_PACKETS)
        totals.bytes = self.sum(FLOWMON_COUNTER_BYTES)
        totals.ringLost = self.sum(FLOWMON_COUNTER_RING_LOST)
        totals.aggregatedPackets = self.sum(FLOWMON_COUNTER_AGGREGATED_PACKETS)
        totals.aggregatedBytes = self.sum(FLOWMON_COUNTER_AGGREGATED_BYTES)
        totals.seenElsewhere = self.sum(FLOWMON_COUNTER_SEEN_ELSEWHERE)
        totals.seenElsewhereBytes = self.sum(FLOWMON_COUNTER_SEEN_ELSEWHERE_BYTES)
        return totals
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
