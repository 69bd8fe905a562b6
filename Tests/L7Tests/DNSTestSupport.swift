import FlowCore
@testable import L7

/// A parsed message as plain values, for comparing with what tshark and dig show: a
/// `DNSMessage` cannot outlive the bytes it reads.
struct RenderedMessage: Equatable {
    var id: UInt16 = 0
    var flags: UInt16 = 0
    var rcode = ""
    var questions: [String] = []
    var answers: [String] = []
    var authorities: [String] = []
    var additionals: [String] = []
    var unwalked = 0

    init() {}

    /// Walks everything a caller can read, `text` included.
    init(_ message: DNSMessage) {
        self.id = message.id
        self.flags = message.flags
        self.rcode = message.rcodeName.map { "\($0)" } ?? "\(message.rcode)"
        self.questions = message.questions.map { "\($0.name.text) \(Self.type($0.rrtype)) \($0.rrclass)" }
        self.answers = message.answers.map(Self.render)
        self.authorities = message.authorities.map(Self.render)
        self.additionals = message.additionals.map(Self.render)
        self.unwalked = message.unwalkedRecords
    }

    static func type(_ rrtype: UInt16) -> String { rrtypeName(rrtype).map { "\($0)" } ?? "\(rrtype)" }

    /// `owner TYPE ttl data`: the address, the target name, or the RDATA's length.
    static func render(_ record: DNSResourceRecord) -> String {
        let data = record.ipv4?.text ?? record.ipv6?.text ?? record.target?.text ?? "(\(record.rdata.count) bytes)"
        return "\(record.name.text) \(Self.type(record.rrtype)) \(record.ttl) \(data)"
    }

    /// Parses `bytes` as one message.
    static func parse(_ bytes: [UInt8]) -> Result<RenderedMessage, DNSParseError> {
        bytes.withUnsafeBytes { DNSMessage.parse($0).map(RenderedMessage.init) }
    }
}

/// What `DNSOverTCP` makes of a segment: each message parsed, then the partial one if any.
enum RenderedFrame: Equatable {
    case message(Result<RenderedMessage, DNSParseError>)
    case partial(length: Int?, received: Int)

    static func frames(_ segment: [UInt8]) -> [RenderedFrame] {
        segment.withUnsafeBytes { buffer in
            DNSOverTCP(segment: buffer).map { frame in
                switch frame {
                case .message(let bytes): .message(RenderedMessage.parse(Array(bytes)))
                case .partial(let length, let received): .partial(length: length, received: received)
                }
            }
        }
    }
}

/// Builds DNS messages byte by byte for the hostile cases.
struct MessageBuilder {
    var bytes: [UInt8]

    init(id: UInt16 = 0x1234, flags: UInt16 = 0x8180, questions: Int, answers: Int = 0, authorities: Int = 0, additionals: Int = 0) {
        self.bytes = []
        for value in [Int(id), Int(flags), questions, answers, authorities, additionals] { self.u16(value) }
    }

    mutating func u16(_ value: Int) { self.bytes += [UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    mutating func u32(_ value: UInt32) { self.u16(Int(value >> 16)); self.u16(Int(value & 0xffff)) }

    /// A name in wire form, uncompressed, from dotted text ("" is the root).
    mutating func name(_ text: String) {
        for label in text.split(separator: ".") {
            self.bytes.append(UInt8(label.utf8.count))
            self.bytes += Array(label.utf8)
        }
        self.bytes.append(0)
    }

    mutating func label(_ bytes: [UInt8]) { self.bytes.append(UInt8(bytes.count)); self.bytes += bytes }
    mutating func pointer(_ offset: Int) { self.bytes += [UInt8(0xc0 | offset >> 8), UInt8(offset & 0xff)] }

    /// QTYPE and QCLASS after a question's name.
    mutating func question(type: Int = 1, class rrclass: Int = 1) { self.u16(type); self.u16(rrclass) }

    /// TYPE, CLASS, TTL, RDLENGTH and RDATA after a record's owner name.
    mutating func record(type: Int, class rrclass: Int = 1, ttl: UInt32 = 60, rdata: [UInt8]) {
        self.u16(type)
        self.u16(rrclass)
        self.u32(ttl)
        self.u16(rdata.count)
        self.bytes += rdata
    }
}
