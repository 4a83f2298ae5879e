// The DLT quantizer inside the training loop (DESIGN §7): every forward pass re-derives the codes from the latent
// weights W and the learnable per-group (α, γ),
//   T = clamp(round((W − γ)/α), −1, 1),  Ŵ = α·T + γ,
// and the backward pass maps ∂L/∂Ŵ to the three parameters:
//   ∂L/∂W = ∂L/∂Ŵ · [|W − γ| ≤ clip·α]   (straight-through estimator, clipped outside the grid; clip = ∞ disables)
//   ∂L/∂α_g = Σ_{i∈g} ∂L/∂Ŵ_i · T_i,   ∂L/∂γ_g = Σ_{i∈g} ∂L/∂Ŵ_i.
// Rows are independent, so both passes split rows over the pool and give the same bits on any thread count.

public struct FakeQuantizer: Sendable {
    public let rows: Int
    public let groups: TernaryGroups
    /// The straight-through window in units of α (DESIGN default 1.5); .infinity passes every gradient.
    public var steClip: Float

    public init(rows: Int, groups: TernaryGroups, steClip: Float = 1.5) {
        self.rows = rows
        self.groups = groups
        self.steClip = steClip
    }

    var cols: Int { groups.cols }

    /// Ŵ and the codes from W, α, γ ([rows × K], [rows × nG]).
    public func forward(_ hat: UnsafeMutablePointer<Float>, _ codes: UnsafeMutablePointer<Int8>, _ w: UnsafePointer<Float>,
                        _ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, pool: WorkerPool? = nil)
    {
        let K = cols, nG = groups.count, layout = groups
        let body = { (range: Range<Int>) in
            for r in range {
                for g in 0..<nG {
                    let a = alpha[r * nG + g], c = gamma[r * nG + g]
                    for i in layout.range(g) {
                        let t = TernaryCode.nearest(w[r * K + i], alpha: a, gamma: c)
                        codes[r * K + i] = t
                        hat[r * K + i] = TernaryCode.dequantize(t, alpha: a, gamma: c)
                    }
                }
            }
        }
        if let pool { pool.forRanges(rows, parallel: rows * K >= 1 << 15, body) } else { body(0..<rows) }
    }

    /// Accumulates dW, dα, dγ from dŴ (any of the three may be nil: frozen).
    public func backward(_ dhat: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ codes: UnsafePointer<Int8>,
                         _ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                         dw: UnsafeMutablePointer<Float>?, dalpha: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?,
                         pool: WorkerPool? = nil)
    {
        let K = cols, nG = groups.count, layout = groups, clip = steClip
        let body = { (range: Range<Int>) in
            for r in range {
                for g in 0..<nG {
                    let a = alpha[r * nG + g], c = gamma[r * nG + g], window = clip * a
                    var sa: Float = 0, sg: Float = 0
                    for i in layout.range(g) {
                        let j = r * K + i, d = dhat[j]
                        sa += d * Float(codes[j])
                        sg += d
                        if let dw, abs(w[j] - c) <= window { dw[j] += d }
                    }
                    dalpha?[r * nG + g] += sa
                    dgamma?[r * nG + g] += sg
                }
            }
        }
        if let pool { pool.forRanges(rows, parallel: rows * K >= 1 << 15, body) } else { body(0..<rows) }
    }

    /// Moves each latent weight whose nearest code is not the stored one to the centre of that code's interval
    /// (γ + α·T), so that the first forward pass reproduces the stored codes exactly (the activation-aware refit
    /// changes (α, γ) with the codes frozen, which can leave a weight nearer another grid point). Returns the count moved.
    @discardableResult
    public func anchor(_ w: UnsafeMutablePointer<Float>, codes: UnsafePointer<Int8>, _ alpha: UnsafePointer<Float>,
                       _ gamma: UnsafePointer<Float>) -> Int
    {
        let K = cols, nG = groups.count
        var moved = 0
        for r in 0..<rows {
            for g in 0..<nG {
                let a = alpha[r * nG + g], c = gamma[r * nG + g]
                for i in groups.range(g) {
                    let j = r * K + i
                    if TernaryCode.nearest(w[j], alpha: a, gamma: c) != codes[j] {
                        w[j] = TernaryCode.dequantize(a > 0 ? codes[j] : 0, alpha: a, gamma: c)
                        moved += 1
                    }
                }
            }
        }
        return moved
    }
}
