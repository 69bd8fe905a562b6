/// The application protocol flowmon recognised on a connection, named as Suricata's EVE
/// `app_proto` field names it (suricata.yaml `app-layer.protocols`; EVE `flow.app_proto`):
/// "dns", "http", "tls"; "failed" when a parser was tried and the payload was not that protocol.
public enum AppProtocol: UInt8, Sendable, CaseIterable {
    case unknown = 0
    case dns
    case http
    case tls
    case failed

    /// The EVE `app_proto` value; nil for `unknown` (the field is left out, as Suricata does
    /// when no parser ran).
    public var eveName: StaticString? {
        switch self {
        case .unknown: nil
        case .dns: "dns"
        case .http: "http"
        case .tls: "tls"
        case .failed: "failed"
        }
    }
}
