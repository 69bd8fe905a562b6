import FlowCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A `NETLINK_ROUTE` socket (rtnetlink(7)): dumps the node's links, addresses and routes, and,
/// subscribed to their multicast groups, reports every change as it happens (a pod's veth
/// created or deleted, an address added), so flowmon follows the node without polling.
///
/// Messages are parsed from their wire layout in the kernel's UAPI headers
/// (`linux/netlink.h`, `linux/rtnetlink.h`, `linux/if_link.h`, `linux/if_addr.h`): a 16-byte
/// `nlmsghdr`, a fixed family header (`ifinfomsg`, `ifaddrmsg`, `rtmsg`), then 4-byte aligned
/// `rtattr` attributes. Anything shorter than its header is skipped, never trusted.
package final class RouteNetlink {
    /// The socket; readable when change notifications are waiting (for `poll`).
    package let descriptor: Int32
    private var sequence: UInt32 = 0
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    /// What changed, or what a dump listed.
    package enum Message: Sendable, Equatable {
        case link(NetworkLink)
        case linkRemoved(index: Int32)
        case address(index: Int32, IPAddress)
        case addressRemoved(index: Int32, IPAddress)
        /// A route in the main table; `isDefault` when its destination is 0.0.0.0/0 or ::/0.
        case route(outputInterface: Int32, isDefault: Bool)
        case routeRemoved(outputInterface: Int32, isDefault: Bool)
    }

    /// Opens the socket; `subscribe` joins the link, address and route groups
    /// (`RTMGRP_LINK`, `RTMGRP_IPV4_IFADDR`, `RTMGRP_IPV6_IFADDR`, `RTMGRP_IPV4_ROUTE`,
    /// `RTMGRP_IPV6_ROUTE`). The socket is non-blocking.
    package init(subscribe: Bool) throws(CaptureError) {
        let descriptor = socket(Self.afNetlink, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue)
                                    | Int32(SOCK_NONBLOCK.rawValue), Self.netlinkRoute)
        guard descriptor >= 0 else {
            throw CaptureError(.cannotOpen, "cannot open a netlink socket to follow the node's interfaces: \(Self.errnoText())")
        }
        var address = NetlinkSocketAddress(family: UInt16(Self.afNetlink), pad: 0, pid: 0,
                                         groups: subscribe ? Self.subscribedGroups : 0)
        let bound = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<NetlinkSocketAddress>.size))
            }
        }
        guard bound == 0 else {
            let text = Self.errnoText()
            close(descriptor)
            throw CaptureError(.cannotOpen, "cannot bind a netlink socket to follow the node's interfaces: \(text)")
        }
        self.descriptor = descriptor
    }

    deinit { close(self.descriptor) }

    /// Every link, address and main-table route the kernel has now, in that order.
    package func dumpAll() throws(CaptureError) -> [Message] {
        var messages: [Message] = []
        for (type, family) in [(Self.getLink, UInt8(0)), (Self.getAddress, UInt8(0)), (Self.getRoute, UInt8(0))] {
            messages += try self.dump(type: type, family: family)
        }
        return messages
    }

    /// The change notifications waiting on a subscribed socket (none when there are none; the
    /// socket does not block). A notification lost to a full socket buffer (`ENOBUFS`) is
    /// reported as `overrun`: the caller should dump everything again.
    package func pendingChanges() -> (messages: [Message], overrun: Bool) {
        var messages: [Message] = []
        while true {
            let count = self.buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                return (messages, errno == ENOBUFS)
            }
            if count == 0 { return (messages, false) }
            self.buffer.withUnsafeBytes { bytes in
                Self.parse(UnsafeRawBufferPointer(rebasing: bytes[..<count])) { message in messages.append(message) }
            }
        }
    }

    // MARK: Requests

    private func dump(type: UInt16, family: UInt8) throws(CaptureError) -> [Message] {
        self.sequence &+= 1
        let sequence = self.sequence
        // nlmsghdr + rtgenmsg (one byte: the family), padded to 4: the classic dump request.
        var request = [UInt8](repeating: 0, count: 20)
        Self.store(UInt32(request.count), into: &request, at: 0)
        Self.store(type, into: &request, at: 4)
        Self.store(Self.flagRequest | Self.flagDump, into: &request, at: 6)
        Self.store(sequence, into: &request, at: 8)
        request[16] = family
        let sent = request.withUnsafeBytes { send(self.descriptor, $0.baseAddress, $0.count, 0) }
        guard sent == request.count else {
            throw CaptureError(.io, "cannot ask the kernel for the node's interfaces (netlink): \(Self.errnoText())")
        }
        var messages: [Message] = []
        var done = false
        var polls = 0
        while !done {
            let count = self.buffer.withUnsafeMutableBytes { recv(self.descriptor, $0.baseAddress, $0.count, 0) }
            if count < 0 {
                guard errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR, polls < 500 else {
                    throw CaptureError(.io, "cannot read the node's interfaces (netlink): \(Self.errnoText())")
                }
                // The answer is not there yet (the socket does not block): wait for it, 5 s at most.
                var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, 10)
                polls += 1
                continue
            }
            self.buffer.withUnsafeBytes { bytes in
                let replies = UnsafeRawBufferPointer(rebasing: bytes[..<count])
                done = Self.parse(replies, sequence: sequence) { message in messages.append(message) }
            }
        }
        return messages
    }

    // MARK: Parsing

    /// Parses the netlink messages in `bytes`; returns true when a `NLMSG_DONE` or
    /// `NLMSG_ERROR` ends the dump numbered `sequence` (change notifications carry sequence 0).
    @discardableResult
    package static func parse(_ bytes: UnsafeRawBufferPointer, sequence: UInt32? = nil, _ body: (Message) -> Void) -> Bool {
        var offset = 0
        while offset + 16 <= bytes.count {
            let length = Int(load(UInt32.self, bytes, offset))
            guard length >= 16, offset + length <= bytes.count else { return true }
            let type = load(UInt16.self, bytes, offset + 4)
            let messageSequence = load(UInt32.self, bytes, offset + 8)
            let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + 16)..<(offset + length)])
            let belongs = sequence.map { $0 == messageSequence } ?? true
            if belongs && (type == messageDone || type == messageError) { return true }
            if belongs, let message = self.message(type: type, payload) { body(message) }
            offset += (length + 3) & ~3
        }
        return false
    }

    static func message(type: UInt16, _ payload: UnsafeRawBufferPointer) -> Message? {
        switch type {
        case newLink, deleteLink:
            // ifinfomsg: family u8, pad u8, type u16, index i32, flags u32, change u32.
            guard payload.count >= 16 else { return nil }
            let index = Int32(bitPattern: load(UInt32.self, payload, 4))
            if type == deleteLink { return .linkRemoved(index: index) }
            var link = NetworkLink(index: index, name: "", hardwareType: load(UInt16.self, payload, 2),
                                   flags: load(UInt32.self, payload, 8))
            attributes(payload, from: 16) { kind, value in
                switch kind {
                case linkName: link.name = string(value)
                case linkMaster where value.count >= 4: link.master = Int32(bitPattern: load(UInt32.self, value, 0))
                case linkPeer where value.count >= 4: link.peer = Int32(bitPattern: load(UInt32.self, value, 0))
                case linkInfo:
                    attributes(value, from: 0) { infoKind, infoValue in
                        if infoKind == linkInfoKind { link.kind = string(infoValue) }
                    }
                default: break
                }
            }
            return .link(link)
        case newAddress, deleteAddress:
            // ifaddrmsg: family u8, prefixlen u8, flags u8, scope u8, index u32.
            guard payload.count >= 8 else { return nil }
            let family = payload[0]
            let index = Int32(bitPattern: load(UInt32.self, payload, 4))
            var local: IPAddress?
            var address: IPAddress?
            attributes(payload, from: 8) { kind, value in
                guard let parsed = ipAddress(family: family, value) else { return }
                if kind == addressLocal { local = parsed } else if kind == addressAddress { address = parsed }
            }
            // IFA_LOCAL is the interface's own address on point-to-point links; IFA_ADDRESS otherwise.
            guard let own = local ?? address else { return nil }
            return type == newAddress ? .address(index: index, own) : .addressRemoved(index: index, own)
        case newRoute, deleteRoute:
            // rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type (u8 each), flags u32.
            guard payload.count >= 12 else { return nil }
            var table = UInt32(payload[4])
            var outputInterface: Int32?
            attributes(payload, from: 12) { kind, value in
                if kind == routeTable, value.count >= 4 { table = load(UInt32.self, value, 0) }
                if kind == routeOutputInterface, value.count >= 4 {
                    outputInterface = Int32(bitPattern: load(UInt32.self, value, 0))
                }
            }
            guard table == mainTable, let outputInterface else { return nil }
            let isDefault = payload[1] == 0
            return type == newRoute ? .route(outputInterface: outputInterface, isDefault: isDefault)
                : .routeRemoved(outputInterface: outputInterface, isDefault: isDefault)
        default:
            return nil
        }
    }

    /// Calls `body` with each `rtattr` (type without the nested/byte-order flags, and value) from `start`.
    static func attributes(_ bytes: UnsafeRawBufferPointer, from start: Int, _ body: (UInt16, UnsafeRawBufferPointer) -> Void) {
        var offset = start
        while offset + 4 <= bytes.count {
            let length = Int(load(UInt16.self, bytes, offset))
            guard length >= 4, offset + length <= bytes.count else { return }
            body(load(UInt16.self, bytes, offset + 2) & 0x3fff,
                 UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length)]))
            offset += (length + 3) & ~3
        }
    }

    static func ipAddress(family: UInt8, _ value: UnsafeRawBufferPointer) -> IPAddress? {
        if family == UInt8(AF_INET), value.count == 4 {
            return IPAddress(ipv4: UInt32(value[0]) << 24 | UInt32(value[1]) << 16 | UInt32(value[2]) << 8 | UInt32(value[3]))
        }
        guard family == UInt8(AF_INET6), value.count == 16 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for index in 0..<8 { high = high << 8 | UInt64(value[index]) }
        for index in 8..<16 { low = low << 8 | UInt64(value[index]) }
        return IPAddress(high: high, low: low)
    }

    /// A NUL-terminated attribute string.
    static func string(_ value: UnsafeRawBufferPointer) -> String {
        String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    /// Netlink's fields are in host byte order.
    static func load<T: FixedWidthInteger>(_ type: T.Type, _ bytes: UnsafeRawBufferPointer, _ offset: Int) -> T {
        bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    static func store<T: FixedWidthInteger>(_ value: T, into bytes: inout [UInt8], at offset: Int) {
        withUnsafeBytes(of: value) { bytes.replaceSubrange(offset..<(offset + $0.count), with: $0) }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    // MARK: Constants (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/if_addr.h)

    static let afNetlink: Int32 = 16
    static let netlinkRoute: Int32 = 0
    /// RTMGRP_LINK 0x1, RTMGRP_IPV4_IFADDR 0x10, RTMGRP_IPV4_ROUTE 0x40, RTMGRP_IPV6_IFADDR 0x100,
    /// RTMGRP_IPV6_ROUTE 0x400.
    static let subscribedGroups: UInt32 = 0x1 | 0x10 | 0x40 | 0x100 | 0x400
    static let flagRequest: UInt16 = 0x1
    static let flagDump: UInt16 = 0x300
    static let messageError: UInt16 = 2
    static let messageDone: UInt16 = 3
    static let newLink: UInt16 = 16, deleteLink: UInt16 = 17, getLink: UInt16 = 18
    static let newAddress: UInt16 = 20, deleteAddress: UInt16 = 21, getAddress: UInt16 = 22
    static let newRoute: UInt16 = 24, deleteRoute: UInt16 = 25, getRoute: UInt16 = 26
    /// IFLA_IFNAME, IFLA_LINK (a veth's peer index), IFLA_MASTER (a bridge port's bridge), IFLA_LINKINFO.
    static let linkName: UInt16 = 3, linkPeer: UInt16 = 5, linkMaster: UInt16 = 10, linkInfo: UInt16 = 18
    /// IFLA_INFO_KIND, inside IFLA_LINKINFO: "veth", "bridge", "vxlan", "geneve", ...
    static let linkInfoKind: UInt16 = 1
    static let addressAddress: UInt16 = 1, addressLocal: UInt16 = 2
    static let routeOutputInterface: UInt16 = 4, routeTable: UInt16 = 15
    static let mainTable: UInt32 = 254
}

/// `struct sockaddr_nl` (12 bytes).
private struct NetlinkSocketAddress {
    var family: UInt16
    var pad: UInt16
    var pid: UInt32
    var groups: UInt32
}

/// A network interface as rtnetlink describes it.
package struct NetworkLink: Sendable, Equatable {
    package var index: Int32
    package var name: String
    /// ARPHRD_ type: 1 Ethernet, 772 loopback, 65534 none (WireGuard, tun).
    package var hardwareType: UInt16
    /// IFF_ flags: IFF_UP 0x1, IFF_LOOPBACK 0x8, IFF_RUNNING 0x40, IFF_PROMISC 0x100.
    package var flags: UInt32
    /// The driver kind (`IFLA_INFO_KIND`): "veth", "bridge", "vxlan", "geneve", "ipip", "wireguard", … ("" for a physical NIC).
    package var kind: String = ""
    /// The bridge (or bond) this link is a port of.
    package var master: Int32?
    /// A veth's peer, or the lower device of a VLAN/tunnel (`IFLA_LINK`).
    package var peer: Int32?

    package init(index: Int32, name: String, hardwareType: UInt16, flags: UInt32, kind: String = "", master: Int32? = nil,
                peer: Int32? = nil) {
        self.index = index
        self.name = name
        self.hardwareType = hardwareType
        self.flags = flags
        self.kind = kind
        self.master = master
        self.peer = peer
    }

    package var isUp: Bool { self.flags & 0x1 != 0 }
    package var isLoopback: Bool { self.flags & 0x8 != 0 }
}
