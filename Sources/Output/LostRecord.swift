import FlowCore

/// Writes an `event_type: "lost"` record: packets lost since the last report, where, and
/// the running total — in the spirit of Hubble's `LostEvent` and `lost_events_total`.
/// Sources: `kernel` (the capture buffer was full: pcap_stats ps_drop), `interface`
/// (ps_ifdrop), `ring_buffer` (a worker's ring was full). Checked against `schema/lost.schema.json`.
public enum LostRecord {
    public static func append(time: CaptureTime, source: String, lost: UInt64, total: UInt64, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, time)
        out.append(.eventType, name: "lost")
        out.open(.lost)
        out.append(key: .source)
        out.appendString(source)
        out.append(.numEventsLost, lost)
        out.append(.total, total)
        out.append(raw: "}}")
    }
}
