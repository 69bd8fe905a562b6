/// Why a capture could not be read. `description` is the one-line message the CLI prints.
public struct CaptureError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// The file is missing, unreadable, or a directory.
        case cannotOpen
        /// The file is not a pcap or pcapng capture (bad magic, bad version, bad header).
        case notACapture
        /// The file ends in the middle of a record or block.
        case truncated
        /// A record or block contradicts the format (length out of range, bad trailer, ...).
        case malformed
        /// The BPF filter expression did not compile.
        case badFilter
        /// A read error from the operating system.
        case io
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { self.message }
}
