import Foundation
import Output
import Testing

#if canImport(Glibc)
import Glibc
#endif

struct JSONLinesOutputTests {
    /// The CPU time of the calling thread, in seconds.
    static func threadCPUSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// A non-blocking pipe whose reader starts reading only after 1.5 s: the writer gets EAGAIN
    /// once the pipe's 64 KiB are full, and must wait for room in poll(2), not retry write(2)
    /// in a loop (which burns a core for as long as the reader is slow). Every line arrives.
    @Test func aFullNonBlockingPipeIsWaitedOnNotSpunOn() throws {
        var descriptors: [Int32] = [0, 0]
        try #require(pipe(&descriptors) == 0)
        let (readEnd, writeEnd) = (descriptors[0], descriptors[1])
        defer { close(readEnd) }
        try #require(fcntl(writeEnd, F_SETFL, fcntl(writeEnd, F_GETFL) | O_NONBLOCK) == 0)

        final class Count: @unchecked Sendable { var bytes = 0 }  // the reader's until `done`
        let received = Count()
        let done = DispatchSemaphore(value: 0)
        let reader = Thread {
            usleep(1_500_000)
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress!, $0.count) }
                if count > 0 { received.bytes += count } else if count == 0 || errno != EINTR { break }
            }
            done.signal()
        }
        reader.start()

        let output = JSONLinesOutput(fileDescriptor: writeEnd, name: "pipe")
        output.flushThreshold = .max
        let lines = 1024  // 1 MiB: 16 times what the pipe holds
        let line = [UInt8](repeating: UInt8(ascii: "7"), count: 1023)  // and the newline: 1 KiB
        for _ in 0..<lines {
            line.withUnsafeBytes { output.buffer.append(raw: $0) }
            try output.endLine()
        }
        let cpuBefore = Self.threadCPUSeconds()
        let wallBefore = Date()
        try output.flush()
        let cpu = Self.threadCPUSeconds() - cpuBefore
        let wall = Date().timeIntervalSince(wallBefore)
        close(writeEnd)
        done.wait()

        #expect(received.bytes == lines * 1024)
        #expect(output.linesWritten == UInt64(lines))
        #expect(wall > 1, "the reader held the writer back")
        // Spinning costs the writer about as much CPU as it waited (whatever share of a core the
        // machine gives it); waiting in poll(2) costs a few milliseconds of copying.
        #expect(cpu < 0.1, "the writer used \(cpu) s of CPU while it waited \(wall) s for its reader")
    }
}
