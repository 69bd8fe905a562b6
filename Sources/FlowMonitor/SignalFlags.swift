import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// SIGINT/SIGTERM (stop) and SIGHUP (reload), delivered through Dispatch so the handlers run
/// outside the signal context. `cancel()` when done: each handler holds its `SignalFlags`.
package final class SignalFlags: @unchecked Sendable {
    /// The stop signal received (0 before one).
    private let stop = Atomic<Int32>(0)
    private let reload = Atomic<Bool>(false)
    private let queue = DispatchQueue(label: "flowmon.signals")
    private var sources: [DispatchSourceSignal] = []

    /// Catches `signals`; `onStop` runs (on the signal queue) at SIGINT or SIGTERM.
    package init(_ signals: [Int32], onStop: @escaping @Sendable () -> Void = {}) {
        for number in signals {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: self.queue)
            source.setEventHandler { [self] in
                if number == SIGHUP {
                    self.reload.store(true, ordering: .releasing)
                } else {
                    _ = self.stop.compareExchange(expected: 0, desired: number, ordering: .acquiringAndReleasing)
                    onStop()
                }
            }
            source.resume()
            self.sources.append(source)
        }
    }

    /// Stops catching (the signals stay ignored).
    package func cancel() { self.sources.forEach { $0.cancel() } }

    package var stopRequested: Bool { self.stop.load(ordering: .acquiring) != 0 }

    /// The first SIGINT or SIGTERM received, if any.
    var stopSignal: Int32? {
        let number = self.stop.load(ordering: .acquiring)
        return number == 0 ? nil : number
    }

    func takeReload() -> Bool { self.reload.exchange(false, ordering: .acquiringAndReleasing) }

    /// `SIGINT`, `SIGTERM`, ... for messages.
    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGHUP: "SIGHUP"
        default: "signal \(number)"
        }
    }
}
