import Metrics

/// The `http` fuzz target: the input is what a client sends to the metrics server
/// (`--metrics-address`). It goes through `HTTPRequestHead.parse` (L7's request-head parser, then
/// the server's rules) as the server reads it, whole
/// and cut at a point byte 0 picks (a head that is complete, or refused, in the first part must
/// parse the same in the whole: the server answers as soon as it can), then through
/// `MetricsRoutes.response`, as the server answers. A violated rule traps, as a crash would.
/// Returns true for a well-formed request.
package final class HTTPHarness {
    let routes = MetricsRoutes(metrics: { "# HELP x_total X\n# TYPE x_total counter\nx_total 1\n" }, healthy: { true })

    package init() {}

    package func run(_ data: UnsafeRawBufferPointer) -> Bool {
        let whole = HTTPRequestHead.parse(data)
        if let first = data.first, data.count > 1 {
            let cut = Int(first) * data.count / 256
            let part = HTTPRequestHead.parse(UnsafeRawBufferPointer(rebasing: data[..<cut]))
            precondition(part == .incomplete || part == whole, "a head parsed as \(part) when cut at \(cut), as \(whole) whole")
        }
        if case .request(let method, let path) = whole {
            precondition(!method.isEmpty && (path.hasPrefix("/") || path == "*"), "request \(method) \(path)")
        }
        if case .refused(let status) = whole { precondition([400, 431, 505].contains(status), "status \(status)") }
        let response = self.routes.response(to: whole)
        precondition(response.starts(with: Array("HTTP/1.1 ".utf8)) && response.count < 1024, "response")
        if case .request = whole { return true }
        return false
    }
}
