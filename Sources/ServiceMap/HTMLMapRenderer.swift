/// Writes a `ServiceMap` as one self-contained HTML page: inline CSS, the map's data as inline
/// JSON, and an inline script that lays it out and draws it as SVG in the browser. It loads
/// nothing (its Content-Security-Policy forbids it), so it opens from a file, offline, or as a CI
/// artifact; the same map always gives the same bytes, and the script lays out without randomness,
/// so the same page is always drawn the same way.
///
/// What the page shows (`docs/usage.md`, "Service map"):
/// - Namespaces collapsed into one node each (`cluster`, `world` and `addresses` too when they hold
///   more than `expandedGroupLimit` nodes); a click on one shows its workloads in a box, a click
///   on the box's heading collapses it again. Arrows join what is shown: one per source,
///   destination and verdict, their width by connections or bytes (log scale), their colour by
///   `EdgeVerdict` (forwarded, audit, dropped), explained by the legend.
/// - Filters (namespace: only its traffic; verdict; port) and a search box (a workload, pod-less
///   node or namespace name: expands its namespace, highlights it and centres the view on it).
/// - Labels that never overlap: node boxes are sized to their measured text; namespace boxes are
///   placed around an ellipse that grows until no two come close (`groupGap`); workloads sit in a
///   grid inside their box. An arrow's label (`443/TCP ×12`, or `3 services ×40`) is measured
///   and put at the first spot along its curve that touches no box, heading or earlier label
///   (busiest arrows first, the 60 busiest only); where none is free it is not drawn, and
///   hovering the arrow shows it.
///
/// Elements carry `data-` attributes for scripts and tests: nodes `g.node` with `data-node`
/// (node id, or `ns:shop` for a collapsed group) and `data-group`; open groups' boxes `g.group`
/// and headings `text.heading` with `data-group`; arrows `g.link` with `data-verdict` (`forwarded`, `audit`, `dropped`),
/// `data-source`, `data-destination`, `data-connections`, `data-bytes`, `data-services`
/// (`53/UDP 8080/TCP`), `data-rendered-stroke`; every text of the map (node titles, subtitles,
/// group headings, arrow labels) has class `label`. After each drawing `<body>` has
/// `data-ready="true"`, `data-ready-ms` (from navigation start to the end of the first
/// drawing), `data-render-ms` (the last drawing alone), `data-rendered-nodes`,
/// `data-rendered-links`, `data-labels-shown`, `data-labels-hidden`, `data-expanded`
/// (the groups shown open) and, after a search, `data-found`. Every name from outside is
/// escaped for its context (`MapEscaping`): HTML text and attributes, and the JSON the script reads.
package enum HTMLMapRenderer {
    /// Groups other than namespaces start open when they hold at most this many nodes.
    package static let expandedGroupLimit = 8

    /// The page. `source` names the input in the heading (a file name).
    package static func render(_ map: ServiceMap, source: String) -> String {
        let h = MapEscaping.html
        let s = MapEscaping.scriptJSONString
        let nodeByID = Dictionary(uniqueKeysWithValues: map.nodes.map { ($0.id, $0) })
        let groupIndex = Dictionary(uniqueKeysWithValues: map.groups.enumerated().map { ($1, $0) })
        let nodeIndex = Dictionary(uniqueKeysWithValues: map.nodes.enumerated().map { ($1.id, $0) })
        var out = ""
        out.reserveCapacity(64 * 1024 + map.edges.count * 1024)

        let dropped = map.wouldBeDroppedConnections
        var summary = "\(map.groups.filter { $0.kind == .namespace }.count) namespaces · \(map.nodes.count) node\(map.nodes.count == 1 ? "" : "s") · \(map.edges.count) edge\(map.edges.count == 1 ? "" : "s") · \(map.flowCount) connection\(map.flowCount == 1 ? "" : "s")"
        if map.hasVerdicts {
            summary += " · \(dropped) would be dropped"
        } else {
            summary += " · no policy verdicts in the input (give --policies to see them)"
        }
        if !map.hasEndpoints && map.flowCount > 0 {
            summary += " · no endpoints in the input (give --pods to see workloads)"
        }
        let services = Set(map.edges.map(\.service)).sorted()
        let verdictKeys = EdgeVerdict.allCases.map { verdict in
            "<label class=\"key\"><input type=\"checkbox\" id=\"show-\(verdict.rawValue)\" checked><svg width=\"30\" height=\"10\" aria-hidden=\"true\"><line x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\" stroke=\"\(verdict.color)\" stroke-width=\"3\"/></svg>\(h(verdict.title))</label>"
        }.joined(separator: "\n")

        out += """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'">
            <meta name="generator" content="flowmon map">
            <title>flowmon map: \(h(source))</title>
            <style>\(Self.css)</style>
            </head>
            <body data-nodes="\(map.nodes.count)" data-edges="\(map.edges.count)" data-links="\(map.links.count)" data-connections="\(map.flowCount)">
            <header>
            <h1>flowmon service map <span class="source">\(h(source))</span></h1>
            <p class="summary" id="summary">\(h(summary))</p>
            <div class="controls">
            <label>find <input type="search" id="search" list="names" placeholder="workload or namespace" autocomplete="off"></label>
            <datalist id="names"></datalist>
            <label>namespace <select id="filter-namespace"><option value="">all</option>
            """
        for group in map.groups where group.kind == .namespace {
            out += "<option value=\"\(h(group.id))\">\(h(group.name))</option>"
        }
        out += "</select></label>\n<label>port <select id=\"filter-port\"><option value=\"\">all</option>"
        for service in services { out += "<option>\(h(service.description))</option>" }
        out += """
            </select></label>
            <label>width by <select id="width-by"><option value="connections">connections</option><option value="bytes">bytes</option></select></label>
            <button type="button" id="expand-all">expand all</button>
            <button type="button" id="collapse-all">collapse all</button>
            <button type="button" id="fit">fit</button>
            </div>
            <div class="legend">
            \(verdictKeys)
            <span class="key"><span class="swatch namespace"></span>namespace (click to expand)</span>
            <span class="key"><span class="swatch workload"></span>workload or pod</span>
            <span class="key"><span class="swatch world"></span>world / CIDR / FQDN</span>
            <span class="key"><span class="swatch cluster"></span>host, nodes, reserved</span>
            <span class="key"><span class="swatch address"></span>address without inventory</span>
            <span class="hint">Arrow width: connections or bytes (log scale). Hover for details; click a namespace to expand it, its box's heading to collapse it; click a workload to follow its connections; scroll to zoom, drag to pan.</span>
            </div>
            </header>
            <main>
            <svg id="map" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="\(h("Service map: " + summary))"></svg>
            <div id="tooltip" role="tooltip" hidden></div>
            \(map.nodes.isEmpty ? "<p class=\"empty\">No flow records in the input.</p>\n" : "")</main>

            """

        // The map as JSON safe inside <script>: groups, nodes (by group index), edges (by node
        // index) and every element's hover details.
        out += "<script type=\"application/json\" id=\"map-data\">{\"expandedGroupLimit\":\(Self.expandedGroupLimit),\n\"verdicts\":{"
        out += EdgeVerdict.allCases.map { "\(s($0.rawValue)):[\(s($0.color)),\(s($0.textColor)),\(s($0.title))]" }.joined(separator: ",")
        out += "},\n\"groups\":["
        out += map.groups.map { group in
            "{\"id\":\(s(group.id)),\"name\":\(s(group.name)),\"short\":\(s(MapText.displayTitle(group.name))),\"kind\":\(s(Self.groupClass(group.kind))),\"title\":\(s(group.title))}"
        }.joined(separator: ",\n")
        out += "],\n\"nodes\":["
        out += map.nodes.map { node in
            "{\"id\":\(s(node.id)),\"g\":\(groupIndex[node.group]!),\"t\":\(s(MapText.displayTitle(node.title))),\"s\":\(s(MapText.subtitle(node))),\"k\":\(s(Self.nodeClass(node.kind))),\"d\":\(Self.json(MapDetails(node: node)))}"
        }.joined(separator: ",\n")
        out += "],\n\"edges\":["
        out += map.edges.map { edge in
            let details = MapDetails(edge: edge, source: nodeByID[edge.source], destination: nodeByID[edge.destination])
            return "{\"s\":\(nodeIndex[edge.source]!),\"t\":\(nodeIndex[edge.destination]!),\"v\":\(s(edge.verdict.rawValue)),\"p\":\(s(edge.service.description)),\"c\":\(edge.connections),\"b\":\(edge.bytes),\"d\":\(Self.json(details))}"
        }.joined(separator: ",\n")
        out += "]}</script>\n"
        out += "<script>\(Self.script)</script>\n</body>\n</html>\n"
        return out
    }

    static func groupClass(_ kind: MapGroup.Kind) -> String {
        switch kind {
        case .namespace: "namespace"
        case .cluster: "cluster"
        case .world: "world"
        case .addresses: "addresses"
        }
    }

    static func nodeClass(_ kind: MapNodeKind) -> String {
        switch kind {
        case .workload, .pod, .service: "workload"
        case .world, .cidr, .fqdn: "world"
        case .host, .remoteNode, .kubeAPIServer, .reserved, .identity: "cluster"
        case .address: "address"
        }
    }

    /// `{"h":heading,"f":[[name,value],...],"l":[[title,[items]],...]}`
    static func json(_ details: MapDetails) -> String {
        let s = MapEscaping.scriptJSONString
        let facts = details.facts.map { "[\(s($0.0)),\(s($0.1))]" }.joined(separator: ",")
        let lists = details.lists.map { "[\(s($0.0)),[\($0.1.map(s).joined(separator: ","))]]" }.joined(separator: ",")
        return "{\"h\":\(s(details.heading)),\"f\":[\(facts)],\"l\":[\(lists)]}"
    }
}
