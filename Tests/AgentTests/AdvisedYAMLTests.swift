@testable import Agent
import Testing
import Yams

/// The advisor writes names from the inventory into YAML double-quoted strings: whatever the
/// characters, a YAML parser must read back the same string.
struct AdvisedYAMLTests {
    /// Every character below U+0100, the Unicode line and paragraph separators, the last
    /// characters of the BMP, and characters beyond it.
    static let characters: [Unicode.Scalar] = (Array(0x01...0xff) + [0x2028, 0x2029, 0xfeff, 0xfffd, 0xfffe, 0xffff, 0x1f600, 0x10ffff])
        .compactMap(Unicode.Scalar.init)

    @Test(arguments: characters)
    func aQuotedStringReadsBackAsWritten(character: Unicode.Scalar) throws {
        let text = "a" + String(Character(character)) + "b"
        let document = "name: " + AdvisedYAML.quoted(text) + "\n"
        let loaded = try Yams.load(yaml: document) as? [String: Any]
        #expect(loaded?["name"] as? String == text, "U+\(String(character.value, radix: 16)): \(document)")
    }

    @Test func keysThatAreNotPlainAreQuoted() throws {
        for key in ["app", "k8s:io.kubernetes.pod.namespace", "a b", "-x", "x:", "\u{85}", "é"] {
            let loaded = try Yams.load(yaml: AdvisedYAML.key(key) + ": 1\n") as? [String: Any]
            #expect(loaded?.keys.first == key, "\(key)")
        }
    }
}
