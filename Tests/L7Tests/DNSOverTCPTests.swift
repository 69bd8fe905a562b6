@testable import L7
import Testing

/// Length-prefixed DNS messages in TCP segments (RFC 1035 §4.2.2, RFC 7766 §8).
@Suite struct DNSOverTCPTests {
    @Test func twoPipelinedQueriesInOneSegment() throws {
        let frames = RenderedFrame.frames(DNSFixture.dnsmasqPipelinedQueries.bytes)
        #expect(frames.count == 2)
        guard case .message(.success(let first)) = frames.first, case .message(.success(let second)) = frames.last else {
            Issue.record("frames: \(frames)")
            return
        }
        #expect(first.id == 0x76b7 && first.questions == ["www.flowmon.test A 1"])
        #expect(second.id == 0x991e && second.questions == ["www.flowmon.test AAAA 1"])
    }

    @Test func oneLargeAnswer() throws {
        let frames = RenderedFrame.frames(DNSFixture.dnsmasqTCP40A.bytes)
        guard frames.count == 1, case .message(.success(let message)) = frames[0] else {
            Issue.record("frames: \(frames)")
            return
        }
        #expect(message.answers.count == 40 && message.additionals == [". OPT 0 (0 bytes)"])
        #expect(Set(message.answers.map { $0.split(separator: " ")[3] }) == Set((1...40).map { "10.1.0.\($0)" }[...]))
        let answer = RenderedFrame.frames(DNSFixture.dnsmasqTCPAnswerA.bytes)
        guard answer.count == 1, case .message(.success(let a)) = answer[0] else {
            Issue.record("frames: \(answer)")
            return
        }
        #expect(a.id == 0x76b7 && a.answers.last == "edge.flowmon.test A 0 10.0.0.7")
    }

    /// A segment that ends inside a message reports it partial, with its length and how much
    /// of it is here (`DNSStreamAssemblerTests` joins it with what follows).
    @Test func segmentEndingInsideAMessage() {
        let answer = DNSFixture.dnsmasqTCP40A.bytes
        #expect(RenderedFrame.frames(Array(answer[..<300])) == [.partial(length: answer.count - 2, received: 298)])
        // Cut after the first query and one byte of the second's length prefix.
        let cut = DNSFixture.dnsmasqPipelinedQueries.bytes
        let firstLength = Int(cut[0]) << 8 | Int(cut[1])
        let frames = RenderedFrame.frames(Array(cut[..<(2 + firstLength + 1)]))
        #expect(frames.count == 2 && frames.last == .partial(length: nil, received: 0))
    }

    /// A zero-length message is yielded (and refused by the parser), not skipped.
    @Test func emptyMessageAndEmptySegment() {
        #expect(RenderedFrame.frames([0, 0]) == [.message(.failure(.truncated))])
        #expect(RenderedFrame.frames([]).isEmpty)
    }
}
