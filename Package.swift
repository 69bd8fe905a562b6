// swift-tools-version: 6.1
import PackageDescription

// Modules import one way: FlowCore <- Capture, Decoding <- Datapath <- Output <- FlowMonitor <- flowmon.
// Only `Capture` imports libpcap (`CPcap`), as only swift-system's Syscalls.swift calls libc.
let package = Package(
    name: "flowmon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "flowmon", targets: ["flowmon"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CPcap",
            pkgConfig: "libpcap",
            providers: [.apt(["libpcap-dev"])]
        ),
        .target(name: "FlowCore"),
        // Test support: counts heap allocations per thread (linked into the test executable only).
        .target(name: "CMallocCounter"),
        .target(name: "Capture", dependencies: ["FlowCore", "CPcap"]),
        .target(name: "Decoding", dependencies: ["FlowCore"]),
        .target(name: "Datapath", dependencies: ["FlowCore", "Decoding"]),
        .target(name: "Output", dependencies: ["FlowCore", "Decoding", "Datapath"]),
        .target(name: "FlowMonitor", dependencies: ["FlowCore", "Capture", "Decoding", "Datapath", "Output"]),
        .executableTarget(
            name: "flowmon",
            dependencies: ["FlowMonitor", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(name: "DecodingTests", dependencies: ["Decoding", "Capture", "FlowCore"]),
        .testTarget(name: "CaptureTests", dependencies: ["Capture", "FlowCore", "CPcap"]),
        .testTarget(name: "DatapathTests", dependencies: ["Datapath", "Decoding", "FlowCore"]),
        .testTarget(name: "OutputTests", dependencies: ["Output", "Datapath", "Decoding", "FlowCore"]),
        .testTarget(
            name: "ReplayTests",
            dependencies: ["FlowMonitor", "Output", "Capture", "Decoding", "Datapath", "FlowCore", "CMallocCounter", "flowmon"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
