import Foundation
import PackagePlugin

/// Compiles flowmon's BPF programs (bpf/flowmon.bpf.c) with `clang -O2 -g -target bpf` and
/// embeds the object in the KernelCapture module as a Swift source file, so the flowmon binary
/// stays one self-contained file. The clang of the Swift toolchain has the BPF target; the
/// programs include libbpf's headers (`libbpf-dev`). Runs again when the program, the header
/// it shares with Swift or the script change.
@main
struct BPFObject: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let package = context.package.directoryURL
        let program = package.appending(path: "bpf/flowmon.bpf.c")
        let header = package.appending(path: "Sources/CBPF/flowmon_bpf.h")
        let script = package.appending(path: "bpf/embed-object")
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedBPFObject.swift")
        let clang = try context.tool(named: "clang").url
        return [
            .buildCommand(
                displayName: "Compiling the BPF programs (bpf/flowmon.bpf.c)",
                executable: URL(fileURLWithPath: "/bin/sh"),
                arguments: [script.path, clang.path, program.path, output.path],
                inputFiles: [program, header, script],
                outputFiles: [output])
        ]
    }
}
