import Datapath
import FlowCore
import L7

/// Writes one HTTP/1.x transaction as an `event_type: "http"` record, in the shape of
/// Suricata's EVE HTTP logging (`output-json-http.c`; the schema's `http` object): `hostname`
/// and `http_port` from Host, `url` (the request-target as sent), `http_user_agent`,
/// `http_content_type`, `http_method`, `protocol`, `status` and `length` (body bytes seen) of
/// the response when there was one. Written when the response ends (or the connection ends
/// without one), with the client as `src`, as Suricata logs a transaction. `tx_id` counts the
/// connection's transactions from 0. flowmon's additions: the endpoints and the L7 verdict.
public enum HTTPRecord {
    public static func append(_ request: HTTPRequest, response: HTTPResponse?, transaction: UInt64, flow: FlowEntry,
                              time: CaptureTime, verdict: L7Verdict, annotations: FlowAnnotations?,
                              interfaces: InterfaceNames?, to out: inout JSONBuffer) {
        out.append(byte: UInt8(ascii: "{"))
        out.append(.timestamp, time)
        out.append(.flowID, flow.flowID)
        interfaces?.append(.inInterface, index: flow.interfaceIndex, to: &out)
        out.append(.eventType, name: "http")
        ApplicationFields.appendPacketEnds(flow, fromInitiator: true, to: &out)
        out.append(raw: ",\"tx_id\":")
        out.append(transaction)
        out.append(raw: ",\"http\":")
        out.append(byte: UInt8(ascii: "{"))
        var first = true
        func key(_ name: StaticString) {
            if !first { out.append(byte: UInt8(ascii: ",")) }
            first = false
            out.append(byte: UInt8(ascii: "\""))
            out.append(raw: name)
            out.append(raw: "\":")
        }
        if let host = request.host {
            let (name, port) = Self.splitHost(host)
            key("hostname")
            out.appendString(name)
            if let port {
                key("http_port")
                out.append(UInt64(port))
            }
        }
        key("url")
        out.appendString(request.target)
        if let agent = request.userAgent {
            key("http_user_agent")
            out.appendString(agent)
        }
        if let type = response?.contentType {
            key("http_content_type")
            out.appendString(type)
        }
        if let referer = request.headers.value(of: "referer") {
            key("http_refer")
            out.appendString(referer)
        }
        key("http_method")
        out.appendString(request.method)
        key("protocol")
        out.appendString(request.version)
        if let response {
            key("status")
            out.append(UInt64(response.status))
            key("length")
            out.append(UInt64(response.length))
        }
        out.append(byte: UInt8(ascii: "}"))
        ApplicationFields.appendEndpoints(flow, fromInitiator: true, annotations: annotations, to: &out)
        ApplicationFields.appendVerdict(verdict, annotations: annotations, to: &out)
        out.append(byte: UInt8(ascii: "}"))
    }

    /// Host's name and port (`example.com:8080`, `[fd00::1]:80`); the port only when valid.
    static func splitHost(_ host: String) -> (name: String, port: UInt16?) {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let name = String(host[host.index(after: host.startIndex)..<close])
            let rest = host[host.index(after: close)...]
            return (name, rest.hasPrefix(":") ? UInt16(rest.dropFirst()) : nil)
        }
        guard let colon = host.lastIndex(of: ":"), host.firstIndex(of: ":") == colon else { return (host, nil) }
        return (String(host[..<colon]), UInt16(host[host.index(after: colon)...]))
    }

    /// The Hubble `http` object of a request or response (pkg/hubble/parser/seven `decodeHTTP`):
    /// `code` for a response, `method`, `url` (absolute: `http://host/target`, as Envoy logs
    /// it), `protocol`, and the message's `headers` sorted by name. The values of credentials
    /// (Authorization, Proxy-Authorization, Cookie, Set-Cookie) are written `HUBBLE_REDACTED`.
    static func appendHubbleRecord(_ request: HTTPRequest, response: HTTPResponse?, to out: inout JSONBuffer) {
        out.append(raw: "\"http\":{")
        if let response {
            out.append(raw: "\"code\":")
            out.append(UInt64(response.status))
            out.append(byte: UInt8(ascii: ","))
        }
        out.append(raw: "\"method\":")
        out.appendString(request.method)
        out.append(raw: ",\"url\":")
        out.appendString(Self.absoluteURL(request))
        out.append(raw: ",\"protocol\":")
        out.appendString(response?.version ?? request.version)
        let headers = (response?.headers ?? request.headers).sorted { $0.name < $1.name }
        if !headers.isEmpty {
            out.append(raw: ",\"headers\":[")
            for (index, header) in headers.enumerated() {
                if index > 0 { out.append(byte: UInt8(ascii: ",")) }
                out.append(raw: "{\"key\":")
                out.appendString(header.name)
                out.append(raw: ",\"value\":")
                out.appendString(Self.isCredential(header.name) ? "HUBBLE_REDACTED" : header.value)
                out.append(byte: UInt8(ascii: "}"))
            }
            out.append(byte: UInt8(ascii: "]"))
        }
        out.append(byte: UInt8(ascii: "}"))
    }

    static func isCredential(_ name: String) -> Bool {
        switch name.lowercased() {
        case "authorization", "proxy-authorization", "cookie", "set-cookie": true
        default: false
        }
    }

    /// The request's URL as Envoy reports it: an absolute-form target as is, else
    /// `http://` + Host + target.
    static func absoluteURL(_ request: HTTPRequest) -> String {
        if !request.target.hasPrefix("/") { return request.target }
        return "http://\(request.host ?? "")\(request.target)"
    }

    /// Hubble's `Summary`: `HTTP/1.1 GET http://host/path` for a request, `HTTP/1.1 200 12ms
    /// (GET http://host/path)` for a response.
    static func hubbleSummary(_ request: HTTPRequest, response: HTTPResponse?) -> String {
        let line = "\(request.method) \(Self.absoluteURL(request))"
        guard let response else { return "\(request.version) \(line)" }
        let milliseconds = max(0, response.time - request.time) / 1_000_000
        return "\(response.version) \(response.status) \(milliseconds)ms (\(line))"
    }
}
