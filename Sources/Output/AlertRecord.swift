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
                              interfaces: InterfaceNames? = nil, dnsName: UnsafeRawBufferPointer? = nil,
                              communityIDSeed: UInt16 = 0, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, fire.lastSeen)
        out.append(.flowID, flow.flowID)
        interfaces?.append(.inInterface, index: flow.interfaceIndex, to: &out)
        out.append(.eventType, name: "alert")
        FlowRecord.appendConnection(flow, communityIDSeed: communityIDSeed, to: &out)
        out.open(.alert)
        out.append(.action, name: "allowed")
        out.append(.gid, AlertKind.generatorID)
        out.append(.signatureID, fire.kind.signatureID)
        out.append(.rev, UInt64(1))
        out.append(.signature, name: fire.kind.signature)
        out.append(.category, name: fire.kind.category)
        out.append(.severity, UInt64(severity))
        out.append(.kind, name: fire.kind.name)
        out.append(.count, fire.count)
        out.append(.firstSeen, fire.firstSeen)
        out.append(.lastSeen, fire.lastSeen)
        out.append(.aggregated, fire.isSummary)
        if fire.rateLimited > 0 { out.append(.rateLimited, fire.rateLimited) }
        out.append(byte: UInt8(ascii: "}"))
        appendDetector(fire, flow: flow, to: &out)
        if let dns = fire.dns { appendDNS(dns, kind: fire.kind, name: dnsName, to: &out) }
        if let annotations, flow.sourceIdentity != .unknown || flow.destinationIdentity != .unknown {
            out.append(key: .source)
            annotations.appendEndpoint(identity: flow.sourceIdentity, endpoint: flow.sourceEndpoint, to: &out)
            out.append(key: .destination)
            annotations.appendEndpoint(identity: flow.destinationIdentity, endpoint: flow.destinationEndpoint, to: &out)
            if fire.kind == .policyViolation && flow.hasPolicyVerdict {
                FlowRecord.appendPolicy(flow, annotations: annotations, to: &out)
            }
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    /// What the detector counted: `scan{type, distinct_ports|distinct_hosts, window}`,
    /// `flood{half_open, distinct_sources, window}`, `spoof{…}`, `dns_tunnel{…}`,
    /// `nxdomain{distinct_names, window}` (windows in seconds).
    static func appendDetector(_ fire: AlertFire, flow: FlowEntry, to out: inout JSONBuffer) {
        switch fire.kind {
        case .verticalPortScan:
            out.open(.scan)
            out.append(.type, name: "vertical")
            out.append(.distinctPorts, fire.distinct)
        case .horizontalPortScan, .icmpSweep:
            out.open(.scan)
            out.append(.type, name: fire.kind == .icmpSweep ? "icmp_sweep" : "horizontal")
            out.append(.distinctHosts, fire.distinct)
        case .synFlood:
            out.open(.flood)
            out.append(.halfOpen, fire.distinct)
            out.append(.distinctSources, fire.sources)
        case .dnsTunneling:
            out.open(.dnsTunnel)
            if let dns = fire.dns {
                out.append(.nameLength, UInt64(dns.nameLength))
                out.append(.longestLabel, UInt64(dns.longestLabel))
                out.append(key: .entropy)
                out.append(UInt64(dns.entropyMillibits / 1000))
                out.append(byte: UInt8(ascii: "."))
                out.append(padded: UInt64(dns.entropyMillibits % 1000), width: 3)
            }
            out.append(.distinctNames, fire.distinct)
        case .dnsNXDomainBurst:
            out.open(.nxdomain)
            out.append(.distinctNames, fire.distinct)
        case .tunnelIdentityMismatch:
            out.open(.spoof)
            out.append(.tunnelIdentity, fire.distinct)
            out.append(.innerSourceIdentity, fire.sources)
            out.append(byte: UInt8(ascii: "}"))
            return
        default:
            return
        }
        out.append(.window, fire.window / 1_000_000_000)
        if fire.kind == .verticalPortScan || fire.kind == .horizontalPortScan || fire.kind == .icmpSweep {
            out.append(.foldedPolicyViolations, fire.folded)
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    /// Suricata's `dns` object of an app-layer alert (`output-json-alert.c` logs the
    /// transaction: `version`, `queries[{rrname, rrtype}]`, and `rcode` for a response): the question of
    /// the message that raised the alert. Summaries, and alerts whose name was not kept, omit
    /// `queries`.
    static func appendDNS(_ dns: DNSFinding, kind: AlertKind, name: UnsafeRawBufferPointer?, to out: inout JSONBuffer) {
        let hasName = name.map { $0.count > 0 } ?? false
        out.open(.dns)
        out.append(.version, UInt64(3))  // EVE DNS logging version 3, as the `dns` records
        if let name, hasName {
            out.append(key: .queries)
            out.append(byte: UInt8(ascii: "["))
            out.append(byte: UInt8(ascii: "{"))
            out.append(key: .rrname)
            out.appendString(utf8: name)
            out.append(key: .rrtype)
            DNSRecord.appendType(dns.queryType, to: &out)
            out.append(byte: UInt8(ascii: "}"))
            out.append(byte: UInt8(ascii: "]"))
        }
        if kind == .dnsNXDomainBurst {
            out.append(key: .rcode)
            DNSRecord.appendRcode(dns.rcode, to: &out)
        }
        out.append(byte: UInt8(ascii: "}"))
    }
}
