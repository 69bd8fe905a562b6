import FlowCore

/// An entry of a DNS message's question section (RFC 1035 §4.1.2).
public struct DNSQuestion {
    public let name: DNSName
    /// QTYPE (`rrtypeName` gives Suricata's name).
    public let rrtype: UInt16
    /// QCLASS (1 is IN; in mDNS the top bit asks for a unicast response, RFC 6762 §5.4).
    public let rrclass: UInt16
}

/// A resource record of a DNS message's answer, authority or additional section
/// (RFC 1035 §4.1.3), pointing into the message.
public struct DNSResourceRecord {
    /// The record types whose RDATA is exactly one domain name: NS, CNAME, PTR (RFC 1035
    /// §3.3) and DNAME (RFC 6672 §2.1). `DNSMessage` validates those names.
    static func hasNameRData(_ rrtype: UInt16) -> Bool {
        switch rrtype {
        case DNSRecordType.ns, DNSRecordType.cname, DNSRecordType.ptr, DNSRecordType.dname: true
        default: false
        }
    }

    let message: PacketBytes
    /// The owner name.
    public let name: DNSName
    /// TYPE (`rrtypeName` gives Suricata's name).
    public let rrtype: UInt16
    /// CLASS (1 is IN; in mDNS the top bit is the cache-flush bit, RFC 6762 §10.2). The OPT
    /// pseudo-record (RFC 6891 §6.1.2) carries the requestor's UDP payload size here.
    public let rrclass: UInt16
    /// TTL as sent (RFC 1035 §4.1.3); see `effectiveTTL`.
    public let ttl: UInt32
    /// Where the RDATA is in the message.
    public let rdataRange: Range<Int>

    /// Reads the fixed fields of the record whose owner name starts at `offset` and ends in
    /// place at `nameEnd`; nil when they or the RDATA run past the message.
    init?(_ message: PacketBytes, at offset: Int, nameEnd: Int) {
        guard let rrtype = message.bigEndian(at: nameEnd, as: UInt16.self),
              let rrclass = message.bigEndian(at: nameEnd &+ 2, as: UInt16.self),
              let ttl = message.bigEndian(at: nameEnd &+ 4, as: UInt32.self),
              let rdlength = message.bigEndian(at: nameEnd &+ 8, as: UInt16.self) else { return nil }
        let start = nameEnd &+ 10
        guard Int(rdlength) <= message.count &- start else { return nil }
        self.message = message
        self.name = DNSName(message: message, offset: offset)
        self.rrtype = rrtype
        self.rrclass = rrclass
        self.ttl = ttl
        self.rdataRange = start..<(start &+ Int(rdlength))
    }

    /// The RDATA bytes (valid while the message's bytes are).
    public var rdata: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: self.message.rawBuffer[self.rdataRange]) }

    /// The TTL a cache keeps the record for: a TTL with the top bit set counts as zero
    /// (RFC 2181 §8).
    public var effectiveTTL: UInt32 { self.ttl & 0x8000_0000 == 0 ? self.ttl : 0 }

    /// Whether the class is IN, ignoring mDNS's cache-flush bit.
    var isInternet: Bool { self.rrclass & 0x7fff == 1 }

    /// The address of an A record of class IN with 4 bytes of RDATA (RFC 1035 §3.4.1); nil otherwise.
    public var ipv4: IPAddress? {
        guard self.rrtype == DNSRecordType.a, self.isInternet, self.rdataRange.count == 4 else { return nil }
        return IPAddress.ipv4(in: self.message, at: self.rdataRange.lowerBound)
    }

    /// The address of an AAAA record of class IN with 16 bytes of RDATA (RFC 3596 §2.2); nil otherwise.
    public var ipv6: IPAddress? {
        guard self.rrtype == DNSRecordType.aaaa, self.isInternet, self.rdataRange.count == 16 else { return nil }
        return IPAddress.ipv6(in: self.message, at: self.rdataRange.lowerBound)
    }

    /// The name a CNAME, NS, PTR or DNAME record holds (its canonical name, name server,
    /// pointed-to name, target); nil for other types.
    public var target: DNSName? {
        guard Self.hasNameRData(self.rrtype) else { return nil }
        return DNSName(message: self.message, offset: self.rdataRange.lowerBound)
    }
}
