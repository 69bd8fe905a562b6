import Foundation

/// One application-layer line (`event_type` `dns`, `http` or `tls`; schema/dns, http and
/// tls.schema.json): a DNS message, an HTTP transaction or a TLS ClientHello, on a connection.
/// Read here: what a compact line shows of it, and the L7 verdict.
package struct FlowLogApplication: Sendable, Equatable {
    /// The line's keys it shares with a flow record (`timestamp`, `flow_id`, `src_ip` ...
    /// `source`, `destination`), read as a flow record's; `src` is the message's sender.
    package var connection: FlowLogRecord
    package var kind: FlowLogEvent.Kind
    /// DNS: `request` or `response`, the first query's name and type, the rcode, the answers' data.
    package var dnsType: String?
    package var query: String?
    package var queryType: String?
    package var rcode: String?
    package var answers: [String] = []
    /// HTTP: the method, URL (the request-target), Host and status.
    package var method: String?
    package var url: String?
    package var hostname: String?
    package var status: Int?
    /// TLS: the version offered, SNI and ALPN.
    package var version: String?
    package var serverName: String?
    package var alpn: [String] = []
    /// `l7.verdict`: FORWARDED, AUDIT or DROPPED, when L7 rules judged the message.
    package var verdict: String?
}

extension FlowLogApplication: Decodable {
    enum Keys: String, CodingKey {
        case eventType = "event_type", dns, http, tls, l7
        case type, queries, rrname, rrtype, rcode, answers, rdata, verdict
        case method = "http_method", url, hostname, status, version, sni, alpns = "client_alpns"
    }

    package init(from decoder: any Decoder) throws {
        self.connection = try FlowLogRecord(from: decoder)
        let container = try decoder.container(keyedBy: Keys.self)
        let type = try container.decode(String.self, forKey: .eventType)
        guard let kind = FlowLogEvent.Kind(rawValue: type), FlowLogEvent.Kind.application.contains(kind) else {
            throw DecodingError.dataCorruptedError(forKey: .eventType, in: container, debugDescription: "not dns, http or tls")
        }
        self.kind = kind
        if container.contains(.l7) {
            self.verdict = try container.nestedContainer(keyedBy: Keys.self, forKey: .l7).decode(String.self, forKey: .verdict)
        }
        switch kind {
        case .dns:
            let dns = try container.nestedContainer(keyedBy: Keys.self, forKey: .dns)
            self.dnsType = try dns.decode(String.self, forKey: .type)
            self.rcode = try dns.decodeIfPresent(String.self, forKey: .rcode)
            if dns.contains(.queries) {
                var queries = try dns.nestedUnkeyedContainer(forKey: .queries)
                if !queries.isAtEnd {
                    let first = try queries.nestedContainer(keyedBy: Keys.self)
                    self.query = try first.decode(String.self, forKey: .rrname)
                    self.queryType = try first.decode(String.self, forKey: .rrtype)
                }
            }
            if dns.contains(.answers) {
                var answers = try dns.nestedUnkeyedContainer(forKey: .answers)
                while !answers.isAtEnd {
                    let answer = try answers.nestedContainer(keyedBy: Keys.self)
                    if let data = try answer.decodeIfPresent(String.self, forKey: .rdata) { self.answers.append(data) }
                }
            }
        case .http:
            let http = try container.nestedContainer(keyedBy: Keys.self, forKey: .http)
            self.method = try http.decode(String.self, forKey: .method)
            self.url = try http.decode(String.self, forKey: .url)
            self.hostname = try http.decodeIfPresent(String.self, forKey: .hostname)
            self.status = try http.decodeIfPresent(Int.self, forKey: .status)
        default:
            let tls = try container.nestedContainer(keyedBy: Keys.self, forKey: .tls)
            self.version = try tls.decode(String.self, forKey: .version)
            self.serverName = try tls.decodeIfPresent(String.self, forKey: .sni)
            self.alpn = try tls.decodeIfPresent([String].self, forKey: .alpns) ?? []
        }
    }
}
