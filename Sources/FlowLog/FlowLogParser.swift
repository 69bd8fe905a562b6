import FlowCore

/// A fast reader of one line of flowmon's output whose `event_type` is known: a strict JSON
/// parser that builds the `FlowLogEvent` from the bytes directly, skipping keys it does not
/// model. It is about twenty times faster than `JSONDecoder` (which parses a line into an
/// intermediate tree first), so a day of flow logs (hundreds of thousands of lines) reads in
/// seconds, and the compact printer keeps up with a live capture.
///
/// It only ever gives the record `JSONDecoder` would give, or nil: anything it does not
/// handle (a `null` where a value is expected, a missing required key, a number with a
/// fraction or exponent, invalid UTF-8, deep nesting, an unknown verdict) makes it give up, and
/// the line is then decoded with `JSONDecoder`, which either reads it or says precisely what
/// is wrong.
struct FlowLogParser {
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// The record of `kind` in `line` (one JSON object, white space around it allowed), or nil.
    static func parse(_ line: ArraySlice<UInt8>, as kind: FlowLogEvent.Kind) -> FlowLogEvent? {
        if case .success(let event) = self.read(line, as: kind) { return event }
        return nil
    }

    /// Why `parse` gave up on a line, with the key path (`src_port: expected an integer from
    /// 0 to 65535`): a message for lines that are JSON but whose values `JSONDecoder` refuses
    /// without saying which (a number out of range, or with a fraction).
    static func diagnose(_ line: ArraySlice<UInt8>, as kind: FlowLogEvent.Kind) -> String? {
        guard case .failure(let problem) = self.read(line, as: kind) else { return nil }
        return problem.path.isEmpty ? problem.reason : "\(problem.path): \(problem.reason)"
    }

    private static func read(_ line: ArraySlice<UInt8>, as kind: FlowLogEvent.Kind) -> Result<FlowLogEvent, GiveUp> {
        line.withUnsafeBufferPointer { buffer in
            var parser = FlowLogParser(buffer)
            return Result { () throws(GiveUp) -> FlowLogEvent in
                let event: FlowLogEvent = switch kind {
                case .flow: .flow(try parser.record())
                case .alert: .alert(try parser.alert())
                case .stats: .stats(try parser.stats())
                case .lost: .lost(try parser.lost())
                // Read by `JSONDecoder` (`FlowLogApplication`): far fewer lines than flows.
                case .dns, .http, .tls: throw GiveUp("an application-layer record")
                }
                parser.skipWhitespace()
                guard parser.index == buffer.count else { throw GiveUp("text after the object") }
                return event
            }
        }
    }

    /// Where and why the parser stopped. The path is built as the error leaves each object
    /// and array (nothing is spent on it while parsing goes well).
    struct GiveUp: Error {
        var reason: String
        var path = ""

        init(_ reason: String) { self.reason = reason }

        func inside(key: String) -> GiveUp {
            var copy = self
            copy.path = self.path.isEmpty ? key : (self.path.hasPrefix("[") ? key + self.path : key + "." + self.path)
            return copy
        }

        func inside(element index: Int) -> GiveUp {
            var copy = self
            copy.path = "[\(index)]" + (self.path.isEmpty || self.path.hasPrefix("[") ? self.path : "." + self.path)
            return copy
        }
    }

    // MARK: - The records

    /// A flow record, or the keys of another record that a flow has, the others read by `other`.
    private mutating func record(
        other: (inout FlowLogParser, String) throws(GiveUp) -> Void = { parser, _ throws(GiveUp) in try parser.skipValue(depth: 1) }
    ) throws(GiveUp) -> FlowLogRecord {
        var timestamp: String?, sourceIP: String?, destinationIP: String?, proto: String?
        var record = FlowLogRecord(timestamp: "", sourceIP: "", destinationIP: "", proto: "")
        try self.nested { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .timestamp: timestamp = try parser.string()
            case .flowID: record.flowID = try parser.unsigned(UInt64.max)
            case .srcIP: sourceIP = try parser.string()
            case .srcPort: record.sourcePort = UInt16(try parser.unsigned(UInt64(UInt16.max)))
            case .destIP: destinationIP = try parser.string()
            case .destPort: record.destinationPort = UInt16(try parser.unsigned(UInt64(UInt16.max)))
            case .proto: proto = try parser.string()
            case .ipVersion: record.ipVersion = try parser.signed()
            // `ip_v` is Suricata 8's name; flowmon wrote `ip_version` before, and logs it wrote then are still read.
            case nil where key == "ip_version": record.ipVersion = try parser.signed()
            case .icmpType: record.icmpType = UInt8(try parser.unsigned(255))
            case .icmpCode: record.icmpCode = UInt8(try parser.unsigned(255))
            case .responseICMPType: record.responseICMPType = UInt8(try parser.unsigned(255))
            case .responseICMPCode: record.responseICMPCode = UInt8(try parser.unsigned(255))
            case .connState: record.connState = try parser.string()
            case .flow: try parser.flow(into: &record)
            case .source: record.source = try parser.endpoint()
            case .destination: record.destination = try parser.endpoint()
            case .destinationService:
                var name: String?, namespace: String?
                try parser.nested { parser, key throws(GiveUp) in
                    switch EVEKey(stringValue: key) {
                    case .name: name = try parser.string()
                    case .namespace: namespace = try parser.string()
                    default: try parser.skipValue(depth: 2)
                    }
                }
                guard let name, let namespace else { throw GiveUp("service without \"name\" or \"namespace\"") }
                record.destinationService = FlowLogRecord.ServiceReference(name: name, namespace: namespace)
            case .policy: record.policy = try parser.policy()
            case .appProto: record.applicationProtocol = try parser.string()
            case .srcNames: record.sourceNames = try parser.array { parser throws(GiveUp) in try parser.string() }
            case .destNames: record.destinationNames = try parser.array { parser throws(GiveUp) in try parser.string() }
            default: try other(&parser, key)
            }
        }
        guard let timestamp, let sourceIP, let destinationIP, let proto else { throw GiveUp("a required key is missing") }
        record.timestamp = timestamp
        record.sourceIP = sourceIP
        record.destinationIP = destinationIP
        record.proto = proto
        return record
    }

    private mutating func alert() throws(GiveUp) -> FlowLogAlert {
        var kind: String?, signature: String?, severity: UInt8?, count: UInt64?, aggregated = false
        var scan: FlowLogAlert.Scan?, flood: FlowLogAlert.Flood?
        let connection = try self.record { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .alert:
                try parser.nested { parser, key throws(GiveUp) in
                    switch EVEKey(stringValue: key) {
                    case .kind: kind = try parser.string()
                    case .signature: signature = try parser.string()
                    case .severity: severity = UInt8(try parser.unsigned(255))
                    case .count: count = try parser.unsigned(UInt64.max)
                    case .aggregated:
                        guard case .bool(let value) = try parser.value(depth: 2) else { throw GiveUp("\"aggregated\" is not true or false") }
                        aggregated = value
                    default: try parser.skipValue(depth: 2)
                    }
                }
            case .scan:
                var window: UInt64?, ports: UInt64?, hosts: UInt64?
                try parser.nested { parser, key throws(GiveUp) in
                    switch EVEKey(stringValue: key) {
                    case .window: window = try parser.unsigned(UInt64.max)
                    case .distinctPorts: ports = try parser.unsigned(UInt64.max)
                    case .distinctHosts: hosts = try parser.unsigned(UInt64.max)
                    default: try parser.skipValue(depth: 2)
                    }
                }
                guard let window else { throw GiveUp("scan without \"window\"") }
                scan = FlowLogAlert.Scan(window: window, distinctPorts: ports, distinctHosts: hosts)
            case .flood:
                var halfOpen: UInt64?, sources: UInt64?
                try parser.nested { parser, key throws(GiveUp) in
                    switch EVEKey(stringValue: key) {
                    case .halfOpen: halfOpen = try parser.unsigned(UInt64.max)
                    case .distinctSources: sources = try parser.unsigned(UInt64.max)
                    default: try parser.skipValue(depth: 2)
                    }
                }
                guard let halfOpen, let sources else { throw GiveUp("flood without \"half_open\" or \"distinct_sources\"") }
                flood = FlowLogAlert.Flood(halfOpen: halfOpen, distinctSources: sources)
            default: try parser.skipValue(depth: 1)
            }
        }
        guard let kind, let signature, let severity, let count else {
            throw GiveUp("alert without \"kind\", \"signature\", \"severity\" or \"count\"")
        }
        return FlowLogAlert(connection: connection, kind: kind, signature: signature, severity: severity, count: count,
                            aggregated: aggregated, scan: scan, flood: flood)
    }

    private mutating func stats() throws(GiveUp) -> FlowLogStats {
        let (timestamp, stats) = try self.timestamped(.stats) { parser throws(GiveUp) in try parser.object(depth: 1) }
        return FlowLogStats(timestamp: timestamp, sections: stats)
    }

    private mutating func lost() throws(GiveUp) -> FlowLogLost {
        var source: String?, count: UInt64?, total: UInt64?
        let (timestamp, _) = try self.timestamped(.lost) { parser throws(GiveUp) in
            try parser.nested { parser, key throws(GiveUp) in
                switch EVEKey(stringValue: key) {
                case .source: source = try parser.string()
                case .numEventsLost: count = try parser.unsigned(UInt64.max)
                case .total: total = try parser.unsigned(UInt64.max)
                default: try parser.skipValue(depth: 2)
                }
            }
        }
        guard let source, let count, let total else { throw GiveUp("lost without \"source\", \"num_events_lost\" or \"total\"") }
        return FlowLogLost(timestamp: timestamp, source: source, count: count, total: total)
    }

    /// `{"timestamp": ..., key: ...}` (the other keys skipped): the timestamp, and `key`'s value as `value` reads it.
    private mutating func timestamped<T>(_ key: EVEKey, _ value: (inout FlowLogParser) throws(GiveUp) -> T)
        throws(GiveUp) -> (String, T) {
        var timestamp: String?, result: T?
        try self.nested { parser, name throws(GiveUp) in
            switch EVEKey(stringValue: name) {
            case .timestamp: timestamp = try parser.string()
            case .some(key): result = try value(&parser)
            default: try parser.skipValue(depth: 1)
            }
        }
        guard let timestamp, let result else { throw GiveUp("a required key is missing") }
        return (timestamp, result)
    }

    private mutating func flow(into record: inout FlowLogRecord) throws(GiveUp) {
        try self.nested { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .packetsToServer: record.packetsToServer = try parser.unsigned(UInt64.max)
            case .packetsToClient: record.packetsToClient = try parser.unsigned(UInt64.max)
            case .bytesToServer: record.bytesToServer = try parser.unsigned(UInt64.max)
            case .bytesToClient: record.bytesToClient = try parser.unsigned(UInt64.max)
            case .start: record.start = try parser.string()
            case .end: record.end = try parser.string()
            case .state: record.state = try parser.string()
            case .reason: record.reason = try parser.string()
            default: try parser.skipValue(depth: 2)
            }
        }
    }

    private mutating func endpoint() throws(GiveUp) -> FlowLogRecord.Endpoint {
        var identity: UInt32?
        var endpoint = FlowLogRecord.Endpoint(identity: 0)
        try self.nested { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .identity: identity = UInt32(try parser.unsigned(UInt64(UInt32.max)))
            case .namespace: endpoint.namespace = try parser.string()
            case .podName: endpoint.podName = try parser.string()
            case .labels: endpoint.labels = try parser.array { parser throws(GiveUp) in try parser.string() }
            case .workloads:
                endpoint.workloads = try parser.array { parser throws(GiveUp) in
                    var name: String?, kind: String?
                    try parser.nested { parser, key throws(GiveUp) in
                        switch EVEKey(stringValue: key) {
                        case .name: name = try parser.string()
                        case .kind: kind = try parser.string()
                        default: try parser.skipValue(depth: 4)
                        }
                    }
                    guard let name, let kind else { throw GiveUp("workload without \"name\" or \"kind\"") }
                    return FlowLogRecord.Workload(name: name, kind: kind)
                }
            default: try parser.skipValue(depth: 2)
            }
        }
        guard let identity else { throw GiveUp("endpoint without \"identity\"") }
        endpoint.identity = identity
        return endpoint
    }

    private mutating func policy() throws(GiveUp) -> FlowLogRecord.PolicyVerdict {
        var verdict: FlowLogRecord.Verdict?
        var policy = FlowLogRecord.PolicyVerdict(verdict: .forwarded)
        try self.nested { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .verdict:
                let text = try parser.string()
                guard let value = FlowLogRecord.Verdict(rawValue: text) else { throw GiveUp("unknown verdict \"\(text)\"") }
                verdict = value
            case .dropReason: policy.dropReason = try parser.string()
            case .trafficDirection:
                let text = try parser.string()
                guard let value = FlowLogRecord.TrafficDirection(rawValue: text) else { throw GiveUp("unknown direction \"\(text)\"") }
                policy.direction = value
            case .policyMatchType: policy.matchType = try parser.signed()
            case .egress: policy.egress = try parser.decision()
            case .ingress: policy.ingress = try parser.decision()
            case .egressAllowedBy: policy.egressAllowedBy = try parser.policies()
            case .ingressAllowedBy: policy.ingressAllowedBy = try parser.policies()
            case .egressDeniedBy: policy.egressDeniedBy = try parser.policies()
            case .ingressDeniedBy: policy.ingressDeniedBy = try parser.policies()
            default: try parser.skipValue(depth: 2)
            }
        }
        guard let verdict else { throw GiveUp("policy without \"verdict\"") }
        policy.verdict = verdict
        return policy
    }

    private mutating func decision() throws(GiveUp) -> FlowLogRecord.Decision {
        var decision: String?, matchType: String?
        try self.nested { parser, key throws(GiveUp) in
            switch EVEKey(stringValue: key) {
            case .decision: decision = try parser.string()
            case .matchType: matchType = try parser.string()
            default: try parser.skipValue(depth: 3)
            }
        }
        guard let decision, let matchType else { throw GiveUp("decision without \"decision\" or \"match_type\"") }
        return FlowLogRecord.Decision(decision: decision, matchType: matchType)
    }

    private mutating func policies() throws(GiveUp) -> [FlowLogRecord.PolicyReference] {
        try self.array { parser throws(GiveUp) in
            var name: String?, namespace: String?, kind: String?
            try parser.nested { parser, key throws(GiveUp) in
                switch EVEKey(stringValue: key) {
                case .name: name = try parser.string()
                case .namespace: namespace = try parser.string()
                case .kind: kind = try parser.string()
                default: try parser.skipValue(depth: 4)
                }
            }
            guard let name, let kind else { throw GiveUp("policy without \"name\" or \"kind\"") }
            return FlowLogRecord.PolicyReference(name: name, namespace: namespace, kind: kind)
        }
    }

    // MARK: - JSON

    /// `{ "key": value, ... }`, each value read by `member`.
    private mutating func nested(_ member: (inout FlowLogParser, String) throws(GiveUp) -> Void) throws(GiveUp) {
        self.skipWhitespace()
        try self.expect(UInt8(ascii: "{"))
        self.skipWhitespace()
        if self.peek() == UInt8(ascii: "}") {
            self.index += 1
            return
        }
        while true {
            self.skipWhitespace()
            let key = try self.string()
            self.skipWhitespace()
            try self.expect(UInt8(ascii: ":"))
            self.skipWhitespace()
            do {
                try member(&self, key)
            } catch {
                throw error.inside(key: key)
            }
            self.skipWhitespace()
            let next = try self.take()
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw GiveUp("not valid JSON") }
        }
    }

    /// `[ value, ... ]`, each read by `element`.
    private mutating func array<T>(_ element: (inout FlowLogParser) throws(GiveUp) -> T) throws(GiveUp) -> [T] {
        try self.expect(UInt8(ascii: "["))
        self.skipWhitespace()
        var result: [T] = []
        if self.peek() == UInt8(ascii: "]") {
            self.index += 1
            return result
        }
        while true {
            self.skipWhitespace()
            do {
                result.append(try element(&self))
            } catch {
                throw error.inside(element: result.count)
            }
            self.skipWhitespace()
            let next = try self.take()
            if next == UInt8(ascii: "]") { return result }
            guard next == UInt8(ascii: ",") else { throw GiveUp("not valid JSON") }
        }
    }

    private mutating func string() throws(GiveUp) -> String {
        guard self.peek() == UInt8(ascii: "\"") else { throw GiveUp("expected a string") }
        self.index += 1
        let start = self.index
        // The common case: no escapes.
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            if byte == UInt8(ascii: "\"") {
                let slice = UnsafeBufferPointer(rebasing: self.bytes[start..<self.index])
                self.index += 1
                return try Self.validated(slice)
            }
            if byte == UInt8(ascii: "\\") { break }
            if byte < 0x20 { throw GiveUp("not valid JSON") }
            self.index += 1
        }
        var text: [UInt8] = Array(self.bytes[start..<self.index])
        while self.index < self.bytes.count {
            let byte = self.bytes[self.index]
            self.index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return try text.withUnsafeBufferPointer { buffer throws(GiveUp) in try Self.validated(buffer) }
            case UInt8(ascii: "\\"):
                let escape = try self.take()
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
                case UInt8(ascii: "b"): text.append(0x08)
                case UInt8(ascii: "f"): text.append(0x0C)
                case UInt8(ascii: "n"): text.append(0x0A)
                case UInt8(ascii: "r"): text.append(0x0D)
                case UInt8(ascii: "t"): text.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = UInt32(try self.hex4())
                    if (0xD800...0xDBFF).contains(scalar) {
                        guard try self.take() == UInt8(ascii: "\\"), try self.take() == UInt8(ascii: "u") else { throw GiveUp("not valid JSON") }
                        let low = UInt32(try self.hex4())
                        guard (0xDC00...0xDFFF).contains(low) else { throw GiveUp("not valid JSON") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        throw GiveUp("not valid JSON")
                    }
                    guard let value = Unicode.Scalar(scalar) else { throw GiveUp("not valid JSON") }
                    text.append(contentsOf: UTF8.encode(value)!)
                default: throw GiveUp("not valid JSON")
                }
            default:
                if byte < 0x20 { throw GiveUp("not valid JSON") }
                text.append(byte)
            }
        }
        throw GiveUp("not valid JSON")
    }

    /// The text of valid UTF-8 (invalid UTF-8 gives up: `JSONDecoder` rejects it).
    private static func validated(_ bytes: UnsafeBufferPointer<UInt8>) throws(GiveUp) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        // ASCII is valid; otherwise decoding replaced nothing only if the bytes come back unchanged.
        if bytes.allSatisfy({ $0 < 0x80 }) || text.utf8.elementsEqual(bytes) { return text }
        throw GiveUp("invalid UTF-8")
    }

    private mutating func hex4() throws(GiveUp) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = try self.take()
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw GiveUp("not valid JSON")
            }
            value = value << 4 | UInt16(digit)
        }
        return value
    }

    /// A non-negative integer up to `maximum` (no fraction, no exponent, no leading zeros).
    private mutating func unsigned(_ maximum: UInt64) throws(GiveUp) -> UInt64 {
        let start = self.index
        var value: UInt64 = 0
        while self.index < self.bytes.count, case let byte = self.bytes[self.index], byte >= 0x30 && byte <= 0x39 {
            let (times, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times.addingReportingOverflow(UInt64(byte - 0x30))
            guard !overflow1 && !overflow2 else { throw GiveUp("number too large") }
            value = sum
            self.index += 1
        }
        let digits = self.index - start
        let fraction = self.peek().map { $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? false
        guard digits > 0, digits == 1 || self.bytes[start] != UInt8(ascii: "0"), value <= maximum, !fraction else {
            throw GiveUp(maximum == UInt64.max ? "expected a whole number from 0" : "expected a whole number from 0 to \(maximum)")
        }
        return value
    }

    private mutating func signed() throws(GiveUp) -> Int {
        let negative = self.peek() == UInt8(ascii: "-")
        if negative { self.index += 1 }
        let magnitude = try self.unsigned(UInt64(Int.max))
        return negative ? -Int(magnitude) : Int(magnitude)
    }

    /// Any JSON value but a number with a fraction or exponent, or an integer beyond `Int`
    /// (nesting up to 64 levels).
    private mutating func value(depth: Int) throws(GiveUp) -> FlowLogValue {
        guard depth < 64, let byte = self.peek() else { throw GiveUp("not valid JSON") }
        switch byte {
        case UInt8(ascii: "\""): return .string(try self.string())
        case UInt8(ascii: "{"): return .object(try self.object(depth: depth))
        case UInt8(ascii: "["): return .array(try self.array { parser throws(GiveUp) in try parser.value(depth: depth + 1) })
        case UInt8(ascii: "t"): try self.literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try self.literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try self.literal("null"); return .null
        default: return .integer(try self.signed())
        }
    }

    private mutating func object(depth: Int) throws(GiveUp) -> [String: FlowLogValue] {
        var object: [String: FlowLogValue] = [:]
        try self.nested { parser, key throws(GiveUp) in object[key] = try parser.value(depth: depth + 1) }
        return object
    }

    /// Skips any JSON value (nesting up to 64 levels).
    private mutating func skipValue(depth: Int) throws(GiveUp) {
        guard depth < 64, let byte = self.peek() else { throw GiveUp("not valid JSON") }
        switch byte {
        case UInt8(ascii: "\""): _ = try self.string()
        case UInt8(ascii: "{"): try self.nested { parser, _ throws(GiveUp) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): _ = try self.array { parser throws(GiveUp) in try parser.skipValue(depth: depth + 1) }
        case UInt8(ascii: "t"): try self.literal("true")
        case UInt8(ascii: "f"): try self.literal("false")
        case UInt8(ascii: "n"): try self.literal("null")
        default: try self.skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws(GiveUp) {
        let count = word.utf8CodeUnitCount
        guard self.index + count <= self.bytes.count else { throw GiveUp("not valid JSON") }
        for offset in 0..<count where self.bytes[self.index + offset] != word.utf8Start[offset] { throw GiveUp("not valid JSON") }
        self.index += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    private mutating func skipNumber() throws(GiveUp) {
        if self.peek() == UInt8(ascii: "-") { self.index += 1 }
        func digits(_ parser: inout FlowLogParser) -> Int {
            let start = parser.index
            while let byte = parser.peek(), byte >= 0x30 && byte <= 0x39 { parser.index += 1 }
            return parser.index - start
        }
        let start = self.index
        let integer = digits(&self)
        guard integer > 0, integer == 1 || self.bytes[start] != UInt8(ascii: "0") else { throw GiveUp("not valid JSON") }
        if self.peek() == UInt8(ascii: ".") {
            self.index += 1
            guard digits(&self) > 0 else { throw GiveUp("not valid JSON") }
        }
        if let byte = self.peek(), byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
            self.index += 1
            if let sign = self.peek(), sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") { self.index += 1 }
            guard digits(&self) > 0 else { throw GiveUp("not valid JSON") }
        }
    }

    private mutating func skipWhitespace() {
        while self.index < self.bytes.count {
            switch self.bytes[self.index] {
            case 0x20, 0x09, 0x0A, 0x0D: self.index += 1
            default: return
            }
        }
    }

    private func peek() -> UInt8? { self.index < self.bytes.count ? self.bytes[self.index] : nil }

    private mutating func take() throws(GiveUp) -> UInt8 {
        guard self.index < self.bytes.count else { throw GiveUp("not valid JSON") }
        defer { self.index += 1 }
        return self.bytes[self.index]
    }

    private mutating func expect(_ byte: UInt8) throws(GiveUp) {
        guard try self.take() == byte else { throw GiveUp("not valid JSON") }
    }
}
