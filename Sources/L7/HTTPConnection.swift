/// A passive HTTP/1.x parser for one TCP connection (RFC 9112), fed each segment's payload in
/// capture order with its sequence number. It reads only what arrives in order: a gap stops the
/// direction (never guessed), bytes seen before are skipped. It reports each request when its
/// head is read and each response when it ends, paired first-in first-out with the requests
/// waiting (pipelining, RFC 9112 §9.3.2); bodies are skipped, not stored. Bounded by
/// `HTTPLimits`: bytes per direction, head size, field count, requests waiting.
public struct HTTPConnection: Sendable {
    public let limits: HTTPLimits
    var client = HTTPStream()
    var server = HTTPStream()
    /// Requests whose responses have not started, oldest first.
    var pending: [HTTPRequest] = []
    /// The response being read, and its request.
    var response: (HTTPResponse, HTTPRequest)?

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Whether either direction is still parsed.
    public var isParsing: Bool { self.client.isParsing || self.server.isParsing }

    /// Whether a connection's first client payload starts an HTTP/1.x request: a method of
    /// RFC 9110 §9 (or PATCH, RFC 5789) and a space. Reads at most 8 bytes; no allocation.
    public static func looksLikeRequest(_ payload: UnsafeRawBufferPointer) -> Bool {
        // Not `payload.first`: Collection's, unspecialized in a debug build, allocates.
        guard !payload.isEmpty else { return false }
        return switch payload[0] {
        case UInt8(ascii: "G"): Self.starts(payload, "GET ")
        case UInt8(ascii: "P"): Self.starts(payload, "POST ") || Self.starts(payload, "PUT ") || Self.starts(payload, "PATCH ")
        case UInt8(ascii: "H"): Self.starts(payload, "HEAD ")
        case UInt8(ascii: "D"): Self.starts(payload, "DELETE ")
        case UInt8(ascii: "O"): Self.starts(payload, "OPTIONS ")
        case UInt8(ascii: "C"): Self.starts(payload, "CONNECT ")
        case UInt8(ascii: "T"): Self.starts(payload, "TRACE ")
        default: false
        }
    }

    static func starts(_ payload: UnsafeRawBufferPointer, _ prefix: StaticString) -> Bool {
        let count = prefix.utf8CodeUnitCount
        guard payload.count >= count else { return false }
        for index in 0..<count where payload[index] != prefix.utf8Start[index] { return false }
        return true
    }

    /// Reads one segment's payload of the direction `fromClient`, sent with TCP sequence number
    /// `sequence` and captured at `time` (nanoseconds).
    public mutating func feed(_ payload: UnsafeRawBufferPointer, sequence: UInt32, fromClient: Bool, time: Int64,
                              emit: (HTTPEvent) -> Void) {
        guard !payload.isEmpty, fromClient ? self.client.isParsing : self.server.isParsing else { return }
        var stream = HTTPStream()
        if fromClient { swap(&stream, &self.client) } else { swap(&stream, &self.server) }
        defer { if fromClient { swap(&stream, &self.client) } else { swap(&stream, &self.server) } }
        var offset: Int
        switch stream.newBytes(count: payload.count, sequence: sequence) {
        case .success(let first): offset = first
        case .failure(.retransmission):
            emit(.error(.retransmission, fromClient: fromClient))
            return
        case .failure(let error):
            self.stop(&stream, fromClient: fromClient, error, emit: emit)
            return
        }
        if offset > 0 { emit(.error(.retransmission, fromClient: fromClient)) }
        var end = payload.count
        let room = self.limits.depth - stream.consumed
        let deep = end - offset > room
        if deep { end = offset + room }
        stream.consumed += end - offset
        while offset < end && stream.isParsing {
            offset = self.read(payload, from: offset, to: end, &stream, fromClient: fromClient, time: time, emit: emit)
        }
        if deep && stream.isParsing { self.stop(&stream, fromClient: fromClient, .depthReached, emit: emit) }
    }

    /// The direction `fromClient` ended (FIN or RST): a response read until the server closes
    /// ends here; one cut short is reported incomplete.
    public mutating func close(fromClient: Bool, emit: (HTTPEvent) -> Void) {
        if fromClient {
            self.client.phase = .ignored
            self.client.head = []
        } else if self.server.isParsing {
            if self.server.phase == .untilClose { self.response?.0.complete = true }
            self.server.phase = .ignored
            self.server.head = []
            self.endResponse(emit: emit)
        }
    }

    /// The connection ended (closed, timed out, evicted, end of capture): what is in progress
    /// is reported, and the requests still waiting as unanswered.
    public mutating func end(emit: (HTTPEvent) -> Void) {
        self.close(fromClient: true, emit: emit)
        self.close(fromClient: false, emit: emit)
        for request in self.pending { emit(.unanswered(request)) }
        self.pending = []
    }

    /// Reads from `offset` in the current phase; returns where it stopped.
    mutating func read(_ payload: UnsafeRawBufferPointer, from start: Int, to end: Int, _ stream: inout HTTPStream,
                       fromClient: Bool, time: Int64, emit: (HTTPEvent) -> Void) -> Int {
        var offset = start
        switch stream.phase {
        case .ignored:
            return end
        case .untilClose:
            self.response?.0.length += end - offset
            return end
        case .body(let remaining), .chunkData(let remaining):
            let count = min(remaining, end - offset)
            if !fromClient { self.response?.0.length += count }
            if count < remaining {
                stream.phase = stream.phase == .body(remaining: remaining) ? .body(remaining: remaining - count) : .chunkData(remaining: remaining - count)
            } else if stream.phase == .body(remaining: remaining) {
                self.messageEnded(&stream, fromClient: fromClient, emit: emit)
            } else {
                stream.phase = .chunkDataEnd(sawCR: false)
            }
            return offset + count
        case .head:
            // The scanner looks for line feeds, not at each byte, and the bytes of the head are
            // copied a run at a time (a byte at a time cost a quarter of a replay with much HTTP:
            // the binary body a head scan runs into is scanned up to `headBytes`).
            var run = offset
            while offset < end {
                let (index, step) = stream.scanner.scan(payload, from: offset, to: end)
                // A head over the limit stops here: the bytes before `index` belong to it.
                guard index == offset || stream.head.count + stream.uncopied + (index - run) <= self.limits.headBytes else {
                    self.stop(&stream, fromClient: fromClient, .headerTooLong, emit: emit)
                    return end
                }
                offset = min(index + 1, end)
                switch step {
                case .byte:
                    break
                case .leadingEmptyLine:
                    stream.head.removeAll(keepingCapacity: true)
                    run = offset
                case .end:
                    if let refusal = stream.refusal {
                        stream.resetHead()
                        self.stop(&stream, fromClient: fromClient, refusal, emit: emit)
                    } else if stream.head.isEmpty {
                        // The whole head is in this segment (the usual case): read in place.
                        stream.headTime = time
                        self.headEnded(UnsafeRawBufferPointer(rebasing: payload[run..<offset]), &stream,
                                       fromClient: fromClient, emit: emit)
                    } else {
                        Self.append(payload, run..<offset, to: &stream, time: time)
                        let gathered = stream.head
                        stream.resetHead()
                        gathered.withUnsafeBytes { self.headEnded($0, &stream, fromClient: fromClient, emit: emit) }
                    }
                    return offset
                }
            }
            if stream.refusal != nil {
                stream.uncopied += offset - run
            } else {
                Self.append(payload, run..<offset, to: &stream, time: time)
                if stream.scanner.started && !stream.startLineChecked { self.checkStartLine(&stream, fromClient: fromClient) }
            }
            return offset
        case .chunkSize, .chunkDataEnd, .trailers:
            while offset < end, let next = Self.chunkFraming(stream.phase, payload[offset], limits: self.limits) {
                offset += 1
                switch next {
                case .success(.head):
                    self.messageEnded(&stream, fromClient: fromClient, emit: emit)
                    return offset
                case .success(let phase):
                    stream.phase = phase
                    if case .chunkData = phase { return offset }
                case .failure(let error):
                    self.stop(&stream, fromClient: fromClient, error, emit: emit)
                    return end
                }
            }
            return offset
        }
    }

    /// The head being gathered holds its whole start line: when the parser will refuse it, the
    /// bytes gathered are let go and the rest of the head is only counted.
    func checkStartLine(_ stream: inout HTTPStream, fromClient: Bool) {
        stream.startLineChecked = true
        let refusal: HTTPParseError? = stream.head.withUnsafeBytes { head in
            guard let first = HTTPHeadParser.lines(head, limit: 1).first else { return fromClient ? .badRequestLine : .badStatusLine }
            do throws(HTTPParseError) {
                if fromClient {
                    _ = try HTTPHeadParser.requestLine(first, limits: self.limits)
                } else {
                    _ = try HTTPHeadParser.statusLine(first)
                }
                return nil
            } catch {
                return error
            }
        }
        guard let refusal else { return }
        stream.refusal = refusal
        stream.uncopied = stream.head.count
        stream.head = []
    }

    /// Adds `range` of `payload` to the head being gathered; its first byte's time is the head's.
    static func append(_ payload: UnsafeRawBufferPointer, _ range: Range<Int>, to stream: inout HTTPStream, time: Int64) {
        guard !range.isEmpty else { return }
        if stream.head.isEmpty { stream.headTime = time }
        stream.head.append(contentsOf: UnsafeRawBufferPointer(rebasing: payload[range]))
    }

    /// The phase after one byte of chunk framing (RFC 9112 §7.1): `chunk-size [chunk-ext] CRLF`,
    /// the CRLF after chunk data, the trailer section; `.head` when the message ends.
    static func chunkFraming(_ phase: HTTPStream.Phase, _ byte: UInt8, limits: HTTPLimits) -> Result<HTTPStream.Phase, HTTPParseError>? {
        switch phase {
        case .chunkSize(let value, let digits, let lineBytes, let inExtension):
            guard lineBytes < 4096 else { return .failure(.badChunk) }
            switch byte {
            case 0x0A:
                guard digits else { return .failure(.badChunk) }
                return .success(value == 0 ? .trailers(lineHasContent: false, bytes: 0) : .chunkData(remaining: value))
            case 0x0D:
                return .success(.chunkSize(value: value, digits: digits, lineBytes: lineBytes + 1, inExtension: inExtension))
            case _ where inExtension:
                return .success(.chunkSize(value: value, digits: digits, lineBytes: lineBytes + 1, inExtension: true))
            case 0x3B, 0x20, 0x09:
                guard digits else { return .failure(.badChunk) }
                return .success(.chunkSize(value: value, digits: true, lineBytes: lineBytes + 1, inExtension: true))
            default:
                guard let digit = Self.hexValue(byte), value < 1 << 48 else { return .failure(.badChunk) }
                return .success(.chunkSize(value: value << 4 | digit, digits: true, lineBytes: lineBytes + 1, inExtension: false))
            }
        case .chunkDataEnd(let sawCR):
            if byte == 0x0D && !sawCR { return .success(.chunkDataEnd(sawCR: true)) }
            guard byte == 0x0A else { return .failure(.badChunk) }
            return .success(.chunkSize(value: 0, digits: false, lineBytes: 0, inExtension: false))
        case .trailers(let lineHasContent, let bytes):
            guard bytes < limits.headBytes else { return .failure(.headerTooLong) }
            if byte == 0x0A { return .success(lineHasContent ? .trailers(lineHasContent: false, bytes: bytes + 1) : .head) }
            return .success(.trailers(lineHasContent: lineHasContent || byte != 0x0D, bytes: bytes + 1))
        default:
            return nil
        }
    }

    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }

    /// The `head` of a message was read (in place, or gathered from several segments; the
    /// stream keeps no copy of it): the request is reported (and waits for its response), or the
    /// response is paired with the oldest request waiting; then its body, as RFC 9112 §6.3
    /// delimits it.
    mutating func headEnded(_ head: UnsafeRawBufferPointer, _ stream: inout HTTPStream, fromClient: Bool,
                            emit: (HTTPEvent) -> Void) {
        let time = stream.headTime
        let parsed: Result<(HTTPStream.Phase, HTTPEvent?), HTTPParseError>
        do throws(HTTPParseError) {
            parsed = .success(fromClient ? try self.requestRead(head, time: time) : try self.responseRead(head, time: time))
        } catch {
            parsed = .failure(error)
        }
        stream.resetHead()
        switch parsed {
        case .failure(let error):
            self.stop(&stream, fromClient: fromClient, error, emit: emit)
        case .success((let phase, let event)):
            if let event { emit(event) }
            stream.phase = phase
            if phase == .head { self.messageEnded(&stream, fromClient: fromClient, emit: emit) }
            if case .ignored = phase {
                // 101 Switching Protocols, or a CONNECT tunnel: what follows is not HTTP/1.x.
                self.client.phase = .ignored
                self.server.phase = .ignored
            }
        }
    }

    mutating func requestRead(_ head: UnsafeRawBufferPointer, time: Int64) throws(HTTPParseError) -> (HTTPStream.Phase, HTTPEvent?) {
        let request = try HTTPRequest(head: head, limits: self.limits, time: time)
        let framing = try request.headers.framing(isRequest: true)
        if self.server.isParsing {
            guard self.pending.count < self.limits.pendingRequests else { throw .pipelineOverflow }
            self.pending.append(request)
        }
        // A request without Content-Length or Transfer-Encoding has no body (rule 7).
        let phase: HTTPStream.Phase = framing.chunked ? .chunkSize(value: 0, digits: false, lineBytes: 0, inExtension: false)
            : (framing.contentLength ?? 0) > 0 ? .body(remaining: framing.contentLength ?? 0) : .head
        return (phase, .request(request))
    }

    mutating func responseRead(_ head: UnsafeRawBufferPointer, time: Int64) throws(HTTPParseError) -> (HTTPStream.Phase, HTTPEvent?) {
        let response = try HTTPResponse(head: head, limits: self.limits, time: time)
        // Interim responses (1xx but 101) precede the final one of the same request (RFC 9110 §15.2).
        if (100..<200).contains(response.status) && response.status != 101 { return (.head, nil) }
        guard !self.pending.isEmpty else { throw .responseWithoutRequest }
        let request = self.pending.removeFirst()
        // RFC 9112 §6.3: no body after HEAD, 1xx, 204 or 304 (rule 1); a 2xx to CONNECT and
        // 101 switch the connection to another protocol (rule 2).
        if response.status == 101 || (request.method == "CONNECT" && (200..<300).contains(response.status)) {
            var switched = response
            switched.complete = true
            return (.ignored, .response(switched, request: request))
        }
        self.response = (response, request)
        if request.method == "HEAD" || response.status == 204 || response.status == 304 { return (.head, nil) }
        let framing = try response.headers.framing(isRequest: false)
        if framing.chunked { return (.chunkSize(value: 0, digits: false, lineBytes: 0, inExtension: false), nil) }
        if framing.otherCoding { return (.untilClose, nil) }
        guard let length = framing.contentLength else { return (.untilClose, nil) }
        return (length > 0 ? .body(remaining: length) : .head, nil)
    }

    /// A message's body ended as its framing says.
    mutating func messageEnded(_ stream: inout HTTPStream, fromClient: Bool, emit: (HTTPEvent) -> Void) {
        stream.phase = .head
        if !fromClient {
            self.response?.0.complete = true
            self.endResponse(emit: emit)
        }
    }

    /// Reports the response being read, if any.
    mutating func endResponse(emit: (HTTPEvent) -> Void) {
        if let (response, request) = self.response { emit(.response(response, request: request)) }
        self.response = nil
    }

    /// Stops parsing a direction, with the reason; a response cut short is reported incomplete.
    mutating func stop(_ stream: inout HTTPStream, fromClient: Bool, _ error: HTTPParseError, emit: (HTTPEvent) -> Void) {
        // A response with no request waiting, once the client direction stopped, is that
        // direction's loss, already counted.
        if error != .responseWithoutRequest || self.client.isParsing || fromClient { emit(.error(error, fromClient: fromClient)) }
        if error == .pipelineOverflow { self.server.phase = .ignored }
        stream.phase = .ignored
        stream.resetHead()
        if !fromClient || error == .pipelineOverflow { self.endResponse(emit: emit) }
    }
}
