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
/// half a line, short writes and `EINTR` are retried, and a full non-blocking descriptor is
/// waited on (`EAGAIN`).
public final class JSONLinesOutput {
    public var buffer = JSONBuffer()
    private var fileDescriptor: Int32
    private let closeWhenDone: Bool
    /// The path, when writing to a file (for reopen and rotation).
    private let path: String?
    /// Bytes written to the current file.
    public private(set) var bytesWritten: Int64 = 0
    /// Where the lines go, for messages ("standard output" or the path).
    public let name: String
    /// Flush once this many bytes are pending.
    public var flushThreshold = 1 << 16
    /// Size rotation of a file output (`--rotate-size`, `--rotate-keep`); nil: none.
    public var rotation: Rotation?
    public private(set) var linesWritten: UInt64 = 0
    /// True once a write failed with EPIPE: the reader closed its end.
    public private(set) var readerWentAway = false

    /// Lines go to an already open descriptor (standard output is 1).
    public init(fileDescriptor: Int32, name: String) {
        self.fileDescriptor = fileDescriptor
        self.closeWhenDone = false
        self.name = name
        self.path = nil
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
        self.path = path
    }

    /// Writes pending lines, then reopens the file by its path (appending), so lines go to a
    /// new file after logrotate moved the old one away. Standard output is left as it is.
    public func reopen() throws(OutputError) {
        try self.flush()
        guard let path = self.path else { return }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw OutputError(message: "cannot reopen output file \(path): \(String(cString: strerror(errno)))",
                              isBrokenPipe: false)
        }
        close(self.fileDescriptor)
        self.fileDescriptor = fd
        var status = stat()
        self.bytesWritten = fstat(fd, &status) == 0 ? Int64(status.st_size) : 0
    }

    /// When a file output is moved aside and how many old ones are kept: once a line ends at or
    /// past `bytes`, the file becomes `<path>.1`, the older ones move up to `<path>.<keep>` (the
    /// oldest beyond that is replaced), and a new, empty file starts. A file is therefore never
    /// more than one line larger than `bytes`. The same scheme as Cilium's Hubble exporter
    /// (`--hubble-export-file-max-size-mb`, `--hubble-export-file-max-backups`, default 5).
    public struct Rotation: Sendable {
        public var bytes: Int64
        public var keep: Int
        public init(bytes: Int64, keep: Int) {
            self.bytes = bytes
            self.keep = keep
        }
    }

    /// Writes pending lines, moves the file to `<path>.1` (after moving `<path>.1` ... to
    /// `<path>.2` ..., keeping `keep` of them) and starts a new, empty file.
    public func rotate(keep: Int) throws(OutputError) {
        try self.flush()
        guard let path = self.path else { return }
        var generation = keep - 1
        while generation >= 1 {
            if rename(path + ".\(generation)", path + ".\(generation + 1)") != 0 && errno != ENOENT {
                throw OutputError(message: "cannot rotate \(path).\(generation): \(String(cString: strerror(errno)))",
                                  isBrokenPipe: false)
            }
            generation -= 1
        }
        guard rename(path, path + ".1") == 0 else {
            throw OutputError(message: "cannot rotate \(path): \(String(cString: strerror(errno)))", isBrokenPipe: false)
        }
        try self.reopen()
    }

    deinit {
        if self.closeWhenDone { close(self.fileDescriptor) }
    }

    /// Ends the record being assembled and writes pending lines if enough have gathered, or
    /// rotates the file when this line reached its size.
    public func endLine() throws(OutputError) {
        self.buffer.append(byte: UInt8(ascii: "\n"))
        self.linesWritten &+= 1
        if let rotation = self.rotation, self.bytesWritten + Int64(self.buffer.count) >= rotation.bytes {
            try self.rotate(keep: rotation.keep)
        } else if self.buffer.count >= self.flushThreshold {
            try self.flush()
        }
    }

    /// Writes every pending line.
    public func flush() throws(OutputError) {
        let bytes = self.buffer.bytes
        var offset = 0
        while offset < bytes.count {
            let written = write(self.fileDescriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EAGAIN || code == EWOULDBLOCK {
                    self.waitUntilWritable()
                    continue
                }
                self.buffer.removeAll()
                if code == EPIPE {
                    self.readerWentAway = true
                    throw OutputError(message: "\(self.name) was closed by its reader (broken pipe); stopping",
                                      isBrokenPipe: true)
                }
                throw OutputError(message: "cannot write to \(self.name): \(String(cString: strerror(code)))",
                                  isBrokenPipe: false)
            }
            offset += written
        }
        self.bytesWritten += Int64(bytes.count)
        self.buffer.removeAll()
    }

    /// A non-blocking descriptor is full (a standard output inherited with `O_NONBLOCK`, a pipe
    /// whose reader is slow): sleeps in poll(2) until it takes bytes again (POLLOUT, or POLLERR
    /// once the reader is gone, which the next write reports as EPIPE) instead of retrying the
    /// write at once. The wait is bounded (1 s), so a descriptor that never reports POLLOUT
    /// costs one write attempt a second rather than a hang.
    private func waitUntilWritable() {
        var descriptor = pollfd(fd: self.fileDescriptor, events: Int16(POLLOUT), revents: 0)
        _ = poll(&descriptor, 1, 1000)
    }
}
