import Capture

/// Which of the node's interfaces a capture observes (`CaptureRun.Configuration.observation`).
package enum ObservationScope: Sendable, Equatable {
    /// The pods' interfaces (no `--interface`).
    case podFacing
    /// Every interface but bridge and overlay devices (`--interface any`).
    case all
    /// Those named (`--interface` given several times).
    case named([String])

    /// The scope for the `--interface` values given: none, `any`, or several; nil for one
    /// named interface (captured on its own, as tcpdump does). `any` with others is refused.
    package static func forInterfaces(_ names: [String]) throws(CaptureError) -> ObservationScope? {
        if names.isEmpty { return .podFacing }
        if names.contains("any") {
            guard names.count == 1 else {
                throw CaptureError(.invalidOption, "'--interface any' covers every interface: give it alone, or name the interfaces without it")
            }
            return .all
        }
        return names.count == 1 ? nil : .named(names)
    }
}
