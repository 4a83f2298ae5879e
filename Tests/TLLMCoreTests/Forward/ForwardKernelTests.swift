// Every fast kernel of the forward pass against its plain reference loop, on fresh random inputs (never zeros),
// at several sizes including ones that are not multiples of the SIMD width (16) or of the bf16 block (32):
// mat-vec (f32/f16/bf16 storage, 1–3 threads), sgemm mat-mul (incl. 16-bit tiles), attention (batched with and
// without cached prefix, decode), softmax and its vectorized exp, RMSNorm, the worker pool.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: kernels vs reference")
struct ForwardKernelTests {
    static let shapes: [(rows: Int, cols: Int)] = [(1, 1), (3, 7), (5, 15), (4, 16), (7, 33), (17, 63), (13, 64), (9, 65),
                                                   (33, 100), (64, 172), (31, 257), (300, 511),
                                                   // rows long enough for the four-row kernels (matvecFourRowMinimumK)
                                                   (9, 4099), (6, 4160), (17, 4096),
                                                   // over 1 MB with short rows: the one-row kernels
                                                   (2001, 300)]

    static func matrix(_ rows: Int, _ cols: Int, _ dtype: DType, seed: UInt64) throws -> WeightMatrix {
        var rng = TestRNG(seed)
        return try WeightMatrix(Tensor(name: "w", shape: [rows, cols], floats: rng.floats(rows * cols, scale: 1)).converted(to: dtype))
    }

    /// |a − b| ≤ tol · Σ_k |w_rk x_k| row by row (the error bound of a float dot product).
    static func checkRows(_ fast: [Float], _ ref: [Float], _ w: WeightMatrix, _ x: [Float], tol: Double = 1e-5) -> Bool {
        for r in 0..<w.rows {
            let row = w.row(r)
            var mag = 0.0
            for k in 0..<w.cols { mag += abs(Double(row[k]) * Double(x[k])) }
            if abs(Double(fast[r]) - Double(ref[r])) > tol * mag + 1e-30 { return false }
        }
        return true
    }

    @Test(arguments: [DType.f32, .f16, .bf16])
    func matvecMatchesReference(_ dtype: DType) throws {
        let pools = [WorkerPool(threads: 1), WorkerPool(threads: 2), WorkerPool(threads: 3)]
        for (i, s) in Self.shapes.enumerated() {
            let w = try Self.matrix(s.rows, s.cols, dtype, seed: UInt64(100 + i))
            var rng = TestRNG(UInt64(900 + i))
            let x = rng.floats(s.cols, scale: 1)
            var ref = [Float](repeating: 0, count: s.rows)
            matvecReference(w, x, &ref)
            var plain = [Float](repeating: .nan, count: s.rows)
            matvec(w, x, &plain)
            #expect(Self.checkRows(plain, ref, w, x), "\(dtype) \(s.rows)×\(s.cols) single-threaded")
            for pool in pools {
                var y = [Float](repeating: .nan, count: s.rows)
                matvec(w, x, &y, pool: pool, scratch: MatVecScratch())
                #expect(y == plain, "\(dtype) \(s.rows)×\(s.cols), \(pool.threads) threads: rows split must not change results")
            }
        }
        // Big enough to be split across threads; long enough for the four-row kernels.
        #expect(300 * 511 >= matvecParallelThreshold && 4099 >= matvecFourRowMinimumK && 2001 * 300 * 2 > 1 << 20)
    }

    /// f16/bf16 storage computes the same as f32 storage of the rounded values.
    @Test(arguments: [DType.f16, .bf16])
    func halfStorageEqualsRoundedF32(_ dtype: DType) throws {
        for (i, s) in Self.shapes.enumerated() {
            let h = try Self.matrix(s.rows, s.cols, dtype, seed: UInt64(300 + i))
            let f = try h.converted(to: .f32)
            var rng = TestRNG(UInt64(400 + i))
            let x = rng.floats(s.cols, scale: 1)
            var yh = [Float](repeating: 0, count: s.rows), yf = yh
            matvec(h, x, &yh)
            matvec(f, x, &yf)
            #expect(Self.checkRows(yh, yf, f, x), "\(dtype) \(s.rows)×\(s.cols)")
        }
    }

    @Test(arguments: [DType.f32, .f16, .bf16])
    func matmulMatchesReference(_ dtype: DType) throws {
        for (i, s) in [(1, 1), (7, 33), (64, 172), (300, 65), (513, 40), (1000, 300)].enumerated() {
            let w = try Self.matrix(s.0, s.1, dtype, seed: UInt64(500 + i))
            for T in [1, 3, 17] {
                var rng = TestRNG(UInt64(600 + i * 10 + T))
                let x = rng.floats(T * s.1, scale: 1)
                let bias = rng.floats(s.0, scale: 1)
                var ref = [Float](repeating: 0, count: T * s.0)
                matmulReference(x, T, w, &ref)
                var y = [Float](repeating: .nan, count: T * s.0)
                matmul(x, T, w, &y)
                var yb = [Float](repeating: .nan, count: T * s.0)
                matmul(x, T, w, bias: bias, &yb)
                var split: [[Float]] = []
                for pool in [WorkerPool(threads: 2), WorkerPool(threads: 3)] {
                    var yp = [Float](repeating: .nan, count: T * s.0)
                    matmul(x, T, w, bias: bias, &yp, pool: pool)
                    split.append(yp)
                }
                for t in 0..<T {
                    let xr = Array(x[(t * s.1)..<((t + 1) * s.1)])
                    let r = Array(ref[(t * s.0)..<((t + 1) * s.0)])
                    #expect(Self.checkRows(Array(y[(t * s.0)..<((t + 1) * s.0)]), r, w, xr), "\(dtype) T=\(T) \(s)")
                    let rb = zip(r, bias).map { $0 + $1 }
                    #expect(Self.checkRows(Array(yb[(t * s.0)..<((t + 1) * s.0)]), rb, w, xr, tol: 2e-5), "bias \(dtype) T=\(T) \(s)")
                    // Split over 2 and 3 threads (sgemm's blocking may differ per slice: not bit-identical).
                    for (j, yp) in split.enumerated() {
                        #expect(Self.checkRows(Array(yp[(t * s.0)..<((t + 1) * s.0)]), rb, w, xr, tol: 2e-5), "\(j + 2) threads \(dtype) T=\(T) \(s)")
                    }
                }
            }
        }
    }

    @Test func attentionMatchesReference() {
        // (T, L, H, Hkv, D): full sequence, a cached prefix (T < L), GQA ratios 1/2/4, D not a multiple of 16.
        for (i, c) in [(5, 5, 2, 2, 8), (9, 9, 8, 2, 16), (4, 11, 4, 2, 6), (1, 13, 4, 1, 20), (17, 40, 6, 3, 64), (70, 90, 8, 2, 16), (1, 9, 8, 1, 128), (3, 130, 4, 2, 100), (1, 1, 2, 1, 72)].enumerated() {
            let (T, L, H, Hkv, D) = c
            var rng = TestRNG(UInt64(700 + i))
            let q = rng.floats(T * H * D, scale: 1), k = rng.floats(L * Hkv * D, scale: 1), v = rng.floats(L * Hkv * D, scale: 1)
            var ref = [Float](repeating: 0, count: T * H * D)
            attentionReference(&ref, q, k, v, T: T, L: L, H: H, Hkv: Hkv, D: D)
            var out = [Float](repeating: .nan, count: T * H * D)
            var scores = [Float](repeating: .nan, count: T * L)
            attentionForward(&out, &scores, q, k, v, T: T, L: L, H: H, Hkv: Hkv, D: D)
            #expect(maxAbsDiff(out, ref) < 1e-5, "batched \(c)")
            let pool = WorkerPool(threads: 2)
            var outP = [Float](repeating: .nan, count: T * H * D)
            attentionForward(&outP, nil, q, k, v, T: T, L: L, H: H, Hkv: Hkv, D: D, pool: pool)
            #expect(maxAbsDiff(outP, ref) < 1e-5, "batched, pool \(c)")
            // Decode: the last query row alone.
            let lastQ = Array(q[((T - 1) * H * D)...])
            for level in KernelLevel.supported where level <= .avx2 {
                for pool in [nil, WorkerPool(threads: 2)] {
                    var o1 = [Float](repeating: .nan, count: H * D)
                    var s1 = [Float](repeating: .nan, count: H * L)
                    attentionDecode(&o1, &s1, lastQ, k, v, L: L, H: H, Hkv: Hkv, D: D, pool: pool, level: level)
                    #expect(maxAbsDiff(o1, Array(ref[((T - 1) * H * D)...])) < 1e-5, "decode \(level) \(c)")
                }
            }
        }
    }

    @Test func softmaxAndExp() {
        for n in [1, 2, 15, 16, 17, 33, 100, 513] {
            var rng = TestRNG(UInt64(n))
            let x = rng.floats(n, scale: 20)
            var p = x
            softmaxInPlace(&p, n)
            let m = Double(x.max()!)
            let e = x.map { Foundation.exp(Double($0) - m) }
            let z = e.reduce(0, +)
            for i in 0..<n { #expect(abs(Double(p[i]) - e[i] / z) <= 2e-7 * max(1, e[i] / z * 10), "n=\(n) i=\(i)") }
            for t in 0..<min(n, 3) {
                // e^x in f32 as llama.cpp does, summed in Double.
                #expect(abs(logSoftmaxAt(x, n, t) - (Double(x[t]) - m - Foundation.log(z))) < 1e-5)
            }
        }
        // e^x over the whole useful range: relative error ≤ 2 ulp-ish.
        var worst = 0.0
        var x: Float = -87
        while x < 88 {
            let v = SIMD16<Float>((0..<16).map { x + Float($0) * 0.0137 })
            let e = expSIMD(v)
            for i in 0..<16 {
                let r = Foundation.exp(Double(v[i]))
                worst = max(worst, abs(Double(e[i]) - r) / r)
            }
            x += 0.31
        }
        #expect(worst < 3e-7)
        #expect(expSIMD(SIMD16(repeating: -1000))[0] < 1e-37)
    }

    @Test func rmsnormMatchesReference() {
        for (T, C) in [(1, 1), (3, 17), (2, 64), (5, 100)] {
            var rng = TestRNG(UInt64(T * 1000 + C))
            let x = rng.floats(T * C, scale: 3), w = rng.floats(C, scale: 2)
            var out = [Float](repeating: .nan, count: T * C)
            var rstd = [Float](repeating: .nan, count: T)
            rmsnormForward(&out, &rstd, x, w, T, C, eps: 1e-5)
            for t in 0..<T {
                var ss = 0.0
                for c in 0..<C { ss += Double(x[t * C + c]) * Double(x[t * C + c]) }
                let r = 1 / (ss / Double(C) + 1e-5).squareRoot()
                #expect(abs(Double(rstd[t]) - r) <= 1e-6 * r)
                for c in 0..<C {
                    let ref = Double(x[t * C + c]) * r * Double(w[c])
                    #expect(abs(Double(out[t * C + c]) - ref) <= 1e-6 * max(1, abs(ref)))
                }
            }
        }
    }

    @Test func workerPoolRunsEachIndexOnce() {
        for threads in [1, 2, 4] {
            let pool = WorkerPool(threads: threads)
            let counts = UnsafeMutablePointer<Int>.allocate(capacity: threads)
            defer { counts.deallocate() }
            counts.initialize(repeating: 0, count: threads)
            for _ in 0..<500 { pool.run { i in counts[i] += 1 } }
            #expect((0..<threads).allSatisfy { counts[$0] == 500 })
            // forRanges covers 0..<n exactly once, aligned.
            for n in [0, 1, 5, 64, 1001] {
                let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(n, 1))
                hits.initialize(repeating: 0, count: max(n, 1))
                pool.forRanges(n, align: 4) { r in
                    #expect(r.lowerBound % 4 == 0)
                    for j in r { hits[j] += 1 }
                }
                #expect((0..<n).allSatisfy { hits[$0] == 1 })
                hits.deallocate()
            }
        }
    }
}
