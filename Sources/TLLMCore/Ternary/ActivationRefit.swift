// Activation-aware refit of (α, γ) with the codes frozen (DESIGN §7, `--calib`): per row r, minimize the output
// error on the calibration inputs E_r(θ) = (w_r − Ŵ_r)ᵀ H (w_r − Ŵ_r), H = XᵀX [K × K] summed over the
// calibration tokens, Ŵ_r = A_r θ with θ = (α_1..α_nG, γ_1..γ_nG) and A_r's columns T_r∘1_g and 1_g. With the
// full H that is one (2nG × 2nG) solve per row, (A_rᵀ H A_r) θ = A_rᵀ H w_r, built from sgemm products; with only
// per-channel Σx² (the diagonal of H; or when nG > maxJointGroups) it is a weighted least squares per group.
// A row keeps its weight-only (α, γ) unless the new ones lower E_r and keep every used α > 0: never worse.

import COpenBLAS

/// Second moments of a linear layer's input over the calibration tokens (from a calib container).
public struct InputMoments: Sendable {
    /// K: input channels.
    public let cols: Int
    /// XᵀX [K × K], summed over the calibration tokens, when captured.
    public let xtx: [Float]?
    /// Σx² per channel [K] (the diagonal of XᵀX).
    public let sumsq: [Float]

    public init(cols: Int, xtx: [Float]?, sumsq: [Float]) {
        precondition(sumsq.count == cols && (xtx == nil || xtx!.count == cols * cols))
        self.cols = cols
        self.xtx = xtx
        self.sumsq = sumsq
    }
}

/// Output errors Σ_r E_r before and after the refit, and Σ_r w_rᵀ H w_r to make them relative.
public struct RefitResult: Equatable, Sendable {
    public var errorBefore: Double
    public var errorAfter: Double
    public var reference: Double
    /// Rows (full H) or groups (diagonal) left at the weight-only fit.
    public var kept: Int
    /// "xtx" (joint solve with the full XᵀX) or "diag" (per-channel Σx² only).
    public var mode: String

    public var relativeBefore: Double { reference > 0 ? (errorBefore / reference).squareRoot() : 0 }
    public var relativeAfter: Double { reference > 0 ? (errorAfter / reference).squareRoot() : 0 }
}

public enum ActivationRefit {
    /// Above this many groups per row the joint solve (cost (2nG)³ per row) gives way to the diagonal form.
    public static let maxJointGroups = 128

    /// Refits `tw` against the float weights `w` [rows × K] when `apply`; otherwise only measures the output error
    /// of the current (α, γ) (errorAfter == errorBefore).
    @discardableResult
    public static func refit(_ tw: inout TernaryWeight, weights w: UnsafePointer<Float>, moments: InputMoments,
                             apply: Bool = true, pool: WorkerPool? = nil) -> RefitResult
    {
        precondition(moments.cols == tw.cols)
        if let h = moments.xtx, tw.groupCount <= maxJointGroups {
            return h.withUnsafeBufferPointer { joint(&tw, w, $0.baseAddress!, apply: apply, pool: pool) }
        }
        return diagonal(&tw, w, moments.sumsq, apply: apply)
    }

    // MARK: per-channel weights (diagonal H)

    static func diagonal(_ tw: inout TernaryWeight, _ w: UnsafePointer<Float>, _ s: [Float], apply: Bool) -> RefitResult {
        let K = tw.cols, nG = tw.groupCount, layout = tw.groups
        var before = 0.0, after = 0.0, ref = 0.0, kept = 0
        s.withUnsafeBufferPointer { sp in
            tw.codes.withUnsafeBufferPointer { tp in
                for r in 0..<tw.rows {
                    for g in 0..<nG {
                        let cr = layout.range(g), o = r * K + cr.lowerBound
                        let wg = UnsafeBufferPointer(start: w + o, count: cr.count)
                        let tg = UnsafeBufferPointer(rebasing: tp[o..<(o + cr.count)])
                        let sg = UnsafeBufferPointer(rebasing: sp[cr])
                        for k in 0..<cr.count { ref += Double(sg[k]) * Double(wg[k]) * Double(wg[k]) }
                        let a0 = tw.alpha[r * nG + g], g0 = tw.gamma[r * nG + g]
                        let e0 = GroupLeastSquares.weightedSquaredError(wg, tg, sg, alpha: a0, gamma: g0)
                        before += e0
                        var e = e0
                        if apply, let ls = GroupLeastSquares.solveWeighted(wg, tg, sg) {
                            let usesAlpha = tg.contains { $0 != 0 }
                            let a1 = usesAlpha ? Float(ls.alpha) : a0, g1 = Float(ls.gamma)
                            let e1 = GroupLeastSquares.weightedSquaredError(wg, tg, sg, alpha: a1, gamma: g1)
                            if e1 < e0 && (!usesAlpha || a1 > 0) {
                                tw.alpha[r * nG + g] = a1
                                tw.gamma[r * nG + g] = g1
                                e = e1
                            } else {
                                kept += 1
                            }
                        } else if apply {
                            kept += 1
                        }
                        after += e
                    }
                }
            }
        }
        return RefitResult(errorBefore: before, errorAfter: after, reference: ref, kept: kept, mode: "diag")
    }

    // MARK: full XᵀX (joint solve per row)

    /// Rows per sgemm block.
    static let rowBlock = 32

    static func joint(_ tw: inout TernaryWeight, _ w: UnsafePointer<Float>, _ h: UnsafePointer<Float>, apply: Bool,
                      pool: WorkerPool?) -> RefitResult
    {
        let rows = tw.rows, K = tw.cols, nG = tw.groupCount, n = 2 * nG, layout = tw.groups
        // Row-independent block: GG[g][h] = Σ_{k∈g, l∈h} H[k, l].
        var gg = [Double](repeating: 0, count: nG * nG)
        for g in 0..<nG {
            for k in layout.range(g) {
                for hh in 0..<nG {
                    var s = 0.0
                    for l in layout.range(hh) { s += Double(h[k * K + l]) }
                    gg[g * nG + hh] += s
                }
            }
        }
        let before = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let after = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let refs = UnsafeMutablePointer<Double>.allocate(capacity: rows)
        let keptRow = UnsafeMutablePointer<Bool>.allocate(capacity: rows)
        defer { before.deallocate(); after.deallocate(); refs.deallocate(); keptRow.deallocate() }
        setBLASThreads(1)
        let blocks = (rows + rowBlock - 1) / rowBlock
        tw.codes.withUnsafeBufferPointer { tp in
            tw.alpha.withUnsafeMutableBufferPointer { ap in
                tw.gamma.withUnsafeMutableBufferPointer { gp in
                    gg.withUnsafeBufferPointer { ggp in
                        let job = JointJob(K: K, nG: nG, layout: layout, w: w, h: h, t: tp.baseAddress!, alpha: ap.baseAddress!,
                                           gamma: gp.baseAddress!, gg: ggp.baseAddress!, apply: apply, before: before,
                                           after: after, refs: refs, kept: keptRow)
                        let body = { (br: Range<Int>) in
                            let scratch = JointScratch(rows: rowBlock, K: K, n: n)
                            defer { scratch.free() }
                            for b in br { job.run(rows: (b * rowBlock)..<min(rows, (b + 1) * rowBlock), scratch) }
                        }
                        if let pool { pool.forRanges(blocks, parallel: blocks > 1, body) } else { body(0..<blocks) }
                    }
                }
            }
        }
        var r = RefitResult(errorBefore: 0, errorAfter: 0, reference: 0, kept: 0, mode: "xtx")
        for i in 0..<rows {
            r.errorBefore += before[i]
            r.errorAfter += after[i]
            r.reference += refs[i]
            if keptRow[i] && apply { r.kept += 1 }
        }
        return r
    }
}
