// libFuzzer's main() drives this program (it is built with `--sanitize=fuzzer`, see scripts/fuzz
// and Sources/CFuzzerRuntime); this file only declares the two functions libFuzzer calls.
//
//     flowmon-fuzz TARGET [libFuzzer options] [CORPUS_DIR ...]      TARGET: decoder, replay, loaders, http, dns, http1, tls
//
// The target may also come from FLOWMON_FUZZ_TARGET, which is set here for libFuzzer's child
// processes (-merge, -minimize_crash, -fork). The replay and loaders targets read fixed cluster
// files from the repository: FLOWMON_REPOSITORY, or the current directory.
import CFuzzerRuntime
import FuzzHarness

#if canImport(Glibc)
import Glibc
#endif

nonisolated(unsafe) var harness: ((UnsafeRawBufferPointer) -> Bool)?

@_cdecl("LLVMFuzzerInitialize")
package func fuzzerInitialize(_ argc: UnsafeMutablePointer<Int32>,
                             _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> Int32 {
    precondition(flowmon_fuzzer_linked() != 0)
    var target: FuzzTarget?
    if argc.pointee > 1, let arguments = argv.pointee, let first = arguments[1],
       let named = FuzzTarget(rawValue: String(cString: first)) {
        target = named
        // libFuzzer reads its options after this returns: the target name is not one.
        for index in 1..<Int(argc.pointee) { arguments[index] = arguments[index + 1] }
        argc.pointee -= 1
    } else if let value = getenv("FLOWMON_FUZZ_TARGET") {
        target = FuzzTarget(rawValue: String(cString: value))
    }
    guard let target else {
        let names = FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")
        fail("usage: flowmon-fuzz TARGET [libFuzzer options] [CORPUS_DIR ...]   (TARGET: \(names))")
    }
    setenv("FLOWMON_FUZZ_TARGET", target.rawValue, 1)
    let repository = getenv("FLOWMON_REPOSITORY").map { String(cString: $0) } ?? "."
    do {
        harness = try target.harness(repository: repository)
    } catch {
        fail("flowmon-fuzz: \(target.rawValue): cannot set up (run from the repository root, or set FLOWMON_REPOSITORY): \(error)")
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
package func fuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    _ = harness!(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

func fail(_ message: String) -> Never {
    let line = message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}
