// swift-tools-version: 6.1
// libFuzzer targets for tllm's parsers of untrusted files (GGUF, safetensors, tar container).
// Built only by `make fuzz` (scripts/fuzz.sh): `swift build --sanitize=fuzzer` inside this folder.
import PackageDescription

let settings: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "tllm-fuzz",
    dependencies: [.package(name: "tllm", path: "..")],
    targets: [
        .executableTarget(name: "FuzzGGUF", dependencies: [.product(name: "TLLMCore", package: "tllm")], swiftSettings: settings),
        .executableTarget(name: "FuzzSafetensors", dependencies: [.product(name: "TLLMCore", package: "tllm")], swiftSettings: settings),
        .executableTarget(name: "FuzzContainer", dependencies: [.product(name: "TLLMCore", package: "tllm")], swiftSettings: settings),
    ]
)
