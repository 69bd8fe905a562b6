// swift-tools-version: 6.1
import PackageDescription

// Micro-benchmarks of flowmon's per-packet stages with ordo-one/benchmark (wall time,
// instructions where the CPU exposes them, and malloc counts). A package of its own so that
// the main package, its tests and CI never build the benchmark tool.
//
//   cd Benchmarks/micro && swift package --allow-writing-to-package-directory benchmark
//
// `flowmon` is a symbolic link to the repository root, so the dependency's identity is
// "flowmon" wherever the repository is checked out.
let package = Package(
    name: "flowmon-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "flowmon"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "FlowmonMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "FlowmonKit", package: "flowmon"),
            ],
            path: "Benchmarks/FlowmonMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
