import L7

/// The `dns` fuzz target: the input is a payload of a DNS port as the capture pipeline hands
/// it to the DNS parser, read both ways: as one UDP payload, and as a TCP segment of
/// length-prefixed messages (`DNSOverTCP`), whole and cut in two (`DNSStreamAssembler`).
/// Every message that parses is read entirely, names as text included. A violated rule traps,
/// as a crash would: the frames cover the segment exactly, and cut in two the stream gives the
/// same messages; iteration yields what the header announces (less what was not walked); every
/// name obeys RFC 1035's limits and equals itself and its own text; a message read to its last byte fails as `dns.truncated` when cut where
/// byte 0 says. Returns true when the input, or one of its TCP frames, is a DNS message.
package final class DNSHarness {
    package init() {}

    package func run(_ data: UnsafeRawBufferPointer) -> Bool {
        var parsed = false
        if case .success(let message) = DNSMessage.parse(data) {
            parsed = true
            Self.walk(message)
            if message.walkedEnd == data.count, message.unwalkedRecords == 0, let first = data.first {
                let cut = Int(first) * data.count / 256
                let prefix = DNSMessage.parse(UnsafeRawBufferPointer(rebasing: data[..<cut]))
                guard case .failure(.truncated) = prefix else { preconditionFailure("cut at \(cut) of \(data.count): \(prefix)") }
            }
        }
        var covered = 0
        var partials = 0
        var messages: [[UInt8]] = []
        for frame in DNSOverTCP(segment: data) {
            precondition(partials == 0, "a frame after a partial one")
            switch frame {
            case .message(let bytes):
                covered += 2 + bytes.count
                messages.append(Array(bytes))
                if case .success(let message) = DNSMessage.parse(bytes) {
                    parsed = true
                    Self.walk(message)
                }
            case .partial(let length, let received):
                partials += 1
                precondition(length.map { received < $0 } ?? (received == 0))
                covered += length == nil ? 1 : 2 + received
            }
        }
        precondition(covered == data.count, "frames cover \(covered) of \(data.count) bytes")
        Self.checkAssembly(data, messages: messages)
        return parsed
    }

    /// The same bytes as a stream cut in two where byte 0 says (across a sequence-number wrap):
    /// the assembler yields exactly the messages of the whole, and a message left incomplete
    /// stays held until the direction ends.
    static func checkAssembly(_ data: UnsafeRawBufferPointer, messages: [[UInt8]]) {
        let cut = Int(data.first ?? 0) * data.count / 256
        let sequence = UInt32.max - 100
        var assembler = DNSStreamAssembler<Int>()
        var assembled: [[UInt8]] = []
        assembler.feed(UnsafeRawBufferPointer(rebasing: data[..<cut]), wireLength: cut, sequence: sequence, key: 0, time: 0) {
            assembled.append(Array($0))
        }
        let rest = UnsafeRawBufferPointer(rebasing: data[cut...])
        assembler.feed(rest, wireLength: rest.count, sequence: sequence &+ UInt32(cut), key: 0, time: 0) {
            assembled.append(Array($0))
        }
        precondition(assembled == messages, "cut at \(cut): \(assembled.count) messages, \(messages.count) in one piece")
        precondition(assembler.counters.gaps == 0 && assembler.count <= 1)
        assembler.end(0)
        precondition(assembler.count == 0)
    }

    static func walk(_ message: DNSMessage) {
        precondition(message.walkedEnd <= message.bytes.count && message.questionCount <= DNSMessage.maxQuestions)
        _ = (message.rcodeName, message.opcode, message.isTruncated, message.isResponse)
        var questions = 0
        for question in message.questions {
            Self.check(question.name)
            _ = rrtypeName(question.rrtype)
            questions += 1
        }
        precondition(questions == message.questionCount)
        var records = 0
        for section in 0..<3 {
            let sequence = section == 0 ? message.answers : section == 1 ? message.authorities : message.additionals
            for record in sequence {
                Self.check(record.name)
                _ = rrtypeName(record.rrtype)
                precondition(record.rdata.count == record.rdataRange.count && record.rdataRange.upperBound <= message.walkedEnd)
                if let address = record.ipv4 { precondition(address.isIPv4 && record.rdata.count == 4) }
                if record.ipv6 != nil { precondition(record.rrtype == 28 && record.rdata.count == 16) }
                if let target = record.target {
                    Self.check(target)
                    precondition(target.offset == record.rdataRange.lowerBound)
                }
                records += 1
            }
        }
        precondition(records + message.unwalkedRecords == message.answerCount + message.authorityCount + message.additionalCount)
        precondition(records <= DNSMessage.maxRecords)
    }

    static func check(_ name: DNSName) {
        var wireLength = 1
        var labels = 0
        for label in name.labels {
            precondition((1...63).contains(label.count))
            wireLength += 1 + label.count
            labels += 1
        }
        precondition(wireLength <= DNSName.maxWireLength && name.isRoot == (labels == 0))
        let text = name.text
        precondition(!text.isEmpty && text.utf8.count <= 4 * DNSName.maxWireLength)
        precondition(name.isEqual(to: name))
        // Text without escapes names the same labels (isEqual(toText:) reads no escape).
        if !text.utf8.contains(UInt8(ascii: "\\")) { precondition(name.isEqual(toText: text), "\(text)") }
    }
}
