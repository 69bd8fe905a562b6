import CPcap

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Opening: create, configure, activate, filter

extension LiveCapture {
    /// Refuses option values libpcap would reject or silently change.
    static func validate(_ options: Options) throws(CaptureError) {
        func refuse(_ what: String, _ value: Int, _ range: ClosedRange<Int>) throws(CaptureError) {
            guard !range.contains(value) else { return }
            throw CaptureError(
                .invalidOption, "invalid capture option: \(what) must be \(range.lowerBound)...\(range.upperBound) (got \(value))")
        }
        try refuse("snapshot length", options.snaplen, 1...262_144)
        try refuse("buffer size in MiB", options.bufferSizeMiB, 1...2047)
        try refuse("timeout in milliseconds", options.timeoutMilliseconds, 1...Int(Int32.max))
        if options.interface?.isEmpty == true {
            throw CaptureError(.invalidOption, "invalid capture option: the interface name is empty")
        }
    }

    /// The corresponding C function is `pcap_create`.
    static func create(_ name: String) throws(CaptureError) -> OpaquePointer {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        guard let handle = pcap_create(name, &errorBuffer) else {
            throw CaptureError(.cannotOpen, "cannot capture on '\(name)': \(errorMessage(errorBuffer))")
        }
        return handle
    }

    /// The corresponding C functions are `pcap_set_snaplen`, `pcap_set_promisc`,
    /// `pcap_set_buffer_size`, `pcap_set_timeout` and `pcap_set_immediate_mode`.
    static func configure(_ handle: OpaquePointer, name: String, options: Options) throws(CaptureError) {
        // Each fails only on an activated handle; this one is not, but say so if it happens.
        let results: [(String, Int32)] = [
            ("pcap_set_snaplen", pcap_set_snaplen(handle, Int32(options.snaplen))),
            ("pcap_set_promisc", pcap_set_promisc(handle, options.promiscuous ? 1 : 0)),
            ("pcap_set_buffer_size", pcap_set_buffer_size(handle, Int32(options.bufferSizeMiB * 1024 * 1024))),
            ("pcap_set_timeout", pcap_set_timeout(handle, Int32(options.timeoutMilliseconds))),
            ("pcap_set_immediate_mode", pcap_set_immediate_mode(handle, 0)),
        ]
        for (operation, status) in results where status != 0 {
            throw CaptureError(
                .cannotOpen, "cannot capture on '\(name)': \(operation): \(String(cString: pcap_statustostr(status)))")
        }
    }

    /// Asks for nanosecond time stamps, falling back to microseconds; returns whether
    /// nanoseconds were granted.
    ///
    /// The corresponding C function is `pcap_set_tstamp_precision`.
    static func requestNanosecondPrecision(_ handle: OpaquePointer) -> Bool {
        if pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_NANO)) == 0 { return true }
        _ = pcap_set_tstamp_precision(handle, Int32(PCAP_TSTAMP_PRECISION_MICRO))
        return false
    }

    /// Activates the handle; returns the warnings, throws the errors with their cause.
    ///
    /// The corresponding C function is `pcap_activate`.
    static func activate(_ handle: OpaquePointer, name: String) throws(CaptureError) -> [String] {
        let status = pcap_activate(handle)
        if status == 0 { return [] }
        // For the PCAP_ERROR_* and PCAP_WARNING_* codes libpcap may leave the buffer empty.
        let pcapMessage = String(cString: pcap_geterr(handle))
        let message = pcapMessage.isEmpty ? String(cString: pcap_statustostr(status)) : pcapMessage
        switch status {
        case PCAP_WARNING_PROMISC_NOTSUP:
            return ["interface '\(name)' does not support promiscuous mode: \(message)"]
        case PCAP_WARNING_TSTAMP_TYPE_NOTSUP:
            return ["interface '\(name)' does not support the requested time stamp type: \(message)"]
        case 1...:
            return ["capture on '\(name)': \(message)"]
        case PCAP_ERROR_NO_SUCH_DEVICE:
            let available = interfaces()
            let list = available.isEmpty ? "none" : available.joined(separator: ", ")
            throw CaptureError(.noSuchInterface, "no such interface '\(name)' (available: \(list))")
        case PCAP_ERROR_PERM_DENIED, PCAP_ERROR_PROMISC_PERM_DENIED:
            throw CaptureError(
                .permissionDenied,
                "permission denied capturing on '\(name)': flowmon needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode or a larger buffer); run as root or grant them with setcap"
            )
        case PCAP_ERROR_IFACE_NOT_UP:
            throw CaptureError(.interfaceDown, "interface '\(name)' is down")
        default:
            throw CaptureError(.cannotOpen, "cannot capture on '\(name)': \(message)")
        }
    }

    /// Compiles `expression` for the activated handle's link type and installs it in the kernel.
    /// The netmask (for `ip broadcast`) is the interface's, or unknown when it has no IPv4 address.
    ///
    /// The corresponding C functions are `pcap_lookupnet`, `pcap_compile` and `pcap_setfilter`.
    static func install(_ expression: String, on handle: OpaquePointer, name: String) throws(CaptureError) {
        var network: bpf_u_int32 = 0
        var netmask: bpf_u_int32 = 0
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        if pcap_lookupnet(name, &network, &netmask, &errorBuffer) != 0 { netmask = PCAP_NETMASK_UNKNOWN }
        var program = bpf_program()
        guard pcap_compile(handle, &program, expression, 1, netmask) == 0 else {
            throw CaptureError(.badFilter, "invalid filter expression '\(expression)': \(String(cString: pcap_geterr(handle)))")
        }
        defer { pcap_freecode(&program) }  // pcap_setfilter keeps its own copy.
        guard pcap_setfilter(handle, &program) == 0 else {
            throw CaptureError(
                .badFilter, "cannot install filter '\(expression)' on '\(name)': \(String(cString: pcap_geterr(handle)))")
        }
    }
}

// MARK: Changing an open capture

extension LiveCapture {
    /// Replaces the kernel filter of the open capture (the observed interfaces changed).
    package func setFilter(_ expression: String) throws(CaptureError) {
        try Self.install(expression, on: self.handle, name: self.interfaceName)
    }

    /// Puts interface `index` into promiscuous mode for as long as this capture is open: a
    /// `PACKET_MR_PROMISC` membership of the capture's packet socket (packet(7)), which is
    /// how libpcap makes a named interface promiscuous, here for an interface seen through
    /// `any`. Returns false when the kernel refuses (no CAP_NET_ADMIN, or no such interface).
    @discardableResult
    package func addPromiscuousMembership(interfaceIndex index: Int32) -> Bool {
        // struct packet_mreq: mr_ifindex i32, mr_type u16, mr_alen u16, mr_address u8[8].
        var request = (index, UInt16(1), UInt16(0), UInt64(0))  // PACKET_MR_PROMISC = 1
        let solPacket: Int32 = 263, packetAddMembership: Int32 = 1
        return setsockopt(self.packetDescriptor, solPacket, packetAddMembership, &request, 16) == 0
    }
}
