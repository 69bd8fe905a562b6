import Agent
import FlowCore
import Foundation
import Testing

/// The watch stream of `kubectl get pods -A --watch --output-watch-events -o json`: cut into
/// objects however it arrives (`JSONObjectScanner`), then applied in order (`PodWatchSet`).
@Suite struct PodWatchSetTests {
    /// A watch event as kubectl prints it: pretty-printed, nested objects indented.
    static func event(_ type: String, _ name: String, ip: String? = nil, labels: [String: String] = ["app": "web"],
                      phase: String = "Running", namespace: String = "shop") -> String {
        let labelText = labels.sorted { $0.key < $1.key }.map { "                \"\($0.key)\": \"\($0.value)\"" }
            .joined(separator: ",\n")
        let status = ip.map { "\"podIP\": \"\($0)\", \"podIPs\": [{\"ip\": \"\($0)\"}], " } ?? ""
        return """
            {
                "type": "\(type)",
                "object": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {
                        "name": "\(name)",
                        "namespace": "\(namespace)",
                        "labels": {
            \(labelText)
                        }
                    },
                    "spec": {"nodeName": "node-1"},
                    "status": {\(status)"phase": "\(phase)"}
                }
            }

            """
    }

    /// Feeds `text` to a scanner in pieces of `chunk` bytes and applies every object.
    static func apply(_ text: String, chunk: Int, to set: inout PodWatchSet) -> (outcomes: [PodWatchSet.Outcome], errors: [String], pieces: [JSONObjectScanner.Piece]) {
        var scanner = JSONObjectScanner()
        var outcomes: [PodWatchSet.Outcome] = []
        var errors: [String] = []
        var all: [JSONObjectScanner.Piece] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            let pieces = scanner.feed(bytes[start..<min(start + chunk, bytes.count)])
            all += pieces
            for piece in pieces {
                guard case .object(let object, let line) = piece else { continue }
                do throws(AgentError) {
                    outcomes.append(try set.apply(object, line: line))
                } catch {
                    errors.append(error.description)
                }
            }
            start += chunk
        }
        return (outcomes, errors, all)
    }

    @Test(arguments: [1, 7, 64, 100_000])
    func objectsSplitAcrossReadsAreWholeAgain(chunk: Int) {
        // Braces, brackets and escaped quotes inside strings must not move the depth.
        let tricky = Self.event("ADDED", "web-1", ip: "10.0.0.1", labels: ["note": #"a } b { c \" ] [ \\"#])
        let text = tricky + Self.event("ADDED", "web-2", ip: "10.0.0.2") + Self.event("DELETED", "web-1", ip: "10.0.0.1")
        var set = PodWatchSet(source: "pods.fifo")
        let (outcomes, errors, _) = Self.apply(text, chunk: chunk, to: &set)
        #expect(errors == [])
        #expect(outcomes == [.changed, .changed, .changed])
        #expect(set.pods.map(\.name) == ["web-2"])
        #expect(set.objects == 3)
    }

    @Test func labelValuesKeepTheirEscapes() {
        var set = PodWatchSet(source: "pods.fifo")
        // The label as JSON text (`event` writes it as it is): `x } \"y\" \\`.
        let (_, errors, _) = Self.apply(Self.event("ADDED", "web-1", labels: ["note": #"x } \"y\" \\"#]), chunk: 5, to: &set)
        #expect(errors == [])
        #expect(set.pods.first?.labels["note"] == #"x } "y" \"#)
    }

    @Test func upsertKeepsTheOrderAndNoticesRealChangesOnly() {
        var set = PodWatchSet(source: "-")
        let text = Self.event("ADDED", "a", ip: "10.0.0.1") + Self.event("ADDED", "b", ip: "10.0.0.2")
            + Self.event("MODIFIED", "a", ip: "10.0.0.1")  // the same pod again: nothing flowmon reads changed
            + Self.event("MODIFIED", "a", ip: "10.0.0.1", labels: ["app": "db"])
            + Self.event("DELETED", "zz")  // never seen
        let (outcomes, errors, _) = Self.apply(text, chunk: 4096, to: &set)
        #expect(errors == [])
        #expect(outcomes == [.changed, .changed, .unchanged, .changed, .unchanged])
        #expect(set.pods.map(\.name) == ["a", "b"])
        #expect(set.pods[0].labels == ["app": "db"])
        #expect(set.pods[0].ips == [IPAddress(text: "10.0.0.1")!])
    }

    @Test func aFinishedPodLeavesTheSet() {
        var set = PodWatchSet(source: "-")
        let text = Self.event("ADDED", "job-1", ip: "10.0.0.9") + Self.event("MODIFIED", "job-1", ip: "10.0.0.9", phase: "Succeeded")
        let (outcomes, _, _) = Self.apply(text, chunk: 4096, to: &set)
        #expect(outcomes == [.changed, .changed])
        #expect(set.pods.isEmpty)
    }

    @Test func bookmarkAndErrorEventsChangeNothing() {
        var set = PodWatchSet(source: "pods.fifo")
        let bookmark = #"{"type":"BOOKMARK","object":{"kind":"Pod","apiVersion":"v1","metadata":{"resourceVersion":"12746"}}}"#
        let error = """
            {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
             "message": "too old resource version: 1 (12746)", "reason": "Expired", "code": 410}}
            """
        let (outcomes, errors, _) = Self.apply(Self.event("ADDED", "a") + bookmark + "\n" + error, chunk: 3, to: &set)
        #expect(errors == [])
        #expect(outcomes == [.changed, .unchanged,
                             .warning("pods.fifo: object 3 (line 18): the watch reported an error (code 410): too old resource version: 1 (12746)")])
        #expect(set.pods.map(\.name) == ["a"])
    }

    @Test func aMalformedObjectIsReportedAndTheNextOneTaken() {
        var set = PodWatchSet(source: "pods.fifo")
        let bad = Self.event("ADDED", "bad", ip: "10.0.0.300")
        let notJSON = "{\"type\": \"ADDED\", \"object\": {\"kind\": \"Pod\",, }}\n"
        let unknown = #"{"type":"RENAMED","object":{}}"# + "\n"
        let text = bad + notJSON + unknown + Self.event("ADDED", "good", ip: "10.0.0.3")
        let (outcomes, errors, _) = Self.apply(text, chunk: 10, to: &set)
        #expect(outcomes == [.changed])
        #expect(set.pods.map(\.name) == ["good"])
        #expect(errors.count == 3)
        #expect(errors[0] == #"pods.fifo: object 1 (line 1): $.object.status.podIPs[0].ip: not an IP address: "10.0.0.300""#, "\(errors)")
        #expect(errors[1].hasPrefix("pods.fifo: object 2: not JSON:") && errors[1].hasSuffix("(line 17)"), "\(errors)")
        #expect(errors[2].contains("object 3 (line 18): $.type: expected ADDED, MODIFIED, DELETED, BOOKMARK or ERROR, found \"RENAMED\""), "\(errors)")
    }

    @Test func aListReplacesThePodsAndABarePodIsPutInPlace() {
        var set = PodWatchSet(source: "-")
        let list = """
            {"kind": "List", "items": [
              {"kind": "Pod", "metadata": {"name": "x", "namespace": "n"}, "status": {"podIP": "10.1.0.1"}},
              {"kind": "Pod", "metadata": {"name": "y", "namespace": "n"}, "status": {"podIP": "10.1.0.2"}}]}
            """
        let pod = #"{"kind": "Pod", "metadata": {"name": "z", "namespace": "n"}, "status": {"podIP": "10.1.0.3"}}"#
        let (outcomes, errors, _) = Self.apply(Self.event("ADDED", "a") + list + "\n" + pod + "\n" + list, chunk: 4096, to: &set)
        #expect(errors == [])
        #expect(outcomes == [.changed, .changed, .changed, .changed])
        #expect(set.pods.map(\.name) == ["x", "y"])
    }

    @Test func anObjectCutShortIsGivenUpAtTheNextOne() {
        // The writer died inside its first object; the next writer starts a new one at column 0.
        let whole = Self.event("ADDED", "a", ip: "10.0.0.1")
        let cut = String(whole.prefix(whole.count / 2))
        var scanner = JSONObjectScanner()
        let pieces = scanner.feed(Array((cut + "\n" + whole).utf8))
        #expect(pieces.count == 2)
        #expect(pieces.first == .truncated(line: 1))
        guard case .object(_, let line) = pieces.last else {
            Issue.record("no object after the cut one: \(pieces)")
            return
        }
        #expect(line == cut.split(separator: "\n", omittingEmptySubsequences: false).count + 1)
    }

    @Test func strayTextIsReportedOnceAndSkipped() {
        var scanner = JSONObjectScanner()
        let pieces = scanner.feed(Array("error: the server doesn't have a resource type\n{\"a\": 1}\n".utf8))
        #expect(pieces == [.stray(line: 1), .object(Array("{\"a\": 1}".utf8), line: 2)])
    }

    @Test func anObjectLongerThanTheLimitIsSkipped() {
        var scanner = JSONObjectScanner(maximumObjectSize: 16)
        let pieces = scanner.feed(Array("{\"a\": \"0123456789abcdef\"}\n{\"b\": 2}".utf8))
        #expect(pieces == [.tooLong(line: 1), .object(Array("{\"b\": 2}".utf8), line: 2)])
    }

    /// Any bytes (mutations of a real stream) are cut and applied without a trap, and a good
    /// object after them is still taken.
    @Test func damagedStreamsNeverTrap() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(truncatingIfNeeded: state >> 1)
        }
        let good = Array(Self.event("ADDED", "after", ip: "10.9.9.9").utf8)
        let base = Array((Self.event("ADDED", "a", ip: "10.0.0.1") + Self.event("DELETED", "a")).utf8)
        let alphabet = Array(#"{}[]"\,: x0"#.utf8)
        for _ in 0..<300 {
            var bytes = base
            for _ in 0..<(1 + next() % 8) {
                let at = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[at] = alphabet[next() % alphabet.count]
                case 1: bytes.remove(at: at)
                default: bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
                }
            }
            var set = PodWatchSet(source: "fuzz")
            var scanner = JSONObjectScanner()
            var pieces: [JSONObjectScanner.Piece] = []
            var start = 0
            while start < bytes.count {
                let end = min(bytes.count, start + 1 + next() % 64)
                pieces += scanner.feed(bytes[start..<end])
                start = end
            }
            // A new object at the start of a line always begins anew, whatever came before.
            pieces += scanner.feed(Array("\n".utf8) + good)
            for case .object(let object, let line) in pieces { _ = try? set.apply(object, line: line) }
            #expect(set.pods.contains { $0.name == "after" })
        }
    }

    /// The loader takes the stream's pods in place of a file, with the same consistency rules.
    @Test func streamedPodsGoThroughTheInventoryRules() throws {
        var set = PodWatchSet(source: "pods.fifo")
        _ = Self.apply(Self.event("ADDED", "a", ip: "10.0.0.1") + Self.event("ADDED", "b", ip: "10.0.0.1"), chunk: 4096, to: &set)
        let inventory = try InventoryLoader.load(pods: nil, namespaces: nil, nodes: nil, streamedPods: ("pods.fifo", set.pods))
        #expect(inventory.pods.map(\.name) == ["a", "b"])
        #expect(inventory.pods[1].ips.isEmpty)
        #expect(inventory.warnings == ["pods.fifo: object 2 (line 17): 10.0.0.1 is claimed by shop/a and shop/b; using shop/a"])
        #expect(inventory.namespaces.map(\.name) == ["shop"])
    }
}
