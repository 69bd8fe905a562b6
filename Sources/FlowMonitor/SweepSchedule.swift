import FlowCore

/// When idle flows are swept, the same rule for a single pass and the pipeline's reading thread.
struct SweepSchedule {
    /// Once per second of packet time in replay (and a single pass).
    static let interval: Int64 = 1_000_000_000
    /// Twice a second in live capture: an epoch's records are written (and flushed) when it ends,
    /// so a connection whose timeout passed is written within 1 s of it — half a second to the
    /// next sweep, at most one 100 ms wait for packets, then the merge (docs/live-capture.md).
    static let liveInterval: Int64 = 500_000_000
    /// And at least every this many packets. In the pipeline each sweep ends an epoch, whose
    /// records are held until every worker reaches it; so a flood of short connections inside
    /// one second (every packet evicting a flow) holds at most this many packets' records.
    static let packets: UInt64 = 16_384
    private let period: Int64
    private var nextTime: Int64 = .min
    private var nextPacket: UInt64 = 0

    init(interval: Int64 = Self.interval) {
        self.period = interval
    }

    /// Whether a sweep is due before the packet at `time`, after `packets` packets; if so, the
    /// next one is scheduled from here.
    mutating func isDue(time: CaptureTime, packets: UInt64) -> Bool {
        guard time.nanoseconds >= self.nextTime || packets >= self.nextPacket else { return false }
        self.nextTime = time.nanoseconds &+ self.period
        self.nextPacket = packets &+ Self.packets
        return true
    }

    /// Whether a sweep is due by the packet count alone: the eBPF datapath's mode 2, whose sweeps
    /// by time are made by the capture loop with the kernel's counts (`Pipeline.idle(now:drain:)`).
    mutating func isDue(packets: UInt64) -> Bool {
        guard packets >= self.nextPacket else { return false }
        self.nextPacket = packets &+ Self.packets
        return true
    }

    /// Whether a sweep is due by the clock alone (live capture with no traffic).
    mutating func isDue(idle now: CaptureTime) -> Bool {
        guard now.nanoseconds >= self.nextTime else { return false }
        self.nextTime = now.nanoseconds &+ self.period
        return true
    }
}
