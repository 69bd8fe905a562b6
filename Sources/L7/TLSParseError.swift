/// Why a connection's first client bytes are not a TLS ClientHello flowmon could read, by a
/// stable dotted name (docs/l7.md lists them).
public enum TLSParseError: Error, Sendable, Equatable, CaseIterable {
    /// The bytes end before the ClientHello does (more may complete it).
    case truncated
    /// A record whose content type is not handshake (22) (RFC 8446 §5.1).
    case notHandshake
    /// A record whose version is not 3.x, or whose length is 0 or above 2^14 (RFC 8446 §5.1).
    case badRecord
    /// A handshake message that is not a ClientHello (type 1, RFC 8446 §4).
    case notClientHello
    /// A length inside the ClientHello that runs past its enclosing structure or breaks its
    /// bounds (session id above 32, odd or empty cipher suites, no compression method,
    /// extensions not ending with the message) (RFC 8446 §4.1.2).
    case badLength
    /// An extension whose content contradicts its type (server_name RFC 6066 §3, ALPN RFC 7301
    /// §3.1, supported_versions RFC 8446 §4.2.1, ...), or one sent twice (RFC 8446 §4.2).
    case badExtension
    /// A ClientHello longer than `TLSClientHelloReader.limit`.
    case tooLong
    /// A segment starting after the next expected byte while the ClientHello was read.
    case gap

    /// The stable dotted name (`tls.truncated`, ...).
    public var name: StaticString {
        switch self {
        case .truncated: "tls.truncated"
        case .notHandshake: "tls.not_handshake"
        case .badRecord: "tls.bad_record"
        case .notClientHello: "tls.not_client_hello"
        case .badLength: "tls.bad_length"
        case .badExtension: "tls.bad_extension"
        case .tooLong: "tls.too_long"
        case .gap: "tls.gap"
        }
    }
}
