import Capture
import FlowCore
import Foundation
import Testing

/// rtnetlink messages parsed from their UAPI wire layout (`RouteNetlink`), and the roles the
/// node's interfaces get from them (`NodeInterfaces`).
struct RouteNetlinkTests {
    /// An rtattr: length, type, value padded to 4.
    static func attribute(_ type: UInt16, _ value: [UInt8]) -> [UInt8] {
        var bytes = Self.le(UInt16(4 + value.count)) + Self.le(type) + value
        while bytes.count % 4 != 0 { bytes.append(0) }
        return bytes
    }

    static func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }

    /// A netlink message: nlmsghdr (length, type, flags, sequence, pid) and the payload.
    static func message(type: UInt16, sequence: UInt32 = 0, _ payload: [UInt8]) -> [UInt8] {
        Self.le(UInt32(16 + payload.count)) + Self.le(type) + Self.le(UInt16(0)) + Self.le(sequence) + Self.le(UInt32(0)) + payload
    }

    /// RTM_NEWLINK for a veth named `name`, index `index`, up, port of bridge `master`.
    static func newLink(index: Int32, name: String, kind: String, master: Int32? = nil, flags: UInt32 = 0x41,
                        sequence: UInt32 = 0) -> [UInt8] {
        var payload = [0, 0] + Self.le(UInt16(1)) + Self.le(index) + Self.le(flags) + Self.le(UInt32(0))
        payload += Self.attribute(3, Array(name.utf8) + [0])
        if let master { payload += Self.attribute(10, Self.le(master)) }
        payload += Self.attribute(18, Self.attribute(1, Array(kind.utf8) + [0]))
        return Self.message(type: 16, sequence: sequence, payload)
    }

    static func parse(_ bytes: [UInt8]) -> [RouteNetlink.Message] {
        var messages: [RouteNetlink.Message] = []
        bytes.withUnsafeBytes { RouteNetlink.parse($0) { messages.append($0) } }
        return messages
    }

    @Test func linksAddressesAndDefaultRoutesAreRead() {
        let address = Self.message(type: 20, [2, 24, 0, 0] + Self.le(UInt32(3)) + Self.attribute(1, [10, 244, 0, 1]))
        let defaultRoute = Self.message(type: 24, [2, 0, 0, 0, 254, 3, 0, 1] + Self.le(UInt32(0)) + Self.attribute(4, Self.le(UInt32(2))))
        let podRoute = Self.message(type: 24, [2, 32, 0, 0, 254, 3, 0, 1] + Self.le(UInt32(0)) + Self.attribute(4, Self.le(UInt32(7))))
        let otherTable = Self.message(type: 24, [2, 0, 0, 0, 255, 3, 0, 1] + Self.le(UInt32(0)) + Self.attribute(4, Self.le(UInt32(9))))
        let messages = Self.parse(Self.newLink(index: 7, name: "veth-a", kind: "veth", master: 3) + address + defaultRoute
                                  + podRoute + otherTable + Self.message(type: 17, [0, 0, 0, 0] + Self.le(Int32(7)) + [UInt8](repeating: 0, count: 8)))
        #expect(messages == [
            .link(NetworkLink(index: 7, name: "veth-a", hardwareType: 1, flags: 0x41, kind: "veth", master: 3)),
            .address(index: 3, IPAddress(ipv4: 0x0af4_0001)),
            .route(outputInterface: 2, isDefault: true),
            .route(outputInterface: 7, isDefault: false),
            .linkRemoved(index: 7),
        ])
    }

    @Test func aDumpEndsAtItsDoneMessageAndOtherSequencesAreNotItsAnswer() {
        let done = Self.message(type: 3, sequence: 5, Self.le(Int32(0)))
        var ended = false
        var count = 0
        (Self.newLink(index: 1, name: "lo", kind: "", flags: 0x49, sequence: 5) + Self.newLink(index: 2, name: "x", kind: "", sequence: 4) + done).withUnsafeBytes {
            ended = RouteNetlink.parse($0, sequence: 5) { _ in count += 1 }
        }
        #expect(ended && count == 1, "only the dump's own messages")
        (Self.message(type: 3, sequence: 4, Self.le(Int32(0)))).withUnsafeBytes {
            ended = RouteNetlink.parse($0, sequence: 5) { _ in }
        }
        #expect(!ended, "another dump's end")
    }

    /// Every truncation of a valid stream, and lengths that lie, parse to what fits and never trap.
    @Test func truncatedAndLyingMessagesNeverTrap() {
        let stream = Self.newLink(index: 7, name: "lxc12345", kind: "veth", master: 3)
            + Self.message(type: 20, [10, 64, 0, 0] + Self.le(UInt32(7)) + Self.attribute(2, [UInt8](repeating: 0xfd, count: 16)))
        for length in 0...stream.count { _ = Self.parse(Array(stream.prefix(length))) }
        var lying = stream
        lying[0] = 0xff  // nlmsg_len past the end
        #expect(Self.parse(lying).isEmpty)
        var badAttribute = Self.newLink(index: 7, name: "x", kind: "veth")
        badAttribute[32] = 0xff  // the first rtattr's length past the end
        #expect(Self.parse(badAttribute).count == 1, "the link, without what its attributes could not say")
    }

    @Test func rolesFollowKindBridgeAndDefaultRoute() {
        var node = NodeInterfaces()
        for message: RouteNetlink.Message in [
            .link(NetworkLink(index: 1, name: "lo", hardwareType: 772, flags: 0x49)),
            .link(NetworkLink(index: 2, name: "eth0", hardwareType: 1, flags: 0x41)),
            .link(NetworkLink(index: 3, name: "cni0", hardwareType: 1, flags: 0x41, kind: "bridge")),
            .link(NetworkLink(index: 4, name: "veth1", hardwareType: 1, flags: 0x41, kind: "veth", master: 3)),
            .link(NetworkLink(index: 5, name: "lxc9", hardwareType: 1, flags: 0x41, kind: "veth")),
            .link(NetworkLink(index: 6, name: "cilium_host", hardwareType: 1, flags: 0x41, kind: "veth")),
            .link(NetworkLink(index: 7, name: "cilium_vxlan", hardwareType: 1, flags: 0x41, kind: "vxlan")),
            .link(NetworkLink(index: 8, name: "lxc-down", hardwareType: 1, flags: 0, kind: "veth")),
            .link(NetworkLink(index: 10, name: "eth0", hardwareType: 1, flags: 0x41, kind: "veth")),
            .link(NetworkLink(index: 11, name: "lxc-ll", hardwareType: 1, flags: 0x41, kind: "veth")),
            .address(index: 10, IPAddress(ipv4: 0xC0A8_6401)),  // 192.168.100.1: a node in a namespace
            .address(index: 11, IPAddress(high: 0xFE80_0000_0000_0000, low: 1)),  // link-local only
            .route(outputInterface: 2, isDefault: true),
        ] { node.apply(message) }
        #expect(node.role(of: 1) == .host && node.role(of: 2) == .uplink && node.role(of: 3) == .bridge)
        #expect(node.role(of: 4) == .podFacing && node.role(of: 5) == .podFacing && node.role(of: 6) == .host)
        #expect(node.role(of: 7) == .overlay && node.role(of: 9) == nil)
        #expect(node.role(of: 10) == .uplink, "a veth with the node's address is its way out")
        #expect(node.podFacingInterfaces == [4, 5, 11], "up veths without a routable address of the node")
        let removed = node.apply(.linkRemoved(index: 4))
        #expect(removed && node.podFacingInterfaces == [5, 11])
        let again = node.apply(.linkRemoved(index: 4))
        #expect(!again, "nothing changed")
    }

    /// The kernel's own answer (a dump needs no privilege): loopback is listed.
    @Test func theKernelsDumpListsLoopback() throws {
        let node = try NodeInterfaces.load(from: RouteNetlink(subscribe: false))
        #expect(node.links.values.contains { $0.isLoopback && $0.name == "lo" })
    }
}
