import Foundation

/// Typed access to the output of `JSONSerialization`, with errors that name the file and
/// the JSON path (`$.items[3].status.podIP`) of the offending value.
struct JSONReader {
    let file: String

    /// Reads and parses a file. Errors: file not found, unreadable, empty, not JSON
    /// (with the line and column when the parser reports an offset).
    static func parseFile(_ path: String) throws(AgentError) -> Any {
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

    static func parse(_ data: Data, file: String) throws(AgentError) -> Any {
        if data.allSatisfy({ $0 == 0x20 || $0 == 0x0a || $0 == 0x0d || $0 == 0x09 }) {
            throw AgentError(file: file, message: "empty file, expected JSON (kubectl get ... -o json)")
        }
        do {
            return try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw notJSON(error, data: data, file: file)
        }
    }

    /// Turns Foundation's "Invalid value around character 13." into
    /// `not JSON: invalid value at column 4 (line 2)`.
    static func notJSON(_ error: any Error, data: Data, file: String) -> AgentError {
        let nsError = error as NSError
        var detail = (nsError.userInfo[NSDebugDescriptionErrorKey] as? String) ?? nsError.localizedDescription
        while detail.hasSuffix(".") { detail.removeLast() }
        if let first = detail.first { detail = first.lowercased() + detail.dropFirst() }
        guard let range = detail.range(of: " around character "),
              let offset = Int(detail[range.upperBound...].prefix { $0.isNumber }) else {
            return AgentError(file: file, message: "not JSON: " + detail)
        }
        let what = String(detail[..<range.lowerBound])
        var line = 1
        var lineStart = 0
        let end = min(offset, data.count)
        var index = 0
        for byte in data {
            if index >= end { break }
            if byte == 0x0a {
                line += 1
                lineStart = index + 1
            }
            index += 1
        }
        return AgentError(file: file, message: "not JSON: \(what) at column \(offset - lineStart + 1)", line: line)
    }

    // MARK: - Values

    func error(_ path: String, _ message: String) -> AgentError {
        AgentError(file: self.file, location: path, message: message)
    }

    /// `a string "x"`, `the number 3`, `a boolean (true)`, `an object`, `an array`, `null`.
    static func describe(_ value: Any) -> String {
        if value is NSNull { return "null" }
        if let string = value as? String {
            let shown = string.count > 60 ? String(string.prefix(60)) + "..." : string
            return "a string \"\(shown)\""
        }
        if let number = value as? NSNumber {
            if isBoolean(number) { return "a boolean (\(number.boolValue))" }
            return "the number \(number)"
        }
        if value is [Any] { return "an array" }
        if value is [String: Any] { return "an object" }
        return "an unexpected value"
    }

    static func isBoolean(_ number: NSNumber) -> Bool {
        String(cString: number.objCType) == "c"
    }

    func object(_ value: Any, at path: String) throws(AgentError) -> [String: Any] {
        guard let object = value as? [String: Any] else {
            throw error(path, "expected an object, found \(Self.describe(value))")
        }
        return object
    }

    func array(_ value: Any, at path: String) throws(AgentError) -> [Any] {
        guard let array = value as? [Any] else {
            throw error(path, "expected an array, found \(Self.describe(value))")
        }
        return array
    }

    func string(_ value: Any, at path: String) throws(AgentError) -> String {
        guard let string = value as? String else {
            throw error(path, "expected a string, found \(Self.describe(value))")
        }
        return string
    }

    /// A member that may be absent or null.
    func optional(_ object: [String: Any], _ key: String) -> Any? {
        // Compare the dynamic type: `value is NSNull` would bridge a whole nested
        // dictionary or array to Foundation classes just to answer no (quadratic on big files).
        guard let value = object[key], Swift.type(of: value) != NSNull.self else { return nil }
        return value
    }

    func optionalObject(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> [String: Any]? {
        guard let value = optional(object, key) else { return nil }
        return try self.object(value, at: path + "." + key)
    }

    func optionalArray(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> [Any]? {
        guard let value = optional(object, key) else { return nil }
        return try self.array(value, at: path + "." + key)
    }

    func optionalString(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> String? {
        guard let value = optional(object, key) else { return nil }
        return try self.string(value, at: path + "." + key)
    }

    func requiredString(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> String {
        guard let value = optional(object, key) else { throw error(path + "." + key, "missing") }
        let string = try self.string(value, at: path + "." + key)
        if string.isEmpty { throw error(path + "." + key, "empty") }
        return string
    }

    func optionalBool(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> Bool? {
        guard let value = optional(object, key) else { return nil }
        guard let number = value as? NSNumber, Self.isBoolean(number) else {
            throw error(path + "." + key, "expected a boolean, found \(Self.describe(value))")
        }
        return number.boolValue
    }

    func optionalInteger(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> Int? {
        guard let value = optional(object, key) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number),
              number.doubleValue.rounded() == number.doubleValue, abs(number.doubleValue) < 1e15 else {
            throw error(path + "." + key, "expected an integer, found \(Self.describe(value))")
        }
        return number.intValue
    }

    /// `metadata.labels`-style maps of strings.
    func stringMap(_ object: [String: Any], _ key: String, at path: String) throws(AgentError) -> [String: String] {
        guard let map = try optionalObject(object, key, at: path) else { return [:] }
        var result: [String: String] = [:]
        result.reserveCapacity(map.count)
        for (name, value) in map {
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
