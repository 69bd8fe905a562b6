// swift-tools-version: 6.1
import PackageDescription

// Modules import one way: FlowCore <- Capture, Decoding <- Datapath <- Detection <- Output <- FlowMonitor <- flowmon.
// Only `Capture` imports libpcap (`CPcap`), as only swift-system's Syscalls.swift calls libc.
/// Release builds skip Swift's run-time exclusivity checks (every access to a class's stored
/// property otherwise calls swift_beginAccess; 6% of replay time in a profile). Debug builds,
/// which the tests use, keep them.
let releaseSettings: [SwiftSetting] = [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
/// The release `flowmon` carries the Swift runtime and Foundation in itself (`-static-stdlib`; the
/// compile flag makes the module's imports name the static libraries, ICU's among them): the
/// dynamic loader no longer maps 14 Swift libraries and binds their symbols at every start.
/// `flowmon --version`: 11 -> 5.3 ms of CPU; a replay of a small capture 17.5 -> 10.9 ms and
/// 27 -> 19 MB peak RSS (docs/performance.md, "Start-up and small captures").
let staticRuntime = (swift: [SwiftSetting.unsafeFlags(["-static-stdlib"], .when(configuration: .release))],
                     linker: [LinkerSetting.unsafeFlags(["-static-stdlib"], .when(configuration: .release))])

let package = Package(
    name: "flowmon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowmon", targets: ["flowmon"]),
        // The per-packet stages, for Benchmarks/micro (ordo-one/benchmark).
        .library(name: "FlowmonKit", targets: ["FlowCore", "Decoding", "Datapath", "Detection", "Output"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        // libbpf, for the eBPF datapath; with the records flowmon's BPF programs share with Swift.
        .systemLibrary(
            name: "CBPF",
            pkgConfig: "libbpf",
            providers: [.apt(["libbpf-dev"])]
        ),
        // Compiles bpf/flowmon.bpf.c (clang -target bpf) into KernelCapture.
        .plugin(name: "BPFObject", capability: .buildTool()),
        .target(name: "FlowCore", swiftSettings: releaseSettings),
        // Test support: counts heap allocations per thread (linked into the test executable only).
        .target(name: "CMallocCounter"),
        // What Swift has no spelling of: `__builtin_prefetch` for the flow table, SHA-1 with the
        // CPU's SHA extensions for Community IDs (Output).
        .target(name: "CIntrinsics"),
        .target(name: "Capture", dependencies: ["FlowCore", "CPcap"], swiftSettings: releaseSettings),
        // The eBPF datapath: flowmon's TC programs (bpf/, compiled by the build and embedded),
        // attached to the observed interfaces, read through a BPF ring buffer. Only this module
        // imports libbpf (`CBPF`).
        .target(name: "KernelCapture", dependencies: ["FlowCore", "Capture", "CBPF"], swiftSettings: releaseSettings,
                plugins: ["BPFObject"]),
        .target(name: "Decoding", dependencies: ["FlowCore"], swiftSettings: releaseSettings),
        // Application layer, as a passive observer sees it: DNS, HTTP/1.x and TLS ClientHello
        // parsers over payload bytes, the DNS name cache and the L7/FQDN rule matching Cilium's
        // proxies do. Strings live here, never in Datapath.
        .target(name: "L7", dependencies: ["FlowCore"], swiftSettings: releaseSettings),
        .target(name: "Datapath", dependencies: ["FlowCore", "Decoding", "CIntrinsics"], swiftSettings: releaseSettings),
        // The detectors: the alert registry, their settings, and the windowed checks over the
        // datapath's findings (scans, floods, sweeps, aggregation of repeats).
        .target(name: "Detection", dependencies: ["FlowCore", "Datapath"], swiftSettings: releaseSettings),
        .target(name: "Output", dependencies: ["FlowCore", "Decoding", "Datapath", "Detection", "L7", "CIntrinsics"], swiftSettings: releaseSettings),
        // The agent side: Kubernetes inventory, identities, policies. Strings, labels and YAML
        // live here and are compiled into the numeric tables the datapath looks up.
        .target(name: "Agent", dependencies: ["FlowCore", "Datapath", "Detection", "L7", .product(name: "Yams", package: "Yams")],
                swiftSettings: releaseSettings),
        // The Prometheus side (`--metrics-address`): the text exposition writer and a minimal
        // GET-only HTTP responder on its own thread, whose request heads L7's HTTP/1.x parser reads.
        // libc only; never on the packet path.
        .target(name: "Metrics", dependencies: ["L7"]),
        .target(name: "FlowMonitor", dependencies: ["FlowCore", "Capture", "KernelCapture", "Decoding", "Datapath", "Detection", "Output", "Agent", "Metrics", "L7"],
                swiftSettings: releaseSettings),
        // flowmon's JSON lines read back as values (Foundation, and FlowCore's vocabularies), and
        // the service map drawn from them as HTML or Graphviz DOT (`flowmon map`).
        // Optimized in debug builds too (scripts/demo and the tests use those): a day of flow
        // logs is read line by line, 20 times slower unoptimized.
        .target(name: "FlowLog", dependencies: ["FlowCore"], swiftSettings: [.unsafeFlags(["-O"])]),
        .target(name: "ServiceMap", dependencies: ["FlowLog"], swiftSettings: [.unsafeFlags(["-O"])]),
        // For people: compact lines, output filters, the run summary and the progress bar, over
        // the JSON lines (the contract) as any consumer reads them: with FlowLog.
        .target(name: "Presentation", dependencies: ["FlowCore", "FlowLog", "Datapath"]),
        .executableTarget(
            name: "flowmon",
            dependencies: ["FlowMonitor", "KernelCapture", "Metrics", "Presentation", "FlowLog", "ServiceMap", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: staticRuntime.swift, linkerSettings: staticRuntime.linker
        ),
        // Fuzzing (scripts/fuzz): the harnesses, shared by the libFuzzer program and FuzzTests;
        // CFuzzerRuntime makes a build without --sanitize=fuzzer exit with a message.
        .target(name: "FuzzHarness", dependencies: ["FlowCore", "Capture", "Decoding", "Datapath", "Detection", "Output", "Agent", "FlowMonitor", "Metrics", "L7"]),
        .target(name: "CFuzzerRuntime"),
        .executableTarget(name: "flowmon-fuzz", dependencies: ["FuzzHarness", "CFuzzerRuntime"]),
        // For the test targets: where the repository, its capture corpus and the built flowmon are; running a program.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Capture", "FlowCore", "TestSupport"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "FlowCore", "CPcap", "TestSupport"]),
        .testTarget(name: "DatapathTests", dependencies: ["Datapath", "Detection", "Decoding", "FlowCore"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "Datapath", "FlowCore"]),
        .testTarget(name: "AgentTests", dependencies: ["Agent", "Datapath", "Detection", "FlowCore", "L7", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "OutputTests", dependencies: ["Output", "Datapath", "Detection", "Decoding", "FlowCore", "L7"]),
        .testTarget(name: "PresentationTests", dependencies: ["Presentation", "FlowLog"]),
        .testTarget(name: "FuzzTests", dependencies: ["FuzzHarness"]),
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Output", "Datapath", "Decoding", "FlowCore"]),
        .testTarget(name: "L7Tests", dependencies: ["L7", "FlowCore", "CMallocCounter", "TestSupport"]),
        .testTarget(name: "FlowLogTests", dependencies: ["FlowLog"]),
        .testTarget(name: "ServiceMapTests", dependencies: ["ServiceMap", "FlowLog", "flowmon", "TestSupport"]),
        // deploy/: the Kubernetes manifests against the vendored API definitions, their flowmon
        // flags against the binary's help, the container's scripts outside a container.
        .testTarget(name: "DeployTests", dependencies: ["TestSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["Agent", "FlowMonitor", "KernelCapture", "Output", "Capture", "Decoding", "Datapath", "Detection", "FlowCore", "CMallocCounter", "flowmon", "TestSupport", "L7", "FlowLog"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
