// The DLT quantizer (DESIGN §7, `--init`): fits each group of a weight to codes, scale and shift, then a whole
// matrix [rows × K] with rows split over a worker pool (each group depends on its own weights only, so any thread
// count gives the same bytes). Rules per group:
//   twn      γ = 0, Δ = 0.7·mean|W|, T = sign(W)·[|W| > Δ], α = mean|W| over T ≠ 0        (Li & Liu 2016)
//   absmean  γ = 0, α = mean|W|, T = clamp(round(W/α), −1, 1)                    (BitNet b1.58, per group)
//   dlt      γ₀ = mean(W), TWN on W − γ₀, then alternate least-squares (α, γ) and nearest-grid T until T stops
//            changing (≤ maxIterations): PT²-LLM's iterative ternary fitting with a per-group shift. The same
//            alternation also runs from plain TWN's codes (γ₀ = 0) and the lower-error result is kept, so dlt is
//            never worse than twn on any group (each alternation step only lowers the error).

/// The initialization rule (`tllm-ternarize --init`).
public enum TernaryInit: String, CaseIterable, Sendable {
    case dlt, twn, absmean
}

/// How one group's fit went.
public struct GroupFit: Equatable, Sendable {
    public var alpha: Float
    public var gamma: Float
    /// Least-squares steps taken (0 for twn and absmean).
    public var iterations: Int
    /// dlt: the codes stopped changing within the iteration limit (twn, absmean: always true).
    public var converged: Bool
}

public enum TernaryFitter {
    /// Default cap on dlt's alternating steps.
    public static let defaultMaxIterations = 20

    /// Fits `w` (one group) by `method`, writing its codes into `t` (same count).
    public static func fit(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeMutableBufferPointer<Int8>, method: TernaryInit,
                           maxIterations: Int = defaultMaxIterations) -> GroupFit
    {
        precondition(w.count == t.count)
        switch method {
        case .twn: return twn(w, t, shift: 0)
        case .absmean: return absmean(w, t)
        case .dlt: return dlt(w, t, maxIterations: maxIterations)
        }
    }

    /// TWN on w − shift: Δ = 0.7·mean|w − shift|, T = sign·[|w − shift| > Δ], α = mean|w − shift| over T ≠ 0.
    static func twn(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeMutableBufferPointer<Int8>, shift: Float) -> GroupFit {
        let n = w.count
        var sabs = 0.0
        for i in 0..<n { sabs += Double(abs(w[i] - shift)) }
        let delta = Float(0.7 * sabs / Double(max(n, 1)))
        var kept = 0.0, nz = 0
        for i in 0..<n {
            let d = w[i] - shift
            if abs(d) > delta {
                t[i] = d > 0 ? 1 : -1
                kept += Double(abs(d))
                nz += 1
            } else {
                t[i] = 0
            }
        }
        return GroupFit(alpha: nz > 0 ? Float(kept / Double(nz)) : 0, gamma: shift, iterations: 0, converged: true)
    }

    /// α = mean|w|, T = nearest grid point with γ = 0.
    static func absmean(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeMutableBufferPointer<Int8>) -> GroupFit {
        var sabs = 0.0
        for x in w { sabs += Double(abs(x)) }
        let a = Float(sabs / Double(max(w.count, 1)))
        for i in 0..<w.count { t[i] = TernaryCode.nearest(w[i], alpha: a, gamma: 0) }
        return GroupFit(alpha: a, gamma: 0, iterations: 0, converged: true)
    }

    /// dlt: the alternation from two starts, TWN on W − mean(W) and TWN on W; the lower squared error wins (ties:
    /// the shifted start). Iterations count both runs.
    static func dlt(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeMutableBufferPointer<Int8>, maxIterations: Int) -> GroupFit {
        var mean = 0.0
        for x in w { mean += Double(x) }
        mean /= Double(max(w.count, 1))
        let a = alternate(w, t, start: Float(mean), maxIterations: maxIterations)
        return withUnsafeTemporaryAllocation(of: Int8.self, capacity: w.count) { t2 in
            let b = alternate(w, t2, start: 0, maxIterations: maxIterations)
            let ea = GroupLeastSquares.squaredError(w, UnsafeBufferPointer(t), alpha: a.alpha, gamma: a.gamma)
            let eb = GroupLeastSquares.squaredError(w, UnsafeBufferPointer(t2), alpha: b.alpha, gamma: b.gamma)
            guard eb < ea else { return GroupFit(alpha: a.alpha, gamma: a.gamma, iterations: a.iterations + b.iterations, converged: a.converged) }
            for i in 0..<w.count { t[i] = t2[i] }
            return GroupFit(alpha: b.alpha, gamma: b.gamma, iterations: a.iterations + b.iterations, converged: b.converged)
        }
    }

    /// TWN on w − start, then alternating least squares / nearest grid until the codes stop changing. Every
    /// (α, γ) is rounded to f32 before the codes are recomputed from it, so at convergence the codes are exactly
    /// `TernaryCode.nearest` of the stored values.
    static func alternate(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeMutableBufferPointer<Int8>, start: Float,
                          maxIterations: Int) -> GroupFit
    {
        let n = w.count
        _ = twn(w, t, shift: start)
        var alpha: Float = 0, gamma: Float = 0
        let ct = UnsafeBufferPointer(t)
        var it = 0
        while it < maxIterations {
            it += 1
            let ls = GroupLeastSquares.solve(w, ct)
            alpha = Float(ls.alpha)
            gamma = Float(ls.gamma)
            guard alpha > 0 else {
                // All codes equal (a constant group): Ŵ = mean, codes 0.
                for i in 0..<n { t[i] = 0 }
                return GroupFit(alpha: 0, gamma: gamma, iterations: it, converged: true)
            }
            var changed = false
            for i in 0..<n {
                let c = TernaryCode.nearest(w[i], alpha: alpha, gamma: gamma)
                if c != t[i] {
                    t[i] = c
                    changed = true
                }
            }
            if !changed { return GroupFit(alpha: alpha, gamma: gamma, iterations: it, converged: true) }
        }
        // Out of iterations with fresh codes: finish with their least-squares (α, γ) (lower error, though the
        // codes may then be off the nearest grid point by a hair).
        let ls = GroupLeastSquares.solve(w, ct)
        if ls.alpha > 0 {
            alpha = Float(ls.alpha)
            gamma = Float(ls.gamma)
        }
        return GroupFit(alpha: alpha, gamma: gamma, iterations: it, converged: false)
    }
}


/// How the fit of one matrix went.
public struct FitSummary: Equatable, Sendable {
    /// Groups fitted.
    public var groups: Int
    /// dlt groups that hit the iteration limit with codes still changing.
    public var unconverged: Int
    /// Mean least-squares steps per group (0 for twn, absmean).
    public var meanIterations: Double
}

public struct DLTQuantizer: Sendable {
    public var method: TernaryInit
    /// G; ≤ 0 means one group per row.
    public var groupSize: Int
    public var maxIterations: Int

    public init(method: TernaryInit = .dlt, groupSize: Int = 128, maxIterations: Int = TernaryFitter.defaultMaxIterations) {
        self.method = method
        self.groupSize = groupSize
        self.maxIterations = maxIterations
    }

    /// Fits W [rows × cols] (row-major f32).
    public func quantize(_ w: UnsafePointer<Float>, rows: Int, cols: Int, pool: WorkerPool? = nil) -> (TernaryWeight, FitSummary) {
        var tw = TernaryWeight(rows: rows, cols: cols, groupSize: groupSize)
        let layout = tw.groups, nG = layout.count
        let iters = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, rows * nG))
        let conv = UnsafeMutablePointer<Bool>.allocate(capacity: max(1, rows * nG))
        defer { iters.deallocate(); conv.deallocate() }
        let method = self.method, maxIt = self.maxIterations
        tw.codes.withUnsafeMutableBufferPointer { tp in
            tw.alpha.withUnsafeMutableBufferPointer { ap in
                tw.gamma.withUnsafeMutableBufferPointer { gp in
                    let t = tp.baseAddress!, a = ap.baseAddress!, s = gp.baseAddress!
                    let body = { (range: Range<Int>) in
                        for r in range {
                            for g in 0..<nG {
                                let cr = layout.range(g)
                                let wg = UnsafeBufferPointer(start: w + r * cols + cr.lowerBound, count: cr.count)
                                let tg = UnsafeMutableBufferPointer(start: t + r * cols + cr.lowerBound, count: cr.count)
                                let f = TernaryFitter.fit(wg, tg, method: method, maxIterations: maxIt)
                                a[r * nG + g] = f.alpha
                                s[r * nG + g] = f.gamma
                                iters[r * nG + g] = Int32(f.iterations)
                                conv[r * nG + g] = f.converged
                            }
                        }
                    }
                    if let pool { pool.forRanges(rows, parallel: rows * cols >= 1 << 14, body) } else { body(0..<rows) }
                }
            }
        }
        var total = 0, bad = 0
        for i in 0..<(rows * nG) {
            total += Int(iters[i])
            if !conv[i] { bad += 1 }
        }
        let n = rows * nG
        return (tw, FitSummary(groups: n, unconverged: bad, meanIterations: n > 0 ? Double(total) / Double(n) : 0))
    }

    /// Fits the f32 values of `weights` ([rows × cols]).
    public func quantize(_ weights: [Float], rows: Int, cols: Int, pool: WorkerPool? = nil) -> (TernaryWeight, FitSummary) {
        precondition(weights.count == rows * cols)
        return weights.withUnsafeBufferPointer { quantize($0.baseAddress!, rows: rows, cols: cols, pool: pool) }
    }
}
