import Datapath
import FlowCore
import L7

/// Writes a TLS ClientHello as an `event_type: "tls"` record, in the shape of Suricata's EVE
/// TLS logging (`output-json-tls.c`; the schema's `tls` object): `sni`, `version` (the highest
/// the client offers, in Suricata's text: "TLS 1.3"), `client_alpns`, `ja3` (Salesforce's JA3
/// string of the ClientHello and its MD5). flowmon sees the first flight only, so there is no
/// certificate and no `ja3s`. With
/// `serverNames` on the policy entry that allowed the connection, the SNI's verdict (`l7`).
public enum TLSRecord {
    public static func append(_ hello: TLSClientHello, flow: FlowEntry, time: CaptureTime, verdict: L7Verdict,
                              annotations: FlowAnnotations?, interfaces: InterfaceNames?, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, time)
        out.append(.flowID, flow.flowID)
        interfaces?.append(.inInterface, index: flow.interfaceIndex, to: &out)
        out.append(.eventType, name: "tls")
        ApplicationFields.appendPacketEnds(flow, fromInitiator: true, to: &out)
        out.append(raw: ",\"tls\":")
        out.append(raw: "{\"version\":")
        out.appendString(hello.versionName)
        if let name = hello.serverName {
            out.append(raw: ",\"sni\":")
            out.appendString(name)
        }
        if !hello.alpn.isEmpty {
            out.append(raw: ",\"client_alpns\":")
            DNSRecord.appendStrings(hello.alpn, to: &out)
        }
        hello.withJA3 { string, hash in
            out.append(raw: ",\"ja3\":{\"hash\":")
            out.appendString(utf8: hash)
            out.append(raw: ",\"string\":")
            out.appendString(utf8: string)
        }
        out.append(byte: UInt8(ascii: "}"))
        out.append(byte: UInt8(ascii: "}"))
        ApplicationFields.appendEndpoints(flow, fromInitiator: true, annotations: annotations, to: &out)
        ApplicationFields.appendVerdict(verdict, annotations: annotations, to: &out)
        out.append(byte: UInt8(ascii: "}"))
    }
}
