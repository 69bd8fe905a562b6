import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A watch stream of pods (`kubectl get pods -A --watch --output-watch-events -o json`) read
/// from standard input or a FIFO on a thread of its own, as it arrives: `JSONObjectScanner`
/// cuts it into objects, `PodWatchSet` applies them. The capture loop takes what changed with
/// `take()` and the pods with `pods` when it reloads.
///
/// A FIFO is opened at once without waiting for a writer, and kept open: when its writer goes
/// away (a sidecar's kubectl restarts, as `kubectl --watch` does when its watch times out) the
/// end is reported and the next writer's objects are applied to the same pods. Standard input
/// ends once: the end is reported and the pods are kept.
package final class PodWatchStream: Sendable {
    /// Something to tell the user.
    package enum Message: Equatable, Sendable {
        case info(String)
        case warning(String)
        /// An object that was skipped (the stream continues).
        case error(String)
    }

    /// What happened since the last `take()`.
    package struct Changes: Sendable {
        package var messages: [Message] = []
        /// Whether the pods changed.
        package var podsChanged = false
        /// Objects that were skipped (not valid, cut short or too long).
        package var rejected = 0
    }

    private struct State: Sendable {
        var set: PodWatchSet
        var changes = Changes()
    }

    /// The stream's name in messages: the FIFO's path, or `standard input`.
    package let source: String
    private let descriptor: Int32
    private let isStandardInput: Bool
    private let state: Mutex<State>

    /// Whether `path` names a watch stream rather than a file: `-` (standard input) or a FIFO.
    package static func isStream(_ path: String) -> Bool {
        if path == "-" { return true }
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFIFO
    }

    /// Opens the stream (a FIFO without waiting for its writer); call `start()` to read it.
    package init(path: String) throws(AgentError) {
        self.isStandardInput = path == "-"
        self.source = self.isStandardInput ? "standard input" : path
        if self.isStandardInput {
            self.descriptor = STDIN_FILENO
        } else {
            let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard descriptor >= 0 else {
                throw AgentError(file: path, message: "cannot open the watch stream: \(String(cString: strerror(errno)))")
            }
            self.descriptor = descriptor
        }
        self.state = Mutex(State(set: PodWatchSet(source: self.source)))
    }

    /// Starts the reading thread (it runs until standard input ends, or for the process's life).
    package func start() {
        let thread = Thread { [self] in self.read() }
        thread.name = "flowmon-pod-watch"
        thread.start()
    }

    /// The pods as the stream has them now.
    package var pods: [Pod] { self.state.withLock { $0.set.pods } }

    /// What changed since the last call.
    package func take() -> Changes {
        self.state.withLock { state in
            let changes = state.changes
            state.changes = Changes()
            return changes
        }
    }

    private func read() {
        var scanner = JSONObjectScanner()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var writerConnected = false
        while true {
            let count = buffer.withUnsafeMutableBytes { Glibc.read(self.descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                writerConnected = true
                for piece in scanner.feed(buffer[0..<count]) { self.handle(piece) }
            } else if count == 0 {
                // End of file: standard input is done; a FIFO has no writer (yet, or any more).
                if writerConnected {
                    writerConnected = false
                    if scanner.isInsideObject { self.handle(.truncated(line: scanner.unfinishedLine)) }
                    scanner = JSONObjectScanner()
                    self.ended()
                }
                if self.isStandardInput { return }
                usleep(100_000)
            } else if errno == EAGAIN {
                var descriptor = pollfd(fd: self.descriptor, events: Int16(POLLIN), revents: 0)
                _ = poll(&descriptor, 1, 1000)
            } else if errno != EINTR {
                let reason = String(cString: strerror(errno))
                self.state.withLock { $0.changes.messages.append(.warning("\(self.source): cannot read the watch stream: \(reason); keeping the pods it gave")) }
                return
            }
        }
    }

    private func handle(_ piece: JSONObjectScanner.Piece) {
        self.state.withLock { state in
            let source = state.set.source
            switch piece {
            case .object(let bytes, let line):
                do throws(AgentError) {
                    switch try state.set.apply(bytes, line: line) {
                    case .changed: state.changes.podsChanged = true
                    case .unchanged: break
                    case .warning(let message): state.changes.messages.append(.warning(message))
                    }
                } catch {
                    state.changes.rejected += 1
                    for line in error.lines { state.changes.messages.append(.error("skipped: \(line)")) }
                }
            case .truncated(let line):
                state.changes.rejected += 1
                state.changes.messages.append(.error("skipped: \(source): the object from line \(line) was cut short"))
            case .tooLong(let line):
                state.changes.rejected += 1
                state.changes.messages.append(.error("skipped: \(source): the object from line \(line) is longer than \(JSONObjectScanner().maximumObjectSize >> 20) MiB"))
            case .stray(let line):
                state.changes.messages.append(.warning("\(source): line \(line): text outside a JSON object, skipped up to the next object"))
            }
        }
    }

    private func ended() {
        self.state.withLock { state in
            let pods = state.set.count
            let kept = "keeping the \(pods) pod\(pods == 1 ? "" : "s") it gave"
            let next = self.isStandardInput ? "" : "; waiting for a new writer"
            state.changes.messages.append(.info("\(state.set.source): end of the watch stream; \(kept)\(next)"))
        }
    }
}
