/// Why a payload is not a DNS message flowmon can read (RFC 1035 §4.1), under a stable dotted
/// name for `stats.anomalies` (docs/l7.md). Names follow Suricata's `dns.*` events where one
/// means the same (`dns.name_too_long`).
public enum DNSParseError: Error, Equatable, CaseIterable, Sendable {
    /// The bytes end before the 12-byte header, a question, a record's fixed fields, its RDATA
    /// (RDLENGTH runs past the end) or a name's labels: also what a count larger than the
    /// data gives.
    case truncated
    /// A label whose two top bits are 01 or 10: the extended label types of RFC 6891 §5
    /// (deprecated by RFC 6891) and the reserved one; a 64-byte label (length byte 0x40) is one.
    case badLabel
    /// A name longer than 255 octets in wire form, length bytes and root included (RFC 1035 §2.3.4).
    case nameTooLong
    /// A compression pointer (RFC 1035 §4.1.4) into the header, or not strictly before the
    /// labels that lead to it: a pointer to itself, forwards, or into its own name (a loop).
    case badPointer
    /// More compression pointers in one name than `DNSName.maxPointers` (a chain of pointers).
    case tooManyPointers
    /// QDCOUNT above `DNSMessage.maxQuestions`: the records after the questions cannot be
    /// reached without walking them all (real queries carry one question, RFC 9619).
    case tooManyQuestions
    /// The RDATA of a CNAME, NS, PTR or DNAME record is not exactly one valid name.
    case badRData

    /// The anomaly name, as `stats.anomalies` counts it.
    public var name: StaticString {
        switch self {
        case .truncated: "dns.truncated"
        case .badLabel: "dns.bad_label"
        case .nameTooLong: "dns.name_too_long"
        case .badPointer: "dns.bad_pointer"
        case .tooManyPointers: "dns.too_many_pointers"
        case .tooManyQuestions: "dns.too_many_questions"
        case .badRData: "dns.bad_rdata"
        }
    }
}
