import FlowCore

/// When idle flows are swept, the same rule for a single pass and the pipeline's reading thread.
struct SweepSchedule {
    /// Once per second of packet time,
    static let interval: Int64 = 1_000_000_000
    /// and at least every this many packets. In the pipeline each sweep ends an epoch, whose
    /// records are held until every worker reaches it; so a flood of short connections inside
    /// one second (every packet evicting a flow) holds at most this many packets' records.
    static let packets: UInt64 = 16_384
    private var nextTime: Int64 = .min
    private var nextPacket: UInt64 = 0

    /// Whether a sweep is due before the packet at `time`, after `packets` packets; if so, the
    /// next one is scheduled from here.
    mutating func isDue(time: CaptureTime, packets: UInt64) -> Bool {
        guard time.nanoseconds >= self.nextTime || packets >= self.nextPacket else { return false }
        self.nextTime = time.nanoseconds &+ Self.interval
        self.nextPacket = packets &+ Self.packets
        return true
    }

    /// Whether a sweep is due by the clock alone (live capture with no traffic).
    mutating func isDue(idle now: CaptureTime) -> Bool {
        guard now.nanoseconds >= self.nextTime else { return false }
        self.nextTime = now.nanoseconds &+ Self.interval
        return true
    }
}
