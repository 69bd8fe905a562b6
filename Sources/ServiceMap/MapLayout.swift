import Foundation

/// Where everything of a `ServiceMap` goes on the page, computed without randomness so the
/// same map is always drawn the same way.
///
/// Each group is a box of its nodes (a grid, about as wide as tall); the boxes sit around an
/// ellipse, in group order, far enough apart not to overlap, so arrows run through the open
/// middle instead of across other boxes. An arrow (a `MapLink`: every service from one node to
/// another in one verdict class) is a quadratic curve that bends to its right, so the two
/// directions between a pair of nodes never share a line and an allowed and a would-be-dropped
/// arrow fan out. A self-link is a loop on the node's outer side. Labels (one line per
/// service) are placed along their curve where they overlap no node, group title or earlier
/// label (a spatial grid keeps this linear), the busiest links first.
package struct MapLayout: Sendable {
    package struct Point: Sendable, Equatable {
        package var x: Double
        package var y: Double
        static func + (a: Point, b: Point) -> Point { Point(x: a.x + b.x, y: a.y + b.y) }
        static func - (a: Point, b: Point) -> Point { Point(x: a.x - b.x, y: a.y - b.y) }
        static func * (a: Point, k: Double) -> Point { Point(x: a.x * k, y: a.y * k) }
        var length: Double { (self.x * self.x + self.y * self.y).squareRoot() }
    }

    package struct Rect: Sendable, Equatable {
        package var x: Double
        package var y: Double
        package var width: Double
        package var height: Double
        package var center: Point { Point(x: self.x + self.width / 2, y: self.y + self.height / 2) }
        var maxX: Double { self.x + self.width }
        var maxY: Double { self.y + self.height }

        func intersects(_ other: Rect, margin: Double = 0) -> Bool {
            self.x - margin < other.maxX && other.x - margin < self.maxX
                && self.y - margin < other.maxY && other.y - margin < self.maxY
        }

        func overlapArea(_ other: Rect) -> Double {
            let w = min(self.maxX, other.maxX) - max(self.x, other.x)
            let h = min(self.maxY, other.maxY) - max(self.y, other.y)
            return w > 0 && h > 0 ? w * h : 0
        }

        /// Where a ray from the center in direction `direction` leaves the box.
        func boundary(toward direction: Point) -> Point {
            let length = direction.length
            guard length > 0 else { return self.center }
            let unit = direction * (1 / length)
            let sx = abs(unit.x) > 1e-9 ? (self.width / 2) / abs(unit.x) : .infinity
            let sy = abs(unit.y) > 1e-9 ? (self.height / 2) / abs(unit.y) : .infinity
            return self.center + unit * min(sx, sy)
        }

        func offset(by delta: Point) -> Rect { Rect(x: self.x + delta.x, y: self.y + delta.y, width: self.width, height: self.height) }
    }

    package struct LinkGeometry: Sendable, Equatable {
        /// SVG path data (`M x y Q cx cy x y`, or a cubic loop).
        package var path: String
        /// The center of the label block.
        package var label: Point
        /// Stroke width, by connection count.
        package var width: Double
        /// The edges (indices into `ServiceMap.edges`) with a line of their own in the label;
        /// the others of the link are summed up on a last line (`+3 more`).
        package var shownEdges: [Int]
        package var hiddenEdges: [Int]
    }

    package var width: Double
    package var height: Double
    /// Parallel to `ServiceMap.groups`.
    package var groups: [Rect]
    /// Parallel to `ServiceMap.nodes`.
    package var nodes: [Rect]
    /// Parallel to `ServiceMap.links`.
    package var links: [LinkGeometry]

    // Sizes, in SVG user units (pixels at 100%).
    package static let nodeHeight = 42.0
    static let nodeMinWidth = 104.0
    static let nodeMaxWidth = 210.0
    static let titleCharWidth = 7.4
    static let nodeGap = 14.0
    static let groupPadding = 12.0
    static let groupHeader = 24.0
    static let groupGap = 28.0
    static let margin = 24.0
    package static let labelLineHeight = 12.5
    static let labelCharWidth = 6.3
    /// Most label lines per link; more services are summed up on the last line.
    package static let maximumLabelLines = 5
    package static let maximumTitleCharacters = 26
    /// The ring's width over its height: wider than tall, as screens are.
    static let ringAspect = 1.75

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

    static func nodeWidth(_ node: MapNode) -> Double {
        let characters = max(Double(displayTitle(node.title).count), Double(min(subtitle(node).count, 34)) * 0.85)
        return min(nodeMaxWidth, max(nodeMinWidth, (characters * titleCharWidth + 24).rounded()))
    }

    package init(_ map: ServiceMap) {
        // 1. Nodes in a grid inside each group, relative to the group's corner.
        var nodeRects = [Rect](repeating: Rect(x: 0, y: 0, width: 0, height: 0), count: map.nodes.count)
        var groupSizes: [(width: Double, height: Double)] = []
        var nodesByGroup = [[Int]](repeating: [], count: map.groups.count)
        let groupIndex = Dictionary(uniqueKeysWithValues: map.groups.enumerated().map { ($1, $0) })
        for (index, node) in map.nodes.enumerated() { nodesByGroup[groupIndex[node.group]!].append(index) }
        let minimumRadius = 60 + 26 * Double(map.links.count).squareRoot()
        for (g, members) in nodesByGroup.enumerated() {
            let titleWidth = Double(map.groups[g].title.count) * 7.2 + 2 * Self.groupPadding
            if map.groups.count == 1 && members.count > 4 {
                // One group only (addresses without inventory, or one namespace): its nodes go
                // around the ellipse themselves, so arrows cross the middle, not the boxes.
                let rects = Self.ring(members.map { (Self.nodeWidth(map.nodes[$0]), Self.nodeHeight) }, minimumRadius: minimumRadius)
                var bounds = rects[0]
                for rect in rects { bounds = Self.union(bounds, rect) }
                let shift = Point(x: Self.groupPadding - bounds.x, y: Self.groupHeader - bounds.y)
                for (position, index) in members.enumerated() { nodeRects[index] = rects[position].offset(by: shift) }
                groupSizes.append((max(titleWidth, bounds.width + 2 * Self.groupPadding), bounds.height + Self.groupHeader + Self.groupPadding))
                continue
            }
            let columns = max(1, Int(Double(members.count).squareRoot().rounded(.up)))
            let cellWidth = members.map { Self.nodeWidth(map.nodes[$0]) }.max() ?? Self.nodeMinWidth
            for (position, index) in members.enumerated() {
                let column = position % columns, row = position / columns
                nodeRects[index] = Rect(x: Self.groupPadding + Double(column) * (cellWidth + Self.nodeGap),
                                        y: Self.groupHeader + Double(row) * (Self.nodeHeight + Self.nodeGap),
                                        width: cellWidth, height: Self.nodeHeight)
            }
            let rows = (members.count + columns - 1) / columns
            let width = max(titleWidth, 2 * Self.groupPadding + Double(columns) * cellWidth + Double(columns - 1) * Self.nodeGap)
            let height = Self.groupHeader + Double(rows) * Self.nodeHeight + Double(max(0, rows - 1)) * Self.nodeGap + Self.groupPadding
            groupSizes.append((width, height))
        }

        // 2. Groups around an ellipse, grown until no two boxes come close.
        // World on top; then the namespaces clockwise, then the cluster's own identities.
        let ringOrder = map.groups.indices.sorted { a, b in
            (map.groups[a].kind == .world ? 0 : 1, a) < (map.groups[b].kind == .world ? 0 : 1, b)
        }
        let ringRects = Self.ring(ringOrder.map { groupSizes[$0] }, minimumRadius: minimumRadius)
        var groupRects = [Rect](repeating: Rect(x: 0, y: 0, width: 0, height: 0), count: map.groups.count)
        for (position, g) in ringOrder.enumerated() { groupRects[g] = ringRects[position] }
        for (g, members) in nodesByGroup.enumerated() {
            for index in members { nodeRects[index] = nodeRects[index].offset(by: Point(x: groupRects[g].x, y: groupRects[g].y)) }
        }
        var allGroups: Rect?
        for rect in groupRects { allGroups = allGroups.map { Self.union($0, rect) } ?? rect }
        let ringCenter = allGroups?.center ?? Point(x: 0, y: 0)

        // 3. Links.
        let nodeIndex = Dictionary(uniqueKeysWithValues: map.nodes.enumerated().map { ($1.id, $0) })
        var parallel: [String: Int] = [:]
        var curves: [Curve] = []
        var links: [LinkGeometry] = []
        for link in map.links {
            let source = nodeRects[nodeIndex[link.source]!]
            let destination = nodeRects[nodeIndex[link.destination]!]
            let pairKey = "\(link.source)\u{0}\(link.destination)"
            let k = parallel[pairKey, default: 0]
            parallel[pairKey] = k + 1
            let width = min(6, 1.3 + log2(Double(link.connections)) * 0.9)
            if link.source == link.destination {
                var outward = source.center - ringCenter
                if outward.length < 1 { outward = Point(x: 0, y: -1) }
                let u = outward * (1 / outward.length)
                let v = Point(x: -u.y, y: u.x)
                let start = source.boundary(toward: u * 1 + v * 0.5)
                let end = source.boundary(toward: u * 1 - v * 0.5)
                let reach = 40 + Double(k) * 18
                curves.append(Curve(start: start, control1: start + u * reach + v * 18, control2: end + u * reach - v * 18, end: end))
            } else {
                let p0 = source.center, p1 = destination.center
                let d = p1 - p0
                let length = max(d.length, 1)
                let normal = Point(x: -d.y / length, y: d.x / length)
                let offset = min(90, length * 0.07 + 14) + Double(k) * 26
                let control = (p0 + p1) * 0.5 + normal * (2 * offset)
                let start = source.boundary(toward: control - p0)
                let end = destination.boundary(toward: control - p1)
                curves.append(Curve(start: start, control1: control, control2: nil, end: end))
            }
            let shown = link.edges.count <= Self.maximumLabelLines ? link.edges : Array(link.edges.prefix(Self.maximumLabelLines - 1))
            links.append(LinkGeometry(path: "", label: Point(x: 0, y: 0), width: width, shownEdges: shown,
                                      hiddenEdges: Array(link.edges.dropFirst(shown.count))))
        }

        // 4. Labels: busiest links first, each at the first spot along its curve that is free.
        var occupied = SpatialIndex(cell: 80)
        for rect in nodeRects { occupied.insert(rect, weight: 4) }
        for (g, rect) in groupRects.enumerated() {
            let titleWidth = Double(map.groups[g].title.count) * 7.2 + 12
            occupied.insert(Rect(x: rect.x, y: rect.y, width: min(rect.width, titleWidth), height: Self.groupHeader - 2), weight: 3)
        }
        let order = map.links.indices.sorted { a, b in
            (map.links[a].connections, b) > (map.links[b].connections, a)
        }
        let spots = [0.5, 0.44, 0.56, 0.38, 0.62, 0.32, 0.68, 0.26, 0.74, 0.2, 0.8, 0.15, 0.85]
        var labelBoxes = [Rect](repeating: Rect(x: 0, y: 0, width: 0, height: 0), count: links.count)
        for index in order {
            let size = Self.labelSize(map, links[index])
            let curve = curves[index]
            let chord = curve.end - curve.start
            let normal = chord.length > 0 ? Point(x: -chord.y / chord.length, y: chord.x / chord.length) : Point(x: 0, y: 1)
            var best: (overlap: Double, point: Point)?
            search: for t in spots {
                for shift in [0.0, size.height / 2 + 3, -(size.height / 2 + 3), size.height + 6, -(size.height + 6)] {
                    let point = curve.point(at: t) + normal * shift
                    let box = Rect(x: point.x - size.width / 2, y: point.y - size.height / 2, width: size.width, height: size.height)
                    let overlap = occupied.overlap(with: box)
                    if best == nil || overlap < best!.overlap { best = (overlap, point) }
                    if overlap == 0 { break search }
                }
            }
            let point = best!.point
            links[index].label = point
            labelBoxes[index] = Rect(x: point.x - size.width / 2, y: point.y - size.height / 2, width: size.width, height: size.height)
            occupied.insert(labelBoxes[index])
        }

        // 5. Everything moved into view, with a margin; the canvas fits curves and labels too.
        var bounds = allGroups ?? Rect(x: 0, y: 0, width: 240, height: 120)
        for (index, curve) in curves.enumerated() {
            for point in [curve.start, curve.point(at: 0.5), curve.end] {
                bounds = Self.union(bounds, Rect(x: point.x, y: point.y, width: 0, height: 0))
            }
            bounds = Self.union(bounds, labelBoxes[index])
        }
        let shift = Point(x: Self.margin - bounds.x, y: Self.margin - bounds.y)
        self.groups = groupRects.map { $0.offset(by: shift) }
        self.nodes = nodeRects.map { $0.offset(by: shift) }
        self.links = zip(links, curves).map { link, curve in
            var link = link
            link.path = curve.offset(by: shift).path
            link.label = link.label + shift
            return link
        }
        self.width = (bounds.width + 2 * Self.margin).rounded(.up)
        self.height = (bounds.height + 2 * Self.margin).rounded(.up)
    }

    /// The lines of a link's label: one per shown edge (`53/UDP ×8`), and `+N more` for the rest.
    package static func labelLines(_ map: ServiceMap, _ link: LinkGeometry) -> [String] {
        link.shownEdges.map { map.edges[$0].label } + (link.hiddenEdges.isEmpty ? [] : ["+\(link.hiddenEdges.count) more"])
    }

    static func labelSize(_ map: ServiceMap, _ link: LinkGeometry) -> (width: Double, height: Double) {
        let lines = Self.labelLines(map, link)
        let longest = lines.map(\.count).max() ?? 0
        return (Double(longest) * Self.labelCharWidth + 6, Double(lines.count) * Self.labelLineHeight + 3)
    }

    /// A quadratic curve (`control2` nil) or a cubic one.
    struct Curve {
        var start: Point
        var control1: Point
        var control2: Point?
        var end: Point

        func point(at t: Double) -> Point {
            let u = 1 - t
            if let c2 = self.control2 {
                return self.start * (u * u * u) + self.control1 * (3 * u * u * t) + c2 * (3 * u * t * t) + self.end * (t * t * t)
            }
            return self.start * (u * u) + self.control1 * (2 * u * t) + self.end * (t * t)
        }

        func offset(by delta: Point) -> Curve {
            Curve(start: self.start + delta, control1: self.control1 + delta, control2: self.control2.map { $0 + delta },
                  end: self.end + delta)
        }

        var path: String {
            if let c2 = self.control2 {
                return "M\(MapLayout.format(self.start)) C\(MapLayout.format(self.control1)) \(MapLayout.format(c2)) \(MapLayout.format(self.end))"
            }
            return "M\(MapLayout.format(self.start)) Q\(MapLayout.format(self.control1)) \(MapLayout.format(self.end))"
        }
    }

    /// Boxes of the given sizes around an ellipse (`ringAspect` times wider than tall), in order, clockwise, the first
    /// centered at the top. The gaps between neighbours are equal along the ellipse; the
    /// ellipse grows until no two boxes come closer than `groupGap`.
    static func ring(_ sizes: [(width: Double, height: Double)], minimumRadius: Double = 120) -> [Rect] {
        switch sizes.count {
        case 0: return []
        case 1: return [Rect(x: 0, y: 0, width: sizes[0].width, height: sizes[0].height)]
        default: break
        }
        let aspect = Self.ringAspect
        let extents = sizes.map { ($0.width + $0.height) / 2 }
        let occupied = extents.reduce(0, +)
        let unitPerimeter = Self.ellipseAngles(atArcFractions: [], aspect: aspect).perimeter
        let count = Double(sizes.count)
        var radiusY = max(minimumRadius, (occupied + count * groupGap) / unitPerimeter)
        var rects: [Rect] = []
        for _ in 0..<200 {
            let perimeter = radiusY * unitPerimeter
            let gap = (perimeter - occupied) / count
            var centers: [Double] = [0]
            for i in 1..<sizes.count { centers.append(centers[i - 1] + extents[i - 1] / 2 + gap + extents[i] / 2) }
            let angles = Self.ellipseAngles(atArcFractions: centers.map { $0 / perimeter }, aspect: aspect).angles
            let radiusX = radiusY * aspect
            rects = zip(sizes, angles).map { size, angle in
                Rect(x: radiusX * cos(angle) - size.width / 2, y: radiusY * sin(angle) - size.height / 2,
                     width: size.width, height: size.height)
            }
            if !Self.anyOverlap(rects) { break }
            radiusY *= 1.05
        }
        return rects
    }

    /// Angles (from the top, clockwise) of the points at the given fractions (0 to 1, sorted)
    /// of an ellipse's perimeter, its y radius 1 and its x radius `aspect`; and the perimeter.
    static func ellipseAngles(atArcFractions fractions: [Double], aspect: Double) -> (angles: [Double], perimeter: Double) {
        let steps = 2880
        var cumulative = [0.0]
        cumulative.reserveCapacity(steps + 1)
        func point(_ i: Int) -> Point {
            let angle = -Double.pi / 2 + 2 * Double.pi * Double(i) / Double(steps)
            return Point(x: aspect * cos(angle), y: sin(angle))
        }
        var previous = point(0)
        for i in 1...steps {
            let next = point(i)
            cumulative.append(cumulative[i - 1] + (next - previous).length)
            previous = next
        }
        let perimeter = cumulative[steps]
        var result: [Double] = []
        var i = 0
        for fraction in fractions {
            let target = fraction * perimeter
            while i < steps && cumulative[i + 1] < target { i += 1 }
            let span = cumulative[min(i + 1, steps)] - cumulative[i]
            let within = span > 0 ? (target - cumulative[i]) / span : 0
            result.append(-Double.pi / 2 + 2 * Double.pi * (Double(i) + within) / Double(steps))
        }
        return (result, perimeter)
    }

    /// Whether two boxes come closer than `groupGap` (neighbours on the ring, and every pair for
    /// up to 300 groups).
    static func anyOverlap(_ rects: [Rect]) -> Bool {
        if rects.count <= 300 {
            for i in rects.indices {
                for j in (i + 1)..<rects.count where rects[i].intersects(rects[j], margin: groupGap) { return true }
            }
            return false
        }
        for i in rects.indices where rects[i].intersects(rects[(i + 1) % rects.count], margin: groupGap) { return true }
        return false
    }

    static func union(_ a: Rect, _ b: Rect) -> Rect {
        let x = min(a.x, b.x), y = min(a.y, b.y)
        return Rect(x: x, y: y, width: max(a.maxX, b.maxX) - x, height: max(a.maxY, b.maxY) - y)
    }

    /// A number with at most one decimal, the same on every machine and locale (`12.5`, `-3`).
    package static func format(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = abs(tenths)
        return magnitude % 10 == 0 ? "\(sign)\(magnitude / 10)" : "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    static func format(_ point: Point) -> String { "\(format(point.x)) \(format(point.y))" }
}

/// Boxes in buckets of a fixed grid, to find what a new box overlaps without looking at all.
struct SpatialIndex {
    let cell: Double
    var buckets: [Int64: [Int]] = [:]
    var rects: [MapLayout.Rect] = []

    init(cell: Double) { self.cell = cell }

    private func cells(_ rect: MapLayout.Rect) -> [Int64] {
        let x0 = Int64((rect.x / self.cell).rounded(.down)), x1 = Int64((rect.maxX / self.cell).rounded(.down))
        let y0 = Int64((rect.y / self.cell).rounded(.down)), y1 = Int64((rect.maxY / self.cell).rounded(.down))
        var result: [Int64] = []
        for x in x0...x1 { for y in y0...y1 { result.append(x &* 1_000_003 &+ y) } }
        return result
    }

    var weights: [Double] = []

    /// `weight` scales what overlapping this box costs (a node or a heading more than a label).
    mutating func insert(_ rect: MapLayout.Rect, weight: Double = 1) {
        self.rects.append(rect)
        self.weights.append(weight)
        for key in self.cells(rect) { self.buckets[key, default: []].append(self.rects.count - 1) }
    }

    /// Area of `rect` covered by boxes already inserted, each by its weight.
    func overlap(with rect: MapLayout.Rect) -> Double {
        var seen = Set<Int>()
        var area = 0.0
        for key in self.cells(rect) {
            for index in self.buckets[key] ?? [] where seen.insert(index).inserted {
                area += self.rects[index].overlapArea(rect) * self.weights[index]
            }
        }
        return area
    }
}
