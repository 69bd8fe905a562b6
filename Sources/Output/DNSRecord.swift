import Datapath
import FlowCore
import L7

/// Writes one DNS message as an `event_type: "dns"` record, in the shape of Suricata 8's EVE
/// DNS logging, version 3 (`output-json-dns.c`; the EVE schema's `dns` object): a query is
/// `"type":"request"`, an answer `"type":"response"`, with the header bits, `rcode`,
/// `queries` and `answers` (owner name, type, TTL, and `rdata` for addresses and names).
/// `src` and `dest` are the message's sender and receiver, as Suricata logs a packet's
/// transaction; `flow_id` is the connection's, so the record joins its `flow` record.
/// flowmon's additions: the endpoints (`source`/`destination`, as on flow records) and, when
/// the connection's policy has `rules.dns`, the L7 verdict (`l7`).
public enum DNSRecord {
    public static func append(_ digest: DNSDigest, flow: FlowEntry, fromInitiator: Bool, time: CaptureTime,
                              verdict: L7Verdict, annotations: FlowAnnotations?, interfaces: InterfaceNames?,
                              to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, time)
        out.append(.flowID, flow.flowID)
        interfaces?.append(.inInterface, index: flow.interfaceIndex, to: &out)
        out.append(.eventType, name: "dns")
        ApplicationFields.appendPacketEnds(flow, fromInitiator: fromInitiator, to: &out)
        out.append(raw: ",\"dns\":")
        out.append(raw: "{\"version\":3,\"type\":")
        out.append(raw: digest.isResponse ? "\"response\"" : "\"request\"")
        out.append(raw: ",\"tx_id\":0,\"id\":")
        out.append(UInt64(digest.id))
        out.append(raw: ",\"flags\":\"")
        out.append(hex: UInt8(truncatingIfNeeded: digest.flags >> 8))
        out.append(hex: UInt8(truncatingIfNeeded: digest.flags))
        out.append(byte: UInt8(ascii: "\""))
        if digest.isResponse { out.append(raw: ",\"qr\":true") }
        if digest.flags & 0x0400 != 0 { out.append(raw: ",\"aa\":true") }
        if digest.flags & 0x0200 != 0 { out.append(raw: ",\"tc\":true") }
        if digest.flags & 0x0100 != 0 { out.append(raw: ",\"rd\":true") }
        if digest.flags & 0x0080 != 0 { out.append(raw: ",\"ra\":true") }
        if digest.flags & 0x0040 != 0 { out.append(raw: ",\"z\":true") }
        out.append(raw: ",\"opcode\":")
        out.append(UInt64(digest.opcode))
        out.append(raw: ",\"rcode\":")
        appendRcode(digest.rcode, to: &out)
        if !digest.questions.isEmpty {
            out.append(raw: ",\"queries\":[")
            for (index, question) in digest.questions.enumerated() {
                if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.append(raw: "{\"rrname\":")
                out.appendString(question.name)
                out.append(raw: ",\"rrtype\":")
                appendType(question.rrtype, to: &out)
                out.append(byte: UInt8(ascii: "}"))
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        if !digest.answers.isEmpty {
            out.append(raw: ",\"answers\":[")
            for (index, answer) in digest.answers.enumerated() {
                if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.append(raw: "{\"rrname\":")
                out.appendString(answer.name)
                out.append(raw: ",\"rrtype\":")
                appendType(answer.rrtype, to: &out)
                out.append(raw: ",\"ttl\":")
                out.append(UInt64(answer.ttl))
                if let rdata = answer.rdata {
                    out.append(raw: ",\"rdata\":")
                    out.appendString(rdata)
                }
                out.append(byte: UInt8(ascii: "}"))
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        out.append(byte: UInt8(ascii: "}"))
        ApplicationFields.appendEndpoints(flow, fromInitiator: fromInitiator, annotations: annotations, to: &out)
        ApplicationFields.appendVerdict(verdict, annotations: annotations, to: &out)
        out.append(byte: UInt8(ascii: "}"))
    }

    /// The Hubble L7 DNS flow of one message, as Cilium's DNS proxy access log becomes one
    /// (pkg/hubble/parser/seven: `decodeDNS`, `dnsSummary`): `query` with its trailing dot,
    /// `qtypes`; for a response also `ips`, `ttl`, `cnames`, `rcode` and `rrtypes`. No
    /// `observation_source`: flowmon reads the packets, it is not Cilium's proxy (the summary
    /// says `Query`, as Hubble's does for an answer not seen by the proxy).
    public static func appendHubbleRecord(_ digest: DNSDigest, to out: inout JSONBuffer) {
        out.append(raw: "\"dns\":{")
        out.append(raw: "\"query\":")
        out.appendString(Self.fullyQualified(digest.query ?? ""))
        if digest.isResponse {
            let ips = digest.addresses.map(\.address.text)
            if !ips.isEmpty {
                out.append(raw: ",\"ips\":")
                appendStrings(ips, to: &out)
            }
            if digest.ttl != 0 {
                out.append(raw: ",\"ttl\":")
                out.append(UInt64(digest.ttl))
            }
            if !digest.cnames.isEmpty {
                out.append(raw: ",\"cnames\":")
                appendStrings(digest.cnames.map(Self.fullyQualified), to: &out)
            }
            if digest.rcode != 0 {
                out.append(raw: ",\"rcode\":")
                out.append(UInt64(digest.rcode))
            }
        }
        let qtypes = digest.questions.map { Self.typeName($0.rrtype) }
        if !qtypes.isEmpty {
            out.append(raw: ",\"qtypes\":")
            appendStrings(qtypes, to: &out)
        }
        if digest.isResponse {
            let rrtypes = digest.answers.map { Self.typeName($0.rrtype) }
            if !rrtypes.isEmpty {
                out.append(raw: ",\"rrtypes\":")
                appendStrings(rrtypes, to: &out)
            }
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    /// Hubble's `Summary` of a DNS flow: `DNS Query example.com. A`, or `DNS Answer "192.0.2.1"
    /// TTL: 300 (Query example.com. A)`, `DNS Answer RCode: Non-Existent Domain TTL: 0 (…)`.
    public static func hubbleSummary(_ digest: DNSDigest) -> String {
        let query = Self.fullyQualified(digest.query ?? "")
        let types = digest.questions.map { Self.typeName($0.rrtype) }.joined(separator: ",")
        guard digest.isResponse else { return "DNS Query \(query) \(types)" }
        var answer: String
        if digest.rcode != 0 {
            answer = "RCode: \(Self.hubbleRcodeName(digest.rcode))"
        } else {
            var parts: [String] = []
            if !digest.addresses.isEmpty { parts.append("\"\(digest.addresses.map(\.address.text).joined(separator: ","))\"") }
            if !digest.cnames.isEmpty {
                parts.append("CNAMEs: \"\(digest.cnames.map(Self.fullyQualified).joined(separator: ","))\"")
            }
            answer = parts.joined(separator: " ")
        }
        return "DNS Answer \(answer) TTL: \(digest.ttl) (Query \(query) \(types))"
    }

    /// A name as Cilium's proxy logs it: with the root's trailing dot.
    static func fullyQualified(_ name: String) -> String { name.hasSuffix(".") ? name : name + "." }

    /// The record type's mnemonic (gopacket's and Suricata's names), or its number.
    static func typeName(_ rrtype: UInt16) -> String {
        if let name = rrtypeName(rrtype) { return "\(name)" }
        return String(rrtype)
    }

    /// `typeName` as a JSON string, written directly (the mnemonics are letters and digits).
    static func appendType(_ rrtype: UInt16, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "\""))
        if let name = rrtypeName(rrtype) { out.append(raw: name) } else { out.append(UInt64(rrtype)) }
        out.append(byte: UInt8(ascii: "\""))
    }

    static func appendRcode(_ rcode: UInt8, to out: inout JSONBuffer) {
        if let name = rcodeName(rcode) {
            out.append(byte: UInt8(ascii: "\""))
            out.append(raw: name)
            out.append(byte: UInt8(ascii: "\""))
        } else {
            out.appendString(String(rcode))
        }
    }

    /// gopacket's `DNSResponseCode.String()` names, which Hubble's summary prints.
    static func hubbleRcodeName(_ rcode: UInt8) -> String {
        switch rcode {
        case 0: "No Error"
        case 1: "Format Error"
        case 2: "Server Failure"
        case 3: "Non-Existent Domain"
        case 4: "Not Implemented"
        case 5: "Query Refused"
        default: "Unknown"
        }
    }

    /// `strings` as a JSON array (what `NameSets` keeps for the records to copy).
    @Sendable public static func jsonArray(_ strings: [String]) -> [UInt8] {
        var out = JSONBuffer(capacity: 64)
        Self.appendStrings(strings, to: &out)
        return Array(out.bytes)
    }

    static func appendStrings(_ strings: [String], to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "["))
        for (index, string) in strings.enumerated() {
            if index > 0 { out.append(byte: UInt8(ascii: ",")) }
            out.appendString(string)
        }
        out.append(byte: UInt8(ascii: "]"))
    }
}
