/// Writes a `ServiceMap` as one self-contained HTML page: inline CSS, inline SVG drawn from
/// `MapLayout`, and a small inline script for hover details, focusing on a node and hiding
/// edge classes. It loads nothing (its Content-Security-Policy forbids it), so it opens from a
/// file, offline, or as a CI artifact.
///
/// Elements carry `data-` attributes for scripts and tests: `data-group` (`ns:shop`, `world`);
/// `data-node` (node id) with `data-kind`; each arrow `data-link` (`src→dst`) with
/// `data-verdict` (`allowed` or `would-be-dropped`), `data-source`, `data-destination`,
/// `data-connections`; each line of an arrow's label is one edge: a `tspan` with `data-edge`
/// (`src→dst 8080/TCP`), `data-verdict`, `data-service`, `data-connections` (edges past
/// `MapLayout.maximumLabelLines` are hidden `tspan`s, summed up as `+N more`). Once the script
/// has run, `<body>` has `data-ready="true"`, `data-rendered-nodes`, `data-rendered-links` and
/// `data-node-overlaps`, each arrow's path `data-rendered-stroke` (its computed colour) and
/// each edge `data-rendered-fill`. Every name from outside is escaped for its context
/// (`MapEscaping`): HTML text and attributes, and the JSON the script reads.
package enum HTMLMapRenderer {
    package static let allowedColor = "#2f9e44"
    package static let droppedColor = "#e03131"

    /// The page. `source` names the input in the heading (a file name).
    package static func render(_ map: ServiceMap, source: String) -> String {
        let layout = MapLayout(map)
        let nodeByID = Dictionary(uniqueKeysWithValues: map.nodes.map { ($0.id, $0) })
        let h = MapEscaping.html
        var out = ""
        out.reserveCapacity(64 * 1024 + map.edges.count * 1024)

        let dropped = map.wouldBeDroppedConnections
        var summary = "\(map.nodes.count) node\(map.nodes.count == 1 ? "" : "s") · \(map.edges.count) edge\(map.edges.count == 1 ? "" : "s") · \(map.flowCount) connection\(map.flowCount == 1 ? "" : "s")"
        if map.hasVerdicts {
            summary += " · \(dropped) would be dropped"
        } else {
            summary += " · no policy verdicts in the input (give --policies to see them)"
        }
        if !map.hasEndpoints && map.flowCount > 0 {
            summary += " · no endpoints in the input (give --pods to see workloads)"
        }

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
            <div class="legend">
            <span class="key"><svg width="34" height="10" aria-hidden="true"><line x1="1" y1="5" x2="33" y2="5" stroke="\(Self.allowedColor)" stroke-width="2.5"/></svg>allowed (FORWARDED or no verdict)</span>
            <span class="key"><svg width="34" height="10" aria-hidden="true"><line x1="1" y1="5" x2="33" y2="5" stroke="\(Self.droppedColor)" stroke-width="2.5"/></svg>would be dropped (AUDIT / DROPPED)</span>
            <span class="key"><span class="swatch workload"></span>workload or pod</span>
            <span class="key"><span class="swatch world"></span>world / CIDR</span>
            <span class="key"><span class="swatch cluster"></span>host, nodes, reserved</span>
            <span class="key"><span class="swatch address"></span>address without inventory</span>
            <label><input type="checkbox" id="show-allowed" checked> allowed</label>
            <label><input type="checkbox" id="show-dropped" checked> would be dropped</label>
            <label><input type="checkbox" id="show-labels" checked> labels</label>
            <span class="hint">Hover for details; click a node to follow its connections, click the background to reset. Edge labels: port/protocol ×connections; line width grows with connections.</span>
            </div>
            </header>
            <main>

            """
        out += "<svg id=\"map\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(MapLayout.format(layout.width)) \(MapLayout.format(layout.height))\" preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-label=\"\(h("Service map: " + summary))\">\n"
        out += "<defs>"
        for (id, color) in [("arrow-allowed", Self.allowedColor), ("arrow-would-be-dropped", Self.droppedColor)] {
            out += "<marker id=\"\(id)\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" markerUnits=\"userSpaceOnUse\" orient=\"auto\"><path d=\"M0 0L10 5L0 10z\" fill=\"\(color)\"/></marker>"
        }
        out += "</defs>\n"
        out += "<rect class=\"background\" x=\"0\" y=\"0\" width=\"\(MapLayout.format(layout.width))\" height=\"\(MapLayout.format(layout.height))\"/>\n"
        if map.nodes.isEmpty {
            out += "<text class=\"empty\" x=\"\(MapLayout.format(layout.width / 2))\" y=\"\(MapLayout.format(layout.height / 2))\">No flow records in the input.</text>\n"
        }

        // Groups.
        out += "<g class=\"groups\">\n"
        for (index, group) in map.groups.enumerated() {
            let rect = layout.groups[index]
            out += "<g class=\"group group-\(Self.groupClass(group.kind))\" data-group=\"\(h(group.id))\">"
            out += "<rect x=\"\(MapLayout.format(rect.x))\" y=\"\(MapLayout.format(rect.y))\" width=\"\(MapLayout.format(rect.width))\" height=\"\(MapLayout.format(rect.height))\" rx=\"8\"/>"
            out += "<text x=\"\(MapLayout.format(rect.x + 10))\" y=\"\(MapLayout.format(rect.y + 16))\">\(h(group.title))</text></g>\n"
        }
        out += "</g>\n"

        // Links: one arrow per source, destination and verdict class.
        out += "<g class=\"links\">\n"
        for (index, link) in map.links.enumerated() {
            let geometry = layout.links[index]
            let color = link.verdictClass == .allowed ? Self.allowedColor : Self.droppedColor
            let details = MapDetails(link: link, in: map, source: nodeByID[link.source], destination: nodeByID[link.destination])
            out += "<g class=\"link \(link.verdictClass.rawValue)\" data-i=\"\(index)\" data-link=\"\(h(link.key))\" data-verdict=\"\(link.verdictClass.rawValue)\" data-source=\"\(h(link.source))\" data-destination=\"\(h(link.destination))\" data-connections=\"\(link.connections)\">"
            out += "<title>\(h(details.plainText))</title>"
            out += "<path class=\"hit\" d=\"\(geometry.path)\"/>"
            out += "<path class=\"line\" d=\"\(geometry.path)\" stroke=\"\(color)\" stroke-width=\"\(MapLayout.format(geometry.width))\" marker-end=\"url(#arrow-\(link.verdictClass.rawValue))\"/>"
            out += "</g>\n"
        }
        out += "</g>\n"

        // Nodes.
        out += "<g class=\"nodes\">\n"
        for (index, node) in map.nodes.enumerated() {
            let rect = layout.nodes[index]
            let details = MapDetails(node: node)
            let center = rect.center
            out += "<g class=\"node node-\(Self.nodeClass(node.kind))\" data-i=\"\(index)\" data-node=\"\(h(node.id))\" data-kind=\"\(node.kind.rawValue)\" data-group=\"\(h(node.group.id))\">"
            out += "<title>\(h(details.plainText))</title>"
            out += "<rect x=\"\(MapLayout.format(rect.x))\" y=\"\(MapLayout.format(rect.y))\" width=\"\(MapLayout.format(rect.width))\" height=\"\(MapLayout.format(rect.height))\" rx=\"6\"/>"
            out += "<text class=\"title\" x=\"\(MapLayout.format(center.x))\" y=\"\(MapLayout.format(rect.y + 17))\">\(h(MapLayout.displayTitle(node.title)))</text>"
            out += "<text class=\"subtitle\" x=\"\(MapLayout.format(center.x))\" y=\"\(MapLayout.format(rect.y + 33))\">\(h(MapLayout.subtitle(node)))</text>"
            out += "</g>\n"
        }
        out += "</g>\n"

        // Link labels, above everything (they are placed off the nodes): one line per edge.
        out += "<g class=\"labels\">\n"
        for (index, link) in map.links.enumerated() {
            let geometry = layout.links[index]
            let lines = MapLayout.labelLines(map, geometry)
            let x = MapLayout.format(geometry.label.x)
            let firstBaseline = geometry.label.y - Double(lines.count - 1) * MapLayout.labelLineHeight / 2 + 4
            out += "<text class=\"link-label \(link.verdictClass.rawValue)\" data-label-for=\"\(index)\" x=\"\(x)\" y=\"\(MapLayout.format(firstBaseline))\">"
            for (line, edgeIndex) in geometry.shownEdges.enumerated() {
                let edge = map.edges[edgeIndex]
                let details = MapDetails(edge: edge, source: nodeByID[edge.source], destination: nodeByID[edge.destination])
                out += "<tspan class=\"edge\" x=\"\(x)\" dy=\"\(line == 0 ? "0" : MapLayout.format(MapLayout.labelLineHeight))\""
                out += Self.edgeAttributes(edge, index: edgeIndex)
                out += "><title>\(h(details.plainText))</title>\(h(edge.label))</tspan>"
            }
            if !geometry.hiddenEdges.isEmpty {
                out += "<tspan class=\"more\" x=\"\(x)\" dy=\"\(MapLayout.format(MapLayout.labelLineHeight))\" data-more-for=\"\(index)\">\(h(lines.last!))</tspan>"
                // Every edge has an element; those summed up on the last line are not drawn.
                for edgeIndex in geometry.hiddenEdges {
                    out += "<tspan class=\"edge overflow\" display=\"none\"\(Self.edgeAttributes(map.edges[edgeIndex], index: edgeIndex))>\(h(map.edges[edgeIndex].label))</tspan>"
                }
            }
            out += "</text>\n"
        }
        out += "</g>\n</svg>\n"
        out += "<div id=\"tooltip\" role=\"tooltip\" hidden></div>\n</main>\n"

        // Details for the tooltip, as JSON safe inside <script>.
        out += "<script type=\"application/json\" id=\"map-data\">"
        out += "{\"nodes\":["
        out += map.nodes.map { Self.json(MapDetails(node: $0)) }.joined(separator: ",\n")
        out += "],\n\"links\":["
        out += map.links.map { link in
            Self.json(MapDetails(link: link, in: map, source: nodeByID[link.source], destination: nodeByID[link.destination]))
        }.joined(separator: ",\n")
        out += "],\n\"edges\":["
        out += map.edges.map { edge in
            Self.json(MapDetails(edge: edge, source: nodeByID[edge.source], destination: nodeByID[edge.destination]))
        }.joined(separator: ",\n")
        out += "]}</script>\n"
        out += "<script>\(Self.script)</script>\n</body>\n</html>\n"
        return out
    }

    /// ` data-i=... data-edge="src→dst 53/UDP" data-verdict=...`: what tests and scripts query.
    static func edgeAttributes(_ edge: MapEdge, index: Int) -> String {
        let h = MapEscaping.html
        return " data-i=\"\(index)\" data-edge=\"\(h(edge.key))\" data-verdict=\"\(edge.verdictClass.rawValue)\" data-source=\"\(h(edge.source))\" data-destination=\"\(h(edge.destination))\" data-service=\"\(h(edge.service.description))\" data-connections=\"\(edge.connections)\""
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

    static let css = """

        :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
        html, body { margin: 0; height: 100%; }
        body { display: flex; flex-direction: column; background: #ffffff; color: #212529; }
        header { padding: 8px 16px 6px; border-bottom: 1px solid #dee2e6; }
        h1 { font-size: 17px; margin: 0 0 2px; font-weight: 600; }
        h1 .source { font-weight: 400; color: #495057; margin-left: 8px; }
        .summary { margin: 0 0 4px; font-size: 13px; color: #343a40; }
        .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; font-size: 12px; color: #495057; }
        .legend .key { display: inline-flex; align-items: center; gap: 6px; }
        .legend label { display: inline-flex; align-items: center; gap: 3px; cursor: pointer; }
        .legend .hint { color: #868e96; }
        .swatch { display: inline-block; width: 18px; height: 11px; border-radius: 3px; border: 1.5px solid; }
        .swatch.workload { background: #e7f5ff; border-color: #1c7ed6; }
        .swatch.world { background: #fff4e6; border-color: #e8590c; }
        .swatch.cluster { background: #f1f3f5; border-color: #495057; }
        .swatch.address { background: #ffffff; border-color: #868e96; border-style: dashed; }
        main { flex: 1; min-height: 0; position: relative; }
        #map { display: block; width: 100%; height: 100%; }
        .background { fill: #ffffff; }
        .empty { font-size: 18px; fill: #868e96; text-anchor: middle; }
        .group rect { fill: #f8f9fa; stroke: #ced4da; stroke-width: 1; }
        .group-world rect { fill: #fffaf3; stroke: #f3c99b; }
        .group-cluster rect { fill: #f6f7f8; stroke: #adb5bd; stroke-dasharray: 5 3; }
        .group-addresses rect { fill: #fcfcfc; stroke: #ced4da; stroke-dasharray: 2 3; }
        .group text { font-size: 12px; font-weight: 600; fill: #495057; }
        .link .line { fill: none; stroke-linecap: round; }
        .link.allowed .line { opacity: 0.6; }
        .link.would-be-dropped .line { opacity: 0.9; }
        .link .hit { fill: none; stroke: transparent; stroke-width: 12; pointer-events: stroke; }
        .link:hover .line { opacity: 1; }
        .link-label { font-size: 11px; text-anchor: middle; paint-order: stroke; stroke: #ffffff; stroke-width: 3.5px; stroke-linejoin: round; cursor: default; }
        .link-label.allowed { fill: #2b8a3e; }
        .link-label.would-be-dropped { fill: #c92a2a; font-weight: 600; }
        .link-label tspan:hover { text-decoration: underline; }
        .node rect { stroke-width: 1.5; }
        .node-workload rect { fill: #e7f5ff; stroke: #1c7ed6; }
        .node-world rect { fill: #fff4e6; stroke: #e8590c; }
        .node-cluster rect { fill: #f1f3f5; stroke: #495057; }
        .node-address rect { fill: #ffffff; stroke: #868e96; stroke-dasharray: 4 2; }
        .node text { text-anchor: middle; pointer-events: none; }
        .node .title { font-size: 12.5px; font-weight: 600; fill: #212529; }
        .node .subtitle { font-size: 10.5px; fill: #495057; }
        .node { cursor: pointer; }
        .node:hover rect { stroke-width: 2.5; }
        body.hide-allowed .allowed, body.hide-dropped .would-be-dropped, body.hide-labels .link-label { display: none; }
        #map.focus .link:not(.lit), #map.focus .link-label:not(.lit) { opacity: 0.08; }
        #map.focus .node:not(.lit) { opacity: 0.3; }
        #map.focus .node.selected rect { stroke-width: 3; }
        #tooltip { position: fixed; z-index: 10; max-width: 460px; background: #ffffff; border: 1px solid #adb5bd; border-radius: 6px;
          box-shadow: 0 4px 14px rgba(0,0,0,.15); padding: 8px 10px; font-size: 12px; pointer-events: none; }
        #tooltip h2 { font-size: 13px; margin: 0 0 4px; word-break: break-all; }
        #tooltip table { border-collapse: collapse; }
        #tooltip th { text-align: left; font-weight: 600; color: #495057; padding: 1px 8px 1px 0; vertical-align: top; white-space: nowrap; }
        #tooltip td { padding: 1px 0; word-break: break-all; }
        #tooltip ul { margin: 0; padding-left: 16px; }

        """

    /// Hover details, focus on click, the edge-class toggles, and a record of what rendered.
    /// It builds the tooltip with DOM calls (textContent), never by parsing text as HTML.
    static let script = """

        (function () {
          'use strict';
          var data = JSON.parse(document.getElementById('map-data').textContent);
          var svg = document.getElementById('map');
          var tip = document.getElementById('tooltip');
          function all(selector) { return Array.prototype.slice.call(svg.querySelectorAll(selector)); }
          var nodes = all('g.node'), links = all('g.link'), labels = all('text.link-label');
          var edges = all('tspan[data-edge]'), more = all('tspan.more');
          // The script shows details itself: the SVG titles (for pages without scripts) would double them.
          all('title').forEach(function (t) { t.parentNode.removeChild(t); });

          function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
          function fill(details) {
            while (tip.firstChild) tip.removeChild(tip.firstChild);
            tip.appendChild(el('h2', details.h));
            var table = el('table');
            details.f.forEach(function (f) {
              var row = el('tr'); row.appendChild(el('th', f[0])); row.appendChild(el('td', f[1])); table.appendChild(row);
            });
            details.l.forEach(function (l) {
              var row = el('tr'); row.appendChild(el('th', l[0]));
              var cell = el('td'), list = el('ul');
              l[1].forEach(function (item) { list.appendChild(el('li', item)); });
              cell.appendChild(list); row.appendChild(cell); table.appendChild(row);
            });
            tip.appendChild(table);
          }
          function place(event) {
            var x = event.clientX + 14, y = event.clientY + 14;
            var w = tip.offsetWidth, h = tip.offsetHeight;
            if (x + w > window.innerWidth - 4) x = Math.max(4, event.clientX - w - 14);
            if (y + h > window.innerHeight - 4) y = Math.max(4, window.innerHeight - h - 4);
            tip.style.left = x + 'px'; tip.style.top = y + 'px';
          }
          function hover(element, details) {
            element.addEventListener('mouseenter', function (event) { fill(details); tip.hidden = false; place(event); });
            element.addEventListener('mousemove', place);
            element.addEventListener('mouseleave', function () { tip.hidden = true; });
          }
          nodes.forEach(function (e) { hover(e, data.nodes[+e.getAttribute('data-i')]); });
          links.forEach(function (e) { hover(e, data.links[+e.getAttribute('data-i')]); });
          edges.forEach(function (e) { hover(e, data.edges[+e.getAttribute('data-i')]); });
          more.forEach(function (e) { hover(e, data.links[+e.getAttribute('data-more-for')]); });

          function clearFocus() {
            svg.classList.remove('focus');
            all('.lit, .selected').forEach(function (e) { e.classList.remove('lit'); e.classList.remove('selected'); });
          }
          nodes.forEach(function (node) {
            node.addEventListener('click', function (event) {
              event.stopPropagation();
              var id = node.getAttribute('data-node');
              clearFocus();
              svg.classList.add('focus');
              node.classList.add('lit'); node.classList.add('selected');
              var neighbours = {};
              links.forEach(function (link) {
                var s = link.getAttribute('data-source'), d = link.getAttribute('data-destination');
                if (s === id || d === id) {
                  link.classList.add('lit');
                  labels[+link.getAttribute('data-i')].classList.add('lit');
                  neighbours[s] = true; neighbours[d] = true;
                }
              });
              nodes.forEach(function (other) { if (neighbours[other.getAttribute('data-node')]) other.classList.add('lit'); });
            });
          });
          svg.addEventListener('click', clearFocus);

          [['show-allowed', 'hide-allowed'], ['show-dropped', 'hide-dropped'], ['show-labels', 'hide-labels']].forEach(function (pair) {
            var box = document.getElementById(pair[0]);
            box.addEventListener('change', function () { document.body.classList.toggle(pair[1], !box.checked); });
          });

          // What the browser rendered, for tests and for anyone inspecting the page.
          var rendered = 0, overlaps = 0, boxes = [];
          nodes.forEach(function (node) {
            var box = node.querySelector('rect').getBBox();
            if (box.width > 0 && box.height > 0) rendered++;
            boxes.push(box);
          });
          if (boxes.length <= 2000) {
            for (var i = 0; i < boxes.length; i++) for (var j = i + 1; j < boxes.length; j++) {
              var a = boxes[i], b = boxes[j];
              if (a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height) overlaps++;
            }
          }
          var drawn = 0;
          links.forEach(function (link) {
            var line = link.querySelector('path.line');
            var length = line.getTotalLength();
            if (length > 0) drawn++;
            line.setAttribute('data-rendered-stroke', getComputedStyle(line).stroke);
            line.setAttribute('data-rendered-length', String(Math.round(length)));
          });
          edges.forEach(function (edge) { edge.setAttribute('data-rendered-fill', getComputedStyle(edge).fill); });
          document.body.setAttribute('data-rendered-nodes', String(rendered));
          document.body.setAttribute('data-rendered-links', String(drawn));
          document.body.setAttribute('data-node-overlaps', String(overlaps));
          document.body.setAttribute('data-ready', 'true');
        })();

        """
}
