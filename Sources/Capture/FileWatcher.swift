#if canImport(Glibc)
import Glibc
#endif

/// Tells which watched files changed, through inotify(7), without blocking: the capture loop
/// asks once a turn. Each file is watched through its directory, not itself, because tools
/// replace a file by renaming a new one over it (a watch on the file would stay on the old
/// inode): a name counts when a writer closes it (`IN_CLOSE_WRITE`), when a file is renamed to
/// it (`IN_MOVED_TO`) or when it is created as a symbolic link. A Kubernetes ConfigMap or
/// Secret volume swaps all its files at once by renaming its `..data` link; that counts as a
/// change of every watched file in the directory. A watched directory (`--policies DIR`) is
/// watched with its subdirectories, as the policy loader walks them, and also counts files
/// deleted or renamed away; only entries with one of `extensions` count (editors' swap and
/// backup files do not), and new subdirectories are watched as they appear.
///
/// An event says that something happened, not that the writer is done: callers wait for a
/// quiet moment (`debounce`) and must expect a half-written file.
package final class FileWatcher {
    private struct Watched {
        var directory: String
        /// The watched files' names in `directory`, each with the path it was given as; empty
        /// for a watched directory (every entry with an extension counts).
        var files: [String: String]
        var isTree: Bool
    }

    private let descriptor: Int32
    private let extensions: Set<String>
    private var watches: [Int32: Watched] = [:]
    /// Where events are read into (inotify(7): room for at least one event with the longest name).
    private let buffer = UnsafeMutableRawPointer.allocate(byteCount: FileWatcher.bufferSize,
                                                          alignment: MemoryLayout<inotify_event>.alignment)
    private static let bufferSize = 64 << 10
    /// Problems met while adding watches (a directory that does not exist, the inotify limits):
    /// what is not watched still reloads on SIGHUP.
    package private(set) var warnings: [String] = []

    /// ConfigMap volumes' atomic writer renames this link to publish a new set of files.
    static let configMapDataLink = "..data"
    private static let fileMask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)
    private static let treeMask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_MOVED_FROM | IN_DELETE)

    /// Watches `files` (through their directories) and `directories` (with their
    /// subdirectories, entries ending in one of `extensions`, compared without case).
    package init(files: [String], directories: [String], extensions: [String]) {
        self.descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        self.extensions = Set(extensions.map { $0.lowercased() })
        guard self.descriptor >= 0 else {
            self.warnings.append("cannot watch the inventory and policy files (inotify: \(Self.errorText())); SIGHUP reloads them")
            return
        }
        for file in files {
            let (directory, name) = Self.split(file)
            // One watch per directory (inotify gives the same one for the same inode).
            if let descriptor = self.add(directory, mask: Self.fileMask, for: file) {
                self.watches[descriptor, default: Watched(directory: directory, files: [:], isTree: false)].files[name] = file
            }
        }
        for directory in directories { self.addTree(directory) }
    }

    deinit {
        if self.descriptor >= 0 { close(self.descriptor) }
        self.buffer.deallocate()
    }

    /// The paths that changed since the last call (watched files as they were given, entries of
    /// watched directories as full paths), each once, in the order first seen; empty when
    /// nothing happened. Never blocks.
    package func changes() -> [String] {
        guard self.descriptor >= 0 else { return [] }
        var changed: [String] = []
        func note(_ path: String) { if !changed.contains(path) { changed.append(path) } }
        let buffer = self.buffer
        while true {
            let count = read(self.descriptor, buffer, Self.bufferSize)
            guard count > 0 else { break }  // EAGAIN: nothing more now
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = buffer.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)
                let name = event.len > 0 ? String(cString: nameStart) : ""
                offset += MemoryLayout<inotify_event>.size + Int(event.len)
                if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    // Events were lost: count everything watched as changed.
                    for watched in self.watches.values {
                        if watched.isTree { note(watched.directory) } else { watched.files.values.forEach(note) }
                    }
                    continue
                }
                if event.mask & UInt32(IN_IGNORED) != 0 {
                    self.watches[event.wd] = nil  // the directory was removed
                    continue
                }
                guard let watched = self.watches[event.wd], !name.isEmpty else { continue }
                let path = watched.directory + "/" + name
                let isDirectory = event.mask & UInt32(IN_ISDIR) != 0
                // A created entry counts when it is complete at once: a symbolic link, or (in a
                // tree) a directory, which is watched from now on. A created file counts when
                // its writer closes it.
                if event.mask & UInt32(IN_CREATE) != 0 && !isDirectory && !Self.isSymbolicLink(path) { continue }
                if let file = watched.files[name] {
                    note(file)
                } else if name == Self.configMapDataLink {
                    watched.files.values.sorted().forEach(note)
                    if watched.isTree { note(path) }
                } else if watched.isTree {
                    if isDirectory {
                        if event.mask & UInt32(IN_CREATE | IN_MOVED_TO) != 0 { self.addTree(path) }
                        note(path)
                    } else if let dot = name.lastIndex(of: "."),
                              self.extensions.contains(name[name.index(after: dot)...].lowercased()) {
                        note(path)
                    }
                }
            }
        }
        return changed
    }

    /// Watches `directory` and every directory under it.
    private func addTree(_ directory: String) {
        guard let descriptor = self.add(directory, mask: Self.treeMask, for: directory),
              self.watches[descriptor]?.isTree != true else { return }  // already walked (or a link loop)
        self.watches[descriptor, default: Watched(directory: directory, files: [:], isTree: false)].isTree = true
        guard let stream = opendir(directory) else { return }
        defer { closedir(stream) }
        while let entry = readdir(stream) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name != ".", name != ".." else { continue }
            let path = directory + "/" + name
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { self.addTree(path) }
        }
    }

    private func add(_ directory: String, mask: UInt32, for path: String) -> Int32? {
        let descriptor = inotify_add_watch(self.descriptor, directory, mask | UInt32(IN_MASK_ADD))
        guard descriptor >= 0 else {
            self.warnings.append("cannot watch \(path) for changes (inotify on \(directory): \(Self.errorText())); SIGHUP reloads it")
            return nil
        }
        return descriptor
    }

    /// A file's directory and name: `a/b/pods.json` → (`a/b`, `pods.json`), `pods.json` → (`.`, `pods.json`).
    static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    private static func isSymbolicLink(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFLNK
    }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}
