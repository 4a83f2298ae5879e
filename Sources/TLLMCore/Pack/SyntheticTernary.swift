// A seeded random ternary container of any config, written one tensor at a time: for the packing tests and
// the packed-model benchmark (the 0.5 B shape), where fitting a float model would only cost time.
// Codes uniform in {−1, 0, +1}; α ≈ 1.2/√K (unit-variance outputs), γ ≈ ±0.1·α; latent N = α·T + γ; embedding
// and head N(0, 0.02)-like uniform; norms 1 (biases small).

import Foundation

/// Writes a kind "ternary" container for `config` at `path`. `ternarizeHead` also ternarizes lm_head (untied
/// models only); `latent` is the dtype of the latent weights (f16 halves the file of a benchmark model).
public func writeSyntheticTernaryContainer(config c: ModelConfig, path: String, groupSize G: Int = 128, seed: UInt64 = 1,
                                           ternarizeHead: Bool = false, latent: DType = .f32,
                                           files: [(name: String, bytes: [UInt8])] = []) throws
{
    var entries: [ManifestTensor] = []
    let expected = TensorNames.expected(for: c)
    func ternarized(_ n: String, _ s: [Int]) -> Bool {
        TernaryNames.isLinear(n, shape: s) || (ternarizeHead && n == headName && !c.tieWordEmbeddings)
    }
    for (n, s) in expected {
        if ternarized(n, s) {
            var e = TernaryNames.entries(n, rows: s[0], cols: s[1], groupSize: G)
            e[0].dtype = latent
            entries += e
        } else {
            entries.append(ManifestTensor(name: n, dtype: .f32, shape: s))
        }
    }
    let meta: JSON = .object([("ternary", .object([("group_size", JSON(G)), ("init", .string("synthetic"))]))])
    let w = try ContainerWriter(path: path, manifest: Manifest(kind: .ternary, producer: "tllm synthetic \(tllmVersion)",
                                                               config: c.toJSON(), tensors: entries, metadata: meta),
                                files: files)
    var rng = SeededRNG(seed: seed)
    func uniform() -> Float { Float(Double(rng.next() >> 11) / Double(1 << 53) * 2 - 1) }
    for (n, s) in expected {
        let count = s.reduce(1, *)
        if ternarized(n, s) {
            let rows = s[0], K = s[1], groups = TernaryGroups(cols: K, size: G), nG = groups.count
            let tw = TernaryWeight(rows: rows, cols: K, groupSize: G)
            var codes = tw.codes, alpha = tw.alpha, gamma = tw.gamma
            let a0 = 1.2 / Float(K).squareRoot()
            for i in 0..<(rows * nG) {
                alpha[i] = a0 * (1 + 0.2 * uniform())
                gamma[i] = 0.1 * a0 * uniform()
            }
            for i in 0..<(rows * K) { codes[i] = Int8(Int(rng.next() % 3) - 1) }
            var t = tw
            t.codes = codes
            t.alpha = alpha
            t.gamma = gamma
            try w.write(t.dequantizedTensor(name: n).converted(to: latent))
            for x in t.tensors(name: n) { try w.write(x) }
        } else if s.count == 1 {
            let bias = n.hasSuffix(".bias")
            try w.write(Tensor(name: n, shape: s, floats: (0..<count).map { _ in bias ? 0.02 * uniform() : 1 }))
        } else {
            try w.write(Tensor(name: n, shape: s, floats: (0..<count).map { _ in 0.035 * uniform() }))
        }
    }
    try w.finish()
}
