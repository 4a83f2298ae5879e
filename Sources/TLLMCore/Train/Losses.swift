// The distillation losses (DESIGN §8), each a forward/backward pair over rows (tokens):
//   cosine   ℓ_t = 1 − cos(s_t, t_t)                     ∂ℓ/∂s = −(t/(‖s‖‖t‖) − cos·s/‖s‖²)
//   mse      ℓ_t = mean_c (s − t)²                        ∂ℓ/∂s = 2(s − t)/C
//   kd       ℓ_t = τ²·KL(softmax(z^T/τ) ‖ softmax(z^S/τ))  ∂ℓ/∂z^S = τ·(p^S − p^T)
//   ce       ℓ_t = −log softmax(z)[y_t]                    ∂ℓ/∂z = p − onehot(y_t)
// Each function writes the per-row losses into `rowLoss` (summed by the caller in row order, so the total does
// not depend on threads) and adds gradScale·∂ℓ_t/∂(student row) into `grad` when given. Rows are independent:
// callers split them across threads.

import Foundation

public enum DistillLoss {
    /// Cosine distance per row of student s and teacher t [n × C].
    public static func cosine(_ s: UnsafePointer<Float>, _ t: UnsafePointer<Float>, rows n: Int, _ C: Int,
                              rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float)
    {
        for r in 0..<n {
            let sr = s + r * C, tr = t + r * C
            var ss = 0.0, tt = 0.0, st = 0.0
            for c in 0..<C {
                let a = Double(sr[c]), b = Double(tr[c])
                ss += a * a; tt += b * b; st += a * b
            }
            let ns = max(ss.squareRoot(), 1e-12), nt = max(tt.squareRoot(), 1e-12)
            let cos = st / (ns * nt)
            rowLoss[r] = 1 - cos
            guard let grad else { continue }
            let g = grad + r * C
            let a = Double(gradScale) / (ns * nt), b = Double(gradScale) * cos / (ns * ns)
            for c in 0..<C { g[c] += Float(-a * Double(tr[c]) + b * Double(sr[c])) }
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
    public static func kd(_ zs: UnsafePointer<Float>, _ zt: UnsafePointer<Float>, rows n: Int, _ V: Int, temperature tau: Float,
                          rowLoss: UnsafeMutablePointer<Double>, grad: UnsafeMutablePointer<Float>?, gradScale: Float,
                          scratch: UnsafeMutablePointer<Float>)
    {
        let ps = scratch, pt = scratch + V
        for r in 0..<n {
            logSoftmax(zs + r * V, V, tau, into: ps)  // log-probabilities from here on
            logSoftmax(zt + r * V, V, tau, into: pt)
            var kl = 0.0
            for i in 0..<V {
                let p = Foundation.exp(Double(pt[i]))
                kl += p * (Double(pt[i]) - Double(ps[i]))
            }
            rowLoss[r] = Double(tau * tau) * kl
            guard let grad else { continue }
            let g = grad + r * V, k = gradScale * tau
            for i in 0..<V { g[i] += k * (Foundation.exp(ps[i]) - Foundation.exp(pt[i])) }
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
            logSoftmax(z + r * V, V, 1, into: scratch)
            rowLoss[r] = -Double(scratch[y])
            guard let grad else { continue }
            let g = grad + r * V
            for i in 0..<V { g[i] += gradScale * Foundation.exp(scratch[i]) }
            g[y] -= gradScale
        }
    }

    /// out = log softmax(z/τ) over n values (max-subtracted, the sum in Double).
    @discardableResult
    static func logSoftmax(_ z: UnsafePointer<Float>, _ n: Int, _ tau: Float, into out: UnsafeMutablePointer<Float>) -> Float {
        let inv = 1 / tau
        var m = -Float.infinity
        for i in 0..<n { m = max(m, z[i] * inv) }
        var s = 0.0
        for i in 0..<n { s += Foundation.exp(Double(z[i] * inv - m)) }
        let lse = m + Float(Foundation.log(s))
        for i in 0..<n { out[i] = z[i] * inv - lse }
        return lse
    }
}
