import Foundation

/// Writes a `ServiceMap` as a Graphviz DOT digraph (`dot -Tsvg map.dot > map.svg`): one
/// cluster per group (namespace, cluster, world, addresses), one node per map node (workloads:
/// Graphviz lays out and the file is for tools, so it is not aggregated by namespace), and one
/// labelled edge per source, destination and verdict class (a line per service), coloured by verdict as
/// on the HTML page (`EdgeVerdict`: green forwarded, orange audit, red dropped), with the
/// same details as the HTML page in `tooltip` (shown by Graphviz's SVG output). Names are
/// quoted and escaped (`MapEscaping.dot`), so any name is a valid id.
package enum DOTMapRenderer {
    package static func render(_ map: ServiceMap) -> String {
        let q = { (text: String) in "\"\(MapEscaping.dot(text))\"" }
        let nodeByID = Dictionary(uniqueKeysWithValues: map.nodes.map { ($0.id, $0) })
        var summary = "\(map.nodes.count) nodes, \(map.edges.count) edges (port/protocol), \(map.flowCount) connections"
        if map.hasVerdicts { summary += ", \(map.wouldBeDroppedConnections) would be dropped" }

        var out = "// flowmon map: green edges are forwarded, orange ones audit (policy would drop them), red ones dropped.\n"
        out += "digraph \"flowmon map\" {\n"
        out += "  graph [rankdir=LR, newrank=true, nodesep=0.35, ranksep=1.1, fontname=\"Helvetica\", fontsize=12, labelloc=t, label=\(q("flowmon service map: " + summary))];\n"
        out += "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11, penwidth=1.4];\n"
        out += "  edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.7];\n"
        for group in map.groups {
            let style: (fill: String, color: String, line: String) = switch group.kind {
            case .namespace: ("#f8f9fa", "#ced4da", "rounded,filled")
            case .cluster: ("#f6f7f8", "#adb5bd", "rounded,filled,dashed")
            case .world: ("#fffaf3", "#f3c99b", "rounded,filled")
            case .addresses: ("#fcfcfc", "#ced4da", "rounded,filled,dotted")
            }
            out += "  subgraph \(q("cluster_" + group.id)) {\n"
            out += "    label=\(q(group.title)); style=\"\(style.line)\"; fillcolor=\"\(style.fill)\"; color=\"\(style.color)\"; fontsize=11;\n"
            for node in map.nodes where node.group == group {
                let (fill, color): (String, String) = switch node.kind {
                case .workload, .pod, .service: ("#e7f5ff", "#1c7ed6")
                case .world, .cidr, .fqdn: ("#fff4e6", "#e8590c")
                case .host, .remoteNode, .kubeAPIServer, .reserved, .identity: ("#f1f3f5", "#495057")
                case .address: ("#ffffff", "#868e96")
                }
                let label = MapEscaping.dot(node.title) + "\\n" + MapEscaping.dot(MapText.subtitle(node))
                out += "    \(q(node.id)) [label=\"\(label)\", fillcolor=\"\(fill)\", color=\"\(color)\""
                if node.kind == .address { out += ", style=\"rounded,filled,dashed\"" }
                out += ", tooltip=\(q(MapDetails(node: node).plainText))];\n"
            }
            out += "  }\n"
        }
        // One edge per link (source, destination, verdict class), a label line per service.
        for link in map.links {
            let verdict = map.verdict(of: link)
            let width = MapText.format(min(5, 1 + log2(Double(link.connections)) * 0.7))
            let details = MapDetails(link: link, in: map, source: nodeByID[link.source], destination: nodeByID[link.destination])
            let label = link.edges.map { MapEscaping.dot(map.edges[$0].label) }.joined(separator: "\\n")
            out += "  \(q(link.source)) -> \(q(link.destination)) [label=\"\(label)\""
            out += ", color=\"\(verdict.color)\", fontcolor=\"\(verdict.textColor)\", penwidth=\(width)"
            out += ", class=\"\(verdict.rawValue)\", tooltip=\(q(details.plainText))];\n"
        }
        out += "}\n"
        return out
    }
}
