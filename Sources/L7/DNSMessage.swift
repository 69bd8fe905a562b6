import FlowCore

/// A DNS message (RFC 1035 §4.1), read in place: a view over the bytes of one UDP payload or
/// one TCP-framed message (`DNSOverTCP`), valid while they are. Parsing checks the header and
/// walks the sections once, validating every name (owner names, and the names that are the
/// RDATA of CNAME, NS, PTR and DNAME records); afterwards reading questions and records cannot
/// fail. Parsing allocates nothing, and neither does reading, except `DNSName.text`.
/// `parse` returns its error rather than throwing it (`.get()` throws it).
///
/// Bounded work: at most `maxQuestions` questions (more is `dns.too_many_questions`) and
/// `maxRecords` records over the answer, authority and additional sections, in that order;
/// records past that are not walked and are counted in `unwalkedRecords`. A name costs at most
/// 127 labels and `DNSName.maxPointers` pointers.
///
/// Accepted as they are: any opcode, the Z bit, a query (QR 0) that carries records, bytes
/// after the last record (as Suricata does), records of any type or class; an EDNS OPT record
/// (RFC 6891) is a record of the additional section.
public struct DNSMessage {
    /// The header's length (RFC 1035 §4.1.1).
    public static let headerLength = 12
    public static let maxQuestions = 64
    public static let maxRecords = 256

    let message: PacketBytes
    /// ID.
    public let id: UInt16
    /// The header's second 16 bits: QR, Opcode, AA, TC, RD, RA, Z, AD, CD, RCODE (RFC 1035
    /// §4.1.1, RFC 4035 §3.2); Suricata writes them as `flags` in hex.
    public let flags: UInt16
    /// QDCOUNT, ANCOUNT, NSCOUNT and ARCOUNT as the header gives them.
    public let questionCount: Int
    public let answerCount: Int
    public let authorityCount: Int
    public let additionalCount: Int
    /// How many answer, authority and additional records were walked (and are iterated).
    let walked: (answers: Int, authorities: Int, additionals: Int)
    /// Where the answer, authority and additional sections start.
    let starts: (answers: Int, authorities: Int, additionals: Int)
    /// The offset just past the last question or record walked.
    public let walkedEnd: Int

    /// Parses the message in `bytes` (which the caller keeps alive while it uses the message).
    /// The error is returned, not thrown: a thrown error goes through the runtime's throw hook,
    /// which Swift Testing and debuggers set and which boxes the error (an allocation per
    /// payload that is not DNS).
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Result<DNSMessage, DNSParseError> {
        let message = PacketBytes(bytes)
        guard let id = message.bigEndian(at: 0, as: UInt16.self), let flags = message.bigEndian(at: 2, as: UInt16.self),
              let qdcount = message.bigEndian(at: 4, as: UInt16.self), let ancount = message.bigEndian(at: 6, as: UInt16.self),
              let nscount = message.bigEndian(at: 8, as: UInt16.self), let arcount = message.bigEndian(at: 10, as: UInt16.self)
        else { return .failure(.truncated) }
        guard qdcount <= Self.maxQuestions else { return .failure(.tooManyQuestions) }
        var position = Self.headerLength
        for _ in 0..<Int(qdcount) {
            let nameEnd: Int
            switch DNSName.validate(message, at: position) {
            case .success(let end): nameEnd = end
            case .failure(let error): return .failure(error)
            }
            guard nameEnd <= message.count &- 4 else { return .failure(.truncated) }
            position = nameEnd &+ 4
        }
        var budget = Self.maxRecords
        var starts = (answers: 0, authorities: 0, additionals: 0)
        var walked = (answers: 0, authorities: 0, additionals: 0)
        starts.answers = position
        if let error = Self.walkRecords(message, from: &position, count: Int(ancount), budget: &budget, walked: &walked.answers) {
            return .failure(error)
        }
        starts.authorities = position
        if let error = Self.walkRecords(message, from: &position, count: Int(nscount), budget: &budget, walked: &walked.authorities) {
            return .failure(error)
        }
        starts.additionals = position
        if let error = Self.walkRecords(message, from: &position, count: Int(arcount), budget: &budget, walked: &walked.additionals) {
            return .failure(error)
        }
        return .success(DNSMessage(message: message, id: id, flags: flags, counts: (Int(qdcount), Int(ancount), Int(nscount), Int(arcount)),
                                   walked: walked, starts: starts, walkedEnd: position))
    }

    init(message: PacketBytes, id: UInt16, flags: UInt16, counts: (Int, Int, Int, Int), walked: (answers: Int, authorities: Int, additionals: Int),
         starts: (answers: Int, authorities: Int, additionals: Int), walkedEnd: Int)
    {
        self.message = message
        self.id = id
        self.flags = flags
        (self.questionCount, self.answerCount, self.authorityCount, self.additionalCount) = counts
        self.walked = walked
        self.starts = starts
        self.walkedEnd = walkedEnd
    }

    /// Validates up to `count` records (fewer if the budget runs out) from `position`.
    static func walkRecords(_ message: PacketBytes, from position: inout Int, count: Int, budget: inout Int, walked: inout Int) -> DNSParseError? {
        walked = Swift.min(count, budget)
        budget &-= walked
        for _ in 0..<walked {
            let nameEnd: Int
            switch DNSName.validate(message, at: position) {
            case .success(let end): nameEnd = end
            case .failure(let error): return error
            }
            guard let record = DNSResourceRecord(message, at: position, nameEnd: nameEnd) else { return .truncated }
            if DNSResourceRecord.hasNameRData(record.rrtype) {
                // The name must fill the RDATA exactly; its pointers may reach back anywhere.
                switch DNSName.validate(message.prefix(record.rdataRange.upperBound), at: record.rdataRange.lowerBound) {
                case .success(let end) where end == record.rdataRange.upperBound: break
                case .failure(let error) where error != .truncated: return error
                default: return .badRData  // cut by RDLENGTH, or followed by more bytes
                }
            }
            position = record.rdataRange.upperBound
        }
        return nil
    }

    /// The message's bytes.
    public var bytes: UnsafeRawBufferPointer { self.message.rawBuffer }

    /// QR: a response (true) or a query.
    public var isResponse: Bool { self.flags & 0x8000 != 0 }
    /// Opcode: 0 QUERY, 1 IQUERY, 2 STATUS, 4 NOTIFY, 5 UPDATE (RFC 1035, 1996, 2136).
    public var opcode: UInt8 { UInt8(truncatingIfNeeded: self.flags >> 11) & 0x0f }
    /// AA: an authoritative answer.
    public var isAuthoritative: Bool { self.flags & 0x0400 != 0 }
    /// TC: truncated to fit the transport (RFC 1035 §4.1.1, RFC 7766 §5); the client retries over TCP.
    public var isTruncated: Bool { self.flags & 0x0200 != 0 }
    /// RD: recursion desired.
    public var recursionDesired: Bool { self.flags & 0x0100 != 0 }
    /// RA: recursion available.
    public var recursionAvailable: Bool { self.flags & 0x0080 != 0 }
    /// AD: authentic data (RFC 4035 §3.2.3).
    public var authenticData: Bool { self.flags & 0x0020 != 0 }
    /// CD: checking disabled (RFC 4035 §3.2.2).
    public var checkingDisabled: Bool { self.flags & 0x0010 != 0 }
    /// RCODE (the header's 4 bits).
    public var rcode: UInt8 { UInt8(truncatingIfNeeded: self.flags) & 0x0f }
    /// RCODE as Suricata names it ("NOERROR", "NXDOMAIN", ...), nil for 11...15 (write the number).
    public var rcodeName: StaticString? { L7.rcodeName(self.rcode) }

    /// Records the header announces past `maxRecords`, not walked nor iterated.
    public var unwalkedRecords: Int {
        self.answerCount + self.authorityCount + self.additionalCount - self.walked.answers - self.walked.authorities
            - self.walked.additionals
    }

    /// The question section.
    public var questions: Questions { Questions(message: self.message, position: Self.headerLength, remaining: self.questionCount) }
    /// The answer section (at most `maxRecords` records).
    public var answers: Records { Records(message: self.message, position: self.starts.answers, remaining: self.walked.answers) }
    /// The authority section (what `maxRecords` leaves after the answers).
    public var authorities: Records {
        Records(message: self.message, position: self.starts.authorities, remaining: self.walked.authorities)
    }
    /// The additional section, EDNS's OPT record included (what `maxRecords` leaves).
    public var additionals: Records {
        Records(message: self.message, position: self.starts.additionals, remaining: self.walked.additionals)
    }

    /// The questions of a parsed message, in order; no allocation.
    public struct Questions: Sequence, IteratorProtocol {
        let message: PacketBytes
        var position: Int
        var remaining: Int

        public mutating func next() -> DNSQuestion? {
            guard self.remaining > 0, let nameEnd = DNSName.end(self.message, at: self.position),
                  let rrtype = self.message.bigEndian(at: nameEnd, as: UInt16.self),
                  let rrclass = self.message.bigEndian(at: nameEnd &+ 2, as: UInt16.self) else { return nil }
            let question = DNSQuestion(name: DNSName(message: self.message, offset: self.position), rrtype: rrtype, rrclass: rrclass)
            self.position = nameEnd &+ 4
            self.remaining &-= 1
            return question
        }
    }

    /// The records of one section of a parsed message, in order; no allocation.
    public struct Records: Sequence, IteratorProtocol {
        let message: PacketBytes
        var position: Int
        var remaining: Int

        public mutating func next() -> DNSResourceRecord? {
            guard self.remaining > 0, let nameEnd = DNSName.end(self.message, at: self.position),
                  let record = DNSResourceRecord(self.message, at: self.position, nameEnd: nameEnd) else { return nil }
            self.position = record.rdataRange.upperBound
            self.remaining &-= 1
            return record
        }
    }
}
