import CPcap

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// MARK: Waiting for packets, the timeout, or stop()

extension LiveCapture {
    enum WaitResult {
        /// The ring has a block for user space.
        case ready
        /// The packet socket reports an error or a hang-up (interface down or gone).
        case socketError
        /// `stop()` wrote to the stop descriptor.
        case stopped
        case timedOut
        /// A signal interrupted `poll`.
        case interrupted
    }

    /// Waits on the packet socket and the stop descriptor.
    ///
    /// The corresponding C function is `poll`.
    func waitForPackets() -> WaitResult {
        var descriptors = (
            pollfd(fd: self.packetDescriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: self.stopDescriptor, events: Int16(POLLIN), revents: 0)
        )
        let result = withUnsafeMutablePointer(to: &descriptors) { pointer in
            pointer.withMemoryRebound(to: pollfd.self, capacity: 2) { poll($0, 2, self.pollTimeoutMilliseconds) }
        }
        if result < 0 { return .interrupted }  // EINTR; poll's other errors cannot happen here
        if result == 0 { return .timedOut }
        if descriptors.1.revents != 0 || self.isStopped { return .stopped }
        if descriptors.0.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return .socketError }
        return .ready
    }

    /// After `poll` reported an error on the packet socket: returns if the capture can go on (no
    /// error, or the interface is down but still there), throws if the interface disappeared or
    /// the socket failed otherwise.
    ///
    /// The corresponding C functions are `getsockopt(SO_ERROR)` and `if_nametoindex`.
    func checkSocketError() throws(CaptureError) {
        var error: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(self.packetDescriptor, SOL_SOCKET, SO_ERROR, &error, &length) == 0 else {
            throw CaptureError(.io, "capture on '\(self.interfaceName)' failed: getsockopt: \(String(cString: strerror(errno)))")
        }
        if error == 0 { return }
        if error == ENETDOWN {
            if self.interfaceName == "any" || if_nametoindex(self.interfaceName) != 0 { return }
            throw CaptureError(.io, "capture on '\(self.interfaceName)' failed: the interface disappeared")
        }
        throw CaptureError(.io, "capture on '\(self.interfaceName)' failed: \(String(cString: strerror(error)))")
    }

    /// Updates `interfaceIsUp` from the interface's flags; throws if the interface is gone.
    /// A packet socket reports a link going down only once (`ENETDOWN`, which libpcap may
    /// take first), and nothing when it comes back up, so the flags are asked instead. The
    /// `any` device has no flags.
    ///
    /// The corresponding C function is `ioctl(SIOCGIFFLAGS)`.
    func checkInterfaceIsUp() throws(CaptureError) {
        guard self.interfaceName != "any" else { return }
        var request = ifreq()
        withUnsafeMutableBytes(of: &request.ifr_ifrn.ifrn_name) { name in
            var index = 0
            for byte in self.interfaceName.utf8 where index < name.count - 1 {
                name[index] = byte
                index += 1
            }
        }
        guard ioctl(self.packetDescriptor, UInt(SIOCGIFFLAGS), &request) == 0 else {
            let code = errno
            if code == ENODEV || code == ENXIO {
                throw CaptureError(.io, "capture on '\(self.interfaceName)' failed: the interface disappeared")
            }
            return  // the flags cannot be read: nothing to tell
        }
        self.interfaceIsUp = Int(request.ifr_ifru.ifru_flags) & IFF_UP != 0
    }

    /// Makes the handle non-blocking, and opens the eventfd `stop()` writes to; returns the
    /// packet socket and the eventfd.
    ///
    /// The corresponding C functions are `pcap_setnonblock`, `pcap_get_selectable_fd` and `eventfd`.
    static func prepareWaiting(_ handle: OpaquePointer, name: String) throws(CaptureError) -> (Int32, Int32) {
        if let message = setNonblocking(handle, true) {
            throw CaptureError(.cannotOpen, "cannot capture on '\(name)': pcap_setnonblock: \(message)")
        }
        let packetDescriptor = pcap_get_selectable_fd(handle)
        guard packetDescriptor >= 0 else {
            throw CaptureError(.cannotOpen, "cannot capture on '\(name)': libpcap gives no descriptor to poll")
        }
        let stopDescriptor = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard stopDescriptor >= 0 else {
            throw CaptureError(.cannotOpen, "cannot capture on '\(name)': eventfd: \(String(cString: strerror(errno)))")
        }
        return (packetDescriptor, stopDescriptor)
    }

    /// The `poll` timeout: the read timeout, shortened to what libpcap requires
    /// on platforms whose descriptor does not signal every block.
    ///
    /// The corresponding C function is `pcap_get_required_select_timeout`.
    static func pollTimeout(_ handle: OpaquePointer, timeoutMilliseconds: Int) -> Int32 {
        var timeout = Int32(clamping: timeoutMilliseconds)
        if let required = pcap_get_required_select_timeout(handle) {
            let requiredMilliseconds = Int32(clamping: required.pointee.tv_sec * 1000 + required.pointee.tv_usec / 1000)
            timeout = min(timeout, max(requiredMilliseconds, 1))
        }
        return timeout
    }

    /// Returns libpcap's message if it refused.
    ///
    /// The corresponding C function is `pcap_setnonblock`.
    @discardableResult
    static func setNonblocking(_ handle: OpaquePointer, _ nonblocking: Bool) -> String? {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(PCAP_ERRBUF_SIZE)) { buffer in
            buffer[0] = 0
            guard pcap_setnonblock(handle, nonblocking ? 1 : 0, buffer.baseAddress) != 0 else { return nil }
            return String(cString: buffer.baseAddress!)
        }
    }

    /// Switches a capture that libpcap gives LINUX_SLL headers (the "any" device) to
    /// LINUX_SLL2, which adds the interface index, as tcpdump does.
    ///
    /// The corresponding C functions are `pcap_list_datalinks` and `pcap_set_datalink`.
    static func preferLinuxCookedV2(_ handle: OpaquePointer) {
        guard pcap_datalink(handle) == DLT_LINUX_SLL else { return }
        var list: UnsafeMutablePointer<Int32>?
        let count = pcap_list_datalinks(handle, &list)
        guard count > 0, let list else { return }
        defer { pcap_free_datalinks(list) }
        if UnsafeBufferPointer(start: list, count: Int(count)).contains(DLT_LINUX_SLL2) {
            _ = pcap_set_datalink(handle, DLT_LINUX_SLL2)
        }
    }
}
