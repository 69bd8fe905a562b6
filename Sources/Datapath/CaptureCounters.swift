import Decoding
import FlowCore

/// What the capture stage saw before decoding. Reported in `stats`.
public struct CaptureCounters: Sendable {
    /// Records read from the capture, and their bytes on the wire.
    public var packets: UInt64 = 0
    public var bytes: UInt64 = 0
    /// The capture time of the first record read (nil before any): `stats.uptime` counts from it.
    public var firstPacketTime: CaptureTime?
    /// Records the BPF filter rejected.
    public var filteredOut: UInt64 = 0
    /// What read the packets of a live capture (nil in replay): names the kernel's losses.
    public var datapath: CaptureDatapath?
    /// Packets lost before flowmon saw them: the kernel's capture buffer was full
    /// (`pcap_stats` ps_drop; with the eBPF datapath, the BPF ring buffer had no room for
    /// their record), or the interface dropped them (ps_ifdrop).
    public var kernelDropped: UInt64 = 0
    public var interfaceDropped: UInt64 = 0
    /// Packets flowmon read but dropped because a worker's ring was full (live capture only;
    /// replay waits instead).
    public var ringDropped: UInt64 = 0
    /// Packets read that were not counted because they were counted where they were seen
    /// first, at another interface of the node (`ObservationPoints`; live capture on several
    /// interfaces only).
    public var seenElsewhere: UInt64 = 0
    /// The eBPF datapath's mode 2 (`--ebpf-mode flows`): packets counted in the kernel's flow
    /// map and never read one by one, and their bytes. They are in `packets` and `bytes` too,
    /// as are the packets the kernel did not count because another interface counts them (in
    /// `seenElsewhere`), so those still count every packet the interfaces carried.
    public var kernelAggregation = false
    public var aggregatedPackets: UInt64 = 0
    public var aggregatedBytes: UInt64 = 0
    /// Packets on link types flowmon does not decode, per link type (first 16 types seen;
    /// the rest are summed under `otherUnsupportedLinkTypes`).
    public var unsupportedLinkTypes = InlineArray<16, (linkType: UInt32, packets: UInt64)>(repeating: (0, 0))
    public var unsupportedLinkTypeCount = 0
    public var otherUnsupportedLinkTypes: UInt64 = 0

    public init() {}

    /// Counts one record read from the capture.
    @inline(__always)
    public mutating func count(length: UInt32, time: CaptureTime) {
        self.packets &+= 1
        self.bytes &+= UInt64(length)
        if self.firstPacketTime == nil { self.firstPacketTime = time }
    }

    /// Adds what the kernel counted without sending the packets up (mode 2), since the last call.
    public mutating func countKernel(aggregated: (packets: UInt64, bytes: UInt64),
                                     seenElsewhere: (packets: UInt64, bytes: UInt64), time: CaptureTime) {
        self.kernelAggregation = true
        self.aggregatedPackets &+= aggregated.packets
        self.aggregatedBytes &+= aggregated.bytes
        self.seenElsewhere &+= seenElsewhere.packets
        self.packets &+= aggregated.packets &+ seenElsewhere.packets
        self.bytes &+= aggregated.bytes &+ seenElsewhere.bytes
        if self.firstPacketTime == nil, aggregated.packets &+ seenElsewhere.packets > 0 { self.firstPacketTime = time }
    }

    /// Packets the capture source received, as Suricata's `kernel_packets` (libpcap's
    /// `ps_recv`): every record read (decoded, on an unsupported link type, or dropped at a
    /// full worker ring), rejected by the filter, or lost in the kernel's buffer. In replay the
    /// file stands in for the kernel: the records it held.
    public var received: UInt64 { self.packets &+ self.filteredOut &+ self.kernelDropped }

    /// The link layer of `linkType`; nil for a link type flowmon does not decode, which is
    /// counted, and `onUnsupported` told the first time it is met.
    public mutating func linkLayer(_ linkType: UInt32, onUnsupported: (UInt32) -> Void) -> LinkLayer? {
        if let link = LinkLayer(linkType: linkType) { return link }
        if self.countUnsupported(linkType: linkType) { onUnsupported(linkType) }
        return nil
    }

    /// Counts a packet on an unsupported link type; returns true the first time the type is met.
    public mutating func countUnsupported(linkType: UInt32) -> Bool {
        for i in 0..<self.unsupportedLinkTypeCount where self.unsupportedLinkTypes[i].linkType == linkType {
            self.unsupportedLinkTypes[i].packets &+= 1
            return false
        }
        guard self.unsupportedLinkTypeCount < 16 else {
            self.otherUnsupportedLinkTypes &+= 1
            return false
        }
        self.unsupportedLinkTypes[self.unsupportedLinkTypeCount] = (linkType, 1)
        self.unsupportedLinkTypeCount += 1
        return true
    }
}

/// The datapath of a live capture (`flowmon capture --datapath`).
public enum CaptureDatapath: UInt8, Sendable {
    /// libpcap: a packet socket copies each frame into flowmon's buffer.
    case pcap
    /// flowmon's TC programs write each packet's first bytes into a BPF ring buffer.
    case ebpf

    /// `stats.capture.datapath`.
    public var name: StaticString {
        switch self {
        case .pcap: "pcap"
        case .ebpf: "ebpf"
        }
    }

    /// The `source` of `lost` records for packets lost in the kernel: Hubble's names for the
    /// capture buffer of each (`kernel`, and `ebpf_ringbuf` for the BPF ring buffer).
    public var kernelLossSource: String {
        switch self {
        case .pcap: "kernel"
        case .ebpf: "ebpf_ringbuf"
        }
    }
}
