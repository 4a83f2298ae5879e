// Shared fixtures of the ternary and calib tests: a seeded tiny float container (TinyModel, no tokenizer needed)
// and a calibration container captured from it on seeded random token sequences through the real capture path
// (forwardCapturing → CalibStatistics → writeCalibration).

import Foundation
@testable import TLLMCore

enum TernaryFixtures {
    /// The tiny config with K = 32 (q, k, v, gate, up), 32 (o) and 40 (down): G = 16 gives ragged down rows.
    static func config() -> ModelConfig { TinyModel.config() }

    /// A float container of the seeded tiny model in `dir`; returns its path.
    static func floatContainer(in dir: URL, seed: UInt64 = 1, config c: ModelConfig = config()) throws -> String {
        let hf = try TinyModel.writeHF(c, to: dir.appendingPathComponent("hf-\(seed)"), seed: seed)
        let out = dir.appendingPathComponent("float-\(seed).tllm").path
        _ = try convertModel(input: hf, output: out, dtype: nil, quiet: true)
        return out
    }

    /// Random sequences (BOS first) of the tiny vocabulary; the last `held` are held out.
    static func sequences(_ n: Int, seqLen L: Int, held: Int = 1, seed: UInt64 = 7, vocab: Int = 48) -> CalibSequences {
        var rng = TestRNG(seed)
        var s = CalibSequences(seqLen: L)
        for i in 0..<n {
            s.append([1] + (1..<L).map { _ in Int32(2 + rng.next() % UInt64(vocab - 2)) }, heldOut: i >= n - held, generated: false)
        }
        return s
    }

    /// A calib container of the model at `model`, captured on `n` random sequences of `seqLen`.
    @discardableResult
    static func calib(model: String, to path: String, n: Int = 6, seqLen: Int = 24, xtxMax: Int = 4096,
                      hiddenLayers: [Int] = [0, 1]) throws -> CalibSummary
    {
        let m = try FloatModel(source: try openModel(model), threads: 1)
        return try writeCalibration(model: m, sequences: sequences(n, seqLen: seqLen), to: path, hiddenLayers: hiddenLayers,
                                    xtxMax: xtxMax)
    }
}
