@testable import L7
import Testing

/// DNS messages over TCP split across segments anywhere (RFC 7766 §8), assembled in sequence
/// order; retransmissions skipped, holes and cut payloads never guessed across; bounded.
@Suite struct DNSStreamAssemblerTests {
    /// The 40-record answer (dnsmasq frame 14), then two pipelined queries (frame 24), as one stream.
    static let stream = DNSFixture.dnsmasqTCP40A.bytes + DNSFixture.dnsmasqPipelinedQueries.bytes

    /// The messages of `stream` read whole, one segment.
    static var messages: [[UInt8]] {
        stream.withUnsafeBytes { buffer in
            DNSOverTCP(segment: buffer).compactMap { frame -> [UInt8]? in
                guard case .message(let bytes) = frame else { return nil }
                return Array(bytes)
            }
        }
    }

    /// Feeds `segments` (byte ranges of `stream`, with the sequence number of their first byte
    /// starting at `initial`) and returns the messages assembled.
    static func assemble(_ segments: [Range<Int>], initial: UInt32 = 1_000, into assembler: inout DNSStreamAssembler<Int>,
                         wireLengths: [Int]? = nil) -> [[UInt8]] {
        var assembled: [[UInt8]] = []
        for (index, range) in segments.enumerated() {
            let bytes = Array(stream[range])
            bytes.withUnsafeBytes { buffer in
                assembler.feed(buffer, wireLength: wireLengths?[index] ?? buffer.count,
                               sequence: initial &+ UInt32(range.lowerBound), key: 7, time: Int64(index)) {
                    assembled.append(Array($0))
                }
            }
        }
        return assembled
    }

    /// Cut in two at every position, length prefixes included, across a sequence-number wrap:
    /// the same three messages, and nothing held at the end.
    @Test func everyCutInTwoGivesTheSameMessages() {
        #expect(Self.messages.count == 3)
        for cut in 0...Self.stream.count {
            var assembler = DNSStreamAssembler<Int>()
            let assembled = Self.assemble([0..<cut, cut..<Self.stream.count], initial: UInt32.max - 150, into: &assembler)
            #expect(assembled == Self.messages, "cut at \(cut)")
            #expect(assembler.count == 0 && assembler.counters.gaps == 0)
            // A cut between two messages splits none.
            let boundaries = Self.messages.reduce(into: [0]) { $0.append($0.last! + 2 + $1.count) }
            #expect(assembler.counters.assembled == (boundaries.contains(cut) ? 0 : 1), "cut at \(cut)")
        }
    }

    /// One byte per segment: the prefix's two bytes arrive apart, every message still whole.
    @Test func oneBytePerSegment() {
        var assembler = DNSStreamAssembler<Int>()
        let assembled = Self.assemble((0..<Self.stream.count).map { $0..<($0 + 1) }, into: &assembler)
        #expect(assembled == Self.messages && assembler.counters.assembled == 3)
    }

    /// A retransmitted segment, and one overlapping what was read, add nothing twice.
    @Test func retransmissionsAreSkipped() {
        var assembler = DNSStreamAssembler<Int>()
        let assembled = Self.assemble([0..<300, 0..<300, 200..<500, 500..<Self.stream.count], into: &assembler)
        #expect(assembled == Self.messages && assembler.counters.gaps == 0)
    }

    /// A missing segment drops the message in progress (counted), and the segment after the
    /// hole is not read as the middle of anything: what starts a message again is read.
    @Test func aHoleDropsTheMessageInProgress() {
        let answerEnd = DNSFixture.dnsmasqTCP40A.bytes.count
        var assembler = DNSStreamAssembler<Int>()
        let assembled = Self.assemble([0..<100, 200..<answerEnd, answerEnd..<Self.stream.count], into: &assembler)
        #expect(assembled == Array(Self.messages[1...]))
        #expect(assembler.counters.gaps == 1 && assembler.count == 0)
    }

    /// A segment the capture cut (snapshot length): the message it ends inside is not kept.
    @Test func aCutPayloadIsAHole() {
        var assembler = DNSStreamAssembler<Int>()
        let assembled = Self.assemble([0..<100], into: &assembler, wireLengths: [400])
        #expect(assembled.isEmpty && assembler.count == 0 && assembler.counters.gaps == 1)
    }

    /// At most `maximumStreams` directions hold a partial message; a direction idle long enough
    /// gives its room to a new one; the end of a connection frees its room, and counts the
    /// message it ended inside.
    @Test func boundedAndIdleStreamsGiveWay() {
        var assembler = DNSStreamAssembler<Int>(maximumStreams: 2, idleNanoseconds: 10)
        let head = Array(Self.stream[..<50])
        head.withUnsafeBytes { buffer in
            for (key, time) in [(1, Int64(0)), (2, 5), (3, 6)] {
                assembler.feed(buffer, wireLength: buffer.count, sequence: 1, key: key, time: time) { _ in }
            }
            #expect(assembler.count == 2 && assembler.counters.incomplete == 1)
            // Key 1 (seen at 0) is idle at 12; key 2 (seen at 5) is not.
            assembler.feed(buffer, wireLength: buffer.count, sequence: 1, key: 4, time: 12) { _ in }
            #expect(assembler.count == 2 && assembler.counters.incomplete == 2)
            assembler.end(2)
            assembler.end(4)
            assembler.end(5)
            #expect(assembler.count == 0 && assembler.counters.incomplete == 4)
        }
    }
}
