import CPcap

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

    /// Compiles `expression` for Ethernet to check it.
    ///
    /// The corresponding C functions are `pcap_open_dead_with_tstamp_precision` and `pcap_compile`.
    package init(expression: String) throws(CaptureError) {
        self.expression = expression
        switch Self.compile(expression, linkType: 1) {
        case .success(let program):
            self.entries = .allocate(capacity: Self.maximumLinkTypes)
            self.entries.initialize(to: Entry(linkType: 1, program: program))
            self.entryCount = 1
        case .failure(let message):
            throw CaptureError(.badFilter, "invalid filter expression '\(expression)': \(message)")
        }
    }

    /// Whether the expression, as compiled for Ethernet, reads one of Linux's socket-filter
    /// extensions (`inbound` and `outbound`: SKF_AD_PKTTYPE; `ifindex`: SKF_AD_IFINDEX; loads
    /// at SKF_AD_OFF, -0x1000, and above). Only a filter the kernel runs can evaluate them:
    /// run in user space (`matches`) they match no packet.
    package var readsKernelExtensions: Bool {
        guard let program = self.entries[0].program, let instructions = program.pointee.bf_insns else { return false }
        return UnsafeBufferPointer(start: instructions, count: Int(program.pointee.bf_len)).contains { instruction in
            let (kind, mode) = (instruction.code & 0x07, instruction.code & 0xe0)  // BPF_LD or BPF_LDX, BPF_ABS or BPF_IND
            return (kind == 0x00 || kind == 0x01) && (mode == 0x20 || mode == 0x40) && instruction.k >= 0xffff_f000
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

    private func program(for linkType: UInt32) -> UnsafeMutablePointer<bpf_program>? {
        if self.entries[self.lastEntry].linkType == linkType { return self.entries[self.lastEntry].program }
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
        case .failure: program = nil
        }
        (self.entries + self.entryCount).initialize(to: Entry(linkType: linkType, program: program))
        self.lastEntry = self.entryCount
        self.entryCount += 1
        switch compiled {
        case .success(let program):
            return program
        case .failure(let message):
            self.notices.append(
                "filter '\(self.expression)' cannot apply to link type \(linkTypeName(linkType)) (\(linkType)): \(message); its packets do not match"
            )
            return nil
        }
    }

    private enum Compiled {
        case success(UnsafeMutablePointer<bpf_program>)
        case failure(String)
    }

    /// Compiles with optimization on and an unknown netmask (so `ip broadcast` is refused).
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
        return .success(program)
    }
}
