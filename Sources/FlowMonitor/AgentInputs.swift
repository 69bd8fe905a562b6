import Agent
import Capture

#if canImport(Glibc)
import Glibc
#endif

/// The inventory and policy inputs a live capture follows: the files, watched with inotify
/// (`FileWatcher`), and the `--pods` watch stream (`PodWatchStream`). `poll` is asked once a
/// turn of the capture loop and says when to reload: after `quiet` with no further change
/// (a burst of renames, or the first listing of a watch stream, reloads once).
final class AgentInputs {
    let watcher: FileWatcher?
    let stream: PodWatchStream?
    let quiet: Int64
    /// The changes not reloaded yet, and the time of the last one (monotonic clock, ns).
    private var pending: [String] = []
    private var lastChange: Int64 = 0
    /// The inputs are looked at every 20 ms at most (the capture loop turns per batch of packets).
    private var nextLook: Int64 = 0
    static let lookInterval: Int64 = 20_000_000

    /// Watches what `configuration` names; a stream (`podsAreStreamed`) is opened here, before
    /// privileges are dropped, and read from `start()`.
    init(_ configuration: AgentConfiguration, quietMilliseconds: Int64 = 200) throws(AgentError) {
        self.quiet = quietMilliseconds * 1_000_000
        var files = [configuration.namespaces, configuration.nodes, configuration.services].compactMap { $0 } + configuration.identities
        if let pods = configuration.pods, !configuration.podsAreStreamed { files.insert(pods, at: 0) }
        var directories: [String] = []
        for path in configuration.policyPaths {
            var info = stat()
            if stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR { directories.append(path) } else { files.append(path) }
        }
        self.watcher = files.isEmpty && directories.isEmpty ? nil
            : FileWatcher(files: files, directories: directories, extensions: PolicyLoader.fileExtensions.sorted())
        self.stream = try configuration.podsAreStreamed ? configuration.pods.map { path throws(AgentError) in
            try PodWatchStream(path: path)
        } : nil
    }

    func start() { self.stream?.start() }

    /// The watch stream's pods now (empty without one).
    var streamedPods: [Pod] { self.stream?.pods ?? [] }

    /// What changed since the last call: messages to show, objects refused, and the reason to
    /// reload now (`pods.json changed`), once the inputs have been quiet for `quiet`.
    func poll() -> (messages: [PodWatchStream.Message], rejected: Int, reload: String?) {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        let now = Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
        guard now >= self.nextLook else { return ([], 0, nil) }
        self.nextLook = now + Self.lookInterval
        var changed = self.watcher?.changes() ?? []
        var messages: [PodWatchStream.Message] = []
        var rejected = 0
        if let stream = self.stream {
            let changes = stream.take()
            messages = changes.messages
            rejected = changes.rejected
            if changes.podsChanged { changed.append(stream.source) }
        }
        if !changed.isEmpty {
            self.lastChange = now
            for name in changed where !self.pending.contains(name) { self.pending.append(name) }
        }
        guard !self.pending.isEmpty, now - self.lastChange >= self.quiet else { return (messages, rejected, nil) }
        let reason = self.pending.count <= 3 ? self.pending.joined(separator: ", ") : "\(self.pending.prefix(3).joined(separator: ", ")) and \(self.pending.count - 3) more"
        self.pending.removeAll()
        return (messages, rejected, "\(reason) changed")
    }

    /// A reload is about to read every input: the changes noticed so far are part of it.
    func reloaded() {
        _ = self.watcher?.changes()
        self.pending.removeAll()
    }
}
