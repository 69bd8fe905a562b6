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

    /// A message split over two segments is reported partial, with what is missing; the next
    /// segment, skipping that many bytes, resumes at the following length prefix.
    @Test func messageSplitAcrossSegments() {
        // The 40-record answer, then the pipelined queries, as one stream cut in three.
        let stream = DNSFixture.dnsmasqTCP40A.bytes + DNSFixture.dnsmasqPipelinedQueries.bytes
        let first = Array(stream[..<300])
        let second = Array(stream[300..<650])
        let third = Array(stream[650...])
        let answerLength = DNSFixture.dnsmasqTCP40A.bytes.count - 2
        #expect(RenderedFrame.frames(first) == [.partial(length: answerLength, received: 298)])
        first.withUnsafeBytes { buffer in
            var frames = DNSOverTCP(segment: buffer)
            let partial = frames.next()
            #expect(partial?.missing == answerLength - 298)
            #expect(frames.next() == nil)
        }
        // The second segment lies wholly inside the message: nothing to read, 37 bytes still to skip.
        second.withUnsafeBytes { buffer in
            var frames = DNSOverTCP(segment: buffer, skipping: answerLength - 298)
            #expect(frames.next() == nil)
            #expect(frames.skipRemaining == answerLength - 298 - 350)
        }
        let rest = RenderedFrame.frames(third, skipping: answerLength - 298 - 350)
        #expect(rest == RenderedFrame.frames(DNSFixture.dnsmasqPipelinedQueries.bytes))
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
        #expect(RenderedFrame.frames([0, 0], skipping: 5).isEmpty)
    }
}
