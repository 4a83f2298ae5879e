// Every packed ternary kernel against the plain Swift float reference on fresh random data at every test
// shape (ragged groups, K not a multiple of the SIMD width, G = K), for both layouts and every kernel level
// this CPU has: the int8 path within the bound derived from the activation quantization step
// (ternaryInt8ErrorBound), the levels agreeing with each other, rows split over threads changing nothing,
// and the prompt (mat-mat) kernel against per-token products.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Kernels: packed ternary vs reference")
struct TernaryKernelTests {
    /// Checks y against the reference row by row with the int8 bound; returns the worst |Δ|/bound.
    static func checkBound(_ y: [Float], _ ref: [Float], _ m: PackedTernaryMatrix, _ x: [Float], scales: [Float],
                           _ what: String) -> Double {
        var worst = 0.0
        for r in 0..<m.rows {
            let bound = x.withUnsafeBufferPointer { ternaryInt8ErrorBound(m, row: r, x: $0.baseAddress!, scales: scales) }
            let d = abs(Double(y[r]) - Double(ref[r]))
            worst = max(worst, d / bound)
            if !(d <= bound) { Issue.record("\(what) row \(r): |\(y[r]) − \(ref[r])| = \(d) > bound \(bound)"); break }
        }
        return worst
    }

    @Test(arguments: PackedLayout.allCases)
    func matvecWithinInt8Bound(_ layout: PackedLayout) throws {
        let pool = WorkerPool(threads: 2)
        for (i, s) in PackTestData.shapes.enumerated() {
            let w = PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(200 + i))
            let m = try PackTestData.matrix(w, layout)
            let x = PackTestData.activations(s.cols, seed: UInt64(300 + i))
            var ref = [Float](repeating: 0, count: s.rows)
            ternaryMatvecReference(m, x, &ref)
            var byLevel: [[Float]] = []
            for level in KernelLevel.supported {
                let a = TernaryActivations(geometry: m.geometry, level: level)
                a.prepare(x)
                var y = [Float](repeating: .nan, count: s.rows)
                ternaryMatvec(m, a, &y)
                let scales = a.quantized().scales
                _ = Self.checkBound(y, ref, m, x, scales: scales, "\(layout) \(level) \(s)")
                var yp = [Float](repeating: .nan, count: s.rows)
                ternaryMatvec(m, a, &yp, pool: pool)
                #expect(yp == y, "\(layout) \(level) \(s): 2 threads must give the same rows")
                byLevel.append(y)
            }
            // The levels compute the same integer sums; only the f32 order of the scaled block sums differs.
            for (j, y) in byLevel.enumerated().dropFirst() {
                for r in 0..<s.rows where abs(y[r] - byLevel[0][r]) > 1e-5 * (abs(byLevel[0][r]) + 1) {
                    Issue.record("\(layout) \(s) level \(KernelLevel.supported[j]) row \(r): \(y[r]) vs scalar \(byLevel[0][r])")
                    break
                }
            }
        }
    }

    /// The largest sums the kernels form: every code +1 and every activation at the top of its block's range, in
    /// blocks of over 2048 slots (G = 2100, not a multiple of 128: one block per group), where a kernel summing a
    /// block in 16 bits without widening on the way would overflow (66 pieces of 32 slots × 2·2·127 per lane).
    @Test(arguments: PackedLayout.allCases)
    func largestSumsDoNotOverflow(_ layout: PackedLayout) throws {
        let rows = 3, cols = 10_500, group = 2100, groups = 5
        let m = try PackTestData.matrix(PackTestData.Weight(rows: rows, cols: cols, group: group,
                                                            codes: [Int8](repeating: 1, count: rows * cols),
                                                            alpha: [Float](repeating: 1, count: rows * groups),
                                                            gamma: [Float](repeating: 0, count: rows * groups)), layout)
        let x = [Float](repeating: 1, count: cols)
        for level in KernelLevel.supported {
            let a = TernaryActivations(geometry: m.geometry, level: level)
            a.prepare(x)
            var y = [Float](repeating: .nan, count: rows)
            ternaryMatvec(m, a, &y)
            for r in 0..<rows { #expect(abs(y[r] - Float(cols)) <= 1e-3 * Float(cols), "\(layout) \(level) row \(r): \(y[r])") }
        }
    }

    @Test func quantizationIsAsDocumented() throws {
        let geo = PackedGeometry(layout: .t2, cols: 300, groupSize: 128)  // blocks of 128; last group 44 columns
        let x = PackTestData.activations(300, seed: 9)
        let a = TernaryActivations(geometry: geo, level: .scalar)
        a.prepare(x)
        let (q, s, xs) = a.quantized()
        #expect(s.count == 3 && xs.count == 3)
        for g in 0..<3 {
            let cols = geo.columns(ofGroup: g)
            let amax = cols.map { abs(x[$0]) }.max()!
            #expect(s[g] == amax / 127)
            for k in cols {
                let qk = q[geo.slot(ofColumn: k)]
                #expect(abs(Float(qk) * s[g] - x[k]) <= s[g] / 2 * 1.0001)
            }
            #expect(abs(xs[g] - cols.reduce(0) { $0 + x[$1] }) < 1e-4)
        }
        #expect(q[(2 * 128 + 44)..<(3 * 128)].allSatisfy { $0 == 0 }, "padding slots quantize to 0")
    }

    /// Rows shared over more threads than cores (so threads finish their own rows at different times and take the
    /// others' last pieces), several matrices in one dispatch: the same bits as one thread.
    @Test(arguments: PackedLayout.allCases)
    func sharedRowsGiveTheSameBits(_ layout: PackedLayout) throws {
        let shapes = [(rows: 301, cols: 1000, group: 100), (rows: 97, cols: 2048, group: 64), (rows: 1030, cols: 172, group: 64)]
        let ms = try shapes.enumerated().map { i, s in
            try PackTestData.matrix(PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(700 + i)), layout)
        }
        let acts = ms.enumerated().map { i, m in
            let a = TernaryActivations(geometry: m.geometry, level: .best)
            a.prepare(PackTestData.activations(m.cols, seed: UInt64(800 + i)))
            return a
        }
        let single = ms.indices.map { j in
            var y = [Float](repeating: .nan, count: ms[j].rows)
            ternaryMatvec(ms[j], acts[j], &y)
            return y
        }
        for threads in [2, 3, 7] {
            let pool = WorkerPool(threads: threads)
            for _ in 0..<20 {
                let ys = ms.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.rows) }
                defer { ys.forEach { $0.deallocate() } }
                for (j, y) in ys.enumerated() { y.initialize(repeating: .nan, count: ms[j].rows) }
                ternaryMatvecs(ms.indices.map { (ms[$0], acts[$0], ys[$0]) }, pool: pool)
                for j in ms.indices {
                    let got = Array(UnsafeBufferPointer(start: ys[j], count: ms[j].rows))
                    #expect(got == single[j], "\(layout) matrix \(j), \(threads) threads")
                }
            }
        }
    }

    @Test(arguments: PackedLayout.allCases)
    func matmulMatchesMatvec(_ layout: PackedLayout) throws {
        let pool = WorkerPool(threads: 2)
        for (i, s) in PackTestData.shapes.enumerated() where s.cols <= 2048 {
            let w = PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(400 + i))
            let m = try PackTestData.matrix(w, layout)
            for T in [1, 3, 4, 9, 17] {
                let x = PackTestData.activations(T * s.cols, seed: UInt64(500 + i * 10 + T))
                var ref = [Float](repeating: 0, count: T * s.rows)
                ternaryMatmulReference(x, T, m, &ref)
                for level in KernelLevel.supported {
                    var y = [Float](repeating: .nan, count: T * s.rows)
                    ternaryMatmul(x, T, m, &y, pool: pool, level: level)
                    let a = TernaryActivations(geometry: m.geometry, level: level, capacity: T)
                    a.prepare(x, count: T)
                    for t in 0..<T {
                        let row = Array(y[(t * s.rows)..<((t + 1) * s.rows)]), rr = Array(ref[(t * s.rows)..<((t + 1) * s.rows)])
                        let xt = Array(x[(t * s.cols)..<((t + 1) * s.cols)])
                        _ = Self.checkBound(row, rr, m, xt, scales: a.quantized(t).scales, "matmul \(layout) \(level) \(s) T=\(T) t=\(t)")
                        var mv = [Float](repeating: .nan, count: s.rows)
                        ternaryMatvec(m, a, token: t, &mv)
                        for r in 0..<s.rows where abs(mv[r] - row[r]) > 1e-5 * (abs(mv[r]) + 1) {
                            Issue.record("matmul \(layout) \(level) \(s) T=\(T): token \(t) row \(r) \(row[r]) vs mat-vec \(mv[r])")
                            break
                        }
                    }
                }
            }
        }
    }

    @Test func matmulAddsBiasAndHonoursStride() throws {
        let w = PackTestData.weight(rows: 24, cols: 256, group: 128, seed: 3)
        let m = try PackTestData.matrix(w, .t2)
        let x = PackTestData.activations(5 * 256, seed: 4), bias = (0..<24).map { Float($0) }
        var y = [Float](repeating: -7, count: 5 * 30), plain = [Float](repeating: 0, count: 5 * 24)
        ternaryMatmul(x, 5, m, bias: bias, &y, ldy: 30)
        ternaryMatmul(x, 5, m, &plain)
        for t in 0..<5 {
            for n in 0..<24 { #expect(y[t * 30 + n] == plain[t * 24 + n] + bias[n]) }
            for n in 24..<30 { #expect(y[t * 30 + n] == -7) }
        }
    }
}
