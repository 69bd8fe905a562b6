@testable import L7
import Testing

/// Messages built to break a parser: compression loops, forward pointers, oversized labels and
/// names, counts and lengths larger than the data, and the bounds on the work per message.
@Suite struct DNSHostileTests {
    static func parse(_ builder: MessageBuilder) -> Result<RenderedMessage, DNSParseError> { RenderedMessage.parse(builder.bytes) }

    static func failure(_ builder: MessageBuilder) -> DNSParseError? {
        if case .failure(let error) = Self.parse(builder) { error } else { nil }
    }

    @Test func pointerToItself() {
        var message = MessageBuilder(questions: 1)
        message.pointer(12)
        message.question()
        #expect(Self.failure(message) == .badPointer)
    }

    @Test func pointerIntoItsOwnName() {
        // "a" then a pointer back to the name's start: a loop through one label.
        var message = MessageBuilder(questions: 1)
        message.label([0x61])
        message.pointer(12)
        message.question()
        #expect(Self.failure(message) == .badPointer)
    }

    @Test func forwardPointer() {
        // The question points to the answer's owner name, after it.
        var message = MessageBuilder(questions: 1, answers: 1)
        message.pointer(18)
        message.question()
        message.name("example.com")
        message.record(type: 1, rdata: [10, 0, 0, 1])
        #expect(Self.failure(message) == .badPointer)
    }

    /// Two names pointing at each other: the second jumps back into the first, whose pointer
    /// jumps forward again. Refused at the forward jump.
    @Test func loopBetweenTwoNames() {
        var message = MessageBuilder(questions: 2)
        message.label([0x61])          // 12: "a", then a pointer to 21
        message.pointer(21)
        message.question()             // 16...19
        message.bytes.append(0)        // 20: padding
        message.label([0x62])          // 21: "b", then a pointer to 12
        message.pointer(12)
        message.question()
        #expect(Self.failure(message) == .badPointer)
    }

    @Test func pointerIntoTheHeader() {
        var message = MessageBuilder(questions: 1)
        message.pointer(4)
        message.question()
        #expect(Self.failure(message) == .badPointer)
    }

    /// A chain of pointers stored in a TXT record's RDATA, each pointing to the one before it,
    /// the first to the root name: `DNSName.maxPointers` jumps are read, one more is refused.
    @Test(arguments: [DNSName.maxPointers, DNSName.maxPointers + 1])
    func pointerChain(jumps: Int) throws {
        var message = MessageBuilder(questions: 1, answers: 2)
        message.name("")               // 12: the root
        message.question()
        message.name("")
        let chain = jumps - 1          // the second record's owner name is the last jump
        message.u16(16)
        message.u16(1)
        message.u32(0)
        message.u16(2 * chain)
        var previous = 12
        for _ in 0..<chain {
            let here = message.bytes.count
            message.pointer(previous)
            previous = here
        }
        message.pointer(previous)
        message.record(type: 1, rdata: [10, 0, 0, 1])
        if jumps <= DNSName.maxPointers {
            #expect(try Self.parse(message).get().answers.last == ". A 60 10.0.0.1")
        } else {
            #expect(Self.failure(message) == .tooManyPointers)
        }
    }

    @Test func labelLengths() throws {
        var longest = MessageBuilder(questions: 1)
        longest.label([UInt8](repeating: 0x78, count: 63))
        longest.name("com")
        longest.question()
        #expect(try Self.parse(longest).get().questions == [String(repeating: "x", count: 63) + ".com A 1"])
        // 0x40: a 64-byte label's length is the extended label type 01 (RFC 6891 §5).
        var tooLong = MessageBuilder(questions: 1)
        tooLong.label([UInt8](repeating: 0x78, count: 64))
        tooLong.name("com")
        tooLong.question()
        #expect(Self.failure(tooLong) == .badLabel)
        var reserved = MessageBuilder(questions: 1)
        reserved.bytes += [0x80, 0x01]
        reserved.question()
        #expect(Self.failure(reserved) == .badLabel)
    }

    /// Three 63-byte labels and one of `last` bytes: 255 octets in wire form with last = 61.
    static func longName(last: Int) -> MessageBuilder {
        var message = MessageBuilder(questions: 1)
        for _ in 0..<3 { message.label([UInt8](repeating: 0x61, count: 63)) }
        message.label([UInt8](repeating: 0x62, count: last))
        message.bytes.append(0)
        message.question()
        return message
    }

    @Test func nameLengths() throws {
        let name = try Self.parse(Self.longName(last: 61)).get().questions[0]
        #expect(name.count == 63 * 3 + 61 + 3 + " A 1".count)
        #expect(Self.failure(Self.longName(last: 62)) == .nameTooLong)
        // Short in place, too long once its pointer is followed.
        var compressed = Self.longName(last: 61)
        compressed.bytes[5] = 2
        compressed.label([0x63])
        compressed.pointer(12)
        compressed.question()
        #expect(Self.failure(compressed) == .nameTooLong)
    }

    @Test func countsLargerThanTheData() {
        var noQuestion = MessageBuilder(questions: 1)
        #expect(Self.failure(noQuestion) == .truncated)
        noQuestion.name("example.com")
        noQuestion.u16(1)
        #expect(Self.failure(noQuestion) == .truncated)
        var fewerAnswers = MessageBuilder(questions: 1, answers: 5)
        fewerAnswers.name("example.com")
        fewerAnswers.question()
        fewerAnswers.pointer(12)
        fewerAnswers.record(type: 1, rdata: [10, 0, 0, 1])
        #expect(Self.failure(fewerAnswers) == .truncated)
        var maxCounts = MessageBuilder(questions: 0, answers: 0xffff, authorities: 0xffff, additionals: 0xffff)
        maxCounts.bytes += [0, 0, 1, 0, 1]
        #expect(Self.failure(maxCounts) == .truncated)
        for length in 0..<12 { #expect(RenderedMessage.parse([UInt8](repeating: 0, count: length)) == .failure(.truncated)) }
    }

    @Test func rdlengthOverrun() {
        var message = MessageBuilder(questions: 0, answers: 1)
        message.name("example.com")
        message.record(type: 1, rdata: [10, 0, 0, 1])
        message.bytes[12 + 13 + 9] = 5  // RDLENGTH 5 with 4 bytes left
        #expect(Self.failure(message) == .truncated)
    }

    @Test func nameRDataMustBeOneName() throws {
        func cname(_ rdata: [UInt8]) -> MessageBuilder {
            var message = MessageBuilder(questions: 1, answers: 1)
            message.name("www.example.com")
            message.question()
            message.pointer(12)
            message.record(type: 5, rdata: rdata)
            return message
        }
        // "cdn" then a pointer to "example.com" in the question.
        let good: [UInt8] = [3, 0x63, 0x64, 0x6e, 0xc0, 16]
        #expect(try Self.parse(cname(good)).get().answers == ["www.example.com CNAME 60 cdn.example.com"])
        #expect(Self.failure(cname(good + [0])) == .badRData)
        #expect(Self.failure(cname([3, 0x63, 0x64])) == .badRData)
        #expect(Self.failure(cname([3, 0x63, 0x64, 0x6e, 0xff, 0xff])) == .badPointer)
        #expect(Self.failure(cname([])) == .badRData)
        // An A record's RDATA of 3 bytes is kept, without an address.
        var shortA = MessageBuilder(questions: 0, answers: 1)
        shortA.name("example.com")
        shortA.record(type: 1, rdata: [10, 0, 0])
        #expect(try Self.parse(shortA).get().answers == ["example.com A 60 (3 bytes)"])
    }

    @Test func questionsAndRecordsAreBounded() throws {
        func questions(_ count: Int) -> MessageBuilder {
            var message = MessageBuilder(questions: count)
            for _ in 0..<count { message.bytes += [0, 0, 1, 0, 1] }
            return message
        }
        #expect(try Self.parse(questions(DNSMessage.maxQuestions)).get().questions.count == DNSMessage.maxQuestions)
        #expect(Self.failure(questions(DNSMessage.maxQuestions + 1)) == .tooManyQuestions)
        // 200 answers, 50 authority and 50 additional records: 256 walked, 44 counted.
        var message = MessageBuilder(questions: 0, answers: 200, authorities: 50, additionals: 50)
        for index in 0..<300 {
            message.bytes.append(0)
            message.record(type: 1, rdata: [10, 0, UInt8(index >> 8), UInt8(index & 0xff)])
        }
        let rendered = try Self.parse(message).get()
        #expect(rendered.answers.count == 200 && rendered.authorities.count == 50 && rendered.additionals.count == 6)
        #expect(rendered.unwalked == 44 && rendered.additionals.last == ". A 60 10.0.0.255")
    }

    /// What arrives on a DNS port that is not DNS is refused, not misread.
    @Test func otherProtocols() {
        let http = Array("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n".utf8)
        #expect(RenderedMessage.parse(http) == .failure(.tooManyQuestions))
        // A TLS ClientHello's first bytes (record header, handshake header, version, random):
        // QDCOUNT 1, and the random's first byte 0x5a has the label type 01.
        let tls: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03] + [UInt8](repeating: 0x5a, count: 32)
        #expect(RenderedMessage.parse(tls) == .failure(.badLabel))
    }
}
