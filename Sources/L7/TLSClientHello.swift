/// The first handshake message of a TLS client (RFC 8446 §4.1.2; TLS 1.0-1.2 the same
/// up to the extensions, RFC 5246 §7.4.1.2), as it crosses the wire in clear: what it asks for
/// (the server's name, the application protocols, the versions) and what fingerprints it
/// (cipher suites, extensions, groups).
public struct TLSClientHello: Sendable, Equatable {
    /// The record layer's version (RFC 8446 §5.1: 0x0301 or 0x0303 in practice).
    public var recordVersion: UInt16
    /// The ClientHello's legacy_version (0x0303 for TLS 1.2 and 1.3).
    public var legacyVersion: UInt16
    /// supported_versions (RFC 8446 §4.2.1) as sent, GREASE included; empty without it.
    public var supportedVersions: [UInt16] = []
    /// The first host_name of server_name (RFC 6066 §3; Suricata's `sni`).
    public var serverName: String?
    /// application_layer_protocol_negotiation (RFC 7301; Suricata's `client_alpns`).
    public var alpn: [String] = []
    public var cipherSuites: [UInt16] = []
    /// Extension types in order.
    public var extensions: [UInt16] = []
    /// supported_groups (RFC 8446 §4.2.7).
    public var groups: [UInt16] = []
    /// ec_point_formats (RFC 8422 §5.1.2).
    public var pointFormats: [UInt8] = []
    /// signature_algorithms (RFC 8446 §4.2.3; Suricata's `client_handshake.sig_algs`).
    public var signatureAlgorithms: [UInt16] = []

    /// The highest version offered: of supported_versions without GREASE values (RFC 8701),
    /// else legacy_version. A TLS 1.3 client shows 0x0304.
    public var version: UInt16 {
        self.supportedVersions.filter { !Self.isGREASE($0) }.max() ?? self.legacyVersion
    }

    /// `version` in Suricata's text (its SSLVersionToString): "SSLv2", "SSLv3", "TLSv1",
    /// "TLS 1.1", "TLS 1.2", "TLS 1.3", "TLS 1.3 draft-NN", else "0x" and 4 hex digits.
    public var versionName: String { Self.versionName(self.version) }

    public static func versionName(_ version: UInt16) -> String {
        switch version {
        case 0x0002, 0x0200: return "SSLv2"
        case 0x0300: return "SSLv3"
        case 0x0301: return "TLSv1"
        case 0x0302: return "TLS 1.1"
        case 0x0303: return "TLS 1.2"
        case 0x0304: return "TLS 1.3"
        case 0x7F01..<0x7F10: return "TLS 1.3 draft-<16"
        case 0x7F10...0x7F1C: return "TLS 1.3 draft-\(version & 0xFF)"
        default:
            let hex = String(version, radix: 16)
            return "0x" + String(repeating: "0", count: 4 - hex.count) + hex
        }
    }

    /// JA3 (Salesforce's TLS client fingerprint; Suricata's `tls.ja3.string`): legacy_version,
    /// cipher suites, extension types, supported groups, point formats, in decimal, joined by
    /// "-" within a field and "," between them, GREASE values (RFC 8701) left out.
    public var ja3String: String { self.withJA3 { string, _ in String(decoding: string, as: UTF8.self) } }

    /// The MD5 of `ja3String` in lowercase hexadecimal (Suricata's `tls.ja3.hash`).
    public var ja3Hash: String { self.withJA3 { _, hash in String(decoding: hash, as: UTF8.self) } }

    /// Calls `body` with `ja3String` and `ja3Hash` as ASCII bytes, written into temporary
    /// buffers: what a record copies, without a `String` (no allocation for a ClientHello of
    /// the usual size).
    public func withJA3<Result>(_ body: (_ string: UnsafeRawBufferPointer, _ hash: UnsafeRawBufferPointer) -> Result) -> Result {
        // At most 5 digits and a separator per value, and the 4 commas.
        let values = 1 + self.cipherSuites.count + self.extensions.count + self.groups.count + self.pointFormats.count
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 6 * values + 4) { buffer in
            var text = DecimalText(buffer: buffer)
            text.append(self.legacyVersion)
            text.appendJA3(self.cipherSuites)
            text.appendJA3(self.extensions)
            text.appendJA3(self.groups)
            text.append(byte: UInt8(ascii: ","))
            // Index loops: iterating an array allocates in an unoptimized build.
            for index in 0..<self.pointFormats.count {
                if index > 0 { text.append(byte: UInt8(ascii: "-")) }
                text.append(UInt16(self.pointFormats[index]))
            }
            let string = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(buffer)[0..<text.count])
            return MD5.withHex(string) { hash in body(string, hash) }
        }
    }

    /// GREASE values (RFC 8701 §2): 0x0A0A, 0x1A1A, ... 0xFAFA.
    public static func isGREASE(_ value: UInt16) -> Bool { value & 0x0F0F == 0x0A0A && value >> 8 == value & 0xFF }

    /// Whether a connection's first client payload starts a TLS handshake record carrying a
    /// ClientHello: content type 22, version 3.x, and (when there) handshake type 1. Reads at
    /// most 6 bytes; no allocation.
    public static func looksLikeClientHello(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard payload.count >= 3, payload[0] == 22, payload[1] == 3, payload[2] <= 4 else { return false }
        return payload.count < 6 || payload[5] == 1
    }

    /// Reads a ClientHello from the first bytes a client sent: TLS records of type 22 whose
    /// fragments hold the handshake message (it may span several records, RFC 8446 §5.1).
    /// Throws `.truncated` when the bytes end first; bytes after the message are ignored.
    public init(parsing bytes: UnsafeRawBufferPointer, limit: Int = TLSClientHelloReader.defaultLimit) throws(TLSParseError) {
        // The common case, the whole message in the first record, is read in place.
        let first = try Self.record(bytes, at: 0)
        if first.fragment.count >= 4 {
            let length = try Self.messageLength(first.fragment, limit: limit)
            if first.fragment.count >= 4 + length {
                try self.init(message: UnsafeRawBufferPointer(rebasing: first.fragment[4..<(4 + length)]), recordVersion: first.version)
                return
            }
        }
        var message = Array(first.fragment)
        var offset = 5 + first.fragment.count
        while true {
            if message.count >= 4 {
                let length = try message.withUnsafeBytes { bytes in Result { () throws(TLSParseError) in try Self.messageLength(bytes, limit: limit) } }.get()
                if message.count >= 4 + length {
                    self = try message.withUnsafeBytes { body in
                        Result { () throws(TLSParseError) in
                            try TLSClientHello(message: UnsafeRawBufferPointer(rebasing: body[4..<(4 + length)]), recordVersion: first.version)
                        }
                    }.get()
                    return
                }
            }
            let next = try Self.record(bytes, at: offset)
            message += next.fragment
            offset += 5 + next.fragment.count
        }
    }

    /// The record at `offset`: its version and fragment (RFC 8446 §5.1).
    static func record(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws(TLSParseError) -> (version: UInt16, fragment: UnsafeRawBufferPointer) {
        guard bytes.count >= offset + 5 else { throw .truncated }
        guard bytes[offset] == 22 else { throw .notHandshake }
        let length = Int(bytes[offset + 3]) << 8 | Int(bytes[offset + 4])
        guard bytes[offset + 1] == 3, length > 0, length <= 16384 else { throw .badRecord }
        guard bytes.count >= offset + 5 + length else { throw .truncated }
        return (UInt16(bytes[offset + 1]) << 8 | UInt16(bytes[offset + 2]),
                UnsafeRawBufferPointer(rebasing: bytes[(offset + 5)..<(offset + 5 + length)]))
    }

    /// The length of the handshake message that starts `bytes` (at least 4 of them).
    static func messageLength(_ bytes: UnsafeRawBufferPointer, limit: Int) throws(TLSParseError) -> Int {
        guard bytes[0] == 1 else { throw .notClientHello }
        let length = Int(bytes[1]) << 16 | Int(bytes[2]) << 8 | Int(bytes[3])
        guard length + 4 <= limit else { throw .tooLong }
        return length
    }

    /// The ClientHello body (RFC 8446 §4.1.2).
    init(message: UnsafeRawBufferPointer, recordVersion: UInt16) throws(TLSParseError) {
        var reader = TLSReader(message)
        self.recordVersion = recordVersion
        self.legacyVersion = try reader.u16()
        _ = try reader.bytes(32)
        guard try reader.u8() <= 32 else { throw .badLength }
        reader.offset -= 1
        _ = try reader.vector(lengthBytes: 1)
        let suites = try reader.vector(lengthBytes: 2)
        guard suites.count >= 2, suites.count % 2 == 0 else { throw .badLength }
        self.cipherSuites = TLSReader.u16s(suites)
        guard try !reader.vector(lengthBytes: 1).isEmpty else { throw .badLength }
        // Extensions may be absent before TLS 1.3 (RFC 5246 §7.4.1.2).
        guard !reader.atEnd else { return }
        var extensions = TLSReader(try reader.vector(lengthBytes: 2))
        guard reader.atEnd else { throw .badLength }
        while !extensions.atEnd {
            let type = try extensions.u16()
            let data = try extensions.vector(lengthBytes: 2)
            guard !self.extensions.contains(type) else { throw .badExtension }
            self.extensions.append(type)
            do throws(TLSParseError) {
                try self.read(extension: type, data)
            } catch {
                throw .badExtension
            }
        }
    }

    /// The extensions flowmon reads; a length inside one that does not fit is `badExtension`.
    mutating func read(extension type: UInt16, _ data: UnsafeRawBufferPointer) throws(TLSParseError) {
        var reader = TLSReader(data)
        switch type {
        case 0:  // server_name (RFC 6066 §3): ServerNameList<1..2^16-1>; an empty one in a ServerHello only.
            var names = TLSReader(try reader.vector(lengthBytes: 2))
            guard reader.atEnd, !names.atEnd else { throw .badExtension }
            while !names.atEnd {
                let nameType = try names.u8()
                let name = try names.vector(lengthBytes: 2)
                guard !name.isEmpty else { throw .badExtension }
                if nameType == 0 && self.serverName == nil {
                    guard name.allSatisfy({ (0x21...0x7E).contains($0) }) else { throw .badExtension }
                    self.serverName = String(decoding: name, as: UTF8.self)
                }
            }
        case 16:  // ALPN (RFC 7301 §3.1): ProtocolNameList<2..2^16-1> of ProtocolName<1..2^8-1>.
            var names = TLSReader(try reader.vector(lengthBytes: 2))
            guard reader.atEnd, !names.atEnd else { throw .badExtension }
            while !names.atEnd {
                let name = try names.vector(lengthBytes: 1)
                guard !name.isEmpty else { throw .badExtension }
                self.alpn.append(String(decoding: name, as: UTF8.self))
            }
        case 43:  // supported_versions (RFC 8446 §4.2.1): ProtocolVersion versions<2..254>.
            let versions = try reader.vector(lengthBytes: 1)
            guard reader.atEnd, versions.count >= 2, versions.count % 2 == 0 else { throw .badExtension }
            self.supportedVersions = TLSReader.u16s(versions)
        case 10, 13:  // supported_groups, signature_algorithms: <2..2^16-1> of 16-bit values.
            let values = try reader.vector(lengthBytes: 2)
            guard reader.atEnd, values.count >= 2, values.count % 2 == 0 else { throw .badExtension }
            if type == 10 { self.groups = TLSReader.u16s(values) } else { self.signatureAlgorithms = TLSReader.u16s(values) }
        case 11:  // ec_point_formats (RFC 8422 §5.1.2): <1..2^8-1>.
            let formats = try reader.vector(lengthBytes: 1)
            guard reader.atEnd, !formats.isEmpty else { throw .badExtension }
            self.pointFormats = Array(formats)
        default:
            break
        }
    }
}

/// A bounds-checked reader of TLS's big-endian fields and length-prefixed vectors (RFC 8446
/// §3.4): reading past the end throws `badLength`.
struct TLSReader {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { self.offset >= self.bytes.count }

    mutating func bytes(_ count: Int) throws(TLSParseError) -> UnsafeRawBufferPointer {
        guard count <= self.bytes.count - self.offset else { throw .badLength }
        defer { self.offset += count }
        return UnsafeRawBufferPointer(rebasing: self.bytes[self.offset..<(self.offset + count)])
    }

    mutating func u8() throws(TLSParseError) -> UInt8 { try self.bytes(1)[0] }

    mutating func u16() throws(TLSParseError) -> UInt16 {
        let two = try self.bytes(2)
        return UInt16(two[0]) << 8 | UInt16(two[1])
    }

    /// A vector with a 1- or 2-byte length prefix.
    mutating func vector(lengthBytes: Int) throws(TLSParseError) -> UnsafeRawBufferPointer {
        let length = lengthBytes == 1 ? Int(try self.u8()) : Int(try self.u16())
        return try self.bytes(length)
    }

    static func u16s(_ bytes: UnsafeRawBufferPointer) -> [UInt16] {
        stride(from: 0, to: bytes.count - 1, by: 2).map { UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]) }
    }
}

/// Decimal numbers and separators written into a buffer the caller sized.
struct DecimalText {
    let buffer: UnsafeMutableBufferPointer<UInt8>
    var count = 0

    mutating func append(byte: UInt8) {
        self.buffer[self.count] = byte
        self.count &+= 1
    }

    /// A comma, then `values` without GREASE joined by "-": a field of JA3.
    mutating func appendJA3(_ values: [UInt16]) {
        self.append(byte: UInt8(ascii: ","))
        var first = true
        for index in 0..<values.count where !TLSClientHello.isGREASE(values[index]) {
            if !first { self.append(byte: UInt8(ascii: "-")) }
            first = false
            self.append(values[index])
        }
    }

    mutating func append(_ value: UInt16) {
        var divisor: UInt16 = 10000
        while divisor > 1 && value < divisor { divisor /= 10 }
        while divisor > 0 {
            self.append(byte: UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: value / divisor % 10))
            divisor /= 10
        }
    }
}
