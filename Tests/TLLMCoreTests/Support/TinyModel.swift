// Seeded random tiny models written by the tests themselves (never committed): a Hugging Face directory
// (config.json + model.safetensors) for any config, so importers and exporters can be tested without ../shared.

import Foundation
@testable import TLLMCore

/// SplitMix64: the one tiny deterministic generator of the tests (fixtures, fuzz cases, random models).
struct TestRNG: RandomNumberGenerator {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    mutating func float() -> Float { Float(Double(next() >> 11) / Double(1 << 53) * 2 - 1) }
    mutating func floats(_ n: Int, scale: Float = 0.1) -> [Float] { (0..<n).map { _ in float() * scale } }
}

enum TinyModel {
    static func config(arch: String = "llama", tied: Bool = false) -> ModelConfig {
        ModelConfig(architecture: arch, vocabSize: 48, hiddenSize: 32, intermediateSize: 40, numLayers: 2,
                    numHeads: 4, numKVHeads: 2, headDim: 8, rmsNormEps: 1e-5, ropeTheta: 10000,
                    maxPositions: 64, tieWordEmbeddings: tied, attentionBias: arch == "qwen2")
    }

    /// The tensors of `config` filled with seeded random values (uniform in ±0.1), stored as `dtype`. `trained`
    /// gives them the scales of a trained model instead (embedding ±1, linears ±0.3, norms 1 ± 0.1), whose outputs
    /// depend strongly on the weights.
    static func tensors(_ c: ModelConfig, seed: UInt64 = 1, dtype: DType = .f32, trained: Bool = false) -> [Tensor] {
        var rng = TestRNG(seed)
        return TensorNames.expected(for: c).map { (name, shape) in
            var v = rng.floats(elementCount(shape)!)
            if trained {
                if name.hasSuffix("norm.weight") { v = v.map { 1 + $0 } }
                else if name.contains("embed") { v = v.map { $0 * 10 } }
                else { v = v.map { $0 * 3 } }
            }
            return Tensor(name: name, shape: shape, floats: v).converted(to: dtype)
        }
    }

    /// Writes a Hugging Face directory; returns its path.
    @discardableResult
    static func writeHF(_ c: ModelConfig, to dir: URL, seed: UInt64 = 1, dtype: DType = .f32, trained: Bool = false) throws -> String {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let ts = tensors(c, seed: seed, dtype: dtype, trained: trained)
        let out = try AtomicOutput(path: dir.appendingPathComponent("model.safetensors").path)
        let w = try SafetensorsWriter(output: out, tensors: ts.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape) })
        for t in ts { try w.write(t) }
        try w.finish()
        try out.commit()
        try Data((c.hfConfigJSON().text() + "\n").utf8).write(to: dir.appendingPathComponent("config.json"))
        return dir.path
    }
}
