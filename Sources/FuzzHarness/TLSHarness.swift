import L7

/// The `tls` fuzz target: the input is a connection's first client bytes, read as a TLS
/// ClientHello (`TLSClientHello(parsing:)`) whole, and through `TLSClientHelloReader` in two
/// segments cut where byte 0 says (its bytes are part of the input too). Checked: the two agree
/// (a ClientHello read whole is read from its two parts; a first part already refused or read
/// is refused or read the same whole), and what a ClientHello gives is consistent. A violated
/// rule traps, as a crash would (JA3 is computed too). Returns true for a ClientHello.
package final class TLSHarness {
    package init() {}

    package func run(_ data: UnsafeRawBufferPointer) -> Bool {
        let whole: Result<TLSClientHello, TLSParseError>
        do throws(TLSParseError) {
            whole = .success(try TLSClientHello(parsing: data))
        } catch {
            whole = .failure(error)
        }
        let cut = data.isEmpty ? 0 : Int(data[0]) * data.count / 256
        var reader = TLSClientHelloReader()
        let first = reader.feed(UnsafeRawBufferPointer(rebasing: data[..<cut]), sequence: 7)
        let second = reader.feed(UnsafeRawBufferPointer(rebasing: data[cut...]), sequence: 7 &+ UInt32(cut))
        // The reader keeps at most its limit (and the record headers of a message of that size);
        // the whole parse bounds only the message, so many tiny records are read whole only.
        let tooLong = data.count > TLSClientHelloReader.defaultLimit && (first == .failed(.tooLong) || second == .failed(.tooLong))
        switch (first, whole) {
        case _ where tooLong: break
        case (.hello(let hello), .success(let read)): precondition(hello == read, "a first part read otherwise than the whole")
        case (.failed(let error), .failure(let refused)): precondition(error == refused, "refused: \(error), whole: \(refused)")
        case (.needMore, .success(let hello)): precondition(second == .hello(hello), "whole read, parts: \(second)")
        case (.needMore, .failure(.truncated)): precondition(second == .needMore, "truncated whole, parts: \(second)")
        case (.needMore, .failure(let error)): precondition(second == .failed(error), "whole: \(error), parts: \(second)")
        default: preconditionFailure("first part: \(first), whole: \(whole)")
        }
        guard case .success(let hello) = whole else { return false }
        precondition(!hello.cipherSuites.isEmpty && !hello.versionName.isEmpty, "a hello without cipher suites or version")
        precondition(hello.serverName.map { !$0.isEmpty } ?? true && hello.alpn.allSatisfy { !$0.isEmpty }, "an empty name")
        precondition(hello.supportedVersions.isEmpty == !hello.extensions.contains(43), "supported_versions")
        precondition(hello.ja3Hash.utf8.count == 32 && hello.ja3String.hasPrefix("\(hello.legacyVersion),"), "ja3")
        return true
    }
}
