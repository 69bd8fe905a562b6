/// DNS record types (IANA "Resource Record (RR) TYPEs") that flowmon's DNS code refers to.
public enum DNSRecordType {
    public static let a: UInt16 = 1
    public static let ns: UInt16 = 2
    public static let cname: UInt16 = 5
    public static let soa: UInt16 = 6
    public static let ptr: UInt16 = 12
    public static let mx: UInt16 = 15
    public static let txt: UInt16 = 16
    public static let aaaa: UInt16 = 28
    public static let srv: UInt16 = 33
    public static let dname: UInt16 = 39
    public static let opt: UInt16 = 41
    public static let svcb: UInt16 = 64
    public static let https: UInt16 = 65
    public static let any: UInt16 = 255
}

/// The name Suricata's EVE `dns` records give a record type (`rrtype`; Suricata's
/// `dns_rrtype_string`), or nil for a type it writes as its number, which the caller then
/// writes. Suricata's table is followed as it is, spellings included: type 3 (MD) is "ND",
/// 23 (NSAP-PTR) "NSAPPT", 60 (CDNSKEY) "CDSNKEY"; SVCB (64) and CAA (257) have no name there.
public func rrtypeName(_ rrtype: UInt16) -> StaticString? {
    switch rrtype {
    case 1: "A"
    case 2: "NS"
    case 3: "ND"
    case 4: "MF"
    case 5: "CNAME"
    case 6: "SOA"
    case 7: "MB"
    case 8: "MG"
    case 9: "MR"
    case 10: "NULL"
    case 11: "WKS"
    case 12: "PTR"
    case 13: "HINFO"
    case 14: "MINFO"
    case 15: "MX"
    case 16: "TXT"
    case 17: "RP"
    case 18: "AFSDB"
    case 19: "X25"
    case 20: "ISDN"
    case 21: "RT"
    case 22: "NSAP"
    case 23: "NSAPPT"
    case 24: "SIG"
    case 25: "KEY"
    case 26: "PX"
    case 27: "GPOS"
    case 28: "AAAA"
    case 29: "LOC"
    case 30: "NXT"
    case 33: "SRV"
    case 34: "ATMA"
    case 35: "NAPTR"
    case 36: "KX"
    case 37: "CERT"
    case 38: "A6"
    case 39: "DNAME"
    case 41: "OPT"
    case 42: "APL"
    case 43: "DS"
    case 44: "SSHFP"
    case 45: "IPSECKEY"
    case 46: "RRSIG"
    case 47: "NSEC"
    case 48: "DNSKEY"
    case 49: "DHCID"
    case 50: "NSEC3"
    case 51: "NSEC3PARAM"
    case 52: "TLSA"
    case 55: "HIP"
    case 59: "CDS"
    case 60: "CDSNKEY"
    case 65: "HTTPS"
    case 99: "SPF"
    case 249: "TKEY"
    case 250: "TSIG"
    case 254: "MAILA"
    case 255: "ANY"
    case 256: "URI"
    default: nil
    }
}

/// The name Suricata's EVE `dns` records give a response code (`rcode`; Suricata's
/// `dns_rcode_string`, RFC 1035 §4.1.1 and RFC 2136 §2.2), or nil for one it writes as its
/// number (11...15). Only the header's 4 bits are read, as Suricata does: EDNS's extended
/// RCODE (RFC 6891 §6.1.3) is not added.
public func rcodeName(_ rcode: UInt8) -> StaticString? {
    switch rcode {
    case 0: "NOERROR"
    case 1: "FORMERR"
    case 2: "SERVFAIL"
    case 3: "NXDOMAIN"
    case 4: "NOTIMP"
    case 5: "REFUSED"
    case 6: "YXDOMAIN"
    case 7: "YXRRSET"
    case 8: "NXRRSET"
    case 9: "NOTAUTH"
    case 10: "NOTZONE"
    default: nil
    }
}
