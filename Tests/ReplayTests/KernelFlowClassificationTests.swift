import FlowCore
import Foundation
import KernelCapture
import Testing

/// What the eBPF datapath's mode 2 does with a packet, run on crafted frames in the kernel
/// (BPF_PROG_TEST_RUN on the loopback interface; each batch of runs on one CPU): which packets go
/// up as records and which the kernel counts, and how it keys them. Needs root (CAP_BPF); when
/// CI=true it must run, not skip.
@Suite(.serialized)
struct KernelFlowClassificationTests {
    /// A loaded mode 2 capture that knows the loopback interface (index 1) in `role`.
    static func kernel(role: UInt8 = 2) throws -> KernelCapture? {
        guard getuid() == 0 else {
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "the BPF classification tests must run in CI (as root)")
            print("notice: KernelFlowClassificationTests skipped: needs root")
            return nil
        }
        let kernel = try KernelCapture(options: KernelCapture.Options(ringBytes: 1 << 20, mode: .flows))
        kernel.describe(interface: 1, linkType: 1, role: role)
        return kernel
    }

    /// Runs `frame` `times` times and says how many came up as records and how many the kernel
    /// counted (aggregated) or skipped (seen elsewhere).
    static func run(_ kernel: KernelCapture, _ frame: [UInt8], times: Int = 1, egress: Bool = false)
        -> (records: Int, aggregated: UInt64, skipped: UInt64) {
        let before = kernel.counters()
        let error = kernel.testRun(frame, interface: 1, egress: egress, times: times)
        #expect(error == 0, "BPF_PROG_TEST_RUN: \(String(cString: strerror(error)))")
        let records = kernel.consume(maxRecords: .max) { _ in }
        let after = kernel.counters()
        return (records, after.aggregatedPackets - before.aggregatedPackets, after.seenElsewhere - before.seenElsewhere)
    }

    @Test func aTCPConnectionComesUpAtEveryStateChangeAndIsCountedInBetween() throws {
        guard let kernel = try Self.kernel() else { return }
        let client = (address: [UInt8]([10, 244, 0, 12]), port: UInt16(40000))
        let server = (address: [UInt8]([10, 244, 0, 11]), port: UInt16(80))
        func toServer(_ flags: UInt8, payload: Int = 0) -> [UInt8] {
            Frame.ethernet(Frame.ipv4(Frame.tcp(client.port, server.port, flags: flags, payload: payload), protocol: 6,
                                      source: client.address, destination: server.address))
        }
        func toClient(_ flags: UInt8, payload: Int = 0) -> [UInt8] {
            Frame.ethernet(Frame.ipv4(Frame.tcp(server.port, client.port, flags: flags, payload: payload), protocol: 6,
                                      source: server.address, destination: client.address))
        }
        let (syn, ack, psh, fin, rst) = (UInt8(0x02), UInt8(0x10), UInt8(0x08), UInt8(0x01), UInt8(0x04))
        #expect(Self.run(kernel, toServer(syn)) == (1, 0, 0), "a new connection comes up")
        #expect(Self.run(kernel, toClient(syn | ack)) == (1, 0, 0), "SYN")
        #expect(Self.run(kernel, toServer(ack), times: 5) == (1, 4, 0), "the first ACK that way comes up, the rest are counted")
        #expect(Self.run(kernel, toServer(psh | ack, payload: 100), times: 3) == (1, 2, 0), "a flag not seen yet that way")
        #expect(Self.run(kernel, toClient(psh | ack, payload: 1000), times: 4) == (1, 3, 0))
        #expect(Self.run(kernel, toServer(0), times: 2) == (2, 0, 0), "no ACK: what the invalid-flags check looks at")
        #expect(Self.run(kernel, toServer(fin | ack), times: 2) == (2, 0, 0), "FIN")
        #expect(Self.run(kernel, toClient(rst), times: 2) == (2, 0, 0), "RST")

        // The map holds what was counted, keyed as FlowKey: low = 10.244.0.11:80 (the server).
        var flows: [KernelCapture.FlowTotals] = []
        kernel.readFlows { flows.append($0) }
        #expect(flows.count == 1)
        let flow = try #require(flows.first)
        #expect(flow.low == IPAddress(ipv4: 0x0af4_000b) && flow.lowPort == 80 && flow.high == IPAddress(ipv4: 0x0af4_000c)
                && flow.highPort == 40000 && flow.ipProtocol == 6)
        #expect(flow.packets.fromLow == 3 && flow.packets.fromHigh == 6)
        // Frames: 14 + 20 + 20 (+ payload) bytes.
        #expect(flow.bytes.fromLow == 3 * 1054 && flow.bytes.fromHigh == 4 * 54 + 2 * 154)
        #expect(flow.tcpFlags.fromHigh & 0x1b == 0x1b && flow.tcpFlags.fromLow & 0x1e == 0x1e)

        // A new SYN on the same ports: the handshake comes up again.
        #expect(Self.run(kernel, toServer(syn)) == (1, 0, 0))
        #expect(Self.run(kernel, toClient(syn | ack)) == (1, 0, 0))
        #expect(Self.run(kernel, toServer(ack), times: 2) == (1, 1, 0), "the new handshake's ACK comes up")
    }

    @Test func whatTheParserDoesNotClassifyAlwaysComesUp() throws {
        guard let kernel = try Self.kernel() else { return }
        let tcp = Frame.tcp(40000, 80, flags: 0x10, payload: 0)
        let udp = { (port: UInt16) in Frame.udp(40000, port, payload: 32) }
        let unclassified: [(String, [UInt8])] = [
            ("IPv4 fragment", Frame.ethernet(Frame.ipv4(udp(53), protocol: 17, fragment: 0x2000))),
            ("IPv4 later fragment", Frame.ethernet(Frame.ipv4(udp(53), protocol: 17, fragment: 0x0010))),
            ("IPv4 with options", Frame.ethernet(Frame.ipv4(tcp, protocol: 6, options: [1, 1, 1, 0]))),
            ("VXLAN", Frame.ethernet(Frame.ipv4(udp(4789), protocol: 17))),
            ("VXLAN, Linux port", Frame.ethernet(Frame.ipv4(udp(8472), protocol: 17))),
            ("Geneve", Frame.ethernet(Frame.ipv4(udp(6081), protocol: 17))),
            ("ICMP port unreachable", Frame.ethernet(Frame.ipv4(Frame.icmp(type: 3, code: 3, identifier: 0), protocol: 1))),
            ("ICMP timestamp", Frame.ethernet(Frame.ipv4(Frame.icmp(type: 13, code: 0, identifier: 7), protocol: 1))),
            ("GRE", Frame.ethernet(Frame.ipv4([0, 0, 0x08, 0x00] + Array(repeating: 0, count: 20), protocol: 47))),
            ("IPv6 hop-by-hop", Frame.ethernet(Frame.ipv6([6, 0, 1, 4, 0, 0, 0, 0] + tcp, nextHeader: 0), etherType: 0x86dd)),
            ("ARP", Frame.ethernet(Array(repeating: 0, count: 28), etherType: 0x0806)),
            ("three VLAN tags", Frame.ethernet(Frame.ipv4(tcp, protocol: 6), vlans: [10, 20, 30])),
            ("TCP data offset 4", Frame.ethernet(Frame.ipv4(Array(tcp.prefix(12)) + [0x40] + Array(tcp.dropFirst(13)), protocol: 6))),
            ("UDP length beyond the packet", Frame.ethernet(Frame.ipv4(Array(udp(53).prefix(4)) + [0x01, 0x00] + Array(udp(53).dropFirst(6)),
                                                                       protocol: 17))),
            ("IPv4 total length beyond the frame", Array(Frame.ethernet(Frame.ipv4(udp(53), protocol: 17)).dropLast(8))),
        ]
        for (name, frame) in unclassified {
            #expect(Self.run(kernel, frame, times: 3) == (3, 0, 0), "\(name)")
        }
        var flows = 0
        kernel.readFlows { _ in flows += 1 }
        #expect(flows == 0, "nothing was keyed")
    }

    @Test func vlanTagsInTheFrameAndICMPEchoesAreKeyedAsFlowmonKeysThem() throws {
        guard let kernel = try Self.kernel() else { return }
        let datagram = Frame.ipv4(Frame.udp(40000, 53, payload: 32), protocol: 17)
        #expect(Self.run(kernel, Frame.ethernet(datagram, vlans: [10, 20]), times: 5) == (1, 4, 0))
        // The same datagram untagged is the same connection (VLAN IDs are not in the key).
        #expect(Self.run(kernel, Frame.ethernet(datagram), times: 2) == (0, 2, 0))
        let request = Frame.ethernet(Frame.ipv4(Frame.icmp(type: 8, code: 0, identifier: 4242), protocol: 1))
        let reply = Frame.ethernet(Frame.ipv4(Frame.icmp(type: 0, code: 0, identifier: 4242), protocol: 1,
                                              source: [10, 244, 0, 12], destination: [10, 244, 0, 11]))
        #expect(Self.run(kernel, request, times: 4) == (1, 3, 0))
        #expect(Self.run(kernel, reply, times: 4) == (1, 3, 0), "the first reply comes up, the rest meet the request's key")
        var flows: [KernelCapture.FlowTotals] = []
        kernel.readFlows { flows.append($0) }
        let echo = try #require(flows.first { $0.ipProtocol == 1 })
        #expect(echo.lowPort == 4242 && echo.highPort == 4242 && echo.packets.fromLow == 3 && echo.packets.fromHigh == 3)
        let udp = try #require(flows.first { $0.ipProtocol == 17 })
        // Tagged frames are 8 bytes longer: bytes as the interface carries them.
        #expect(udp.packets.fromLow == 6 && udp.bytes.fromLow == 4 * (14 + 8 + 20 + 8 + 32) + 2 * (14 + 20 + 8 + 32))
    }

    @Test func headersAreReadInPlaceOrCopiedAlike() throws {
        guard let kernel = try Self.kernel() else { return }
        // The program reads the first 76 bytes in place when the packet has them, else copies what
        // there is: an IPv6 segment behind two tags with no payload needs all 76 (82 bytes: in
        // place), an echo behind the same headers is shorter (70 bytes: copied).
        let segment = Frame.ethernet(Frame.ipv6(Frame.tcp(40000, 443, flags: 0x10, payload: 0), nextHeader: 6),
                                     etherType: 0x86dd, vlans: [10, 20])
        #expect(segment.count == 82)
        #expect(Self.run(kernel, segment, times: 3) == (1, 2, 0))
        let echo = Frame.ethernet(Frame.ipv6(Array(Frame.icmp(type: 128, code: 0, identifier: 7).prefix(8)), nextHeader: 58),
                                  etherType: 0x86dd, vlans: [10, 20])
        #expect(echo.count == 70)
        #expect(Self.run(kernel, echo, times: 3) == (1, 2, 0))
        var flows: [KernelCapture.FlowTotals] = []
        kernel.readFlows { flows.append($0) }
        let tcp = try #require(flows.first { $0.ipProtocol == 6 })
        #expect(tcp.low == IPAddress(high: 0xfd00_0000_0000_0000, low: 1) && tcp.lowPort == 40000 && tcp.highPort == 443
                && tcp.packets.fromLow == 2 && tcp.bytes.fromLow == 2 * 82)
        let ping = try #require(flows.first { $0.ipProtocol == 58 })
        #expect(ping.lowPort == 7 && ping.highPort == 7 && ping.packets.fromLow == 2 && ping.bytes.fromLow == 2 * 70)
    }

    @Test func aConnectionIsOneEntryWhicheverCPUsItsPacketsRunOn() throws {
        guard let kernel = try Self.kernel() else { return }
        // glibc declares the affinity calls for _GNU_SOURCE only, which Swift's Glibc module is not.
        typealias Affinity = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> Int32
        let getAffinity = try #require(dlsym(nil, "sched_getaffinity").map { unsafeBitCast($0, to: Affinity.self) })
        let setAffinity = try #require(dlsym(nil, "sched_setaffinity").map { unsafeBitCast($0, to: Affinity.self) })
        var allowed = cpu_set_t()
        #expect(getAffinity(0, MemoryLayout<cpu_set_t>.size, &allowed) == 0)
        let cpus = withUnsafeBytes(of: allowed) { bytes in
            (0..<bytes.count * 8).filter { bytes[$0 / 8] & (1 << ($0 % 8)) != 0 }
        }
        guard cpus.count >= 2 else {
            print("notice: aConnectionIsOneEntryWhicheverCPUsItsPacketsRunOn skipped: needs two CPUs")
            return
        }
        defer { _ = setAffinity(0, MemoryLayout<cpu_set_t>.size, &allowed) }
        /// Runs the program with this thread on `cpu` only (BPF_PROG_TEST_RUN runs on the caller's CPU).
        func onCPU(_ cpu: Int, _ body: () -> Void) {
            var one = cpu_set_t()
            withUnsafeMutableBytes(of: &one) { $0[cpu / 8] = 1 << (cpu % 8) }
            #expect(setAffinity(0, MemoryLayout<cpu_set_t>.size, &one) == 0)
            body()
        }
        let datagram = Frame.ethernet(Frame.ipv4(Frame.udp(40000, 53, payload: 32), protocol: 17))
        onCPU(cpus[0]) { #expect(Self.run(kernel, datagram, times: 3) == (1, 2, 0)) }
        onCPU(cpus[1]) {
            #expect(Self.run(kernel, datagram, times: 3) == (0, 3, 0), "one entry for every CPU: the first packet came up once")
        }
        var flows: [KernelCapture.FlowTotals] = []
        kernel.readFlows { flows.append($0) }
        #expect(flows.count == 1 && flows.first?.packets.fromLow == 5)
    }

    @Test func theKernelAppliesTheObservationRuleToWhatItCounts() throws {
        guard let kernel = try Self.kernel(role: 1) else { return }
        let pod: [UInt8] = [10, 244, 0, 11], peer: [UInt8] = [10, 244, 0, 12], remote: [UInt8] = [192, 168, 1, 9]
        func datagram(_ source: [UInt8], _ destination: [UInt8]) -> [UInt8] {
            Frame.ethernet(Frame.ipv4(Frame.udp(40000, 53, payload: 16), protocol: 17, source: source, destination: destination))
        }
        // Pod-facing: from the pod (ingress) counts and teaches its address; towards a pod (egress)
        // counts unless the source is a local pod, counted where it left its own veth.
        #expect(Self.run(kernel, datagram(pod, peer), times: 3) == (1, 2, 0))
        #expect(Self.run(kernel, datagram(pod, peer), times: 3, egress: true) == (0, 0, 3), "seen where it left the pod")
        #expect(Self.run(kernel, datagram(remote, peer), times: 3, egress: true) == (1, 2, 0), "from elsewhere: counted")
        // Any other interface: counted only when neither end is a local pod.
        kernel.describe(interface: 1, linkType: 1, role: 2)
        #expect(Self.run(kernel, datagram(remote, pod), times: 2) == (0, 0, 2))
        #expect(Self.run(kernel, datagram(pod, remote), times: 2, egress: true) == (0, 0, 2))
        #expect(Self.run(kernel, datagram(remote, [10, 0, 0, 1]), times: 2) == (1, 1, 0))
        // Loopback: counted arriving.
        kernel.describe(interface: 1, linkType: 1, role: 3)
        #expect(Self.run(kernel, datagram([127, 0, 0, 1], [127, 0, 0, 2]), times: 2, egress: true) == (0, 0, 2))
        #expect(Self.run(kernel, datagram([127, 0, 0, 1], [127, 0, 0, 2]), times: 2) == (1, 1, 0))
    }
}

/// Frames for `KernelFlowClassificationTests` (checksums left 0: nothing checks them there).
enum Frame {
    static func ethernet(_ payload: [UInt8], etherType: UInt16 = 0x0800, vlans: [UInt16] = []) -> [UInt8] {
        var frame: [UInt8] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]
        for vlan in vlans { frame += [0x81, 0x00, UInt8(vlan >> 8), UInt8(vlan & 0xff)] }
        return frame + [UInt8(etherType >> 8), UInt8(etherType & 0xff)] + payload
    }

    static func ipv4(_ transport: [UInt8], protocol: UInt8, source: [UInt8] = [10, 244, 0, 11],
                     destination: [UInt8] = [10, 244, 0, 12], fragment: UInt16 = 0, options: [UInt8] = []) -> [UInt8] {
        let headerLength = 20 + options.count
        let total = headerLength + transport.count
        return [0x40 | UInt8(headerLength / 4), 0, UInt8(total >> 8), UInt8(total & 0xff), 0, 1,
                UInt8(fragment >> 8), UInt8(fragment & 0xff), 64, `protocol`, 0, 0] + source + destination + options + transport
    }

    static func ipv6(_ transport: [UInt8], nextHeader: UInt8) -> [UInt8] {
        [0x60, 0, 0, 0, UInt8(transport.count >> 8), UInt8(transport.count & 0xff), nextHeader, 64]
            + [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1] + [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2] + transport
    }

    static func tcp(_ source: UInt16, _ destination: UInt16, flags: UInt8, payload: Int) -> [UInt8] {
        [UInt8(source >> 8), UInt8(source & 0xff), UInt8(destination >> 8), UInt8(destination & 0xff), 0, 0, 0, 1, 0, 0, 0, 1,
         0x50, flags, 0xff, 0xff, 0, 0, 0, 0] + Array(repeating: 0x61, count: payload)
    }

    static func udp(_ source: UInt16, _ destination: UInt16, payload: Int) -> [UInt8] {
        let length = 8 + payload
        return [UInt8(source >> 8), UInt8(source & 0xff), UInt8(destination >> 8), UInt8(destination & 0xff),
                UInt8(length >> 8), UInt8(length & 0xff), 0, 0] + Array(repeating: 0x62, count: payload)
    }

    static func icmp(type: UInt8, code: UInt8, identifier: UInt16) -> [UInt8] {
        [type, code, 0, 0, UInt8(identifier >> 8), UInt8(identifier & 0xff), 0, 1] + Array(repeating: 0x63, count: 32)
    }
}
