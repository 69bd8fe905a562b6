import Capture
import Datapath
import Decoding
import Detection
import FlowCore
import FlowMonitor
import Output

/// The `decoder` fuzz target: byte 0 picks a link type, the rest is one frame.
///
/// The frame goes through `FlowProcessor.process`, the single-pass path of `flowmon replay`:
/// `LayerParser.parse` into a `PacketSummary`, the decoder counters, the fragment table, the
/// flow table (insert or update), flow records for the connections that end (eviction, TCP port
/// reuse) and the detectors, with their alert records. Every packet has the same time. The
/// tables persist from one input to the next and are small (64 connections, 16 datagrams, the
/// detectors' `limitForFuzzing()`), so that updates and evictions happen often. Records go to
/// an in-memory buffer, emptied after each input; nothing is allocated per input.
package final class DecoderHarness {
    /// The LINKTYPE_ values `LinkLayer` decodes; byte 0 (its low 7 bits, modulo the count)
    /// picks one, and its high bit picks `--tunnel-key vni` instead of the default `auto`.
    package static let linkTypes: [UInt32] = [1, 113, 276, 101, 12, 14, 228, 229, 0, 108]
    /// 2026-01-01T10:00:00Z.
    static let time = CaptureTime(nanoseconds: 1_767_261_600_000_000_000)

    /// By tunnel key mode: `auto`, `vni`.
    let processors: (FlowProcessor, FlowProcessor)

    package init() {
        func processor(_ tunnelKey: TunnelKeyMode) -> FlowProcessor {
            var detectors = DetectorSettings()
            detectors.limitForFuzzing()
            var configuration = ProcessorConfiguration(maxFlows: 64, tunnelKey: tunnelKey, maxFragmentDatagrams: 16,
                                                       detectors: detectors)
            // The metrics' counts too (`--metrics-address`): their indexes come from packet data.
            configuration.metrics = true
            // Never written: the buffer is emptied after each input.
            let output = JSONLinesOutput(fileDescriptor: -1, name: "memory")
            output.flushThreshold = .max
            return FlowProcessor(configuration: configuration, output: output)
        }
        self.processors = (processor(.auto), processor(.vni))
    }

    /// Runs one input; true when the frame decoded to an IPv4 or IPv6 header.
    @discardableResult
    package func run(_ input: UnsafeRawBufferPointer) -> Bool {
        guard let selector = input.first else { return false }
        let linkType = Self.linkTypes[Int(selector & 0x7f) % Self.linkTypes.count]
        let processor = selector & 0x80 == 0 ? self.processors.0 : self.processors.1
        let frame = PacketBytes(UnsafeRawBufferPointer(rebasing: input.dropFirst()))
        let packet = CapturedPacket(linkType: linkType, interfaceIndex: 0, time: Self.time,
                                    originalLength: UInt32(frame.count), bytes: frame)
        let before = processor.program.decode.ipv4 &+ processor.program.decode.ipv6
        // The output never flushes (threshold .max), so this cannot throw.
        try? processor.process(packet)
        processor.output.buffer.removeAll()
        return processor.program.decode.ipv4 &+ processor.program.decode.ipv6 != before
    }
}

extension DetectorSettings {
    /// The smallest limits an alerts configuration may set (`max_trackers: 16`, ...) or near
    /// them: the detectors' tables are allocated with the processor, and they fill up sooner.
    mutating func limitForFuzzing() {
        self.maxTrackers = 64
        self.maxAggregates = 64
        self.maxPendingEvents = 256
    }
}
