@testable import Agent
import Foundation
import Testing

/// `JSONParser` against RFC 8259: its grammar, escapes, numbers, limits, and inputs cut short.
struct JSONParserTests {
    static func parse(_ text: String) throws(JSONParser.SyntaxError) -> JSONValue {
        try JSONParser.parse(Array(text.utf8))
    }

    static func error(_ text: String) -> JSONParser.SyntaxError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func rfc8259Examples() throws {
        // The two examples of RFC 8259 section 13.
        let image = try Self.parse("""
            {
              "Image": {
                "Width":  800,
                "Height": 600,
                "Title":  "View from 15th Floor",
                "Thumbnail": {
                  "Url":    "http://www.example.com/image/481989943",
                  "Height": 125,
                  "Width":  100
                },
                "Animated" : false,
                "IDs": [116, 943, 234, 38793]
              }
            }
            """)
        guard case .object(let root) = image, case .object(let body)? = root["Image"],
              case .object(let thumbnail)? = body["Thumbnail"] else {
            Issue.record("not the expected shape: \(image)")
            return
        }
        #expect(body["Width"] == .integer(800))
        #expect(body["Title"] == .string("View from 15th Floor"))
        #expect(thumbnail["Url"] == .string("http://www.example.com/image/481989943"))
        #expect(body["Animated"] == .bool(false))
        #expect(body["IDs"] == .array([.integer(116), .integer(943), .integer(234), .integer(38793)]))
        #expect(body.members.map(\.key) == ["Width", "Height", "Title", "Thumbnail", "Animated", "IDs"])

        let places = try Self.parse("""
            [
              {"precision": "zip", "Latitude": 37.7668, "Longitude": -122.3959, "Address": "",
               "City": "SAN FRANCISCO", "State": "CA", "Zip": "94107", "Country": "US"},
              {"precision": "zip", "Latitude": 37.371991, "Longitude": -122.026020, "Address": "",
               "City": "SUNNYVALE", "State": "CA", "Zip": "94085", "Country": "US"}
            ]
            """)
        guard case .array(let items) = places, items.count == 2, case .object(let second) = items[1] else {
            Issue.record("not the expected shape: \(places)")
            return
        }
        #expect(second["Latitude"] == .double(37.371991))
        #expect(second["Longitude"] == .double(-122.026020))
        #expect(second["Address"] == .string(""))
    }

    @Test func anyValueAtTheTopWithWhiteSpace() throws {
        #expect(try Self.parse(" \t\r\n 2 \n") == .integer(2))
        #expect(try Self.parse("\"x\"") == .string("x"))
        #expect(try Self.parse("null") == .null)
        #expect(try Self.parse("true") == .bool(true))
        #expect(try Self.parse("[]") == .array([]))
        #expect(try Self.parse("{}") == .object([:]))
        #expect(try Self.parse("\u{FEFF}{}") == .object([:]))  // a UTF-8 byte order mark (section 8.1)
    }

    @Test func escapes() throws {
        #expect(try Self.parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{08} \u{0C} \n \r \t"))
        #expect(try Self.parse(#""caf\u00e9 \u00E9 \u0000""#) == .string("café é \u{0}"))
        // U+1F600 as a UTF-16 surrogate pair (section 7), and as raw UTF-8.
        #expect(try Self.parse(#""\ud83d\ude00 😀""#) == .string("😀 😀"))
        #expect(try Self.parse(#""a\u20acb""#) == .string("a€b"))
        #expect(Self.error(#""\ud83d""#)?.message == "unpaired UTF-16 surrogate in a \\u escape")
        #expect(Self.error(#""\ud83dx""#)?.message == "unpaired UTF-16 surrogate in a \\u escape")
        #expect(Self.error(#""\ud83d\u0041""#)?.message == "unpaired UTF-16 surrogate in a \\u escape")
        #expect(Self.error(#""\ude00""#)?.message == "unpaired UTF-16 surrogate in a \\u escape")
        #expect(Self.error(#""\x""#) == JSONParser.SyntaxError(message: "invalid escape in a string", offset: 1))
        #expect(Self.error(#""\u12g4""#) == JSONParser.SyntaxError(message: "expected four hex digits after \\u", offset: 5))
        #expect(Self.error("\"a\tb\"") == JSONParser.SyntaxError(message: "unescaped control character in a string", offset: 2))
        #expect(Self.error("\"a\nb\"")?.message == "unescaped control character in a string")
    }

    @Test func invalidUTF8IsAnError() {
        for bad: [UInt8] in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82]] {
            let bytes = Array("[\"a".utf8) + bad + Array("\"]".utf8)
            #expect(throws: JSONParser.SyntaxError(message: "a string is not valid UTF-8", offset: 2)) {
                try JSONParser.parse(bytes)
            }
            let escaped = Array("[\"\\n".utf8) + bad + Array("\"]".utf8)
            #expect(throws: JSONParser.SyntaxError(message: "a string is not valid UTF-8", offset: 2)) {
                try JSONParser.parse(escaped)
            }
        }
    }

    @Test func numbers() throws {
        let cases: [(String, JSONValue)] = [
            ("0", .integer(0)), ("-0", .integer(0)), ("12", .integer(12)), ("-12", .integer(-12)),
            ("9223372036854775807", .integer(Int.max)), ("-9223372036854775808", .integer(Int.min)),
            ("9223372036854775808", .double(9223372036854775808)), ("1.5", .double(1.5)), ("1e3", .double(1000)),
            ("1E-2", .double(0.01)), ("-1.5e+3", .double(-1500)), ("0.0", .double(0)), ("2.0", .double(2)),
        ]
        for (text, value) in cases {
            #expect(try Self.parse(text) == value, "\(text)")
        }
        let invalid: [(String, String)] = [
            ("01", "unexpected text after the JSON value"), ("1.", "unexpected end of file"), (".5", "invalid value"),
            ("-", "unexpected end of file"), ("+1", "invalid value"), ("1e", "unexpected end of file"),
            ("[1.e3]", "expected a digit in a number"), ("-a", "invalid value"), ("1e999", "number out of range"),
            ("-1e999", "number out of range"), ("NaN", "invalid value"), ("Infinity", "invalid value"), ("0x10", "unexpected text after the JSON value"),
        ]
        for (text, message) in invalid {
            #expect(Self.error(text)?.message == message, "\(text)")
        }
    }

    @Test func grammarErrorsNameTheOffendingByte() {
        let cases: [(String, JSONParser.SyntaxError)] = [
            ("[1,]", .init(message: "invalid value", offset: 3)),
            ("[1,,2]", .init(message: "invalid value", offset: 3)),
            ("{\"a\":1,}", .init(message: "expected a string (an object member's name)", offset: 7)),
            ("{'a':1}", .init(message: "expected a string (an object member's name)", offset: 1)),
            ("{\"a\" 1}", .init(message: "expected ':' after an object member's name", offset: 5)),
            ("{\"a\":1 \"b\":2}", .init(message: "expected ',' or '}' in an object", offset: 7)),
            ("[1 2]", .init(message: "expected ',' or ']' in an array", offset: 3)),
            ("[tru]", .init(message: "invalid value", offset: 1)),
            ("True", .init(message: "invalid value", offset: 0)),
            ("[1] // comment", .init(message: "unexpected text after the JSON value", offset: 4)),
            ("", .init(message: "unexpected end of file", offset: 0)),
            ("{\"a\":", .init(message: "unexpected end of file", offset: 5)),
        ]
        for (text, error) in cases {
            #expect(Self.error(text) == error, "\(text)")
        }
    }

    @Test func theLastOfTwoMembersWithOneNameCounts() throws {
        guard case .object(let object) = try Self.parse(#"{"a":1,"b":2,"a":3}"#) else {
            Issue.record("not an object")
            return
        }
        #expect(object["a"] == .integer(3))
        #expect(object.members.count == 3)
        #expect(object.distinctMembers.map(\.key) == ["b", "a"])
    }

    @Test func nestingIsBounded() throws {
        let depth = JSONParser.maximumDepth
        let deepest = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: Never.self) { try Self.parse(deepest) }
        let tooDeep = String(repeating: "[", count: depth + 1) + String(repeating: "]", count: depth + 1)
        #expect(Self.error(tooDeep) == JSONParser.SyntaxError(message: "nested deeper than 512 levels", offset: depth))
        // Far deeper than any stack would take, without trapping.
        #expect(Self.error(String(repeating: "{\"a\":[", count: 200_000))?.message == "nested deeper than 512 levels")
    }

    /// Every prefix of every fixture either parses or fails with an error inside the input;
    /// none traps. A prefix of an object or array is never a JSON text.
    @Test func everyPrefixFailsCleanly() throws {
        let fixtures = [
            #"{"kind":"List","items":[{"metadata":{"name":"web-1","labels":{"app":"web"}},"status":{"podIP":"10.0.0.1"}}]}"#,
            #"[1, -2.5e+3, true, false, null, "a\"b\\c\/d\u00e9\ud83d\ude00", {"x": [{}]}, []]"#,
            "{\n  \"a\": \"caf\u{e9} 😀\",\n  \"b\": [0, 1.0e-3]\n}\n",
            try String(contentsOfFile: InventoryFixtures.repository.appendingPathComponent("Captures/demo/demo-cluster.services.json").path,
                       encoding: .utf8),
        ]
        for fixture in fixtures {
            let bytes = Array(fixture.utf8)
            #expect(throws: Never.self) { try JSONParser.parse(bytes) }
            for length in 0..<bytes.count {
                // Only the text less trailing white space parses.
                let isWhole = bytes[length...].allSatisfy { $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }
                do {
                    _ = try JSONParser.parse(Array(bytes[..<length]))
                    #expect(isWhole, "a prefix of \(length) bytes parsed")
                } catch {
                    #expect(!isWhole && error.offset >= 0 && error.offset <= length)
                }
            }
        }
    }

    /// The same tree as Foundation's `JSONSerialization` (which `JSONReader` used before) on the
    /// repository's pods and services files.
    @Test func agreesWithJSONSerialization() throws {
        let files = ["Captures/demo/demo-cluster.pods.json", "Captures/demo/demo-cluster.services.json"]
        for file in files {
            let url = InventoryFixtures.repository.appendingPathComponent(file)
            guard let data = try? Data(contentsOf: url) else { continue }
            let foundation = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let ours = try JSONParser.parse(Array(data))
            #expect(Self.same(ours, foundation), "\(file)")
        }
    }

    static func same(_ value: JSONValue, _ other: Any) -> Bool {
        switch value {
        case .null: return other is NSNull
        case .bool(let bool): return (other as? NSNumber).map { String(cString: $0.objCType) == "c" && $0.boolValue == bool } ?? false
        case .integer(let integer): return (other as? NSNumber)?.int64Value == Int64(integer)
        case .double(let double): return (other as? NSNumber)?.doubleValue == double
        case .string(let string): return other as? String == string
        case .array(let array):
            guard let others = other as? [Any], others.count == array.count else { return false }
            return zip(array, others).allSatisfy { same($0, $1) }
        case .object(let object):
            guard let others = other as? [String: Any], others.count == object.distinctMembers.count else { return false }
            return object.distinctMembers.allSatisfy { member in others[member.key].map { same(member.value, $0) } ?? false }
        }
    }
}
