// Seeded random ternary weights for the packing and kernel tests: codes with about a third zeros, α > 0 and
// γ of either sign per group, at shapes covering K < G, ragged last groups, G not a multiple of 32, G = K,
// t1 rows with and without a t2-coded tail, and real LLaMA row lengths.

@testable import TLLMCore

enum PackTestData {
    /// (rows N, K, G): the shapes every layout and kernel test loops over.
    static let shapes: [(rows: Int, cols: Int, group: Int)] = [
        (5, 64, 128), (19, 172, 128), (7, 96, 32), (33, 200, 64), (21, 700, 96), (9, 1000, 100), (11, 300, 300),
        (40, 640, 128), (13, 513, 256), (6, 1300, 128), (64, 2048, 128), (17, 5632, 128), (3, 4096, 4096),
        // groups of several blocks of 128 over more than 16 blocks (the kernels spread α 16 or 8 blocks at a time)
        (7, 2688, 384), (5, 4196, 256),
        // blocks of more than 1024 slots (G not a multiple of 128: one block per group; the AVX2 t1 kernel sums in i16
        // over spans of 1024)
        (2, 5600, 1100),
    ]

    struct Weight {
        var rows: Int, cols: Int, group: Int
        var codes: [Int8], alpha: [Float], gamma: [Float]
        var groups: Int { (cols + group - 1) / group }
    }

    static func weight(rows: Int, cols: Int, group: Int, seed: UInt64) -> Weight {
        var rng = TestRNG(seed)
        let G = min(group, cols), nG = (cols + G - 1) / G
        let codes = (0..<(rows * cols)).map { _ in Int8(Int(rng.next() % 3) - 1) }
        let alpha = (0..<(rows * nG)).map { _ in 0.01 + 0.09 * abs(rng.float()) }
        let gamma = (0..<(rows * nG)).map { _ in 0.02 * rng.float() }
        return Weight(rows: rows, cols: cols, group: group, codes: codes, alpha: alpha, gamma: gamma)
    }

    static func matrix(_ w: Weight, _ layout: PackedLayout) throws -> PackedTernaryMatrix {
        try PackedTernaryMatrix(name: "w", codes: w.codes, rows: w.rows, alpha: w.alpha, gamma: w.gamma,
                                geometry: PackedGeometry(layout: layout, cols: w.cols, groupSize: w.group))
    }

    /// Activations in [−1, 1) with a few outlier channels ×20 (as LLM activations have).
    static func activations(_ n: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed)
        return (0..<n).map { i in rng.float() * (i % 97 == 5 ? 20 : 1) }
    }
}
