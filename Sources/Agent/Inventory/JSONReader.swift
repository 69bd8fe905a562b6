import Foundation

/// Typed access to a `JSONValue` tree (read by `JSONParser`), with errors that name the file
/// and the JSON path (`$.items[3].status.podIP`) of the offending value.
struct JSONReader {
    let file: String

    /// Reads and parses a file. Errors: file not found, unreadable, empty, not JSON
    /// (with the line and column of the offending byte).
    static func parseFile(_ path: String) throws(AgentError) -> JSONValue {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw AgentError(file: path, message: "file not found")
        }
        if isDirectory.boolValue {
            throw AgentError(file: path, message: "is a directory, not a file")
        }
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AgentError(file: path, message: "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(data, file: path)
    }

    static func parse(_ data: Data, file: String) throws(AgentError) -> JSONValue {
        // A file written as UTF-16 with a byte order mark (PowerShell's `>` does this) is read
        // as its UTF-8 equivalent; RFC 8259 section 8.1 asks for UTF-8, but such files exist.
        if data.count >= 2 && ((data.first == 0xFF && data.dropFirst().first == 0xFE) || (data.first == 0xFE && data.dropFirst().first == 0xFF)),
           let text = String(data: data, encoding: .utf16) {
            return try parse(Array(text.utf8), file: file)
        }
        let result = data.withUnsafeBytes { buffer in Result { () throws(AgentError) in try parse(buffer, file: file) } }
        return try result.get()
    }

    static func parse(_ bytes: [UInt8], file: String) throws(AgentError) -> JSONValue {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(AgentError) in try parse(buffer, file: file) } }
        return try result.get()
    }

    static func parse(_ bytes: UnsafeRawBufferPointer, file: String) throws(AgentError) -> JSONValue {
        if bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            throw AgentError(file: file, message: "empty file, expected JSON (kubectl get ... -o json)")
        }
        do {
            return try JSONParser.parse(bytes)
        } catch {
            throw notJSON(error, bytes: bytes, file: file)
        }
    }

    /// `not JSON: invalid value at column 4 (line 2)`: the line and the column (in bytes, from
    /// 1) of the offending byte.
    static func notJSON(_ error: JSONParser.SyntaxError, bytes: UnsafeRawBufferPointer, file: String) -> AgentError {
        var line = 1
        var lineStart = 0
        let end = min(error.offset, bytes.count)
        for index in 0..<end where bytes[index] == 0x0a {
            line += 1
            lineStart = index + 1
        }
        return AgentError(file: file, message: "not JSON: \(error.message) at column \(error.offset - lineStart + 1)", line: line)
    }

    // MARK: - Values

    func error(_ path: String, _ message: String) -> AgentError {
        AgentError(file: self.file, location: path, message: message)
    }

    /// `a string "x"`, `the number 3`, `a boolean (true)`, `an object`, `an array`, `null`.
    static func describe(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case .string(let string):
            let shown = string.count > 60 ? String(string.prefix(60)) + "..." : string
            return "a string \"\(shown)\""
        case .bool(let bool): return "a boolean (\(bool))"
        case .integer(let integer): return "the number \(integer)"
        case .double(let double): return "the number \(double)"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    func object(_ value: JSONValue, at path: String) throws(AgentError) -> JSONObject {
        guard case .object(let object) = value else {
            throw error(path, "expected an object, found \(Self.describe(value))")
        }
        return object
    }

    func array(_ value: JSONValue, at path: String) throws(AgentError) -> [JSONValue] {
        guard case .array(let array) = value else {
            throw error(path, "expected an array, found \(Self.describe(value))")
        }
        return array
    }

    func string(_ value: JSONValue, at path: String) throws(AgentError) -> String {
        guard case .string(let string) = value else {
            throw error(path, "expected a string, found \(Self.describe(value))")
        }
        return string
    }

    /// A member that may be absent or null.
    func optional(_ object: JSONObject, _ key: String) -> JSONValue? {
        guard let value = object[key], !value.isNull else { return nil }
        return value
    }

    func optionalObject(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> JSONObject? {
        guard let value = optional(object, key) else { return nil }
        return try self.object(value, at: path + "." + key)
    }

    func optionalArray(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> [JSONValue]? {
        guard let value = optional(object, key) else { return nil }
        return try self.array(value, at: path + "." + key)
    }

    func optionalString(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> String? {
        guard let value = optional(object, key) else { return nil }
        return try self.string(value, at: path + "." + key)
    }

    func requiredString(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> String {
        guard let value = optional(object, key) else { throw error(path + "." + key, "missing") }
        let string = try self.string(value, at: path + "." + key)
        if string.isEmpty { throw error(path + "." + key, "empty") }
        return string
    }

    func optionalBool(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> Bool? {
        guard let value = optional(object, key) else { return nil }
        guard case .bool(let bool) = value else {
            throw error(path + "." + key, "expected a boolean, found \(Self.describe(value))")
        }
        return bool
    }

    func optionalInteger(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> Int? {
        guard let value = optional(object, key) else { return nil }
        switch value {
        case .integer(let integer) where integer.magnitude < 1_000_000_000_000_000:
            return integer
        case .double(let double) where double.rounded() == double && abs(double) < 1e15:
            return Int(double)
        default:
            throw error(path + "." + key, "expected an integer, found \(Self.describe(value))")
        }
    }

    /// `metadata.labels`-style maps of strings.
    func stringMap(_ object: JSONObject, _ key: String, at path: String) throws(AgentError) -> [String: String] {
        guard let map = try optionalObject(object, key, at: path) else { return [:] }
        var result: [String: String] = [:]
        result.reserveCapacity(map.members.count)
        for (name, value) in map.distinctMembers {
            result[name] = try string(value, at: path + "." + key + Self.member(name))
        }
        return result
    }

    /// `.name` for plain keys, `["app.kubernetes.io/name"]` otherwise (JSONPath bracket form).
    static func member(_ key: String) -> String {
        let plain = !key.isEmpty && key.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7a) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x30 && byte <= 0x39) || byte == 0x5f
        }
        return plain ? "." + key : "[\"" + key + "\"]"
    }
}
