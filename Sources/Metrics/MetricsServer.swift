#if canImport(Glibc)
import Glibc
#endif

/// An error opening the metrics listener (`--metrics-address`).
package struct MetricsServerError: Error, CustomStringConvertible, Sendable {
    package var description: String
}

/// What the metrics endpoint serves: the page (built at scrape time) and whether the process is
/// healthy (`/healthz`).
package struct MetricsRoutes: Sendable {
    package var metrics: @Sendable () -> String
    package var healthy: @Sendable () -> Bool

    package init(metrics: @escaping @Sendable () -> String, healthy: @escaping @Sendable () -> Bool) {
        self.metrics = metrics
        self.healthy = healthy
    }

    /// The whole response to a head: `/metrics` and `/healthz` by GET or HEAD; 405 for another
    /// method (with `Allow`), 404 for another path, the parser's refusal as it is. Every response
    /// closes the connection.
    package func response(to head: HTTPRequestHead) -> [UInt8] {
        switch head {
        case .incomplete:
            return Self.response(408, "request timeout\n")
        case .refused(let status):
            return Self.response(status, Self.reason(status).lowercased() + "\n")
        case .request(let method, let path):
            guard method == "GET" || method == "HEAD" else {
                return Self.response(405, "only GET and HEAD\n", extra: "Allow: GET, HEAD\r\n")
            }
            let head = method == "HEAD"
            switch path {
            case "/metrics":
                return Self.response(200, self.metrics(), contentType: "text/plain; version=0.0.4; charset=utf-8", head: head)
            case "/healthz":
                return self.healthy() ? Self.response(200, "ok\n", head: head) : Self.response(503, "not capturing\n", head: head)
            default:
                return Self.response(404, "not found: /metrics and /healthz are served\n", head: head)
            }
        }
    }

    static func response(_ status: Int, _ body: String, contentType: String = "text/plain; charset=utf-8",
                         extra: String = "", head: Bool = false) -> [UInt8] {
        let bytes = Array(body.utf8)
        var text = "HTTP/1.1 \(status) \(Self.reason(status))\r\nContent-Type: \(contentType)\r\n"
        text += "Content-Length: \(bytes.count)\r\nConnection: close\r\nCache-Control: no-store\r\n\(extra)\r\n"
        return Array(text.utf8) + (head ? [] : bytes)
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        case 505: "HTTP Version Not Supported"
        default: "Error"
        }
    }
}

/// A minimal HTTP/1.1 responder for Prometheus scrapes, on a thread of its own: `poll` over the
/// listening socket and at most `maximumClients` connections, each read into a bounded buffer
/// until its request head is complete (`HTTPRequestHead`), answered once and closed
/// (`Connection: close`). A client that has not sent a complete head within `readTimeout`
/// seconds gets 408; a response that cannot be sent within `writeTimeout` is abandoned. It
/// never touches the packet path: the page is built by `MetricsRoutes.metrics` at scrape time.
package final class MetricsServer: @unchecked Sendable {
    package static let maximumClients = 16
    /// Milliseconds a client has to send its head.
    let readTimeout: Int64
    let writeTimeout: Int32
    let listener: Int32
    /// Written to stop the thread (a pipe: the thread polls its read end).
    let wake: (read: Int32, write: Int32)
    /// The address as bound, `HOST:PORT` (`[HOST]:PORT` for IPv6), with the port the kernel chose for port 0.
    package let boundAddress: String
    package let port: UInt16
    private var thread: pthread_t?

    /// Listens on `address`, `HOST:PORT` or `[IPv6]:PORT` (HOST a name or a literal; empty
    /// for every address). Nothing is answered until `start`; connections wait in the backlog.
    package init(address: String, readTimeout: Int64 = 5, writeTimeout: Int32 = 5) throws(MetricsServerError) {
        self.readTimeout = readTimeout * 1000
        self.writeTimeout = writeTimeout
        guard let (host, port) = Self.hostAndPort(address) else {
            throw MetricsServerError(description: "'--metrics-address' must be HOST:PORT or [IPv6]:PORT (got '\(address)')")
        }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host.isEmpty ? nil : host, port, &hints, &list)
        guard status == 0, let first = list else {
            throw MetricsServerError(description: "cannot listen on '\(address)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw MetricsServerError(description: "cannot listen on '\(address)': \(Self.errnoText())") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 else {
            let text = Self.errnoText()
            close(fd)
            throw MetricsServerError(description: "cannot listen on '\(address)': \(text)")
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            close(fd)
            throw MetricsServerError(description: "cannot listen on '\(address)': \(Self.errnoText())")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        self.listener = fd
        self.wake = (pipeEnds[0], pipeEnds[1])
        (self.boundAddress, self.port) = Self.localAddress(fd)
    }

    deinit {
        self.stop()
        close(self.listener)
        close(self.wake.read)
        close(self.wake.write)
    }

    /// `HOST:PORT` → (HOST, PORT); `[v6]:PORT` → (v6, PORT); `:PORT` → ("", PORT), every
    /// address. PORT is 0-65535, digits only. Nil for anything else.
    package static func hostAndPort(_ address: String) -> (String, String)? {
        guard let colon = address.lastIndex(of: ":") else { return nil }
        var host = String(address[..<colon])
        let port = String(address[address.index(after: colon)...])
        guard !port.isEmpty, port.count <= 5, port.allSatisfy(\.isASCII), port.allSatisfy(\.isNumber),
              let number = Int(port), number <= 65_535 else { return nil }
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
        } else if host.contains(":") {
            return nil  // an IPv6 literal needs brackets
        }
        return (host, port)
    }

    static func localAddress(_ fd: Int32) -> (String, UInt16) {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let ok = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                getsockname(fd, address, &length) == 0
                    && getnameinfo(address, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                                   NI_NUMERICHOST | NI_NUMERICSERV) == 0
            }
        }
        guard ok else { return ("?", 0) }
        let name = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let port = UInt16(String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) ?? 0
        return (storage.ss_family == sa_family_t(AF_INET6) ? "[\(name)]:\(port)" : "\(name):\(port)", port)
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Starts answering on a thread of its own.
    package func start(_ routes: MetricsRoutes) {
        let box = Unmanaged.passRetained(ServerThread(server: self, routes: routes))
        var thread = pthread_t()
        let created = pthread_create(&thread, nil, { argument in
            let box = Unmanaged<ServerThread>.fromOpaque(argument!).takeRetainedValue()
            box.server.serve(box.routes)
            return nil
        }, box.toOpaque())
        if created == 0 { self.thread = thread } else { box.release() }
    }

    /// Stops answering and waits for the thread (connections being served are closed).
    package func stop() {
        guard let thread = self.thread else { return }
        self.thread = nil
        var byte: UInt8 = 1
        _ = write(self.wake.write, &byte, 1)
        pthread_join(thread, nil)
    }

    final class ServerThread {
        let server: MetricsServer
        let routes: MetricsRoutes
        init(server: MetricsServer, routes: MetricsRoutes) {
            self.server = server
            self.routes = routes
        }
    }

    struct Client {
        var fd: Int32
        var bytes: [UInt8]
        var deadline: Int64
    }

    /// Milliseconds of the monotonic clock.
    static func now() -> Int64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Int64(time.tv_sec) * 1000 + Int64(time.tv_nsec) / 1_000_000
    }

    func serve(_ routes: MetricsRoutes) {
        var clients: [Client] = []
        var fds: [pollfd] = []
        while true {
            fds.removeAll(keepingCapacity: true)
            fds.append(pollfd(fd: self.wake.read, events: Int16(POLLIN), revents: 0))
            // At the limit, new connections wait in the backlog until one is answered.
            fds.append(pollfd(fd: clients.count < Self.maximumClients ? self.listener : -1, events: Int16(POLLIN), revents: 0))
            for client in clients { fds.append(pollfd(fd: client.fd, events: Int16(POLLIN), revents: 0)) }
            let ready = poll(&fds, nfds_t(fds.count), 250)
            if ready < 0 && errno != EINTR { break }
            if fds[0].revents != 0 { break }
            let now = Self.now()
            var index = clients.count - 1
            while index >= 0 {
                let revents = fds[index + 2].revents
                if revents != 0 {
                    if self.read(&clients[index], routes) { clients.remove(at: index) }
                } else if now >= clients[index].deadline {
                    self.answer(clients[index].fd, routes.response(to: .incomplete))
                    clients.remove(at: index)
                }
                index -= 1
            }
            if fds[1].revents != 0 {
                let fd = accept(self.listener, nil, nil)
                if fd >= 0 {
                    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
                    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
                    clients.append(Client(fd: fd, bytes: [], deadline: now + self.readTimeout))
                }
            }
        }
        for client in clients { close(client.fd) }
    }

    /// Reads what arrived; answers and closes when the head is complete, refused, or the client
    /// went away. Returns true when the connection is done.
    func read(_ client: inout Client, _ routes: MetricsRoutes) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        let room = min(chunk.count, HTTPRequestHead.maximumBytes - client.bytes.count)
        let got = chunk.withUnsafeMutableBytes { recv(client.fd, $0.baseAddress, room, 0) }
        if got < 0 && (errno == EAGAIN || errno == EINTR) { return false }
        guard got > 0 else {
            close(client.fd)
            return true
        }
        client.bytes += chunk[..<got]
        let head = client.bytes.withUnsafeBytes { HTTPRequestHead.parse($0) }
        if head == .incomplete { return false }
        self.answer(client.fd, routes.response(to: head))
        return true
    }

    /// Sends a whole response (blocking, within the write timeout) and closes the connection.
    func answer(_ fd: Int32, _ response: [UInt8]) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        var timeout = timeval(tv_sec: Int(self.writeTimeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sent = 0
        let deadline = Self.now() + Int64(self.writeTimeout) * 1000
        response.withUnsafeBytes { bytes in
            // Within the write timeout in all: a client reading a byte at a time cannot hold the thread.
            while sent < bytes.count && Self.now() < deadline {
                let count = send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                sent += count
            }
        }
        // Unread request bytes (a body, a pipelined request) would make close send a reset that
        // can cut the response short at the client: half-close, read what is there, then close.
        shutdown(fd, Int32(SHUT_WR))
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let got = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if got <= 0 { break }
        }
        close(fd)
    }
}
