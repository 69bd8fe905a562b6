extension HTMLMapRenderer {
    static let css = #"""

    :root { color-scheme: light; font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; }
    html, body { margin: 0; height: 100%; }
    body { display: flex; flex-direction: column; background: #ffffff; color: #212529; }
    header { padding: 8px 16px 6px; border-bottom: 1px solid #dee2e6; }
    h1 { font-size: 17px; margin: 0 0 2px; font-weight: 600; }
    h1 .source { font-weight: 400; color: #495057; margin-left: 8px; }
    .summary { margin: 0 0 4px; font-size: 13px; color: #343a40; }
    .controls { display: flex; flex-wrap: wrap; gap: 4px 14px; align-items: center; font-size: 12.5px; margin-bottom: 4px; }
    .controls input, .controls select, .controls button { font: inherit; font-size: 12.5px; }
    #search { width: 15em; }
    #search.missing { outline: 2px solid #e03131; }
    .legend { display: flex; flex-wrap: wrap; gap: 4px 16px; align-items: center; font-size: 12px; color: #495057; }
    .legend .key { display: inline-flex; align-items: center; gap: 5px; }
    .legend label { cursor: pointer; }
    .legend .hint { color: #868e96; }
    .swatch { display: inline-block; width: 18px; height: 11px; border-radius: 3px; border: 1.5px solid; }
    .swatch.namespace { background: #edf2ff; border-color: #4263eb; border-radius: 6px; }
    .swatch.workload { background: #e7f5ff; border-color: #1c7ed6; }
    .swatch.world { background: #fff4e6; border-color: #e8590c; }
    .swatch.cluster { background: #f1f3f5; border-color: #495057; }
    .swatch.address { background: #ffffff; border-color: #868e96; border-style: dashed; }
    main { flex: 1; min-height: 0; position: relative; }
    #map { display: block; width: 100%; height: 100%; cursor: grab; touch-action: none; user-select: none; }
    .background { fill: #ffffff; }
    .group rect { fill: #f8f9fa; stroke: #ced4da; stroke-width: 1; }
    .group-world rect { fill: #fffaf3; stroke: #f3c99b; }
    .group-cluster rect { fill: #f6f7f8; stroke: #adb5bd; stroke-dasharray: 5 3; }
    .group-addresses rect { fill: #fcfcfc; stroke: #ced4da; stroke-dasharray: 2 3; }
    .heading { font-size: 12px; font-weight: 600; fill: #495057; cursor: pointer; paint-order: stroke; stroke: #ffffff; stroke-width: 3.5px; stroke-linejoin: round; }
    .group.found rect { stroke: #f59f00; stroke-width: 4; }
    .link .line { fill: none; stroke-linecap: round; }
    .link.forwarded .line { opacity: 0.55; }
    .link.audit .line, .link.dropped .line { opacity: 0.85; }
    .link .hit { fill: none; stroke: transparent; stroke-width: 12; pointer-events: stroke; }
    .link:hover .line { opacity: 1; }
    .link-label { font-size: 11px; text-anchor: middle; paint-order: stroke; stroke: #ffffff; stroke-width: 3.5px; stroke-linejoin: round; cursor: default; }
    .link-label.audit, .link-label.dropped { font-weight: 600; }
    .node rect { stroke-width: 1.5; }
    .node-namespace rect { fill: #edf2ff; stroke: #4263eb; stroke-width: 2; }
    .node-workload rect { fill: #e7f5ff; stroke: #1c7ed6; }
    .node-world rect { fill: #fff4e6; stroke: #e8590c; }
    .node-cluster rect { fill: #f1f3f5; stroke: #495057; }
    .node-address rect { fill: #ffffff; stroke: #868e96; stroke-dasharray: 4 2; }
    .node text { text-anchor: middle; pointer-events: none; }
    .node .title { font-size: 12.5px; font-weight: 600; fill: #212529; }
    .node .subtitle { font-size: 10.5px; fill: #495057; }
    .node { cursor: pointer; }
    .node:hover rect { stroke-width: 2.5; }
    .node.found rect { stroke: #f59f00; stroke-width: 4; }
    #map.focus .link:not(.lit), #map.focus .link-label:not(.lit) { opacity: 0.08; }
    #map.focus .node:not(.lit) { opacity: 0.3; }
    #map.focus .node.selected rect { stroke-width: 3; }
    #map.far .subtitle, #map.far .link-label, #map.farther .label { display: none; }
    .empty { position: absolute; top: 40%; width: 100%; text-align: center; font-size: 18px; color: #868e96; }
    #tooltip { position: fixed; z-index: 10; max-width: 460px; background: #ffffff; border: 1px solid #adb5bd; border-radius: 6px;
      box-shadow: 0 4px 14px rgba(0,0,0,.15); padding: 8px 10px; font-size: 12px; pointer-events: none; }
    #tooltip h2 { font-size: 13px; margin: 0 0 4px; word-break: break-all; }
    #tooltip table { border-collapse: collapse; }
    #tooltip th { text-align: left; font-weight: 600; color: #495057; padding: 1px 8px 1px 0; vertical-align: top; white-space: nowrap; }
    #tooltip td { padding: 1px 0; word-break: break-all; }
    #tooltip ul { margin: 0; padding-left: 16px; }

    """#

    /// Lays the map out and draws it (see `HTMLMapRenderer`), then the controls: expand and
    /// collapse, filters, search, zoom and pan, hover details and focus. It builds everything with
    /// DOM calls (textContent), never by parsing text as HTML.
    static let script = #"""

    (function () {
      'use strict';
      var NS = 'http://www.w3.org/2000/svg';
      var data = JSON.parse(document.getElementById('map-data').textContent);
      var svg = document.getElementById('map'), tip = document.getElementById('tooltip'), body = document.body;
      var groups = data.groups, nodes = data.nodes, edges = data.edges, verdicts = data.verdicts;
      // Sizes in SVG user units (pixels at 100%).
      var NODE_H = 48, NODE_GAP = 16, PAD = 12, HEAD = 26, GROUP_GAP = 36, MARGIN = 24, LABEL_H = 16, LIST = 12;
      // The busiest arrows with a label of their own; the others show theirs on hover.
      var LABELLED = 60;
      var membersOf = groups.map(function () { return []; }), groupById = {};
      nodes.forEach(function (n, i) { membersOf[n.g].push(i); });
      groups.forEach(function (g, i) { groupById[g.id] = i; });
      var state = { expanded: {}, ns: '', port: '', widthBy: 'connections', found: '',
                    show: { forwarded: true, audit: true, dropped: true } };
      groups.forEach(function (g, i) {
        if (g.kind !== 'namespace' && membersOf[i].length <= data.expandedGroupLimit) state.expanded[i] = true;
      });
      var units = [], unitByKey = {}, blocks = [], links = [], view = [0, 0, 1, 1], fitted = [0, 0, 1, 1];

      function make(tag, attributes, parent) {
        var e = document.createElementNS(NS, tag);
        for (var name in attributes) e.setAttribute(name, attributes[name]);
        if (parent) parent.appendChild(e);
        return e;
      }
      function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; return e; }
      function fmt(v) { return String(Math.round(v * 10) / 10); }
      function bytes(n) {
        var units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB'], i = 0, v = n;
        while (v >= 999.95 && i < units.length - 1) { v /= 1000; i++; }
        return i === 0 ? n + ' B' : fmt(v) + ' ' + units[i];
      }
      function plural(n, word) { return n + ' ' + word + (n === 1 ? '' : 's'); }
      function list(title, items) {
        if (!items.length) return null;
        var shown = items.slice(0, LIST);
        if (items.length > LIST) shown.push('… and ' + (items.length - LIST) + ' more');
        return [title + ' (' + items.length + ')', shown];
      }

      // Tooltip, built with DOM calls (textContent), never by parsing text as HTML.
      function fill(details) {
        while (tip.firstChild) tip.removeChild(tip.firstChild);
        tip.appendChild(el('h2', details.h));
        var table = el('table');
        details.f.forEach(function (f) {
          var row = el('tr'); row.appendChild(el('th', f[0])); row.appendChild(el('td', f[1])); table.appendChild(row);
        });
        details.l.forEach(function (l) {
          if (!l) return;
          var row = el('tr'), cell = el('td'), items = el('ul');
          row.appendChild(el('th', l[0]));
          l[1].forEach(function (item) { items.appendChild(el('li', item)); });
          cell.appendChild(items); row.appendChild(cell); table.appendChild(row);
        });
        tip.appendChild(table);
      }
      function place(event) {
        var x = event.clientX + 14, y = event.clientY + 14, w = tip.offsetWidth, h = tip.offsetHeight;
        if (x + w > window.innerWidth - 4) x = Math.max(4, event.clientX - w - 14);
        if (y + h > window.innerHeight - 4) y = Math.max(4, window.innerHeight - h - 4);
        tip.style.left = x + 'px'; tip.style.top = y + 'px';
      }
      function hover(element, details) {
        element.addEventListener('mouseenter', function (event) { fill(details()); tip.hidden = false; place(event); });
        element.addEventListener('mousemove', place);
        element.addEventListener('mouseleave', function () { tip.hidden = true; });
      }
      function groupDetails(gi) {
        var g = groups[gi], out = 0, inside = 0, into = 0, dropped = 0;
        edges.forEach(function (e) {
          var s = nodes[e.s].g === gi, t = nodes[e.t].g === gi;
          if (s && t) inside += e.c; else if (s) out += e.c; else if (t) into += e.c;
          if ((s || t) && e.v !== 'forwarded') dropped += e.c;
        });
        return { h: g.title, f: [['connections out', String(out)], ['connections in', String(into)], ['within', String(inside)],
                                 ['audit or dropped', String(dropped)], ['expand', 'click to show its ' + plural(membersOf[gi].length, 'node')]],
                 l: [list('nodes', membersOf[gi].map(function (i) { return nodes[i].id; }))] };
      }
      function linkDetails(link) {
        if (link.edges.length === 1) return edges[link.edges[0]].d;
        var services = Object.keys(link.ports).sort(function (a, b) { return link.ports[b] - link.ports[a] || (a < b ? -1 : 1); });
        return { h: link.a.title + ' → ' + link.b.title,
                 f: [['from', link.a.id], ['to', link.b.id], ['verdict', verdicts[link.v][2]], ['connections', String(link.c)], ['bytes', bytes(link.by)]],
                 l: [list('services', services.map(function (p) { return p + ' ×' + link.ports[p]; })),
                     list('edges', link.edges.map(function (i) { var e = edges[i]; return nodes[e.s].id + ' → ' + nodes[e.t].id + ' ' + e.p + ' ×' + e.c; }))] };
      }

      function edgeShown(e, nsGroup) {
        if (!state.show[e.v]) return false;
        if (state.port !== '' && e.p !== state.port) return false;
        return nsGroup < 0 || nodes[e.s].g === nsGroup || nodes[e.t].g === nsGroup;
      }
      function unitKey(i) { return state.expanded[nodes[i].g] ? 'n' + i : 'g' + nodes[i].g; }

      // Boxes of the given sizes around an ellipse 1.75 times wider than tall, clockwise from the top, with
      // equal gaps along it; the ellipse grows until no two boxes come closer than GROUP_GAP.
      function ring(sizes) {
        if (sizes.length === 1) return [{ x: 0, y: 0 }];
        var aspect = 1.75, steps = 1440, cumulative = [0], px = 0, py = -1;
        for (var i = 1; i <= steps; i++) {
          var angle = -Math.PI / 2 + 2 * Math.PI * i / steps, x = aspect * Math.cos(angle), y = Math.sin(angle);
          cumulative.push(cumulative[i - 1] + Math.sqrt((x - px) * (x - px) + (y - py) * (y - py)));
          px = x; py = y;
        }
        var unit = cumulative[steps], extents;
        function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }
        // Centres at equal gaps along the ellipse, each box taking its extent along it.
        function place(radius) {
          var perimeter = radius * unit, gap = (perimeter - sum(extents)) / sizes.length, along = 0, step = 0;
          return sizes.map(function (s, k) {
            if (k > 0) along += extents[k - 1] / 2 + gap + extents[k] / 2;
            var target = along / perimeter * unit;
            while (step < steps && cumulative[step + 1] < target) step++;
            var span = cumulative[step + 1] - cumulative[step], within = span > 0 ? (target - cumulative[step]) / span : 0;
            var angle = -Math.PI / 2 + 2 * Math.PI * (step + within) / steps;
            return { x: radius * aspect * Math.cos(angle) - s.w / 2, y: radius * Math.sin(angle) - s.h / 2, angle: angle };
          });
        }
        function smallest() { return Math.max(120, sum(extents) / unit); }
        // A box's extent along the ellipse, with the gap it keeps: how far along the tangent it
        // reaches before a neighbour clears it in x or in y (its width and gap at the top and
        // bottom, its height and gap at the sides). A few rounds of placing and measuring settle them.
        extents = sizes.map(function (s) { return (s.w + s.h) / 2 + GROUP_GAP; });
        for (var round = 0; round < 3; round++) {
          extents = place(smallest()).map(function (p, k) {
            var tx = -aspect * Math.sin(p.angle), ty = Math.cos(p.angle), length = Math.sqrt(tx * tx + ty * ty);
            tx = Math.abs(tx / length); ty = Math.abs(ty / length);
            return Math.min(tx > 1e-9 ? (sizes[k].w + GROUP_GAP) / tx : Infinity, ty > 1e-9 ? (sizes[k].h + GROUP_GAP) / ty : Infinity);
          });
        }
        // Two boxes still too close (the ellipse curves between them) get more room, and the
        // ellipse grows by what they took.
        var result = [];
        for (var attempt = 0; attempt < 1000; attempt++) {
          result = place(smallest());
          var clash = null;
          for (var a = 0; a < sizes.length && !clash; a++) for (var b = a + 1; b < sizes.length; b++) {
            if (result[a].x - GROUP_GAP < result[b].x + sizes[b].w && result[b].x - GROUP_GAP < result[a].x + sizes[a].w &&
                result[a].y - GROUP_GAP < result[b].y + sizes[b].h && result[b].y - GROUP_GAP < result[a].y + sizes[a].h) { clash = [a, b]; break; }
          }
          if (!clash) break;
          extents[clash[0]] *= 1.06; extents[clash[1]] *= 1.06;
        }
        return result;
      }

      // Boxes in the buckets of a grid, to find what a new box touches without looking at all.
      function Occupied() { this.cells = {}; this.boxes = []; }
      Occupied.prototype.keys = function (b) {
        var keys = [], x0 = Math.floor(b.x / 120), x1 = Math.floor((b.x + b.w) / 120), y0 = Math.floor(b.y / 120), y1 = Math.floor((b.y + b.h) / 120);
        for (var x = x0; x <= x1; x++) for (var y = y0; y <= y1; y++) keys.push(x + ',' + y);
        return keys;
      };
      Occupied.prototype.add = function (b) {
        var index = this.boxes.push(b) - 1, cells = this.cells;
        this.keys(b).forEach(function (k) { (cells[k] = cells[k] || []).push(index); });
      };
      Occupied.prototype.free = function (b, margin) {
        var keys = this.keys(b);
        for (var k = 0; k < keys.length; k++) {
          var bucket = this.cells[keys[k]] || [];
          for (var i = 0; i < bucket.length; i++) {
            var o = this.boxes[bucket[i]];
            if (b.x - margin < o.x + o.w && o.x - margin < b.x + b.w && b.y - margin < o.y + o.h && o.y - margin < b.y + b.h) return false;
          }
        }
        return true;
      };

      function boundary(u, dx, dy) {
        var length = Math.sqrt(dx * dx + dy * dy), cx = u.x + u.w / 2, cy = u.y + u.h / 2;
        if (length === 0) return [cx, cy];
        dx /= length; dy /= length;
        var sx = Math.abs(dx) > 1e-9 ? (u.w / 2) / Math.abs(dx) : Infinity, sy = Math.abs(dy) > 1e-9 ? (u.h / 2) / Math.abs(dy) : Infinity;
        var s = Math.min(sx, sy);
        return [cx + dx * s, cy + dy * s];
      }
      function curvePoint(c, t) {
        var u = 1 - t;
        if (c.length === 8) return [u * u * u * c[0] + 3 * u * u * t * c[2] + 3 * u * t * t * c[4] + t * t * t * c[6],
                                    u * u * u * c[1] + 3 * u * u * t * c[3] + 3 * u * t * t * c[5] + t * t * t * c[7]];
        return [u * u * c[0] + 2 * u * t * c[2] + t * t * c[4], u * u * c[1] + 2 * u * t * c[3] + t * t * c[5]];
      }

      function render() {
        var started = performance.now();
        while (svg.firstChild) svg.removeChild(svg.firstChild);
        tip.hidden = true;
        var defs = make('defs', {}, svg);
        Object.keys(verdicts).forEach(function (v) {
          var marker = make('marker', { id: 'arrow-' + v, viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
                                        markerUnits: 'userSpaceOnUse', orient: 'auto' }, defs);
          make('path', { d: 'M0 0L10 5L0 10z', fill: verdicts[v][0] }, marker);
        });
        var background = make('rect', { class: 'background' }, svg);
        var layers = { groups: make('g', { class: 'groups' }, svg), links: make('g', { class: 'links' }, svg),
                       nodes: make('g', { class: 'nodes' }, svg), labels: make('g', { class: 'labels' }, svg) };

        // 1. What is shown: the edges through the filters; every node, or with a namespace chosen its
        // nodes and their peers; a collapsed group is one node.
        var nsGroup = state.ns === '' ? -1 : groupById[state.ns];
        var shownEdges = [], nodeShown = nodes.map(function (n) { return nsGroup < 0 || n.g === nsGroup; });
        edges.forEach(function (e, i) {
          if (!edgeShown(e, nsGroup)) return;
          shownEdges.push(i); nodeShown[e.s] = true; nodeShown[e.t] = true;
        });
        units = []; unitByKey = {}; blocks = [];
        groups.forEach(function (g, gi) {
          var members = membersOf[gi].filter(function (i) { return nodeShown[i]; });
          if (!members.length) return;
          var block = { group: gi, open: !!state.expanded[gi], units: [] };
          if (block.open) {
            block.el = make('g', { class: 'group group-' + g.kind, 'data-group': g.id }, layers.groups);
            block.rect = make('rect', { rx: 8 }, block.el);
            // The heading goes above the arrows (with the labels), so none crosses it.
            block.heading = make('text', { class: 'heading label', 'data-group': g.id }, layers.labels);
            block.heading.textContent = '▾ ' + g.title;
            members.forEach(function (i) {
              block.units.push({ key: 'n' + i, node: i, group: gi, id: nodes[i].id, title: nodes[i].t, sub: nodes[i].s, cls: nodes[i].k });
            });
          } else {
            var count = membersOf[gi].length;
            block.units.push({ key: 'g' + gi, node: -1, group: gi, id: g.id, title: g.short,
                               sub: g.kind === 'namespace' ? 'namespace · ' + plural(count, 'workload') : plural(count, 'node'),
                               cls: g.kind === 'addresses' ? 'address' : g.kind });
          }
          block.units.forEach(function (u) {
            u.el = make('g', { class: 'node node-' + u.cls + (u.node < 0 ? ' collapsed' : ''), 'data-node': u.id, 'data-group': g.id }, layers.nodes);
            u.rect = make('rect', { rx: u.node < 0 ? 12 : 6, height: NODE_H }, u.el);
            u.titleEl = make('text', { class: 'title label' }, u.el); u.titleEl.textContent = u.title;
            u.subEl = make('text', { class: 'subtitle label' }, u.el); u.subEl.textContent = u.sub;
            units.push(u); unitByKey[u.key] = u;
          });
          blocks.push(block);
        });

        // 2. Links: one per shown source, destination and verdict.
        links = [];
        var linkByKey = {};
        shownEdges.forEach(function (i) {
          var e = edges[i], a = unitByKey[unitKey(e.s)], b = unitByKey[unitKey(e.t)], key = a.key + '>' + b.key + '>' + e.v;
          var link = linkByKey[key];
          if (!link) { link = linkByKey[key] = { a: a, b: b, v: e.v, c: 0, by: 0, edges: [], ports: {}, services: 0 }; links.push(link); }
          link.c += e.c; link.by += e.b; link.edges.push(i);
          if (!(e.p in link.ports)) { link.ports[e.p] = 0; link.services++; }
          link.ports[e.p] += e.c;
        });
        links.forEach(function (link) {
          link.text = (link.services === 1 ? Object.keys(link.ports)[0] : link.services + ' services') + ' ×' + link.c;
          link.label = make('text', { class: 'link-label label ' + link.v, fill: verdicts[link.v][1] }, layers.labels);
          link.label.textContent = link.text;
        });

        // 3. Measure every text at once (one layout), then size the boxes.
        units.forEach(function (u) { u.w = Math.max(96, Math.ceil(Math.max(u.titleEl.getComputedTextLength(), u.subEl.getComputedTextLength())) + 22); });
        blocks.forEach(function (b) { if (b.open) b.headingWidth = Math.ceil(b.heading.getComputedTextLength()) + 2 * PAD; });
        links.forEach(function (link) { link.labelWidth = Math.ceil(link.label.getComputedTextLength()) + 4; });

        // 4. Workloads in a grid inside their group's box (wider than tall); the boxes around an ellipse.
        blocks.forEach(function (b) {
          if (!b.open) { b.w = b.units[0].w; b.h = NODE_H; b.units[0].dx = 0; b.units[0].dy = 0; return; }
          var n = b.units.length, cellWidth = 0, columns = Math.max(1, Math.min(n, Math.ceil(Math.sqrt(n * 2.5))));
          b.units.forEach(function (u) { cellWidth = Math.max(cellWidth, u.w); });
          var rows = Math.ceil(n / columns);
          b.units.forEach(function (u, k) {
            u.w = cellWidth; u.dx = PAD + (k % columns) * (cellWidth + NODE_GAP); u.dy = HEAD + Math.floor(k / columns) * (NODE_H + NODE_GAP);
          });
          b.w = Math.max(b.headingWidth, 2 * PAD + columns * cellWidth + (columns - 1) * NODE_GAP);
          b.h = HEAD + rows * NODE_H + (rows - 1) * NODE_GAP + PAD;
        });
        var spots = ring(blocks.map(function (b) { return { w: b.w, h: b.h }; }));
        var occupied = new Occupied(), minX = Infinity, minY = Infinity, maxX = -Infinity, maxY = -Infinity;
        function extend(x, y, w, h) { minX = Math.min(minX, x); minY = Math.min(minY, y); maxX = Math.max(maxX, x + w); maxY = Math.max(maxY, y + h); }
        blocks.forEach(function (b, k) {
          b.x = spots[k].x; b.y = spots[k].y;
          extend(b.x, b.y, b.w, b.h);
          if (b.open) {
            b.rect.setAttribute('x', fmt(b.x)); b.rect.setAttribute('y', fmt(b.y)); b.rect.setAttribute('width', fmt(b.w)); b.rect.setAttribute('height', fmt(b.h));
            b.heading.setAttribute('x', fmt(b.x + PAD)); b.heading.setAttribute('y', fmt(b.y + 17));
            occupied.add({ x: b.x, y: b.y, w: b.headingWidth, h: HEAD - 4 });
          }
          b.units.forEach(function (u) {
            u.x = b.x + u.dx; u.y = b.y + u.dy; u.h = NODE_H;
            u.rect.setAttribute('x', fmt(u.x)); u.rect.setAttribute('y', fmt(u.y)); u.rect.setAttribute('width', fmt(u.w));
            u.titleEl.setAttribute('x', fmt(u.x + u.w / 2)); u.titleEl.setAttribute('y', fmt(u.y + 19));
            u.subEl.setAttribute('x', fmt(u.x + u.w / 2)); u.subEl.setAttribute('y', fmt(u.y + 39));
            occupied.add({ x: u.x, y: u.y, w: u.w, h: u.h });
          });
        });
        if (!blocks.length) { minX = 0; minY = 0; maxX = 480; maxY = 200; }
        var centerX = (minX + maxX) / 2, centerY = (minY + maxY) / 2;

        // 5. Arrows: a curve bending to its right (the two directions and verdicts of a pair fan
        // out), a loop on the outer side for traffic within a collapsed group or a node.
        var widest = 1, parallel = {};
        links.forEach(function (link) { widest = Math.max(widest, state.widthBy === 'bytes' ? link.by : link.c); });
        links.forEach(function (link, index) {
          var a = link.a, b = link.b, pair = a.key + '>' + b.key, k = parallel[pair] || 0, c;
          parallel[pair] = k + 1;
          var value = state.widthBy === 'bytes' ? link.by : link.c;
          link.width = 1.2 + 6 * Math.log(1 + value) / Math.log(1 + widest);
          if (a === b) {
            var ox = a.x + a.w / 2 - centerX, oy = a.y + a.h / 2 - centerY, ol = Math.sqrt(ox * ox + oy * oy);
            if (ol < 1) { ox = 0; oy = -1; ol = 1; }
            ox /= ol; oy /= ol;
            var vx = -oy, vy = ox, reach = 46 + k * 20;
            var s = boundary(a, ox + vx * 0.5, oy + vy * 0.5), t = boundary(a, ox - vx * 0.5, oy - vy * 0.5);
            c = [s[0], s[1], s[0] + ox * reach + vx * 20, s[1] + oy * reach + vy * 20, t[0] + ox * reach - vx * 20, t[1] + oy * reach - vy * 20, t[0], t[1]];
            link.d = 'M' + fmt(c[0]) + ' ' + fmt(c[1]) + ' C' + fmt(c[2]) + ' ' + fmt(c[3]) + ' ' + fmt(c[4]) + ' ' + fmt(c[5]) + ' ' + fmt(c[6]) + ' ' + fmt(c[7]);
          } else {
            var p0x = a.x + a.w / 2, p0y = a.y + a.h / 2, p1x = b.x + b.w / 2, p1y = b.y + b.h / 2;
            var dx = p1x - p0x, dy = p1y - p0y, length = Math.max(1, Math.sqrt(dx * dx + dy * dy));
            var offset = Math.min(90, length * 0.07 + 14) + k * 26, qx = (p0x + p1x) / 2 - dy / length * 2 * offset, qy = (p0y + p1y) / 2 + dx / length * 2 * offset;
            var start = boundary(a, qx - p0x, qy - p0y), end = boundary(b, qx - p1x, qy - p1y);
            c = [start[0], start[1], qx, qy, end[0], end[1]];
            link.d = 'M' + fmt(c[0]) + ' ' + fmt(c[1]) + ' Q' + fmt(c[2]) + ' ' + fmt(c[3]) + ' ' + fmt(c[4]) + ' ' + fmt(c[5]);
          }
          link.curve = c;
          var mid = curvePoint(c, 0.5);
          extend(mid[0], mid[1], 0, 0);
          link.el = make('g', { class: 'link ' + link.v, 'data-i': index, 'data-verdict': link.v, 'data-source': a.id, 'data-destination': b.id,
                                'data-connections': link.c, 'data-bytes': link.by, 'data-services': Object.keys(link.ports).join(' ') }, layers.links);
          make('path', { class: 'hit', d: link.d }, link.el);
          link.line = make('path', { class: 'line', d: link.d, stroke: verdicts[link.v][0], 'stroke-width': fmt(link.width), 'marker-end': 'url(#arrow-' + link.v + ')' }, link.el);
          hover(link.el, function () { return linkDetails(link); });
        });

        // 6. Arrow labels, the LABELLED busiest first, each at the first free spot along its curve; none where none is free.
        var order = links.map(function (l, i) { return i; }).sort(function (i, j) { return links[j].c - links[i].c || i - j; });
        var along = [0.5, 0.42, 0.58, 0.34, 0.66, 0.26, 0.74, 0.18, 0.82], shown = 0, hidden = 0;
        order.forEach(function (index, rank) {
          var link = links[index], c = link.curve, w = link.labelWidth, h = LABEL_H, spot = null;
          if (rank >= LABELLED) { layers.labels.removeChild(link.label); link.label = null; hidden++; return; }
          var chordX = c[c.length - 2] - c[0], chordY = c[c.length - 1] - c[1], chord = Math.sqrt(chordX * chordX + chordY * chordY);
          var nx = chord > 0 ? -chordY / chord : 0, ny = chord > 0 ? chordX / chord : 1;
          search: for (var a = 0; a < along.length; a++) {
            var p = curvePoint(c, along[a]);
            var shifts = [0, h / 2 + 4, -(h / 2 + 4), h + 8, -(h + 8)];
            for (var s = 0; s < shifts.length; s++) {
              var box = { x: p[0] + nx * shifts[s] - w / 2, y: p[1] + ny * shifts[s] - h / 2, w: w, h: h };
              if (occupied.free(box, 2)) { spot = box; break search; }
            }
          }
          if (!spot) { layers.labels.removeChild(link.label); link.label = null; hidden++; return; }
          occupied.add(spot); shown++;
          extend(spot.x, spot.y, spot.w, spot.h);
          link.label.setAttribute('x', fmt(spot.x + w / 2)); link.label.setAttribute('y', fmt(spot.y + h - 4.5));
          link.label.setAttribute('data-i', index);
          hover(link.label, function () { return linkDetails(link); });
        });

        // 7. Interaction: expand, collapse, focus.
        units.forEach(function (u) {
          hover(u.el, function () { return u.node < 0 ? groupDetails(u.group) : nodes[u.node].d; });
          u.el.addEventListener('click', function (event) {
            event.stopPropagation();
            if (u.node < 0) { state.expanded[u.group] = true; render(); return; }
            focus(u);
          });
        });
        blocks.forEach(function (b) {
          if (!b.open) return;
          b.heading.addEventListener('click', function (event) { event.stopPropagation(); delete state.expanded[b.group]; render(); });
        });

        minX -= MARGIN; minY -= MARGIN; maxX += MARGIN; maxY += MARGIN;
        background.setAttribute('x', fmt(minX - 5000)); background.setAttribute('y', fmt(minY - 5000));
        background.setAttribute('width', fmt(maxX - minX + 10000)); background.setAttribute('height', fmt(maxY - minY + 10000));
        fitted = [minX, minY, maxX - minX, maxY - minY];
        setView(fitted);
        if (state.found && unitByKey[state.found]) unitByKey[state.found].el.classList.add('found');

        links.forEach(function (link) { link.line.setAttribute('data-rendered-stroke', getComputedStyle(link.line).stroke); });
        var finished = performance.now();
        body.setAttribute('data-rendered-nodes', String(units.length));
        body.setAttribute('data-rendered-links', String(links.length));
        body.setAttribute('data-labels-shown', String(shown));
        body.setAttribute('data-labels-hidden', String(hidden));
        body.setAttribute('data-expanded', blocks.filter(function (b) { return b.open; }).map(function (b) { return groups[b.group].id; }).join(' '));
        body.setAttribute('data-render-ms', String(Math.round(finished - started)));
        if (!body.hasAttribute('data-ready-ms')) body.setAttribute('data-ready-ms', String(Math.round(finished)));
        body.setAttribute('data-ready', 'true');
      }

      function clearFocus() {
        svg.classList.remove('focus');
        Array.prototype.slice.call(svg.querySelectorAll('.lit, .selected')).forEach(function (e) { e.classList.remove('lit'); e.classList.remove('selected'); });
      }
      function focus(u) {
        clearFocus();
        svg.classList.add('focus');
        u.el.classList.add('lit'); u.el.classList.add('selected');
        links.forEach(function (link) {
          if (link.a !== u && link.b !== u) return;
          link.el.classList.add('lit'); if (link.label) link.label.classList.add('lit');
          link.a.el.classList.add('lit'); link.b.el.classList.add('lit');
        });
      }

      // Zoom (wheel, around the pointer) and pan (drag) by moving the viewBox.
      // Zoomed far out, text would be too small to read and the browser's font metrics at tiny sizes
      // grow past the room the layout gave it: below 30% the subtitles and arrow labels go, below
      // 15% every text; hovering still shows every name.
      function setView(v) {
        view = v;
        svg.setAttribute('viewBox', v.map(fmt).join(' '));
        var scale = Math.min(svg.clientWidth / v[2], svg.clientHeight / v[3]);
        svg.classList.toggle('far', scale < 0.3);
        svg.classList.toggle('farther', scale < 0.15);
        body.setAttribute('data-scale', fmt(scale * 100) + '%');
      }
      function toMap(event) {
        var p = svg.createSVGPoint(); p.x = event.clientX; p.y = event.clientY;
        return p.matrixTransform(svg.getScreenCTM().inverse());
      }
      svg.addEventListener('wheel', function (event) {
        event.preventDefault();
        var k = event.deltaY > 0 ? 1.15 : 1 / 1.15, p = toMap(event);
        setView([p.x - (p.x - view[0]) * k, p.y - (p.y - view[1]) * k, view[2] * k, view[3] * k]);
      }, { passive: false });
      var drag = null, dragged = false;
      svg.addEventListener('pointerdown', function (event) { drag = { x: event.clientX, y: event.clientY, view: view.slice(), ctm: svg.getScreenCTM() }; dragged = false; });
      svg.addEventListener('pointermove', function (event) {
        if (!drag) return;
        var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
        if (Math.abs(dx) + Math.abs(dy) > 3) dragged = true;
        if (dragged) setView([drag.view[0] - dx / drag.ctm.a, drag.view[1] - dy / drag.ctm.d, drag.view[2], drag.view[3]]);
      });
      window.addEventListener('pointerup', function () { drag = null; });
      svg.addEventListener('click', function () { if (!dragged) clearFocus(); dragged = false; });

      // Filters and controls.
      Object.keys(verdicts).forEach(function (v) {
        var box = document.getElementById('show-' + v);
        box.addEventListener('change', function () { state.show[v] = box.checked; render(); });
      });
      [['filter-namespace', 'ns'], ['filter-port', 'port'], ['width-by', 'widthBy']].forEach(function (pair) {
        var select = document.getElementById(pair[0]);
        select.addEventListener('change', function () { state[pair[1]] = select.value; render(); });
      });
      document.getElementById('expand-all').addEventListener('click', function () { groups.forEach(function (g, i) { state.expanded[i] = true; }); render(); });
      document.getElementById('collapse-all').addEventListener('click', function () {
        state.expanded = {};
        groups.forEach(function (g, i) { if (g.kind !== 'namespace' && membersOf[i].length <= data.expandedGroupLimit) state.expanded[i] = true; });
        render();
      });
      document.getElementById('fit').addEventListener('click', function () { setView(fitted); });

      // Search: a node's id or name, or a namespace's; exact first, then the first that contains it.
      var names = document.getElementById('names');
      groups.forEach(function (g) { if (g.kind === 'namespace') { var o = document.createElement('option'); o.value = g.name; names.appendChild(o); } });
      nodes.forEach(function (n) { var o = document.createElement('option'); o.value = n.id; names.appendChild(o); });
      function find(query) {
        var q = query.trim().toLowerCase(), i;
        if (!q) return null;
        for (i = 0; i < nodes.length; i++) if (nodes[i].id.toLowerCase() === q || nodes[i].t.toLowerCase() === q) return { node: i };
        for (i = 0; i < groups.length; i++) if (groups[i].name.toLowerCase() === q || groups[i].id.toLowerCase() === q) return { group: i };
        for (i = 0; i < nodes.length; i++) if (nodes[i].id.toLowerCase().indexOf(q) >= 0) return { node: i };
        for (i = 0; i < groups.length; i++) if (groups[i].name.toLowerCase().indexOf(q) >= 0) return { group: i };
        return null;
      }
      function reveal(query) {
        var hit = find(query), search = document.getElementById('search');
        search.classList.toggle('missing', !hit);
        if (!hit) { body.setAttribute('data-found', ''); return; }
        var gi = hit.node !== undefined ? nodes[hit.node].g : hit.group;
        if (hit.node !== undefined) state.expanded[gi] = true;
        if (state.ns !== '' && groupById[state.ns] !== gi) { state.ns = ''; document.getElementById('filter-namespace').value = ''; }
        state.found = hit.node !== undefined ? 'n' + hit.node : (state.expanded[gi] ? '' : 'g' + gi);
        render();
        var box;
        if (state.found) {
          var u = unitByKey[state.found];
          box = { x: u.x, y: u.y, w: u.w, h: u.h };
        } else {
          blocks.forEach(function (b) { if (b.group === gi) { box = { x: b.x, y: b.y, w: b.w, h: b.h }; b.el.classList.add('found'); } });
        }
        if (box) {
          var width = Math.max(box.w * 3, 900), height = width * svg.clientHeight / Math.max(1, svg.clientWidth);
          setView([box.x + box.w / 2 - width / 2, box.y + box.h / 2 - height / 2, width, height]);
        }
        body.setAttribute('data-found', hit.node !== undefined ? nodes[hit.node].id : groups[gi].id);
      }
      var search = document.getElementById('search');
      search.addEventListener('change', function () { reveal(search.value); });
      search.addEventListener('keydown', function (event) { if (event.key === 'Enter') reveal(search.value); });

      render();
    })();

    """#
}
