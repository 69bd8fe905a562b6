import CPcap

/// A tcpdump-syntax filter ("tcp port 80"), compiled to BPF by libpcap and run on packets.
///
/// The expression is compiled for Ethernet in `init`, so a bad expression fails before any
/// packet is read. A program for each other link type is compiled the first time a packet
/// of that type is seen, and kept; after that `matches` allocates nothing.
///
/// Some expressions make no sense for some link types (`ether host ...` on raw IP): libpcap
/// refuses to compile them. Packets of such a link type never match, and `notices` gets
/// one line saying so, the first time.
public final class PacketFilter {
    /// The expression as given.
    public let expression: String
    /// One message per link type the expression could not be compiled for, in the order met.
    public private(set) var notices: [String] = []

    private struct Entry {
        var linkType: UInt32
        /// `nil` if libpcap could not compile the expression for this link type.
        var program: UnsafeMutablePointer<bpf_program>?
    }

    private var entries: [Entry] = []

    /// Compiles `expression` for Ethernet to check it.
    ///
    /// The corresponding C functions are `pcap_open_dead_with_tstamp_precision` and `pcap_compile`.
    public init(expression: String) throws(CaptureError) {
        self.expression = expression
        self.entries.reserveCapacity(8)
        switch Self.compile(expression, linkType: 1) {
        case .success(let program):
            self.entries.append(Entry(linkType: 1, program: program))
        case .failure(let message):
            throw CaptureError(.badFilter, "invalid filter expression '\(expression)': \(message)")
        }
    }

    deinit {
        for entry in self.entries {
            if let program = entry.program {
                pcap_freecode(program)
                program.deallocate()
            }
        }
    }

    /// Whether the packet passes the filter (libpcap returned a non-zero snapshot length).
    ///
    /// The corresponding C function is `pcap_offline_filter`.
    public func matches(_ packet: CapturedPacket) -> Bool {
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
        for entry in self.entries where entry.linkType == linkType {
            return entry.program
        }
        switch Self.compile(self.expression, linkType: linkType) {
        case .success(let program):
            self.entries.append(Entry(linkType: linkType, program: program))
            return program
        case .failure(let message):
            self.entries.append(Entry(linkType: linkType, program: nil))
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
