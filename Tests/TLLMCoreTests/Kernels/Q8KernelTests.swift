// The q8 (int8 rows, f16 row scale) mat-vec of every kernel level against the float reference, within the
// bound of the activation quantization: |Δy_r| ≤ scale_r·Σ_b (s_b/2)·Σ_{i∈b} |q_ri| (+ f32 rounding), at
// row lengths that are and are not multiples of 32, 64 and 128; the multi-vector product against mat-vecs.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Kernels: q8 vs reference")
struct Q8KernelTests {
    @Test func matvecWithinBound() throws {
        let pool = WorkerPool(threads: 2)
        for (i, K) in [1, 31, 64, 100, 128, 130, 200, 257, 2048].enumerated() {
            let N = 37
            var rng = TestRNG(UInt64(60 + i))
            let t = quantizeQ8(name: "h", Tensor(name: "h", shape: [N, K], floats: rng.floats(N * K, scale: 1)))
            let m = try Q8Matrix(name: "h", q8: t[0], scale: t[1])
            let x = PackTestData.activations(K, seed: UInt64(70 + i))
            var ref = [Float](repeating: 0, count: N)
            q8MatvecReference(m, x, &ref)
            let nB = (K + 127) / 128
            let s = (0..<nB).map { b in x[(b * 128)..<min(K, b * 128 + 128)].map { abs($0) }.max()! / 127 }
            for level in KernelLevel.supported {
                var y = [Float](repeating: .nan, count: N)
                q8Matvec(m, x, &y, pool: pool, level: level)
                for r in 0..<N {
                    let sc = Double(Float(Float16(bitPattern: m.scale[r])))
                    var bound = 0.0, mag = 0.0
                    for k in 0..<K {
                        let q = Double(abs(Int(m.q[r * K + k])))
                        bound += q * Double(s[k / 128]) / 2
                        mag += q * abs(Double(x[k]))
                    }
                    let b = sc * (bound + 1e-5 * mag) + 1e-30
                    if !(abs(Double(y[r]) - Double(ref[r])) <= b) {
                        Issue.record("q8 \(level) K=\(K) row \(r): \(y[r]) vs \(ref[r]) (bound \(b))")
                        break
                    }
                }
                // Several vectors at once (4-token tiles, plus a remainder) = one mat-vec each.
                for T in [1, 5, 8] {
                    let X = PackTestData.activations(T * K, seed: UInt64(80 + i + T))
                    var Y = [Float](repeating: .nan, count: T * N)
                    q8Matmul(X, T, m, &Y, pool: pool, level: level)
                    for t in 0..<T {
                        var yt = [Float](repeating: .nan, count: N)
                        Array(X[(t * K)..<((t + 1) * K)]).withUnsafeBufferPointer { q8Matvec(m, $0.baseAddress!, &yt, level: level) }
                        for r in 0..<N where abs(Y[t * N + r] - yt[r]) > 1e-5 * (abs(yt[r]) + 1) {
                            Issue.record("q8 matmul \(level) K=\(K) T=\(T) t=\(t) row \(r): \(Y[t * N + r]) vs \(yt[r])")
                            break
                        }
                    }
                }
            }
        }
    }
}
