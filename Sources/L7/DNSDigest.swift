import FlowCore

/// What flowmon keeps of one DNS message, as text: for the `dns` records, the Hubble L7 DNS
/// flows, the `rules.dns` verdict and the name cache. Built only for DNS payload (it allocates).
public struct DNSDigest: Sendable {
    public struct Question: Sendable, Equatable {
        public var name: String
        public var rrtype: UInt16
    }

    public struct Answer: Sendable, Equatable {
        public var name: String
        public var rrtype: UInt16
        public var ttl: UInt32
        /// The address (A, AAAA), the target name (CNAME, NS, PTR, DNAME), or nil (other types).
        public var rdata: String?
    }

    public var id: UInt16
    /// The header's flags word (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    public var flags: UInt16
    public var isResponse: Bool
    public var opcode: UInt8
    public var rcode: UInt8
    public var questions: [Question] = []
    public var answers: [Answer] = []
    /// The addresses the first question's name resolved to, through any CNAME chain in the
    /// answers, each with the smallest TTL on its way (Cilium's `ExtractMsgDetails`).
    public var addresses: [(address: IPAddress, ttl: UInt32)] = []
    /// The CNAME targets on the way, in order (Hubble's `cnames`).
    public var cnames: [String] = []
    /// The smallest TTL of the records on the way (Hubble's `ttl`).
    public var ttl: UInt32 = 0

    /// The first question's name: what was asked (Hubble's `query`, without the trailing dot).
    public var query: String? { self.questions.first?.name }

    public init(_ message: DNSMessage) {
        self.id = message.id
        self.flags = message.flags
        self.isResponse = message.isResponse
        self.opcode = message.opcode
        self.rcode = message.rcode
        for question in message.questions {
            self.questions.append(Question(name: question.name.text, rrtype: question.rrtype))
        }
        for record in message.answers {
            let rdata: String?
            if let address = record.ipv4 ?? record.ipv6 {
                rdata = address.text
            } else {
                rdata = record.target?.text
            }
            self.answers.append(Answer(name: record.name.text, rrtype: record.rrtype, ttl: record.effectiveTTL,
                                       rdata: rdata))
            if let address = record.ipv4 ?? record.ipv6 {
                self.resolved.append((record.name.text, address, record.effectiveTTL))
            }
        }
        self.resolveChain()
    }

    /// The answers' addresses by owner name, before the chain is followed.
    private var resolved: [(name: String, address: IPAddress, ttl: UInt32)] = []

    /// Follows the CNAME chain from the first question's name (at most 16 links: a chain that
    /// loops or runs on is cut there) and collects the addresses at its names.
    private mutating func resolveChain() {
        guard let query = self.query else { return }
        var names: [(name: String, ttl: UInt32)] = [(query, .max)]
        var links = 0
        while links < 16, let last = names.last,
            let link = self.answers.first(where: {
                $0.rrtype == DNSRecordType.cname && $0.name == last.name && !names.map(\.name).contains($0.rdata ?? "")
            }), let target = link.rdata
        {
            names.append((target, min(last.ttl, link.ttl)))
            self.cnames.append(target)
            links += 1
        }
        var smallest = UInt32.max
        for (name, chainTTL) in names {
            for entry in self.resolved where entry.name == name {
                let ttl = min(chainTTL, entry.ttl)
                self.addresses.append((entry.address, ttl))
                smallest = min(smallest, ttl)
            }
        }
        if smallest == .max { smallest = names.dropFirst().map(\.ttl).min() ?? 0 }
        self.ttl = smallest == .max ? 0 : smallest
        self.resolved = []
    }
}
