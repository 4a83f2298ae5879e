// The distillation losses (DESIGN §8), each a forward/backward pair over rows (tokens):
//   cosine   ℓ_t = 1 − cos(s_t, t_t)                     ∂ℓ/∂s = −(t/(‖s‖‖t‖) − cos·s/‖s‖²)
//            (with channel weights w: of w⊙s and w⊙t, ∂ℓ/∂s = w⊙∂ℓ/∂(w⊙s))
//   mse      ℓ_t = mean_c (s − t)²                        ∂ℓ/∂s = 2(s − t)/C
//   kd       ℓ_t = τ²·KL(softmax(z^T/τ) ‖ softmax(z^S/τ))  ∂ℓ/∂z^S = τ·(p^S − p^T)
//   ce       ℓ_t = −log softmax(z)[y_t]                    ∂ℓ/∂z = p − onehot(y_t)
// Each function writes the per-row losses into `rowLoss` (summed by the caller in row order, so the total does
// not depend on threads) and adds gradScale·∂ℓ_t/∂(student row) into `grad` when given. Rows are independent:
// callers split them across threads.

import Foundation

public enum DistillLoss {
    /// Cosine distance per row of student s and teacher t [n × C]; with `channelWeights` w [C], between w⊙s and w⊙t.
    public static func cosine(_ s: UnsafePointer<Float>, _ t: UnsafePointer<Float>, rows n: Int, _ C: Int,
                              rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float,
                              channelWeights w: UnsafePointer<Float>? = nil)
    {
        for r in 0..<n {
            let sr = s + r * C, tr = t + r * C
            var ss = 0.0, tt = 0.0, st = 0.0
            for c in 0..<C {
                let wc = w.map { Double($0[c]) } ?? 1
                let a = Double(sr[c]) * wc, b = Double(tr[c]) * wc
                ss += a * a; tt += b * b; st += a * b
            }
            let ns = max(ss.squareRoot(), 1e-12), nt = max(tt.squareRoot(), 1e-12)
            let cos = st / (ns * nt)
            rowLoss[r] = 1 - cos
            guard let grad else { continue }
            let g = grad + r * C
            let a = Double(gradScale) / (ns * nt), b = Double(gradScale) * cos / (ns * ns)
            if let w {
                for c in 0..<C { let wc = Double(w[c]); g[c] += Float(wc * wc * (-a * Double(tr[c]) + b * Double(sr[c]))) }
            } else {
                for c in 0..<C { g[c] += Float(-a * Double(tr[c]) + b * Double(sr[c])) }
            }
        }
    }

    /// Mean squared error per row.
    public static func mse(_ s: UnsafePointer<Float>, _ t: UnsafePointer<Float>, rows n: Int, _ C: Int,
                           rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float)
    {
        for r in 0..<n {
            let sr = s + r * C, tr = t + r * C
            var e = 0.0
            for c in 0..<C { let d = Double(sr[c] - tr[c]); e += d * d }
            rowLoss[r] = e / Double(C)
            guard let grad else { continue }
            let g = grad + r * C, k = 2 * gradScale / Float(C)
            for c in 0..<C { g[c] += k * (sr[c] - tr[c]) }
        }
    }

    /// τ²·KL(teacher ‖ student) per row of logits [n × V]. `scratch`: 2·V floats.
    /// With p = softmax(z/τ) and lse = log Σ e^(z/τ): KL = Σ p^T·(z^T − z^S)/τ − lse^T + lse^S.
    public static func kd(_ zs: UnsafePointer<Float>, _ zt: UnsafePointer<Float>, rows n: Int, _ V: Int, temperature tau: Float,
                          rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float,
                          scratch: UnsafeMutablePointer<Float>)
    {
        let ps = scratch, pt = scratch + V, inv = 1 / tau
        for r in 0..<n {
            let a = zs + r * V, b = zt + r * V
            let lseS = softmaxLSE(a, V, inv, into: ps), lseT = softmaxLSE(b, V, inv, into: pt)
            var cross = SIMD16<Float>(), i = 0
            while i + 16 <= V {
                let p = loadV(pt, i), d = loadV(b, i) - loadV(a, i)
                cross.addProduct(p, d)
                i += 16
            }
            var c = Double(cross.sum())
            while i < V { c += Double(pt[i] * (b[i] - a[i])); i += 1 }
            rowLoss[r] = Double(tau * tau) * (c * Double(inv) - Double(lseT) + Double(lseS))
            guard let grad else { continue }
            let g = grad + r * V, k = gradScale * tau
            for j in 0..<V { g[j] += k * (ps[j] - pt[j]) }
        }
    }

    /// Cross-entropy per row against targets (a negative target skips the row: loss 0, no gradient).
    /// `scratch`: V floats.
    public static func crossEntropy(_ z: UnsafePointer<Float>, _ targets: UnsafePointer<Int32>, rows n: Int, _ V: Int,
                                    rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float,
                                    scratch: UnsafeMutablePointer<Float>)
    {
        for r in 0..<n {
            let y = Int(targets[r])
            guard y >= 0 else { rowLoss[r] = 0; continue }
            let zr = z + r * V
            let lse = softmaxLSE(zr, V, 1, into: scratch)
            rowLoss[r] = Double(lse) - Double(zr[y])
            guard let grad else { continue }
            let g = grad + r * V
            for i in 0..<V { g[i] += gradScale * scratch[i] }
            g[y] -= gradScale
        }
    }

    @inline(__always)
    static func loadV(_ p: UnsafePointer<Float>, _ i: Int) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
    }

    /// out = softmax(z·inv) over n values; returns log Σ e^(z·inv) (max-subtracted, vectorized e^x).
    static func softmaxLSE(_ z: UnsafePointer<Float>, _ n: Int, _ inv: Float, into out: UnsafeMutablePointer<Float>) -> Float {
        var m = -Float.infinity
        for i in 0..<n { m = max(m, z[i] * inv) }
        let iv = SIMD16<Float>(repeating: inv), mv = SIMD16<Float>(repeating: m)
        let o = UnsafeMutableRawPointer(out)
        var sv = SIMD16<Float>(), i = 0
        while i + 16 <= n {
            let e = expSIMD(loadV(z, i) * iv - mv)
            o.storeBytes(of: e, toByteOffset: 4 * i, as: SIMD16<Float>.self)
            sv += e
            i += 16
        }
        var sum = Double(sv.sum())
        while i < n { let e = Foundation.exp(z[i] * inv - m); out[i] = e; sum += Double(e); i += 1 }
        let r = Float(1 / sum)
        for j in 0..<n { out[j] *= r }
        return m + Float(Foundation.log(sum))
    }
}
