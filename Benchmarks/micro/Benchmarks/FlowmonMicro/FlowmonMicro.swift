import Benchmark
import Datapath
import Detection
import Decoding
import FlowCore
import Output

// flowmon's per-packet stages, one benchmark each, with wall time and malloc counts (every
// stage must show zero mallocs per iteration). Frames are built here byte by byte, so the
// numbers do not depend on a capture file.

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .instructions],
        warmupIterations: 10,
        scalingFactor: .kilo,
        maxDuration: .seconds(2),
        maxIterations: 1_000
    )

    // MARK: Decode one frame per protocol stack

    for (name, frame, link) in Frames.stacks {
        Benchmark("decode \(name)") { benchmark in
            let parser = LayerParser()
            frame.withUnsafeBytes { raw in
                let bytes = PacketBytes(raw)
                var summary = PacketSummary()
                for _ in benchmark.scaledIterations {
                    summary = PacketSummary()
                    parser.parse(bytes, link: link, into: &summary)
                    blackHole(summary.ipProtocol)
                }
            }
        }
    }

    // MARK: Flow table

    Benchmark("flow table: packet of a known connection (50,000 live)") { benchmark in
        let table = FlowTable(capacity: 65_536)
        let packets = Frames.summaries(connections: 50_000)
        for (index, packet) in packets.enumerated() {
            table.record(packet, time: CaptureTime(nanoseconds: Int64(index)), length: 100) { _, _ in }
        }
        var index = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            let (entry, _) = table.record(packets[index], time: CaptureTime(seconds: 1), length: 100) { _, _ in }
            blackHole(entry)
            index = index == packets.count - 1 ? 0 : index + 1
        }
    }

    Benchmark("flow table: new connection, full table evicts the oldest") { benchmark in
        let table = FlowTable(capacity: 4_096)
        let packets = Frames.summaries(connections: 100_000)
        var index = 0
        var time: Int64 = 0
        for _ in benchmark.scaledIterations {
            time &+= 1_000
            let (entry, _) = table.record(packets[index], time: CaptureTime(nanoseconds: time), length: 100) { flow, _ in
                blackHole(flow.flowID)
            }
            blackHole(entry)
            index = index == packets.count - 1 ? 0 : index + 1
        }
    }

    Benchmark("flow table: expire idle connections (per connection)") { benchmark in
        let table = FlowTable(capacity: 65_536)
        let packets = Frames.summaries(connections: 50_000)
        var round: Int64 = 0
        var index = 0
        for _ in benchmark.scaledIterations {
            // Insert one connection per iteration; every 50,000 iterations, expire them all.
            table.record(packets[index], time: CaptureTime(seconds: round * 100), length: 100) { _, _ in }
            index += 1
            if index == packets.count {
                index = 0
                round += 1
                table.expire(now: CaptureTime(seconds: round * 100)) { flow, _ in blackHole(flow.flowID) }
            }
        }
    }

    // MARK: Identity and policy

    Benchmark("ipcache: longest-prefix match (1,000 pods, 64 CIDRs)") { benchmark in
        let cache = Frames.ipcache()
        let addresses = (0..<4_096).map { IPAddress(ipv4: 0x0AF4_0000 | UInt32($0 % 1_200)) }
        var index = 0
        for _ in benchmark.scaledIterations {
            blackHole(cache.lookup(addresses[index]).identity)
            index = (index + 1) & 4_095
        }
    }

    Benchmark("policy map: lookup (endpoint with 200 entries)") { benchmark in
        let policy = Frames.endpointPolicy()
        var remote: UInt32 = 256
        for _ in benchmark.scaledIterations {
            blackHole(policy.lookup(.ingress, remote: Identity(remote), ipProtocol: 6, port: 8080).decision)
            remote = remote == 455 ? 256 : remote + 1
        }
    }

    // MARK: Output

    Benchmark("JSON: write one flow record") { benchmark in
        let table = FlowTable(capacity: 16)
        let packet = Frames.summaries(connections: 1)[0]
        let (entry, _) = table.record(packet, time: CaptureTime(seconds: 1_767_225_600), length: 1_500) { _, _ in }
        let flow = entry.pointee
        var buffer = JSONBuffer(capacity: 1 << 20)
        for _ in benchmark.scaledIterations {
            if buffer.count > (1 << 20) - 2_048 { buffer.removeAll() }
            FlowRecord.append(flow, reason: .timeout, to: &buffer)
            blackHole(buffer.count)
        }
    }

    // MARK: Detectors

    Benchmark("detectors: failed attempt (scan and flood windows)") { benchmark in
        let engine = DetectorEngine(settings: DetectorSettings())
        let table = FlowTable(capacity: 4_096)
        let packets = Frames.summaries(connections: 4_096)
        let flows = packets.map { packet in
            table.record(packet, time: CaptureTime(seconds: 1), length: 60) { _, _ in }.entry.pointee
        }
        var index = 0
        var time: Int64 = 0
        for _ in benchmark.scaledIterations {
            time &+= 1_000_000
            engine.observe(.failedAttempt, flow: flows[index], time: CaptureTime(nanoseconds: time), scope: .empty) { fire, _ in
                blackHole(fire.kind)
            }
            index = (index + 1) & 4_095
        }
    }
}

/// Frames and tables for the benchmarks.
enum Frames {
    static func bytes(_ hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var iterator = hex.filter { !$0.isWhitespace }.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            result.append(UInt8(String([high, low]), radix: 16)!)
        }
        return result
    }

    static let ethernet = "0a580af40002 0a580af40001 0800"
    static let ipv4TCP = "45000034 1c4640004006 0000 0af40005 0a60000a"
        + " 8f2a01bb 00000001 00000000 8002faf0 00000000 020405b40402080a0000000000000000"
    static let ipv6UDP = "6000000000200f40 fd000010024400000000000000000005 fd000010009600000000000000000a0a"
        + " c35000350020 0000" + String(repeating: "00", count: 24)
    static let icmpEcho = "45000054 00004000 4001 0000 0af40005 0af40106 0800 0000 1234 0001" + String(repeating: "ab", count: 56)

    /// (name, frame, link type) for each stack.
    static let stacks: [(String, [UInt8], LinkLayer)] = [
        ("Ethernet/IPv4/TCP SYN with options", bytes(ethernet + ipv4TCP), .ethernet),
        ("Ethernet/802.1Q/IPv6/UDP", bytes("0a580af40002 0a580af40001 8100 0064 86dd" + ipv6UDP), .ethernet),
        ("Ethernet/IPv4/ICMP echo", bytes(ethernet + icmpEcho), .ethernet),
        ("VXLAN 8472 (Ethernet/IPv4/UDP/VXLAN/Ethernet/IPv4/TCP)",
         bytes("02420000000302420000000208 00" + "4500006e 0000 4000 4011 0000 ac120003 ac120002"
               + " d4a3 2118 005a 0000 08000000 00010100" + ethernet + ipv4TCP), .ethernet),
        ("Linux SLL2/IPv4/TCP", bytes("0800 0000 00000002 0001 00 06 0a580af40002 0000" + ipv4TCP), .linuxSLL2),
    ]

    /// One packet (a TCP SYN) for each of `connections` distinct connections between pods.
    static func summaries(connections: Int) -> [PacketSummary] {
        (0..<connections).map { index in
            var summary = PacketSummary()
            summary.ipVersion = 4
            summary.ipProtocol = 6
            summary.source = IPAddress(ipv4: 0x0AF4_0000 | UInt32(index % 60_000))
            summary.destination = IPAddress(ipv4: 0x0A60_0000 | UInt32(index / 60_000 + 1))
            summary.sourcePort = UInt16(1_024 + index % 60_000)
            summary.destinationPort = 443
            summary.hasPorts = true
            summary.tcpFlags = 0x02
            summary.tcpHeaderLength = 20
            return summary
        }
    }

    /// 1,000 pod /32 entries, 64 CIDRs, and world.
    static func ipcache() -> IPCache {
        var entries: [IPCacheEntry] = []
        for index in 0..<1_000 {
            entries.append(IPCacheEntry(prefix: IPPrefix(address: IPAddress(ipv4: 0x0AF4_0000 | UInt32(index)), length: 32),
                                        value: IPCacheValue(identity: Identity(UInt32(256 + index % 300)),
                                                            endpoint: UInt32(index + 1), isLocalEndpoint: index < 100)))
        }
        for index in 0..<64 {
            entries.append(IPCacheEntry(prefix: IPPrefix(address: IPAddress(ipv4: 0xC612_0000 | UInt32(index) << 8), length: 24),
                                        value: IPCacheValue(identity: Identity(0x0100_0000 | UInt32(index + 1)))))
        }
        return IPCache(entries)
    }

    /// An endpoint's ingress map with 200 allow entries (identity, protocol, port).
    static func endpointPolicy() -> EndpointPolicy {
        let entries = (0..<200).map { index in
            (TrafficDirection.ingress,
             PolicyMapEntry(remote: Identity(UInt32(256 + index)), ipProtocol: 6, portLow: 8080, portHigh: 8080,
                            hasPort: true, isDeny: false, policySet: 1))
        }
        return EndpointPolicy(ingressEnforced: true, egressEnforced: false, entries: entries)
    }
}
