import CPcap
import FlowCore

/// A tcpdump-syntax filter ("tcp port 80"), compiled to BPF by libpcap and run on packets.
///
/// The expression is compiled for Ethernet in `init`, so a bad expression fails before any
/// packet is read. A program for each other link type is compiled the first time a packet
/// of that type is seen, and kept in a fixed table of `maximumLinkTypes` entries; after
/// that `matches` allocates nothing.
///
/// Some expressions make no sense for some link types (`ether host ...` on raw IP): libpcap
/// refuses to compile them. Packets of such a link type never match, and `notices` gets
/// one line saying so, the first time. The same holds for link types beyond the table.
package final class PacketFilter {
    /// The expression as given.
    package let expression: String
    /// One message per link type the expression could not be compiled for, in the order met.
    package private(set) var notices: [String] = []

    private struct Entry {
        var linkType: UInt32
        /// `nil` if libpcap could not compile the expression for this link type.
        var program: UnsafeMutablePointer<bpf_program>?
    }

    /// How many link types get a program; packets of further link types do not match.
    package static let maximumLinkTypes = 32

    /// `entryCount` initialized entries of `maximumLinkTypes`; entry 0 is Ethernet.
    private let entries: UnsafeMutablePointer<Entry>
    private var entryCount = 0
    /// The entry used last: most captures have a single link type.
    private var lastEntry = 0
    private var noticedFullTable = false
    /// Where `matchesCooked` frames a packet (allocated at its first call).
    private var cookedFrame: UnsafeMutableRawBufferPointer?

    /// Compiles `expression` for Ethernet to check it (an expression only a link type that
    /// records the direction can run, such as `inbound`, passes the check).
    ///
    /// The corresponding C functions are `pcap_open_dead_with_tstamp_precision` and `pcap_compile`.
    package init(expression: String) throws(CaptureError) {
        self.expression = expression
        switch Self.compile(expression, linkType: 1) {
        case .success(let program):
            self.entries = .allocate(capacity: Self.maximumLinkTypes)
            self.entries.initialize(to: Entry(linkType: 1, program: program))
            self.entryCount = 1
        case .unsupported:
            // Valid, but not on Ethernet (`inbound`): for the link types that record it. Ethernet
            // gets its notice if one of its packets comes.
            self.entries = .allocate(capacity: Self.maximumLinkTypes)
        case .failure(let message):
            throw CaptureError(.badFilter, "invalid filter expression '\(expression)': \(message)")
        }
    }

    deinit {
        for index in 0..<self.entryCount {
            if let program = self.entries[index].program {
                pcap_freecode(program)
                program.deallocate()
            }
        }
        self.entries.deinitialize(count: self.entryCount)
        self.entries.deallocate()
        self.cookedFrame?.deallocate()
    }

    /// Whether the packet passes the filter (libpcap returned a non-zero snapshot length).
    ///
    /// The corresponding C function is `pcap_offline_filter`.
    package func matches(_ packet: CapturedPacket) -> Bool {
        guard let program = self.program(for: packet.linkType) else { return false }
        let seconds = packet.time.seconds
        var header = pcap_pkthdr()
        header.ts.tv_sec = Int(truncatingIfNeeded: seconds)
        header.ts.tv_usec = Int(truncatingIfNeeded: packet.time.subsecondNanoseconds / 1000)
        header.caplen = UInt32(truncatingIfNeeded: packet.bytes.count)
        header.len = packet.originalLength
        let buffer = packet.bytes.rawBuffer
        if let base = buffer.baseAddress {
            return pcap_offline_filter(program, &header, base.assumingMemoryBound(to: UInt8.self)) != 0
        }
        var empty: UInt8 = 0
        return pcap_offline_filter(program, &header, &empty) != 0
    }

    /// LINKTYPE_LINUX_SLL2: how `matchesCooked` frames a packet, and so the link type the
    /// expression must compile for when packets are judged that way.
    package static let cookedLinkType: UInt32 = 276

    /// Whether a packet whose interface and direction come beside its bytes (the eBPF
    /// datapath) passes the filter as a capture on `any` would judge it: the packet is framed as
    /// Linux cooked v2 (LINKTYPE_LINUX_SLL2: protocol, interface index, ARPHRD type, packet type,
    /// source address) in place of its Ethernet header, so `inbound`, `outbound` and
    /// `ifindex N` mean what they mean there. `packet` is Ethernet (1) or raw IP (101).
    /// Allocates nothing after its first call.
    package func matchesCooked(_ packet: CapturedPacket, interfaceIndex: UInt32, outbound: Bool) -> Bool {
        let headerLength = 20
        let frame = self.cookedFrame ?? {
            let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: headerLength + 65_536, alignment: 8)
            self.cookedFrame = frame
            return frame
        }()
        let bytes = packet.bytes.rawBuffer
        let ethernet = packet.linkType == 1
        let payload = ethernet ? UnsafeRawBufferPointer(rebasing: bytes[min(14, bytes.count)...]) : bytes
        var protocolType: UInt16 = 0
        if ethernet, bytes.count >= 14 {
            protocolType = UInt16(bytes[12]) << 8 | UInt16(bytes[13])
        } else if !ethernet, let first = bytes.first {
            protocolType = first >> 4 == 6 ? 0x86DD : 0x0800
        }
        frame.storeBytes(of: protocolType.bigEndian, toByteOffset: 0, as: UInt16.self)
        frame.storeBytes(of: 0, toByteOffset: 2, as: UInt16.self)
        frame.storeBytes(of: interfaceIndex.bigEndian, toByteOffset: 4, as: UInt32.self)
        // ARPHRD_ETHER, or ARPHRD_NONE for a device without a link header.
        frame.storeBytes(of: (ethernet ? UInt16(1) : 65_534).bigEndian, toByteOffset: 8, as: UInt16.self)
        // PACKET_HOST (0) arriving, PACKET_OUTGOING (4) leaving.
        frame[10] = outbound ? 4 : 0
        frame[11] = ethernet ? 6 : 0
        frame.storeBytes(of: 0, toByteOffset: 12, as: UInt64.self)
        if ethernet, bytes.count >= 12 {
            for index in 0..<6 { frame[12 + index] = bytes[6 + index] }
        }
        let copied = min(payload.count, frame.count - headerLength)
        if copied > 0, let source = payload.baseAddress {
            (frame.baseAddress! + headerLength).copyMemory(from: source, byteCount: copied)
        }
        let cooked = CapturedPacket(linkType: Self.cookedLinkType, interfaceIndex: 0, time: packet.time,
                                    originalLength: max(packet.originalLength, UInt32(bytes.count)) - UInt32(bytes.count - payload.count)
                                        + UInt32(headerLength),
                                    bytes: PacketBytes(UnsafeRawBufferPointer(rebasing: frame[..<(headerLength + copied)])))
        return self.matches(cooked)
    }

    /// Compiles the expression for `linkType` now, as a capture on that link type would;
    /// returns why libpcap refused it (nil when it compiled).
    package func prepare(linkType: UInt32) -> String? {
        guard self.program(for: linkType) == nil else { return nil }
        return self.notices.last ?? "filter '\(self.expression)' cannot apply to link type \(linkType)"
    }

    private func program(for linkType: UInt32) -> UnsafeMutablePointer<bpf_program>? {
        if self.lastEntry < self.entryCount && self.entries[self.lastEntry].linkType == linkType {
            return self.entries[self.lastEntry].program
        }
        var index = 0
        while index < self.entryCount {
            if self.entries[index].linkType == linkType {
                self.lastEntry = index
                return self.entries[index].program
            }
            index += 1
        }
        guard self.entryCount < Self.maximumLinkTypes else {
            if !self.noticedFullTable {
                self.noticedFullTable = true
                self.notices.append(
                    "filter '\(self.expression)' is applied to \(Self.maximumLinkTypes) link types only; packets of link type \(linkTypeName(linkType)) (\(linkType)) and any further ones do not match"
                )
            }
            return nil
        }
        let compiled = Self.compile(self.expression, linkType: linkType)
        let program: UnsafeMutablePointer<bpf_program>?
        switch compiled {
        case .success(let compiledProgram): program = compiledProgram
        case .failure, .unsupported: program = nil
        }
        (self.entries + self.entryCount).initialize(to: Entry(linkType: linkType, program: program))
        self.lastEntry = self.entryCount
        self.entryCount += 1
        switch compiled {
        case .success(let program):
            return program
        case .failure(let message), .unsupported(let message):
            self.notices.append(Self.notice(self.expression, linkType: linkType, message))
            return nil
        }
    }

    private static func notice(_ expression: String, linkType: UInt32, _ message: String) -> String {
        "filter '\(expression)' cannot apply to link type \(linkTypeName(linkType)) (\(linkType)): \(message); its packets do not match"
    }

    private enum Compiled {
        case success(UnsafeMutablePointer<bpf_program>)
        /// libpcap refused the expression for this link type.
        case failure(String)
        /// It compiled, but only a kernel filter could run it (see `compile`).
        case unsupported(String)
    }

    /// Compiles with optimization on and an unknown netmask (so `ip broadcast` is refused).
    /// A program that reads Linux's socket-filter extensions is refused too: libpcap compiles
    /// `inbound`, `outbound` and `ifindex` on a link type whose header does not record them
    /// (Ethernet) into loads at SKF_AD_OFF (-0x1000) and above, which only a filter the kernel
    /// runs can evaluate; in flowmon they would silently match nothing (tcpdump refuses them
    /// when reading a file).
    private static func compile(_ expression: String, linkType: UInt32) -> Compiled {
        guard let dlt = dataLinkType(forLinkType: linkType) else {
            return .failure("link type out of range")
        }
        guard let handle = pcap_open_dead_with_tstamp_precision(dlt, 262_144, UInt32(PCAP_TSTAMP_PRECISION_MICRO)) else {
            return .failure("pcap_open_dead_with_tstamp_precision failed")
        }
        defer { pcap_close(handle) }
        let program = UnsafeMutablePointer<bpf_program>.allocate(capacity: 1)
        program.initialize(to: bpf_program())
        if pcap_compile(handle, program, expression, 1, PCAP_NETMASK_UNKNOWN) != 0 {
            program.deallocate()
            return .failure(String(cString: pcap_geterr(handle)))
        }
        let instructions = UnsafeBufferPointer(start: program.pointee.bf_insns, count: Int(program.pointee.bf_len))
        let readsKernelExtensions = instructions.contains { instruction in
            let (kind, mode) = (instruction.code & 0x07, instruction.code & 0xe0)  // BPF_LD or BPF_LDX, BPF_ABS or BPF_IND
            return (kind == 0x00 || kind == 0x01) && (mode == 0x20 || mode == 0x40) && instruction.k >= 0xffff_f000
        }
        if readsKernelExtensions {
            pcap_freecode(program)
            program.deallocate()
            return .unsupported("inbound, outbound and ifindex need a link type that records them (Linux cooked, as captured on 'any')")
        }
        return .success(program)
    }
}
