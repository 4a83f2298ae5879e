// The q4 format (4-bit codes in blocks of 32, an f16 scale each; CTLLMKernels/q4.c): quantization against an
// independent slow quantizer and packer written here from the format description (scales, nibble order,
// padding, zero blocks), the round-trip error, and the mat-vec / mat-mat of every kernel level against the
// float reference within the bound of the activation quantization: |Δy_r| ≤ Σ_i |ŵ_ri|·s_{b(i)}/2 (+ f32
// rounding), ŵ the dequantized weights, at K not a multiple of 32, 64 or 256 and row counts not a multiple of 4.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Kernels: q4 format and kernels vs reference")
struct Q4KernelTests {
    /// X.q4 and X.scale of w [rows × K] built from the format description alone: per block of 32, d = (the first
    /// element of largest |w|) / −8 in f16, u = clamp(round(w/d), −8, 7) + 8; byte b of register r of superblock m
    /// holds u[256m + 32·(b/4) + 4r + b%4] (low nibble) and u[256m + 32·(b/4) + 16 + 4r + b%4] (high nibble).
    static func slowQ4(_ w: [Float], rows: Int, cols K: Int) -> (bytes: [UInt8], scales: [Float16]) {
        let nS = (K + 255) / 256
        var bytes = [UInt8](), scales = [Float16]()
        for r in 0..<rows {
            var u = [UInt8](repeating: 8, count: nS * 256)
            for b in 0..<(nS * 8) {
                let blk = (b * 32..<max(b * 32, min(K, b * 32 + 32))).map { w[r * K + $0] }  // empty past K
                let m = blk.reduce(Float(0)) { abs($1) > abs($0) ? $1 : $0 }
                let d = m == 0 ? Float16(0) : Float16(m / -8)
                scales.append(d)
                for (o, v) in blk.enumerated() where d != 0 {
                    u[b * 32 + o] = UInt8(Int(max(-8, min(7, (v / Float(d)).rounded()))) + 8)
                }
            }
            for m in 0..<nS {
                for reg in 0..<4 {
                    for b in 0..<32 {
                        let i = 256 * m + 32 * (b / 4) + 4 * reg + b % 4
                        bytes.append(u[i] | u[i + 16] << 4)
                    }
                }
            }
        }
        return (bytes, scales)
    }

    @Test(arguments: [1, 40, 100, 256, 300, 1000])
    func quantizationMatchesTheFormat(_ K: Int) throws {
        let rows = 5
        var rng = TestRNG(UInt64(90 + K))
        var w = rng.floats(rows * K, scale: 1)
        for k in 0..<min(K, 32) { w[2 * K + k] = 0 }  // row 2's first block is all zeros
        if K >= 64 { for k in 32..<64 { w[3 * K + k] = 1e-3 * Float(k % 5) - 2e-3 } }  // a small-valued block
        let t = quantizeQ4(name: "x", Tensor(name: "x", shape: [rows, K], floats: w))
        let nS = (K + 255) / 256
        #expect(t.map(\.name) == ["x.q4", "x.scale"])
        #expect(t[0].dtype == .u8 && t[0].shape == [rows, nS * 128])
        #expect(t[1].dtype == .f16 && t[1].shape == [rows, nS * 8])
        #expect(PackedNames.q4Entries("x", rows: rows, cols: K).map(\.shape) == t.map(\.shape))
        let slow = Self.slowQ4(w, rows: rows, cols: K)
        #expect(Array(t[0].bytes) == slow.bytes, "nibble layout")
        let d = t[1].bytes.withMemoryRebound(to: Float16.self) { Array($0) }
        #expect(d.map(\.bitPattern) == slow.scales.map(\.bitPattern), "block scales")
        // Round trip: within d/2 except where round(w/d) = 8 is clamped to 7 (the side opposite to the largest
        // element; w/d ≤ 8 there up to the f16 rounding of d), the largest element −8·d exactly.
        let back = dequantizeQ4(name: "x", q4: t[0], scale: t[1], cols: K).floats()
        #expect(back.count == rows * K)
        let m = try Q4Matrix(name: "x", q4: t[0], scale: t[1], cols: K)
        for r in 0..<rows {
            var row = [Float](repeating: .nan, count: K)
            m.row(r, into: &row)
            #expect(row == Array(back[(r * K)..<((r + 1) * K)]), "Q4Matrix.row = dequantizeQ4")
            for b in 0..<((K + 31) / 32) {
                let ks = b * 32..<min(K, b * 32 + 32)
                let db = Float(d[r * nS * 8 + b])
                let imax = ks.reduce(ks.lowerBound) { abs(w[r * K + $1]) > abs(w[r * K + $0]) ? $1 : $0 }
                let wmax = w[r * K + imax]
                if wmax == 0 { #expect(db == 0 && ks.allSatisfy { back[r * K + $0] == 0 }, "zero block"); continue }
                #expect(back[r * K + imax] == -8 * db && abs(back[r * K + imax] - wmax) <= abs(wmax) * 0x1p-11, "max of block \(b)")
                for k in ks {
                    let v = w[r * K + k], e = abs(back[r * K + k] - v)
                    #expect(e <= abs(db) * (v / db > 7.5 ? 1.001 : 0.5001), "row \(r) k \(k): \(back[r * K + k]) vs \(v), d \(db)")
                }
            }
            for b in ((K + 31) / 32)..<(nS * 8) { #expect(d[r * nS * 8 + b] == 0, "scale past K") }
        }
    }

    @Test(arguments: [40, 100, 256, 300, 1000, 2048])
    func kernelsWithinActivationBound(_ K: Int) throws {
        let N = 37
        let pool = WorkerPool(threads: 2)
        var rng = TestRNG(UInt64(120 + K))
        let t = quantizeQ4(name: "h", Tensor(name: "h", shape: [N, K], floats: rng.floats(N * K, scale: 1)))
        let m = try Q4Matrix(name: "h", q4: t[0], scale: t[1], cols: K)
        let wd = dequantizeQ4(name: "h", q4: t[0], scale: t[1], cols: K).floats()
        /// |Δy_r| bound for input x: Σ_i |ŵ_ri|·s_b/2 + 1e-5·Σ_i |ŵ_ri x_i|.
        func bounds(_ x: ArraySlice<Float>) -> [Double] {
            let x = Array(x)
            let s = (0..<((K + 127) / 128)).map { b in Double(x[(b * 128)..<min(K, b * 128 + 128)].map { abs($0) }.max()! / 127) }
            return (0..<N).map { r in
                var bound = 0.0, mag = 0.0
                for k in 0..<K {
                    bound += abs(Double(wd[r * K + k])) * s[k / 128] / 2
                    mag += abs(Double(wd[r * K + k]) * Double(x[k]))
                }
                return bound + 1e-5 * mag + 1e-30
            }
        }
        func reference(_ x: ArraySlice<Float>) -> [Float] {
            var y = [Float](repeating: 0, count: N)
            Array(x).withUnsafeBufferPointer { q4MatvecReference(m, $0.baseAddress!, &y) }
            return y
        }
        for level in KernelLevel.supported {
            let x = PackTestData.activations(K, seed: UInt64(130 + K))
            let (ref, b) = (reference(x[...]), bounds(x[...]))
            var y = [Float](repeating: .nan, count: N)
            q4Matvec(m, x, &y, pool: pool, level: level)
            for r in 0..<N where !(abs(Double(y[r]) - Double(ref[r])) <= b[r]) {
                Issue.record("q4 \(level) K=\(K) row \(r): \(y[r]) vs \(ref[r]) (bound \(b[r]))")
                break
            }
            // Several vectors (4-token tiles and a remainder): the same bound per token, and each = its mat-vec.
            for T in [1, 3, 5] {
                let X = PackTestData.activations(T * K, seed: UInt64(140 + K + T))
                var Y = [Float](repeating: .nan, count: T * N)
                q4Matmul(X, T, m, &Y, pool: pool, level: level)
                for tok in 0..<T {
                    let xt = X[(tok * K)..<((tok + 1) * K)]
                    let (rt, bt) = (reference(xt), bounds(xt))
                    var yt = [Float](repeating: .nan, count: N)
                    Array(xt).withUnsafeBufferPointer { q4Matvec(m, $0.baseAddress!, &yt, level: level) }
                    for r in 0..<N where !(abs(Double(Y[tok * N + r]) - Double(rt[r])) <= bt[r] && abs(Y[tok * N + r] - yt[r]) <= 1e-5 * (abs(yt[r]) + 1)) {
                        Issue.record("q4 matmul \(level) K=\(K) T=\(T) t=\(tok) row \(r): \(Y[tok * N + r]) vs reference \(rt[r]), mat-vec \(yt[r])")
                        break
                    }
                }
            }
        }
    }
}
