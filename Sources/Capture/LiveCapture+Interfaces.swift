import CPcap

// MARK: Interfaces and link types

extension LiveCapture {
    /// The names of the interfaces libpcap can capture on, in libpcap's order (up and running
    /// first), including `any` and `lo`; empty if libpcap cannot list them.
    ///
    /// The corresponding C function is `pcap_findalldevs`.
    package static func interfaces() -> [String] {
        (try? allDevices().map(\.name)) ?? []
    }

    /// The interface a capture without `--interface` uses: the first interface libpcap lists
    /// that is up and running, is not a loopback, and is not the `any` pseudo-device; failing
    /// that, the first that is up and not a loopback.
    ///
    /// The corresponding C function is `pcap_findalldevs` (`pcap_lookupdev` is deprecated).
    package static func defaultInterface() throws(CaptureError) -> String {
        let devices = try allDevices().filter { !$0.isLoopback && $0.name != "any" }
        if let device = devices.first(where: { $0.isUp && $0.isRunning }) ?? devices.first(where: \.isUp) {
            return device.name
        }
        throw CaptureError(
            .noSuchInterface, "no default interface: libpcap lists no interface that is up and not a loopback; name one")
    }

    struct Device {
        var name: String
        var flags: UInt32
        var isLoopback: Bool { self.flags & UInt32(PCAP_IF_LOOPBACK) != 0 }
        var isUp: Bool { self.flags & UInt32(PCAP_IF_UP) != 0 }
        var isRunning: Bool { self.flags & UInt32(PCAP_IF_RUNNING) != 0 }
    }

    /// The corresponding C functions are `pcap_findalldevs` and `pcap_freealldevs`.
    static func allDevices() throws(CaptureError) -> [Device] {
        var errorBuffer = [CChar](repeating: 0, count: Int(PCAP_ERRBUF_SIZE))
        var list: UnsafeMutablePointer<pcap_if_t>?
        guard pcap_findalldevs(&list, &errorBuffer) == 0 else {
            throw CaptureError(.cannotOpen, "cannot list interfaces: \(errorMessage(errorBuffer))")
        }
        defer { if let list { pcap_freealldevs(list) } }
        var devices: [Device] = []
        var next = list
        while let device = next {
            if let name = device.pointee.name {
                devices.append(Device(name: String(cString: name), flags: device.pointee.flags))
            }
            next = device.pointee.next
        }
        return devices
    }
}

/// The LINKTYPE_ value for a DLT_ value from `pcap_datalink`: the inverse of
/// `dataLinkType(forLinkType:)`, which differs from the identity only for a few historical
/// numbers (DLT_RAW is 12 on Linux, LINKTYPE_RAW is 101).
func linkTypeValue(forDataLinkType dlt: Int32) -> UInt32 {
    for linkType: UInt32 in 100...106 where linkType != dataLinkType(forLinkType: linkType).map(UInt32.init) {
        if dataLinkType(forLinkType: linkType) == dlt { return linkType }
    }
    return UInt32(bitPattern: dlt)
}

/// The NUL-terminated message libpcap wrote into an error buffer of PCAP_ERRBUF_SIZE bytes.
func errorMessage(_ buffer: [CChar]) -> String {
    buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}
