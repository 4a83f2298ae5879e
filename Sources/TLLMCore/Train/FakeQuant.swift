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

    /// Calls body(rg, α, γ, js) for every group of every row, rows split across the pool: rg = r·nG + g indexes α
    /// and γ, js is the group's range of flat indices into the [rows × K] weights.
    private func forEachGroup(_ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, pool: WorkerPool?,
                              _ body: (_ rg: Int, _ a: Float, _ c: Float, _ js: Range<Int>) -> Void)
    {
        let K = cols, nG = groups.count, layout = groups
        func run(_ range: Range<Int>) {
            for r in range {
                for g in 0..<nG {
                    let rg = r * nG + g, span = layout.range(g)
                    body(rg, alpha[rg], gamma[rg], (r * K + span.lowerBound)..<(r * K + span.upperBound))
                }
            }
        }
        if let pool { pool.forRanges(rows, parallel: rows * K >= 1 << 15, run) } else { run(0..<rows) }
    }

    /// Ŵ and the codes from W, α, γ ([rows × K], [rows × nG]).
    public func forward(_ hat: UnsafeMutablePointer<Float>, _ codes: UnsafeMutablePointer<Int8>, _ w: UnsafePointer<Float>,
                        _ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>, pool: WorkerPool? = nil)
    {
        forEachGroup(alpha, gamma, pool: pool) { _, a, c, js in
            for j in js {
                let t = TernaryCode.nearest(w[j], alpha: a, gamma: c)
                codes[j] = t
                hat[j] = TernaryCode.dequantize(t, alpha: a, gamma: c)
            }
        }
    }

    /// Accumulates dW, dα, dγ from dŴ (any of the three may be nil: frozen).
    public func backward(_ dhat: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ codes: UnsafePointer<Int8>,
                         _ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                         dw: UnsafeMutablePointer<Float>?, dalpha: UnsafeMutablePointer<Float>?, dgamma: UnsafeMutablePointer<Float>?,
                         pool: WorkerPool? = nil)
    {
        let clip = steClip
        forEachGroup(alpha, gamma, pool: pool) { rg, a, c, js in
            let window = clip * a
            var sa: Float = 0, sg: Float = 0
            for j in js {
                let d = dhat[j]
                sa += d * Float(codes[j])
                sg += d
                if let dw, abs(w[j] - c) <= window { dw[j] += d }
            }
            dalpha?[rg] += sa
            dgamma?[rg] += sg
        }
    }

    /// Decay toward the grid: moves every latent weight the fraction κ of the way to its dequantized value,
    /// W ← W + κ·(γ + α·T − W), T its nearest code. A weight moves toward the centre of its own interval (or toward
    /// γ ± α from beyond it), so its code does not change; what changes is how far the next updates must push it to
    /// flip, which damps the codes that would otherwise oscillate across a threshold from step to step (the
    /// oscillation dampening of Nagel et al. 2022, applied as a decoupled step like AdamW's weight decay).
    public func decayTowardGrid(_ w: UnsafeMutablePointer<Float>, _ alpha: UnsafePointer<Float>, _ gamma: UnsafePointer<Float>,
                                kappa: Float, pool: WorkerPool? = nil)
    {
        forEachGroup(alpha, gamma, pool: pool) { _, a, c, js in
            for j in js {
                let x = w[j], target = TernaryCode.dequantize(TernaryCode.nearest(x, alpha: a, gamma: c), alpha: a, gamma: c)
                w[j] = x + kappa * (target - x)
            }
        }
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
