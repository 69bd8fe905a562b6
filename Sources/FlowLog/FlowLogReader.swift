import FlowCore
import Foundation

/// Why a flow log could not be read: the file, the line (1-based, when one line is at fault)
/// and what is wrong with it. `description` is one line for the CLI: `flows.jsonl:17: ...`.
package struct FlowLogError: Error, Sendable, Equatable, CustomStringConvertible {
    package var file: String
    package var line: Int?
    package var message: String

    package init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    package var description: String {
        if let line { return "\(self.file):\(line): \(self.message)" }
        return "\(self.file): \(self.message)"
    }
}

/// Reads flowmon's JSON lines (the output of `flowmon replay` and `flowmon capture`) one
/// record at a time, streaming: memory stays at one read block and one line however long the
/// file is. `next()` returns the flow records, `nextEvent()` every record (`FlowLogEvent`).
///
/// - Lines of the other `event_type`s (for `next()`, every type but `"flow"`) are skipped
///   unread and counted in `skipped`; blank lines are skipped.
/// - A line that is not JSON, not an object, has no `event_type`, or is a record that is
///   read without a required key (a flow's `timestamp`, `src_ip`, `dest_ip`, `proto`) or with
///   a value of the wrong type is an error naming the file and the line.
/// - A last line without its newline that is not complete JSON is taken for a line still
///   being written (a live log read while flowmon appends to it): it is not read, and
///   `incompleteLastLine` holds its number.
///
/// ```swift
/// let reader = try FlowLogReader(path: "flows.jsonl")
/// while let record = try reader.next() { print(record.sourceIP, record.verdict ?? "none") }
/// ```
package final class FlowLogReader {
    /// The name errors use: the path, or what the caller named the handle.
    package let name: String
    /// The number of the last line read (1-based; 0 before the first).
    package private(set) var lineNumber = 0
    /// Flow records returned so far.
    package private(set) var flowCount = 0
    /// Lines skipped, by their `event_type`.
    package private(set) var skipped: [String: Int] = [:]
    /// The number of an incomplete last line that was left unread, if there was one.
    package private(set) var incompleteLastLine: Int?

    /// Follow mode (`flowmon observe --follow`): the end of the input is only where the file
    /// ends for now. `next()` returns nil there, and a line not yet ended by its newline stays
    /// unread; the next call reads on from there.
    package var waitsForMore = false
    /// Keep each record's line in `lastLine` (to print it as it was).
    package var keepsLines = false
    /// The line of the record returned last, without its newline (when `keepsLines`).
    package private(set) var lastLine: [UInt8] = []
    /// Bytes of a line not yet ended by its newline, in follow mode.
    package var unfinishedBytes: Int { self.buffer.count - self.position }

    /// Longest line read; a longer one is an error rather than unbounded memory.
    package static let maximumLineBytes = 64 << 20

    private let handle: FileHandle
    private let closeWhenDone: Bool
    private var buffer: [UInt8]
    /// Start of the unread part of `buffer`.
    private var position = 0
    /// Bytes from `position` already searched for a newline.
    private var scanned = 0
    private var endOfInput = false
    /// The slow path's decoder (one for every reader: decoding keeps no state in it).
    static let decoder = JSONDecoder()

    /// Opens `path` for reading; `-` is standard input.
    package init(path: String) throws(FlowLogError) {
        if path == "-" {
            self.handle = FileHandle.standardInput
            self.closeWhenDone = false
            self.name = "standard input"
        } else {
            var status = stat()
            guard stat(path, &status) == 0 else {
                throw FlowLogError(file: path, message: String(cString: strerror(errno)))
            }
            guard (status.st_mode & S_IFMT) != S_IFDIR else {
                throw FlowLogError(file: path, message: "is a directory")
            }
            guard let handle = FileHandle(forReadingAtPath: path) else {
                throw FlowLogError(file: path, message: String(cString: strerror(errno == 0 ? EACCES : errno)))
            }
            self.handle = handle
            self.closeWhenDone = true
            self.name = path
        }
        self.buffer = []
    }

    /// Reads from an open handle (a pipe, standard input). `initialBytes` are bytes already
    /// taken from it (to sniff the format), which come first.
    package init(fileHandle: FileHandle, name: String, initialBytes: [UInt8] = []) {
        self.handle = fileHandle
        self.closeWhenDone = false
        self.name = name
        self.buffer = initialBytes
    }

    deinit {
        if self.closeWhenDone { try? self.handle.close() }
    }

    /// The descriptor read (to tell whether a followed file was replaced or truncated).
    package var fileDescriptor: Int32 { self.handle.fileDescriptor }

    /// Every flow record of the file at `path`.
    package static func readAll(path: String) throws(FlowLogError) -> [FlowLogRecord] {
        let reader = try FlowLogReader(path: path)
        var records: [FlowLogRecord] = []
        while let record = try reader.next() { records.append(record) }
        return records
    }

    /// True when `prefix` (the first bytes of a file) looks like JSON lines: after an optional
    /// UTF-8 byte order mark and white space, the first byte is `{`. A pcapng file starts with
    /// 0A 0D 0D 0A, white space to JSON: it is not JSON lines.
    package static func looksLikeJSONLines(_ prefix: some Collection<UInt8>) -> Bool {
        if prefix.starts(with: [0x0A, 0x0D, 0x0D, 0x0A]) { return false }
        var bytes = prefix[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        guard let first = bytes.first(where: { !Self.isWhitespace($0) }) else { return false }
        return first == UInt8(ascii: "{")
    }

    /// True when the file at `path` looks like JSON lines (`looksLikeJSONLines` of its first
    /// 4 KiB); false when it cannot be read, so the caller's own open reports why.
    package static func looksLikeJSONLines(path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        return Self.looksLikeJSONLines([UInt8]((try? handle.read(upToCount: 4096)) ?? nil ?? Data()))
    }

    /// The next flow record, or nil at the end of the input.
    package func next() throws(FlowLogError) -> FlowLogRecord? {
        guard case .flow(let record) = try self.next(only: .flow) else { return nil }
        return record
    }

    /// The next record of any kind, or nil at the end of the input.
    package func nextEvent() throws(FlowLogError) -> FlowLogEvent? {
        try self.next(only: nil)
    }

    private func next(only wanted: FlowLogEvent.Kind?) throws(FlowLogError) -> FlowLogEvent? {
        while let (line, terminated) = try self.nextLine() {
            var bytes = line
            if self.lineNumber == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
            while let last = bytes.last, Self.isWhitespace(last) { bytes = bytes.dropLast() }
            while let first = bytes.first, Self.isWhitespace(first) { bytes = bytes.dropFirst() }
            if bytes.isEmpty { continue }
            var eventType = ""  // for messages, once it is known
            do {
                eventType = try Self.eventType(of: bytes, decoder: Self.decoder)
                guard let kind = FlowLogEvent.Kind(rawValue: eventType), wanted == nil || wanted == kind else {
                    self.skipped[eventType, default: 0] += 1
                    continue
                }
                let event = try FlowLogEvent(kind, line: bytes, decoder: Self.decoder)
                if kind == .flow { self.flowCount += 1 }
                if self.keepsLines { self.lastLine = Array(bytes) }
                return event
            } catch {
                if !terminated, Self.isSyntaxError(error) {
                    self.incompleteLastLine = self.lineNumber
                    return nil
                }
                throw self.error(for: error, line: bytes, eventType: eventType)
            }
        }
        return nil
    }

    // MARK: - Lines

    /// The next line without its newline, and whether a newline ended it.
    private func nextLine() throws(FlowLogError) -> (ArraySlice<UInt8>, Bool)? {
        while true {
            let searchFrom = self.position + self.scanned
            let found = self.buffer.withUnsafeBufferPointer { buffer -> Int? in
                guard searchFrom < buffer.count,
                      let hit = memchr(buffer.baseAddress! + searchFrom, 0x0A, buffer.count - searchFrom)
                else { return nil }
                return UnsafeRawPointer(buffer.baseAddress!).distance(to: UnsafeRawPointer(hit))
            }
            if let newline = found {
                let line = self.buffer[self.position..<newline]
                self.position = newline + 1
                self.scanned = 0
                self.lineNumber += 1
                return (line, true)
            }
            self.scanned = self.buffer.count - self.position
            if self.scanned > Self.maximumLineBytes {
                throw FlowLogError(file: self.name, line: self.lineNumber + 1,
                                   message: "line longer than \(Self.maximumLineBytes >> 20) MiB")
            }
            if self.endOfInput {
                if self.waitsForMore {
                    self.endOfInput = false
                    return nil
                }
                guard self.position < self.buffer.count else { return nil }
                let line = self.buffer[self.position...]
                self.position = self.buffer.count
                self.scanned = 0
                self.lineNumber += 1
                return (line, false)
            }
            try self.fill()
        }
    }

    /// Drops the lines already returned and reads the next block.
    private func fill() throws(FlowLogError) {
        if self.position > 0 {
            self.buffer.removeSubrange(0..<self.position)
            self.position = 0
        }
        let block: Data?
        do {
            block = try self.handle.read(upToCount: 1 << 20)
        } catch {
            let code = (error as NSError).domain == NSPOSIXErrorDomain ? Int32((error as NSError).code) : EIO
            throw FlowLogError(file: self.name, message: "cannot read: \(String(cString: strerror(code)))")
        }
        guard let block, !block.isEmpty else {
            self.endOfInput = true
            return
        }
        self.buffer.append(contentsOf: block)
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0A
    }

    // MARK: - event_type

    /// The `event_type` of `line`: found by `eventType(of:)`, or else read by `decoder`.
    static func eventType(of line: ArraySlice<UInt8>, decoder: JSONDecoder) throws -> String {
        try Self.eventType(of: line) ?? decoder.decode(EventTypeProbe.self, from: Data(line)).eventType
    }

    private struct EventTypeProbe: Decodable {
        var eventType: String
        init(from decoder: any Decoder) throws {
            self.eventType = try decoder.container(keyedBy: EVEKey.self).decode(String.self, forKey: .eventType)
        }
    }

    private static let eventTypeKey = Array("\"\(EVEKey.eventType.stringValue)\":".utf8)

    /// The `event_type` of a line as flowmon writes it (`"event_type":"flow"`, no spaces, no
    /// escapes), found without parsing the line; nil when it is not written that way (the
    /// caller then parses). The key's closing quote follows a letter, so the pattern cannot
    /// match inside a JSON string, where every quote follows a backslash.
    static func eventType(of line: ArraySlice<UInt8>) -> String? {
        let key = Self.eventTypeKey
        guard line.count > key.count + 2 else { return nil }
        var index = line.startIndex
        let last = line.endIndex - key.count - 2
        while index <= last {
            if line[index] == key[0], line[index..<index + key.count].elementsEqual(key) {
                var valueStart = index + key.count
                guard line[valueStart] == UInt8(ascii: "\"") else { return nil }
                valueStart += 1
                guard let valueEnd = line[valueStart...].firstIndex(where: { $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }),
                      line[valueEnd] == UInt8(ascii: "\"")
                else { return nil }
                return String(decoding: line[valueStart..<valueEnd], as: UTF8.self)
            }
            index += 1
        }
        return nil
    }

    // MARK: - Errors

    /// True when the bytes are not (complete) JSON, as opposed to JSON of the wrong shape.
    private static func isSyntaxError(_ error: any Error) -> Bool {
        if case DecodingError.dataCorrupted(let context) = error, context.codingPath.isEmpty { return true }
        return false
    }

    private func error(for error: any Error, line: ArraySlice<UInt8>, eventType: String) -> FlowLogError {
        var message = Self.message(for: error, eventType: eventType)
        // JSONDecoder calls a number out of range, or with a fraction, "not valid JSON" without
        // saying where: when the line is JSON, the fast parser names the key (for a DNS, HTTP or
        // TLS record, which it does not read, the keys the record shares with a flow).
        if Self.isSyntaxError(error), let kind = FlowLogEvent.Kind(rawValue: eventType),
           (try? JSONSerialization.jsonObject(with: Data(line))) != nil,
           let diagnosis = FlowLogParser.diagnose(line, as: FlowLogEvent.Kind.application.contains(kind) ? .flow : kind) {
            message = diagnosis
        }
        return FlowLogError(file: self.name, line: self.lineNumber, message: message)
    }

    static func message(for error: any Error, eventType: String) -> String {
        guard let error = error as? DecodingError else { return "\(error)" }
        switch error {
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            let detail = (context.underlyingError as NSError?).map { ($0.userInfo[NSDebugDescriptionErrorKey] as? String) ?? "" } ?? ""
            return "not valid JSON" + (detail.isEmpty ? "" : " (\(detail))")
        case .dataCorrupted(let context):
            return "\(self.path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            if context.codingPath.isEmpty && key.stringValue == EVEKey.eventType.stringValue {
                return "not a flowmon record (no \"event_type\")"
            }
            let where_ = context.codingPath.isEmpty ? "\(eventType) record" : "\"\(self.path(context.codingPath))\""
            return "\(where_) without \"\(key.stringValue)\""
        case .typeMismatch(let type, let context):
            if context.codingPath.isEmpty { return "not a JSON object" }
            return "\"\(self.path(context.codingPath))\": expected \(self.typeName(type))"
        case .valueNotFound(let type, let context):
            return "\"\(self.path(context.codingPath))\": null where \(self.typeName(type)) was expected"
        @unknown default:
            return "\(error)"
        }
    }

    /// `policy.egress_allowed_by[0].name`
    static func path(_ keys: [any CodingKey]) -> String {
        var text = ""
        for key in keys {
            if let index = key.intValue {
                text += "[\(index)]"
            } else {
                if !text.isEmpty { text += "." }
                text += key.stringValue
            }
        }
        return text
    }

    static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is UInt8.Type: "an integer from 0 to 255"
        case is UInt16.Type: "an integer from 0 to 65535"
        case is UInt32.Type: "an integer from 0 to 4294967295"
        case is UInt64.Type, is Int.Type: "an integer"
        case is Bool.Type: "true or false"
        default:
            String(describing: type).contains("Array") ? "an array" : "an object"
        }
    }
}
