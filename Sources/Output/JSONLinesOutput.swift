#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why output could not be written. `description` is the one-line message for the CLI.
public struct OutputError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// True when the reader went away (EPIPE): not a fault of flowmon's.
    public var isBrokenPipe: Bool
    public var description: String { self.message }
}

/// Writes whole JSON lines to a file descriptor. Records are assembled in one reusable
/// `JSONBuffer`; the buffer is written out only between records, so a reader never sees
/// half a line, and short writes and `EINTR` are retried.
public final class JSONLinesOutput {
    public var buffer = JSONBuffer()
    private let fileDescriptor: Int32
    private let closeWhenDone: Bool
    /// Where the lines go, for messages ("standard output" or the path).
    public let name: String
    /// Flush once this many bytes are pending.
    public var flushThreshold = 1 << 16
    public private(set) var linesWritten: UInt64 = 0

    /// Lines go to an already open descriptor (standard output is 1).
    public init(fileDescriptor: Int32, name: String) {
        self.fileDescriptor = fileDescriptor
        self.closeWhenDone = false
        self.name = name
    }

    /// Creates or truncates `path`.
    public init(path: String) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw OutputError(message: "cannot open output file \(path): \(String(cString: strerror(errno)))",
                              isBrokenPipe: false)
        }
        self.fileDescriptor = fd
        self.closeWhenDone = true
        self.name = path
    }

    deinit {
        if self.closeWhenDone { close(self.fileDescriptor) }
    }

    /// Ends the record being assembled and writes pending lines if enough have gathered.
    public func endLine() throws(OutputError) {
        self.buffer.append(byte: UInt8(ascii: "\n"))
        self.linesWritten &+= 1
        if self.buffer.count >= self.flushThreshold { try self.flush() }
    }

    /// Writes every pending line.
    public func flush() throws(OutputError) {
        let bytes = self.buffer.bytes
        var offset = 0
        while offset < bytes.count {
            let written = write(self.fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                let code = errno
                if code == EINTR || code == EAGAIN { continue }
                self.buffer.removeAll()
                if code == EPIPE {
                    throw OutputError(message: "\(self.name) was closed by its reader (broken pipe); stopping",
                                      isBrokenPipe: true)
                }
                throw OutputError(message: "cannot write to \(self.name): \(String(cString: strerror(code)))",
                                  isBrokenPipe: false)
            }
            offset += written
        }
        self.buffer.removeAll()
    }
}
