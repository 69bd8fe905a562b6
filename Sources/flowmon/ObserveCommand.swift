import ArgumentParser
import FlowLog
import FlowMonitor
import Foundation
import Presentation

#if canImport(Glibc)
import Glibc
#endif

extension Flowmon {
    /// `flowmon observe`: flowmon's own JSON lines, filtered as `hubble observe` filters.
    struct Observe: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "observe",
            abstract: "Find and follow connections in flowmon's JSON lines, with hubble observe's filters.",
            discussion: """
                Reads the JSON lines 'flowmon replay' and 'flowmon capture' write (files in order, or \
                standard input when none is given or for '-'), keeps the records the filters select \
                (the options of 'hubble observe', with its meanings), and prints them compact, one \
                line per connection (the default, piped or not, as 'hubble observe'), or as the \
                JSON lines they were (--format json); --summary adds the summary of every record \
                read. With --follow it keeps reading a file as it grows, and follows it \
                when it is replaced (logrotate, flowmon's --rotate-size) or truncated, by name, as \
                'tail -F' does, until SIGINT or SIGTERM. A line that cannot be read stops it with \
                an error naming the file, the line and the field; the records before it are shown.
                """
        )

        @Argument(help: "flowmon's JSON-lines files ('-' or none: standard input).",
                  completion: .file(extensions: ["jsonl", "json"]))
        var files: [String] = []

        @Flag(name: [.short, .long], help: "Keep reading each file as it is written, and follow it across rotation (reopened by name), until SIGINT or SIGTERM.")
        var follow = false

        @OptionGroup(title: "Output and filters (as hubble observe's)") var presentation: PresentationOptions

        func run() throws {
            signal(SIGPIPE, SIG_IGN)
            let presenter: Presenter
            do {
                presenter = try self.presentation.presenter(outputPath: nil, output: 1, format: self.presentation.observeFormat,
                                                            summaryByDefault: false)
            } catch {
                throw ValidationError(error.description)
            }
            let paths = self.files.isEmpty ? ["-"] : self.files
            do throws(FlowLogError) {
                let inputs = try paths.map { path throws(FlowLogError) in
                    try FollowedFile(path: path, follow: self.follow && path != "-")
                }
                for input in inputs where try !input.drain(into: presenter) {
                    return
                }
                presenter.releaseLast()
                if self.follow {
                    try Self.follow(inputs.filter { $0.reader.waitsForMore }, presenter: presenter)
                } else {
                    for input in inputs {
                        if let line = input.reader.incompleteLastLine {
                            Diagnostics.notice("\(input.reader.name):\(line): the last line is incomplete (still being written?); it is not read")
                        }
                    }
                }
                presenter.finish()
            } catch {
                presenter.finish()
                Diagnostics.error(error.description)
                throw ExitCode.failure
            }
            if presenter.writeError != 0 && presenter.writeError != EPIPE {
                Diagnostics.error("cannot write the output: \(String(cString: strerror(presenter.writeError)))")
                throw ExitCode.failure
            }
        }

        /// Reads on as the files grow, reopening a file replaced or truncated, until a stop signal.
        static func follow(_ inputs: [FollowedFile], presenter: Presenter) throws(FlowLogError) {
            guard !inputs.isEmpty else { return }
            let signals = SignalFlags([SIGINT, SIGTERM])
            defer { signals.cancel() }
            while !signals.stopRequested {
                var read = false
                for input in inputs {
                    let before = input.reader.lineNumber
                    guard try input.drain(into: presenter) else { return }
                    if let change = input.change() {
                        // What the old file got before it was replaced comes first.
                        guard try input.drain(into: presenter) else { return }
                        if input.reader.unfinishedBytes > 0 {
                            Diagnostics.notice("\(input.path):\(input.reader.lineNumber + 1): the last line was never finished; it is not read")
                        }
                        Diagnostics.notice("\(input.path) \(change); following it from its start")
                        try input.reopen()
                        read = true
                    }
                    read = read || input.reader.lineNumber != before
                }
                if !read { usleep(100_000) }
            }
        }
    }
}
