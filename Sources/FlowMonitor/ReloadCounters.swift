import Synchronization

/// How many times a live capture reloaded its inventory and policies, and how many changes it
/// refused (`stats.agent`): counted by the capture thread, read by the writer of `stats`.
package final class ReloadCounters: Sendable {
    private let reloads = Atomic<UInt64>(0)
    private let errors = Atomic<UInt64>(0)

    package init() {}

    func reloaded() { self.reloads.add(1, ordering: .relaxed) }

    func refused(_ count: Int = 1) { self.errors.add(UInt64(count), ordering: .relaxed) }

    var counts: (reloads: UInt64, errors: UInt64) {
        (self.reloads.load(ordering: .relaxed), self.errors.load(ordering: .relaxed))
    }
}
