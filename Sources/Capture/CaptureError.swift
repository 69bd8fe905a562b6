/// Why a capture could not be read or opened. `description` is the one-line message the CLI prints.
package struct CaptureError: Error, CustomStringConvertible, Sendable {
    package enum Kind: Sendable, Equatable {
        /// The file is missing, unreadable, or a directory; or libpcap refused a live capture
        /// for a reason without a kind of its own.
        case cannotOpen
        /// The file is not a pcap or pcapng capture (bad magic, bad version, bad header).
        case notACapture
        /// The file ends in the middle of a record or block.
        case truncated
        /// A record or block contradicts the format (length out of range, bad trailer, ...).
        case malformed
        /// The BPF filter expression did not compile.
        case badFilter
        /// A read error from the operating system, or a live capture that failed while running.
        case io
        /// A live capture names an interface that does not exist.
        case noSuchInterface
        /// A live capture was refused for lack of privileges, or dropping privileges failed.
        case permissionDenied
        /// A live capture names an interface that is administratively down.
        case interfaceDown
        /// A live capture was given an option value libpcap cannot use (snapshot length, buffer size, ...).
        case invalidOption
        /// Dropping privileges names a user that does not exist.
        case noSuchUser
    }

    package var kind: Kind
    package var message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { self.message }
}
