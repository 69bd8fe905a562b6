import Datapath
import Detection
import FlowCore
import Foundation
import Output
import Testing

/// `EVEKey`, the one list of the keys flowmon's records use (Output writes them, FlowLog reads
/// them), and the schemas of those records (schema/flow, alert, stats and lost.schema.json)
/// name the same keys: a key renamed or added on one side only fails here.
struct EVEKeySchemaTests {
    /// The repository root (this file is Tests/OutputTests/EVEKeySchemaTests.swift).
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    static func schema(_ record: String) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent("schema/\(record).schema.json")))
    }

    /// Every name of a `properties` object in `schema`, at any depth (`$defs` included).
    static func propertyNames(_ schema: Any) -> Set<String> {
        switch schema {
        case let object as [String: Any]:
            var names = Set((object["properties"] as? [String: Any])?.keys.map { $0 } ?? [])
            for value in object.values { names.formUnion(propertyNames(value)) }
            return names
        case let array as [Any]:
            return array.reduce(into: []) { $0.formUnion(propertyNames($1)) }
        default:
            return []
        }
    }

    static var vocabulary: [String] { EVEKey.allCases.map { $0.rawValue.text.description } }

    @Test func theSchemasNameExactlyTheVocabularysKeys() throws {
        var named = Set<String>()
        for record in ["flow", "alert", "stats", "lost"] { named.formUnion(Self.propertyNames(try Self.schema(record))) }
        // `stats.alerts.raised` has a counter per alert kind, named by `AlertKind.name`.
        let alertKinds = Set(AlertKind.allCases.map { $0.name.description })
        let vocabulary = Set(Self.vocabulary)
        #expect(vocabulary.count == EVEKey.allCases.count, "two cases with one text")
        #expect(named.subtracting(vocabulary).subtracting(alertKinds).sorted() == [], "in a schema, not in EVEKey")
        #expect(vocabulary.subtracting(named).sorted() == [], "in EVEKey, in no schema")
        #expect(vocabulary.isDisjoint(with: alertKinds))
        #expect(named.count > 140, "\(named.count) names read from the schemas")
    }

    @Test func statsAlertsRaisedHasACounterPerAlertKind() throws {
        let stats = try #require(try Self.schema("stats") as? [String: Any])
        let raised = ["properties", "stats", "properties", "alerts", "properties", "raised", "properties"]
            .reduce(stats as Any?) { ($0 as? [String: Any])?[$1] } as? [String: Any]
        #expect(Set(try #require(raised).keys) == Set(AlertKind.allCases.map { $0.name.description }))
    }

    /// The check reads what a schema edit changes: a property renamed in a schema's text is
    /// missing from the names read, and the new name is one EVEKey lacks.
    @Test func aRenamedSchemaPropertyIsSeen() throws {
        let url = Self.root.appendingPathComponent("schema/lost.schema.json")
        let text = try String(contentsOf: url, encoding: .utf8).replacingOccurrences(of: "\"num_events_lost\"", with: "\"events_lost\"")
        let names = Self.propertyNames(try JSONSerialization.jsonObject(with: Data(text.utf8)))
        #expect(!names.contains("num_events_lost") && names.contains("events_lost"))
        #expect(!Self.vocabulary.contains("events_lost"))
    }

    /// `append(key:)` puts the comma before every member but an object's first.
    @Test func keysAreSeparatedByCommasExceptAnObjectsFirst() {
        let json = JSONBufferTests.render { out in
            out.append(byte: UInt8(ascii: "{"))
            out.append(key: .timestamp)
            out.append(UInt64(1))
            out.append(key: .lost)
            out.append(byte: UInt8(ascii: "{"))
            out.append(key: .source)
            out.append(UInt64(2))
            out.append(key: "other")
            out.append(UInt64(3))
            out.append(raw: "}}")
        }
        #expect(json == #"{"timestamp":1,"lost":{"source":2,"other":3}}"#)
    }

    @Test func aLostRecord() {
        let json = JSONBufferTests.render { out in
            LostRecord.append(time: CaptureTime(seconds: 1_700_000_000), source: "ring_buffer", lost: 3, total: 12, to: &out)
        }
        #expect(json == #"{"timestamp":"2023-11-14T22:13:20.000000+0000","event_type":"lost","lost":{"source":"ring_buffer","num_events_lost":3,"total":12}}"#)
    }
}
