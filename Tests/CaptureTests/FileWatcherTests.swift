import Capture
import Foundation
import Testing

/// `FileWatcher` (inotify): which changes count for watched files and a watched policy tree.
@Suite struct FileWatcherTests {
    let directory: URL

    init() throws {
        self.directory = FileManager.default.temporaryDirectory.appendingPathComponent("flowmon-watch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: self.directory.appendingPathComponent("policies/team"),
                                                withIntermediateDirectories: true)
        try "{}".write(to: self.directory.appendingPathComponent("pods.json"), atomically: false, encoding: .utf8)
    }

    func path(_ name: String) -> String { self.directory.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String = "x") throws {
        try text.write(toFile: self.path(name), atomically: false, encoding: .utf8)
    }

    func watcher() -> FileWatcher {
        FileWatcher(files: [self.path("pods.json")], directories: [self.path("policies")], extensions: ["yaml", "yml", "json"])
    }

    @Test func aFileRenamedOverOrWrittenInPlaceCountsAndItsNeighboursDoNot() throws {
        defer { try? FileManager.default.removeItem(at: self.directory) }
        let watcher = self.watcher()
        #expect(watcher.warnings == [])
        #expect(watcher.changes() == [])
        try self.write(".pods.json.tmp")  // the sidecar's temporary file: not watched
        #expect(watcher.changes() == [])
        #expect(rename(self.path(".pods.json.tmp"), self.path("pods.json")) == 0)
        #expect(watcher.changes() == [self.path("pods.json")])
        try self.write("pods.json")  // in place: counts when closed
        try self.write("pods.json")
        #expect(watcher.changes() == [self.path("pods.json")])
        try self.write("nodes.json")
        #expect(watcher.changes() == [])
    }

    @Test func aPolicyTreeCountsItsFilesAndNewSubdirectoriesButNotSwapFiles() throws {
        defer { try? FileManager.default.removeItem(at: self.directory) }
        let watcher = self.watcher()
        try self.write("policies/team/a.yaml")
        try self.write("policies/team/.a.yaml.swp")
        try self.write("policies/4913")
        #expect(watcher.changes() == [self.path("policies/team/a.yaml")])
        try FileManager.default.createDirectory(atPath: self.path("policies/new"), withIntermediateDirectories: false)
        #expect(watcher.changes() == [self.path("policies/new")])
        try self.write("policies/new/b.YML")  // watched since it appeared
        #expect(watcher.changes() == [self.path("policies/new/b.YML")])
        try FileManager.default.removeItem(atPath: self.path("policies/team/a.yaml"))
        #expect(watcher.changes() == [self.path("policies/team/a.yaml")])
    }

    /// A ConfigMap volume: `pods.json` is a link through `..data`, which the kubelet swaps by rename.
    @Test func aConfigMapSwapCountsForItsFiles() throws {
        defer { try? FileManager.default.removeItem(at: self.directory) }
        let mount = self.path("config")
        try FileManager.default.createDirectory(atPath: mount + "/..v1", withIntermediateDirectories: true)
        try "{}".write(toFile: mount + "/..v1/pods.json", atomically: false, encoding: .utf8)
        #expect(symlink("..v1", mount + "/..data") == 0)
        #expect(symlink("..data/pods.json", mount + "/pods.json") == 0)
        let watcher = FileWatcher(files: [mount + "/pods.json"], directories: [], extensions: [])
        try FileManager.default.createDirectory(atPath: mount + "/..v2", withIntermediateDirectories: true)
        try "{}".write(toFile: mount + "/..v2/pods.json", atomically: false, encoding: .utf8)
        #expect(symlink("..v2", mount + "/..data_tmp") == 0)
        #expect(watcher.changes() == [])
        #expect(rename(mount + "/..data_tmp", mount + "/..data") == 0)
        #expect(watcher.changes() == [mount + "/pods.json"])
    }

    @Test func aMissingDirectoryIsAWarning() {
        let watcher = FileWatcher(files: ["/nonexistent-flowmon/pods.json"], directories: [], extensions: [])
        #expect(watcher.warnings.count == 1)
        #expect(watcher.warnings.first?.hasPrefix("cannot watch /nonexistent-flowmon/pods.json for changes (inotify on /nonexistent-flowmon: No such file or directory)") == true)
        #expect(watcher.changes() == [])
    }
}
