// The per-row joint solve of ActivationRefit with the full XᵀX, for a block of rows at a time:
//   Y = W_b·H [rb × K];  for each group h: P_h = T_b[:, h]·H[h, :] [rb × K]  (sgemm; H is symmetric)
//   M[α_g, α_h] = Σ_{k∈g} T_k P_h[k],  M[γ_g, α_h] = Σ_{k∈g} P_h[k],  M[γ_g, γ_h] = Σ_{k∈g, l∈h} H[k, l]
//   b[α_h] = Σ_{l∈h} T_l Y[l],  b[γ_h] = Σ_{l∈h} Y[l],  E(θ) = wᵀHw − 2θᵀb + θᵀMθ
// then a ridge-stabilized Cholesky solve on the used unknowns (α of all-zero groups and γ of dead inputs drop).

/// Buffers of one worker: codes as f32, Y and P [rows × K], M [rows × n × n], b [rows × n].
struct JointScratch {
    let tf, y, p: UnsafeMutablePointer<Float>
    let m, b: UnsafeMutablePointer<Double>

    init(rows: Int, K: Int, n: Int) {
        tf = .allocate(capacity: rows * K)
        y = .allocate(capacity: rows * K)
        p = .allocate(capacity: rows * K)
        m = .allocate(capacity: rows * n * n)
        b = .allocate(capacity: rows * n)
    }

    func free() {
        tf.deallocate(); y.deallocate(); p.deallocate(); m.deallocate(); b.deallocate()
    }
}

/// Everything a worker reads and the per-row outputs it writes (rows are disjoint between workers).
struct JointJob: @unchecked Sendable {
    let K: Int, nG: Int, layout: TernaryGroups
    let w: UnsafePointer<Float>, h: UnsafePointer<Float>, t: UnsafePointer<Int8>
    let alpha: UnsafeMutablePointer<Float>, gamma: UnsafeMutablePointer<Float>
    let gg: UnsafePointer<Double>
    let apply: Bool
    let before: UnsafeMutablePointer<Double>, after: UnsafeMutablePointer<Double>, refs: UnsafeMutablePointer<Double>
    let kept: UnsafeMutablePointer<Bool>

    func run(rows range: Range<Int>, _ s: JointScratch) {
        let rb = range.count, r0 = range.lowerBound, n = 2 * nG
        for i in 0..<(rb * K) { s.tf[i] = Float(t[r0 * K + i]) }
        sgemmNN(rb, K, K, w + r0 * K, K, h, K, s.y, K)
        for hh in 0..<nG {
            let cr = layout.range(hh)
            sgemmNN(rb, K, cr.count, s.tf + cr.lowerBound, K, h + cr.lowerBound * K, K, s.p, K)
            for i in 0..<rb {
                let pr = s.p + i * K, tr = s.tf + i * K, m = s.m + i * n * n
                for g in 0..<nG {
                    var sa = 0.0, sg = 0.0
                    for k in layout.range(g) {
                        sa += Double(tr[k]) * Double(pr[k])
                        sg += Double(pr[k])
                    }
                    m[g * n + hh] = sa
                    m[(nG + g) * n + hh] = sg
                    m[hh * n + nG + g] = sg
                }
            }
        }
        for i in 0..<rb {
            let r = r0 + i, m = s.m + i * n * n, b = s.b + i * n, yr = s.y + i * K, tr = s.tf + i * K, wr = w + r * K
            for g in 0..<nG {
                for hh in 0..<nG { m[(nG + g) * n + nG + hh] = gg[g * nG + hh] }
                for hh in 0..<g {  // α-α block: average the two sgemm-rounded halves
                    let v = 0.5 * (m[g * n + hh] + m[hh * n + g])
                    m[g * n + hh] = v
                    m[hh * n + g] = v
                }
                var ba = 0.0, bg = 0.0
                for l in layout.range(g) {
                    ba += Double(tr[l]) * Double(yr[l])
                    bg += Double(yr[l])
                }
                b[g] = ba
                b[nG + g] = bg
            }
            var c = 0.0
            for k in 0..<K { c += Double(wr[k]) * Double(yr[k]) }
            refs[r] = c
            solveRow(r, m, b, c)
        }
    }

    /// E(θ) = c − 2θᵀb + θᵀMθ.
    func objective(_ theta: [Double], _ m: UnsafePointer<Double>, _ b: UnsafePointer<Double>, _ c: Double) -> Double {
        let n = theta.count
        var e = c
        for i in 0..<n {
            var mi = 0.0
            for j in 0..<n { mi += m[i * n + j] * theta[j] }
            e += theta[i] * (mi - 2 * b[i])
        }
        return max(e, 0)
    }

    func solveRow(_ r: Int, _ m: UnsafeMutablePointer<Double>, _ b: UnsafePointer<Double>, _ c: Double) {
        let n = 2 * nG
        var theta0 = [Double](repeating: 0, count: n)
        for g in 0..<nG {
            theta0[g] = Double(alpha[r * nG + g])
            theta0[nG + g] = Double(gamma[r * nG + g])
        }
        let e0 = objective(theta0, m, b, c)
        before[r] = e0
        after[r] = e0
        kept[r] = true
        guard apply else { return }
        var maxDiag = 0.0
        for i in 0..<n { maxDiag = max(maxDiag, m[i * n + i]) }
        guard maxDiag > 0 else { return }
        let active = (0..<n).filter { m[$0 * n + $0] > 1e-12 * maxDiag }
        guard let x = choleskySolve(m, b, n: n, active: active, ridge: 1e-9 * maxDiag) else { return }
        var theta = theta0
        for (j, i) in active.enumerated() { theta[i] = Double(Float(x[j])) }
        for g in 0..<nG where active.contains(g) && theta[g] <= 0 { return }  // a used α must stay positive
        let e1 = objective(theta, m, b, c)
        guard e1 < e0 else { return }
        for g in 0..<nG {
            alpha[r * nG + g] = Float(theta[g])
            gamma[r * nG + g] = Float(theta[nG + g])
        }
        after[r] = e1
        kept[r] = false
    }
}

/// Solves (M + ridge·I) x = b restricted to the `active` unknowns by Cholesky in Double; the ridge grows ×100
/// (up to three times) when the matrix is not numerically positive definite. nil when it never is.
func choleskySolve(_ m: UnsafePointer<Double>, _ b: UnsafePointer<Double>, n: Int, active: [Int], ridge: Double) -> [Double]? {
    let a = active.count
    guard a > 0 else { return nil }
    var lam = ridge
    for _ in 0..<4 {
        var l = [Double](repeating: 0, count: a * a)
        var ok = true
        outer: for i in 0..<a {
            for j in 0...i {
                var s = m[active[i] * n + active[j]] + (i == j ? lam : 0)
                for k in 0..<j { s -= l[i * a + k] * l[j * a + k] }
                if i == j {
                    guard s > 0 else { ok = false; break outer }
                    l[i * a + i] = s.squareRoot()
                } else {
                    l[i * a + j] = s / l[j * a + j]
                }
            }
        }
        if ok {
            var y = [Double](repeating: 0, count: a)
            for i in 0..<a {
                var s = b[active[i]]
                for k in 0..<i { s -= l[i * a + k] * y[k] }
                y[i] = s / l[i * a + i]
            }
            var x = [Double](repeating: 0, count: a)
            for i in stride(from: a - 1, through: 0, by: -1) {
                var s = y[i]
                for k in (i + 1)..<a { s -= l[k * a + i] * x[k] }
                x[i] = s / l[i * a + i]
            }
            return x
        }
        lam = lam * 100 + 1e-300
    }
    return nil
}
