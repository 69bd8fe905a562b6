import Datapath
import Detection
import FlowCore

/// Writes an `event_type: "alert"` record in Suricata EVE's shape (`output-json-alert.c`):
/// the connection's EVE fields, `alert{action, gid, signature_id, rev, signature, category,
/// severity}` plus flowmon's aggregation fields (`count`, `first_seen`, `last_seen`,
/// `aggregated`), the detector's numbers, and Hubble's `source`/`destination` endpoints and
/// the `policy` object when an inventory is loaded. Checked against `schema/alert.schema.json`.
///
///     {"timestamp":…,"flow_id":…,"event_type":"alert","src_ip":…,…,"alert":{"action":"allowed",
///      "gid":1,"signature_id":9100002,"rev":1,"signature":"FLOWMON SCAN …","category":"…",
///      "severity":2,"count":1,"first_seen":…,"last_seen":…,"aggregated":false},
///      "scan":{"distinct_ports":15,"window":300},"source":{…},"destination":{…}}
///
/// `action` is always `allowed`: flowmon observes and blocks nothing.
public enum AlertRecord {
    public static func append(_ fire: AlertFire, flow: FlowEntry, severity: UInt8, annotations: FlowAnnotations?,
                              to out: inout JSONBuffer) {
        out.append(raw: "{\"timestamp\":")
        out.appendQuotedTimestamp(fire.lastSeen)
        out.append(raw: ",\"flow_id\":")
        out.append(flow.flowID)
        out.append(raw: ",\"event_type\":\"alert\"")
        FlowRecord.appendConnection(flow, to: &out)
        out.append(raw: ",\"alert\":{\"action\":\"allowed\",\"gid\":")
        out.append(AlertKind.generatorID)
        out.append(raw: ",\"signature_id\":")
        out.append(fire.kind.signatureID)
        out.append(raw: ",\"rev\":1,\"signature\":\"")
        out.append(raw: fire.kind.signature)
        out.append(raw: "\",\"category\":\"")
        out.append(raw: fire.kind.category)
        out.append(raw: "\",\"severity\":")
        out.append(UInt64(severity))
        out.append(raw: ",\"kind\":\"")
        out.append(raw: fire.kind.name)
        out.append(raw: "\",\"count\":")
        out.append(fire.count)
        out.append(raw: ",\"first_seen\":")
        out.appendQuotedTimestamp(fire.firstSeen)
        out.append(raw: ",\"last_seen\":")
        out.appendQuotedTimestamp(fire.lastSeen)
        out.append(raw: fire.isSummary ? ",\"aggregated\":true}" : ",\"aggregated\":false}")
        appendDetector(fire, flow: flow, to: &out)
        if let annotations, flow.sourceIdentity != .unknown || flow.destinationIdentity != .unknown {
            out.append(raw: ",\"source\":")
            annotations.appendEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
            out.append(raw: ",\"destination\":")
            annotations.appendEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
            if fire.kind == .policyViolation && flow.hasPolicyVerdict {
                FlowRecord.appendPolicy(flow, annotations: annotations, to: &out)
            }
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    /// What the detector counted: `scan{type, distinct_ports|distinct_hosts, window}`,
    /// `flood{half_open, distinct_sources, window}`, `spoof{…}` (windows in seconds).
    static func appendDetector(_ fire: AlertFire, flow: FlowEntry, to out: inout JSONBuffer) {
        switch fire.kind {
        case .verticalPortScan:
            out.append(raw: ",\"scan\":{\"type\":\"vertical\",\"distinct_ports\":")
        case .horizontalPortScan:
            out.append(raw: ",\"scan\":{\"type\":\"horizontal\",\"distinct_hosts\":")
        case .icmpSweep:
            out.append(raw: ",\"scan\":{\"type\":\"icmp_sweep\",\"distinct_hosts\":")
        case .synFlood:
            out.append(raw: ",\"flood\":{\"half_open\":")
            out.append(fire.distinct)
            out.append(raw: ",\"distinct_sources\":")
            out.append(fire.sources)
            out.append(raw: ",\"window\":")
            out.append(fire.window / 1_000_000_000)
            out.append(byte: UInt8(ascii: "}"))
            return
        case .tunnelIdentityMismatch:
            out.append(raw: ",\"spoof\":{\"tunnel_identity\":")
            out.append(fire.distinct)
            out.append(raw: ",\"inner_source_identity\":")
            out.append(fire.sources)
            out.append(byte: UInt8(ascii: "}"))
            return
        default:
            return
        }
        out.append(fire.distinct)
        out.append(raw: ",\"window\":")
        out.append(fire.window / 1_000_000_000)
        out.append(byte: UInt8(ascii: "}"))
    }
}
