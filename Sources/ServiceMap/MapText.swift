/// The words and numbers drawn on a map, the same in the HTML page and the DOT file.
package enum MapText {
    /// Titles longer than this are cut (with an ellipsis) in a node's box.
    package static let maximumTitleCharacters = 26

    /// A title cut to fit a node box (with an ellipsis).
    package static func displayTitle(_ title: String) -> String {
        title.count <= maximumTitleCharacters ? title : String(title.prefix(maximumTitleCharacters - 1)) + "…"
    }

    /// The second line of a node's box: `Deployment · 3 pods`, `CIDR · 13 addresses`.
    package static func subtitle(_ node: MapNode) -> String {
        switch node.kind {
        case .workload, .pod:
            let pods = node.pods.count
            return "\(node.subtitle) · \(pods) pod\(pods == 1 ? "" : "s")"
        case .service:
            return node.subtitle
        case .world, .cidr, .fqdn, .address, .host, .remoteNode, .kubeAPIServer, .reserved, .identity:
            return node.addressCount > 1 ? "\(node.subtitle) · \(node.addressCount) addresses" : node.subtitle
        }
    }

    /// A number with at most one decimal, the same on every machine and locale (`12.5`, `-3`).
    package static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }
}
