@testable import L7
import Testing

/// Names compared without allocation, and written as text.
@Suite struct DNSNameTests {
    /// The answers' owner names of the CNAME chain, compared with each other and with text.
    @Test func comparisons() throws {
        try DNSFixture.appleCNAMEChain.bytes.withUnsafeBytes { buffer in
            let message = try DNSMessage.parse(buffer).get()
            let query = try #require(Array(message.questions).first).name
            let answers = Array(message.answers)
            #expect(answers[0].name.isEqual(to: query) && !answers[1].name.isEqual(to: query))
            // The CNAME's target (compressed, pointing into the first answer) is the next owner name.
            for index in 0..<3 { #expect(try #require(answers[index].target).isEqual(to: answers[index + 1].name)) }
            for text in ["www.apple.com", "www.apple.com.", "WWW.Apple.COM"] { #expect(query.isEqual(toText: text), "\(text)") }
            for text in ["www.apple.co", "www.apple.comm", "apple.com", "www.apple.com.x", "www..apple.com", "", ".", "www.apple.com.."] {
                #expect(!query.isEqual(toText: text), "\(text)")
            }
            #expect(query.labels.map { String(decoding: $0, as: UTF8.self) } == ["www", "apple", "com"])
        }
        // Another message: equal across messages, case-insensitively.
        var upper = MessageBuilder(questions: 1)
        upper.name("WWW.APPLE.COM")
        upper.question()
        try upper.bytes.withUnsafeBytes { upperBuffer in
            let other = try DNSMessage.parse(upperBuffer).get()
            try DNSFixture.appleQuery.bytes.withUnsafeBytes { buffer in
                let message = try DNSMessage.parse(buffer).get()
                let mine = try #require(Array(message.questions).first)
                let theirs = try #require(Array(other.questions).first)
                #expect(mine.name.isEqual(to: theirs.name))
            }
        }
    }

    /// Lowercased; a dot or backslash in a label escaped with a backslash; other bytes outside
    /// 0x21...0x7e as \DDD, as dig writes them.
    @Test func textEscapes() throws {
        var message = MessageBuilder(questions: 2)
        message.label(Array("A b".utf8))
        message.label(Array("x.y".utf8))
        message.label([0x5c, 0xc3, 0xa9, 0x00, 0x7f, 0x7e])
        message.name("Example")
        message.question()
        message.name("")
        message.question()
        let rendered = try RenderedMessage.parse(message.bytes).get()
        #expect(rendered.questions == [#"a\032b.x\.y.\\\195\169\000\127~.example A 1"#, ". A 1"])
        try message.bytes.withUnsafeBytes { buffer in
            let parsed = try DNSMessage.parse(buffer).get()
            let names = parsed.questions.map(\.name)
            #expect(names[1].isRoot && names[1].isEqual(toText: ".") && names[1].isEqual(toText: ""))
            #expect(!names[0].isRoot && !names[0].isEqual(toText: "a b.x.y.z.example"))
        }
    }

    /// The longest name, every label a byte to escape: the text's buffer is large enough.
    @Test func longestText() throws {
        var message = MessageBuilder(questions: 1)
        for _ in 0..<3 { message.label([UInt8](repeating: 0xff, count: 63)) }
        message.label([UInt8](repeating: 0x01, count: 61))
        message.bytes.append(0)
        message.question()
        let text = try #require(try RenderedMessage.parse(message.bytes).get().questions.first)
        #expect(text.utf8.count == 4 * 250 + 3 + " A 1".count)
    }
}
