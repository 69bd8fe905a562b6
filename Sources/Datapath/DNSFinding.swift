/// What the application layer found in one DNS message, as numbers, for the DNS detectors
/// (`ConnectionFinding.dnsQuery`, `.dnsSuspiciousName`, `.dnsNXDomain`). The name itself stays
/// out of the datapath: its UTF-8 bytes, when kept, are in the worker's `FindingBuffer`
/// (`nameOffset`/`nameStored`), and `nameHash` stands for it in the counting windows.
public struct DNSFinding: Sendable, Equatable {
    /// FNV-1a of the name (lowercased) or of the label the detector counts (`DNSNameShape`).
    public var nameHash: UInt64 = 0
    /// Where the name's bytes are in the finding buffer, and how many were kept (0: none).
    public var nameOffset: UInt32 = 0
    public var nameStored: UInt16 = 0
    /// The first question's type (RFC 1035 §3.2.2 TYPE).
    public var queryType: UInt16 = 0
    /// The name's length in characters (no trailing dot), its longest label left of the
    /// registered domain, and the Shannon entropy of those labels in thousandths of a bit per
    /// character (`DNSNameShape`).
    public var nameLength: UInt16 = 0
    public var longestLabel: UInt16 = 0
    public var entropyMillibits: UInt16 = 0
    /// The response code (RFC 1035 §4.1.1 RCODE) of a response.
    public var rcode: UInt8 = 0

    public init() {}
}
