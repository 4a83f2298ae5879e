// swift-tools-version: 6.1
// tllm: ternary LLaMA-family models on the CPU (TernaryLLM: DLT + OFF).
import PackageDescription

// Without -target-cpu, Float16 conversion and FMA become per-element library calls (SWIFT-NOTES §2).
let fastMath: [SwiftSetting] = [
    .unsafeFlags(["-target-cpu", "haswell"]),
    .swiftLanguageMode(.v5),
]

let package = Package(
    name: "tllm",
    products: [
        .library(name: "TLLMCore", targets: ["TLLMCore"]),
        .executable(name: "tllm-convert", targets: ["tllm-convert"]),
        .executable(name: "tllm-gen", targets: ["tllm-gen"]),
        .executable(name: "tllm-calib", targets: ["tllm-calib"]),
        .executable(name: "tllm-ternarize", targets: ["tllm-ternarize"]),
        .executable(name: "tllm-pack", targets: ["tllm-pack"]),
        .executable(name: "tllm-distill", targets: ["tllm-distill"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        // Intrinsics kernels (per-function target attributes, run-time dispatch); -O2 even in debug builds,
        // since SwiftPM compiles C at -O0 there (SWIFT-NOTES §4).
        .target(name: "CTLLMKernels", cSettings: [.unsafeFlags(["-O2"])]),
        .target(
            name: "TLLMCore",
            dependencies: [
                "CArchive", "CJSONC", "COpenBLAS", "CTLLMKernels",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            exclude: ["README.md"],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-convert",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-gen",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-calib",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-ternarize",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-pack",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .executableTarget(
            name: "tllm-distill",
            dependencies: ["TLLMCore", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: fastMath
        ),
        .testTarget(
            name: "TLLMCoreTests",
            dependencies: ["TLLMCore"],
            exclude: ["Fixtures"],  // read through #filePath by the tests
            swiftSettings: fastMath
        ),
    ]
)
