// Precomputed RoPE tables (Su et al. 2021) for the rotate-half layout: for pair i of a head (i < D/2),
// angle(p, i) = p · f_i with f_i = θ^(−2i/D), optionally rescaled: linear (f_i / factor), LLaMA-3.1's
// frequency-dependent rule (transformers `_compute_llama3_parameters`), or divided by GGUF's rope_freqs.
// cos, sin [positions × D/2], computed in Double and stored as f32; the table grows on demand (a 128k-position
// model does not pay for 128k rows up front).

import Foundation

public final class RopeTable {
    /// D/2: rotated pairs per head.
    public let half: Int
    /// f_i, after scaling.
    public let frequencies: [Double]
    /// [positions × half].
    public private(set) var cos: [Float] = []
    public private(set) var sin: [Float] = []
    public private(set) var positions = 0

    /// `frequencyFactors` [D/2]: GGUF's `rope_freqs.weight` (llama.cpp divides each frequency by its factor).
    public init(config c: ModelConfig, frequencyFactors: [Float]? = nil) {
        half = c.headDim / 2
        var f = RopeTable.frequencies(headDim: c.headDim, theta: c.ropeTheta, scaling: c.ropeScaling)
        if let ff = frequencyFactors {
            for i in 0..<half { f[i] /= Double(ff[i]) }
        }
        frequencies = f
    }

    /// The per-pair angular frequencies θ^(−2i/D), with `scaling` applied.
    public static func frequencies(headDim D: Int, theta: Double, scaling: RopeScaling) -> [Double] {
        let base = (0..<(D / 2)).map { i in 1 / Foundation.pow(theta, Double(2 * i) / Double(D)) }
        switch scaling {
        case .none:
            return base
        case let .linear(factor):
            return base.map { $0 / factor }
        case let .llama3(factor, lowFreqFactor, highFreqFactor, originalMax):
            let lowFreqWavelen = Double(originalMax) / lowFreqFactor
            let highFreqWavelen = Double(originalMax) / highFreqFactor
            return base.map { f in
                let wavelen = 2 * Double.pi / f
                if wavelen < highFreqWavelen { return f }  // high frequency: unchanged
                if wavelen > lowFreqWavelen { return f / factor }  // low frequency: scaled like linear
                let smooth = (Double(originalMax) / wavelen - lowFreqFactor) / (highFreqFactor - lowFreqFactor)
                return (1 - smooth) * f / factor + smooth * f
            }
        }
    }

    /// Makes positions 0..<n available.
    public func reserve(_ n: Int) {
        guard n > positions else { return }
        let newCount = max(n, min(2 * positions, n + 4096))
        cos.reserveCapacity(newCount * half)
        sin.reserveCapacity(newCount * half)
        for p in positions..<newCount {
            for i in 0..<half {
                let a = Double(p) * frequencies[i]
                cos.append(Float(Foundation.cos(a)))
                sin.append(Float(Foundation.sin(a)))
            }
        }
        positions = newCount
    }
}
