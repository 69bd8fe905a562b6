import Foundation
import Metrics
import Testing

/// The metrics server on loopback: routes, status codes, `Connection: close`, timeouts,
/// several clients at once, bind errors.
@Suite struct MetricsServerTests {
    static let routes = MetricsRoutes(metrics: { "# HELP x_total X\n# TYPE x_total counter\nx_total 7\n" }, healthy: { true })

    /// Sends `request` and reads the reply until the server closes the connection.
    static func exchange(_ port: UInt16, _ request: String, pauseAfterConnect: Double = 0) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        if pauseAfterConnect > 0 { Thread.sleep(forTimeInterval: pauseAfterConnect) }
        _ = Array(request.utf8).withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            reply += chunk[..<got]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    @Test func servesMetricsAndHealthAndRefusesTheRest() throws {
        let server = try MetricsServer(address: "127.0.0.1:0")
        server.start(Self.routes)
        defer { server.stop() }
        #expect(server.boundAddress == "127.0.0.1:\(server.port)")
        let metrics = try Self.exchange(server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"))
        #expect(metrics.contains("\r\nConnection: close\r\n"))
        #expect(metrics.hasSuffix("\r\n\r\n# HELP x_total X\n# TYPE x_total counter\nx_total 7\n"))
        #expect(metrics.contains("Content-Length: 50\r\n"))
        let head = try Self.exchange(server.port, "HEAD /metrics HTTP/1.0\r\n\r\n")
        #expect(head.hasPrefix("HTTP/1.1 200 OK\r\n") && head.hasSuffix("\r\n\r\n") && head.contains("Content-Length: 50\r\n"))
        #expect(try Self.exchange(server.port, "GET /healthz HTTP/1.0\r\n\r\n").hasSuffix("\r\n\r\nok\n"))
        let post = try Self.exchange(server.port, "POST /metrics HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi")
        #expect(post.hasPrefix("HTTP/1.1 405 Method Not Allowed\r\n") && post.contains("\r\nAllow: GET, HEAD\r\n"))
        #expect(try Self.exchange(server.port, "GET / HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.1 404 Not Found\r\n"))
        #expect(try Self.exchange(server.port, "GET /metrics HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(try Self.exchange(server.port, "GET /metrics HTTP/2.0\r\n\r\n").hasPrefix("HTTP/1.1 505 "))
        let huge = "GET /metrics HTTP/1.0\r\nX: " + String(repeating: "a", count: 20_000) + "\r\n\r\n"
        #expect(try Self.exchange(server.port, huge).hasPrefix("HTTP/1.1 431 "))
    }

    @Test func unhealthyIs503() throws {
        let server = try MetricsServer(address: "127.0.0.1:0")
        server.start(MetricsRoutes(metrics: { "" }, healthy: { false }))
        defer { server.stop() }
        #expect(try Self.exchange(server.port, "GET /healthz HTTP/1.0\r\n\r\n").hasPrefix("HTTP/1.1 503 "))
    }

    /// A client that connects and sends nothing gets 408 after the read timeout, and does not
    /// hold up the others meanwhile.
    @Test func aSilentClientTimesOutWithoutBlockingOthers() throws {
        let server = try MetricsServer(address: "127.0.0.1:0", readTimeout: 2)
        server.start(Self.routes)
        defer { server.stop() }
        let started = Date()
        let silent = Thread.detachNewThreadWithResult { try? Self.exchange(server.port, "", pauseAfterConnect: 0) }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try Self.exchange(server.port, "GET /healthz HTTP/1.0\r\n\r\n").hasSuffix("ok\n"))
        #expect(Date().timeIntervalSince(started) < 1.5, "a silent client held up another")
        let reply = silent.wait() ?? nil
        #expect(reply?.hasPrefix("HTTP/1.1 408 Request Timeout\r\n") == true, "\(reply ?? "nil")")
    }

    @Test func aBodyLeftUnreadDoesNotCutTheResponse() throws {
        let server = try MetricsServer(address: "127.0.0.1:0")
        server.start(Self.routes)
        defer { server.stop() }
        let body = String(repeating: "b", count: 3000)
        let reply = try Self.exchange(server.port, "GET /metrics HTTP/1.0\r\nContent-Length: 3000\r\n\r\n" + body)
        #expect(reply.hasSuffix("x_total 7\n"))
    }

    @Test func addressesAreCheckedAndBindErrorsNamed() throws {
        #expect(MetricsServer.hostAndPort("127.0.0.1:9100")! == ("127.0.0.1", "9100"))
        #expect(MetricsServer.hostAndPort("[::1]:9100")! == ("::1", "9100"))
        #expect(MetricsServer.hostAndPort(":9100")! == ("", "9100"))
        #expect(MetricsServer.hostAndPort("localhost:9100")! == ("localhost", "9100"))
        for bad in ["9100", "127.0.0.1", "127.0.0.1:", "::1:9100", "[::1]9100", "host:65536", "host:-1", "host:9x", "[]:1"] {
            #expect(MetricsServer.hostAndPort(bad) == nil, "\(bad)")
        }
        let first = try MetricsServer(address: "127.0.0.1:0")
        #expect(throws: MetricsServerError.self) { try MetricsServer(address: "127.0.0.1:\(first.port)") }
        do {
            _ = try MetricsServer(address: "127.0.0.1:\(first.port)")
        } catch {
            #expect(error.description == "cannot listen on '127.0.0.1:\(first.port)': Address already in use")
        }
        #expect(throws: MetricsServerError.self) { try MetricsServer(address: "no-such-host.invalid:9100") }
    }
}

extension Thread {
    /// Runs `body` on a new thread; `wait()` returns its result.
    final class Result<T: Sendable>: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var value: T?
        func wait() -> T? {
            self.done.wait()
            return self.value
        }
    }

    static func detachNewThreadWithResult<T: Sendable>(_ body: @escaping @Sendable () -> T) -> Result<T> {
        let result = Result<T>()
        Thread.detachNewThread {
            result.value = body()
            result.done.signal()
        }
        return result
    }
}
