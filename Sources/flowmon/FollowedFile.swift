import FlowLog
import Presentation

#if canImport(Glibc)
import Glibc
#endif

/// One input of `observe`: its reader, and for a followed file the file it has open, to tell
/// when the name points to another (rotated) or the file shrank (truncated).
final class FollowedFile {
    let path: String
    let follow: Bool
    private(set) var reader: FlowLogReader
    private var device: UInt64 = 0
    private var inode: UInt64 = 0

    init(path: String, follow: Bool) throws(FlowLogError) {
        self.path = path
        self.follow = follow
        self.reader = try Self.open(path, follow: follow)
        self.noteIdentity()
    }

    static func open(_ path: String, follow: Bool) throws(FlowLogError) -> FlowLogReader {
        let reader = try FlowLogReader(path: path)
        reader.keepsLines = true
        reader.waitsForMore = follow
        return reader
    }

    private func noteIdentity() {
        var status = stat()
        if fstat(self.reader.fileDescriptor, &status) == 0 {
            self.device = UInt64(status.st_dev)
            self.inode = UInt64(status.st_ino)
        }
    }

    /// Shows every record read so far; false when the output can no longer be written.
    func drain(into presenter: Presenter) throws(FlowLogError) -> Bool {
        while let event = try self.reader.nextEvent() {
            if !presenter.show(event, line: self.reader.lastLine[...]) { return false }
        }
        return true
    }

    /// How the file at `path` changed under the reader: "was replaced" (another file has the
    /// name now), "was truncated" (shorter than what was read), or nil. A name that points
    /// nowhere for now (between a rename and the new file) is no change yet.
    func change() -> String? {
        var status = stat()
        guard stat(self.path, &status) == 0 else { return nil }
        if UInt64(status.st_dev) != self.device || UInt64(status.st_ino) != self.inode { return "was replaced" }
        let offset = lseek(self.reader.fileDescriptor, 0, SEEK_CUR)
        return offset >= 0 && status.st_size < offset ? "was truncated" : nil
    }

    func reopen() throws(FlowLogError) {
        self.reader = try Self.open(self.path, follow: self.follow)
        self.noteIdentity()
    }
}
