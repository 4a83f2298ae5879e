// The group fit of DESIGN §7 against independent references: the closed-form least-squares (α, γ) against a
// brute-force search, dlt's codes against the nearest grid point at convergence, ragged last groups, the
// baselines' definitions, and thread-count independence of the matrix quantizer.

import Foundation
import Testing
@testable import TLLMCore

struct TernaryFitTests {
    /// A group like an LLM weight group: Gaussian-ish, a non-zero mean, an outlier or two.
    static func group(_ rng: inout TestRNG, _ m: Int) -> [Float] {
        let mean = rng.float() * 0.05
        var w = (0..<m).map { _ in mean + (rng.float() + rng.float() + rng.float()) * 0.03 }
        if m > 4 { w[Int(rng.next() % UInt64(m))] += 0.2 * rng.float() }
        return w
    }

    static func sse(_ w: [Float], _ t: [Int8], _ a: Double, _ g: Double) -> Double {
        zip(w, t).reduce(0) { $0 + pow(Double($1.0) - a * Double($1.1) - g, 2) }
    }

    @Test func leastSquaresBeatsBruteForceSearch() {
        var rng = TestRNG(11)
        for trial in 0..<16 {
            let m = 3 + trial % 20
            let w = Self.group(&rng, m)
            var t = (0..<m).map { _ in Int8(Int(rng.next() % 3) - 1) }
            t[0] = 1; t[1] = -1  // not all equal
            let ls = w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { GroupLeastSquares.solve(wp, $0) } }
            let best = Self.sse(w, t, ls.alpha, ls.gamma)
            // Brute force: a grid around the data's range, refined three times around the best point.
            var ca = 0.0, cg = 0.0, span = 0.5
            var bf = Double.infinity
            for _ in 0..<4 {
                var na = ca, ng = cg
                for i in -30...30 {
                    for j in -30...30 {
                        let a = ca + span * Double(i) / 30, g = cg + span * Double(j) / 30
                        let e = Self.sse(w, t, a, g)
                        if e < bf { bf = e; na = a; ng = g }
                    }
                }
                ca = na; cg = ng; span /= 15
            }
            #expect(best <= bf * (1 + 1e-9) + 1e-15, "trial \(trial): closed form \(best) > brute force \(bf)")
            #expect(abs(ls.alpha - ca) < 1e-4 && abs(ls.gamma - cg) < 1e-4)
        }
    }

    @Test func equalCodesFallBackToTheMean() {
        let w: [Float] = [0.1, 0.2, 0.6]
        for c in [Int8(0), 1, -1] {
            let t = [Int8](repeating: c, count: 3)
            let ls = w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { GroupLeastSquares.solve(wp, $0) } }
            #expect(ls.alpha == 0 && abs(ls.gamma - 0.3) < 1e-7)
        }
    }

    @Test func weightedLeastSquaresMatchesUnweightedForEqualWeights() {
        var rng = TestRNG(5)
        let w = Self.group(&rng, 17)
        let t = (0..<17).map { Int8(Int($0 % 3) - 1) }
        let s = [Float](repeating: 2.5, count: 17)
        let a = w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { GroupLeastSquares.solve(wp, $0) } }
        let b = w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { tp in s.withUnsafeBufferPointer { GroupLeastSquares.solveWeighted(wp, tp, $0)! } } }
        #expect(abs(a.alpha - b.alpha) < 1e-12 && abs(a.gamma - b.gamma) < 1e-12)
    }

    /// Fits one group with `method`, returning codes and the fit.
    static func fit(_ w: [Float], _ method: TernaryInit, maxIterations: Int = 20) -> ([Int8], GroupFit) {
        var t = [Int8](repeating: 9, count: w.count)
        let f = w.withUnsafeBufferPointer { wp in t.withUnsafeMutableBufferPointer { TernaryFitter.fit(wp, $0, method: method, maxIterations: maxIterations) } }
        return (t, f)
    }

    @Test func dltCodesAreTheNearestGridPointAtConvergence() {
        var rng = TestRNG(3)
        var converged = 0
        for trial in 0..<300 {
            let w = Self.group(&rng, [7, 44, 64, 128][trial % 4])
            let (t, f) = Self.fit(w, .dlt)
            #expect(f.alpha > 0)
            guard f.converged else { continue }
            converged += 1
            for i in w.indices { #expect(t[i] == TernaryCode.nearest(w[i], alpha: f.alpha, gamma: f.gamma)) }
            // and (α, γ) are the least squares of those codes, to f32 rounding
            let ls = w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { GroupLeastSquares.solve(wp, $0) } }
            #expect(Float(ls.alpha) == f.alpha && Float(ls.gamma) == f.gamma)
        }
        #expect(converged >= 290, "only \(converged) of 300 groups converged within 20 iterations")
    }

    @Test func dltIsNoWorseThanTWNAndAbsmean() {
        var rng = TestRNG(8)
        var dltTotal = 0.0, twnTotal = 0.0, absTotal = 0.0
        for _ in 0..<200 {
            let w = Self.group(&rng, 64)
            func err(_ m: TernaryInit) -> Double {
                let (t, f) = Self.fit(w, m)
                return w.withUnsafeBufferPointer { wp in t.withUnsafeBufferPointer { GroupLeastSquares.squaredError(wp, $0, alpha: f.alpha, gamma: f.gamma) } }
            }
            let d = err(.dlt), tw = err(.twn), ab = err(.absmean)
            #expect(d <= tw * (1 + 1e-5), "dlt \(d) worse than twn \(tw)")
            dltTotal += d; twnTotal += tw; absTotal += ab
        }
        #expect(dltTotal < twnTotal && twnTotal < absTotal)
    }

    @Test func baselinesFollowTheirDefinitions() {
        let w: [Float] = [0.5, -0.1, 0.05, -0.8, 0.3, 0.0]
        let meanAbs: Float = (0.5 + 0.1 + 0.05 + 0.8 + 0.3 + 0) / 6
        let (ta, fa) = Self.fit(w, .absmean)
        #expect(fa.gamma == 0 && abs(fa.alpha - meanAbs) < 1e-7)
        #expect(ta == w.map { Int8(max(-1, min(1, ($0 / fa.alpha).rounded()))) })
        let (tt, ft) = Self.fit(w, .twn)
        let delta = 0.7 * meanAbs
        #expect(tt == w.map { abs($0) > delta ? ($0 > 0 ? 1 : -1) : 0 })
        let kept = zip(w, tt).filter { $0.1 != 0 }.map { abs($0.0) }
        #expect(ft.gamma == 0 && abs(ft.alpha - kept.reduce(0, +) / Float(kept.count)) < 1e-7)
    }

    @Test func constantGroupIsExact() {
        let (t, f) = Self.fit([Float](repeating: 0.25, count: 10), .dlt)
        #expect(t.allSatisfy { $0 == 0 } && f.alpha == 0 && f.gamma == 0.25)
        #expect(TernaryCode.nearest(1, alpha: 0, gamma: 0) == 0)
    }

    @Test func raggedGroupsCoverEveryColumnOnce() {
        for (K, G, nG, last) in [(172, 64, 3, 44), (64, 64, 1, 64), (64, 128, 1, 64), (10, 3, 4, 1), (172, 0, 1, 172)] {
            let g = TernaryGroups(cols: K, size: G)
            #expect(g.count == nG && g.range(nG - 1).count == last)
            #expect((0..<nG).flatMap { Array(g.range($0)) } == Array(0..<K))
            for k in [0, K / 2, K - 1] { #expect(g.range(g.group(of: k)).contains(k)) }
        }
        // A ragged matrix: each group fitted on exactly its own columns.
        var rng = TestRNG(21)
        let rows = 5, K = 172
        let w = (0..<(rows * K)).map { _ in rng.float() * 0.1 }
        let (tw, _) = DLTQuantizer(method: .dlt, groupSize: 64).quantize(w, rows: rows, cols: K)
        #expect(tw.groupCount == 3 && tw.alpha.count == rows * 3)
        for r in 0..<rows {
            for gi in 0..<3 {
                let cr = tw.groups.range(gi)
                let (t, f) = Self.fit(Array(w[(r * K + cr.lowerBound)..<(r * K + cr.upperBound)]), .dlt)
                #expect(Array(tw.codes[(r * K + cr.lowerBound)..<(r * K + cr.upperBound)]) == t)
                #expect(tw.alpha[r * 3 + gi] == f.alpha && tw.gamma[r * 3 + gi] == f.gamma)
            }
        }
    }

    @Test func quantizerIsIndependentOfThreads() {
        var rng = TestRNG(99)
        let rows = 96, K = 200
        let w = (0..<(rows * K)).map { _ in rng.float() * 0.05 + 0.01 }
        let q = DLTQuantizer(method: .dlt, groupSize: 64)
        let (a, sa) = q.quantize(w, rows: rows, cols: K)
        let (b, sb) = q.quantize(w, rows: rows, cols: K, pool: WorkerPool(threads: 3))
        #expect(a == b && sa == sb)
        // Dequantized values follow Ŵ = α·T + γ.
        let deq = a.dequantizedTensor(name: "w").floats()
        for i in stride(from: 0, to: rows * K, by: 37) {
            let r = i / K, g = a.groups.group(of: i % K)
            #expect(deq[i] == a.alpha[r * a.groupCount + g] * Float(a.codes[i]) + a.gamma[r * a.groupCount + g])
        }
    }
}
