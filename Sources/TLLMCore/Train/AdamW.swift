// AdamW (Loshchilov & Hutter 2019) over a ParamStore, with one learning rate per parameter kind, decoupled weight
// decay on the latent weights only, global-norm gradient clipping, and the schedule: linear warm-up to the peak,
// then cosine (or linear) decay to minRatio·peak at the last step. Every sum runs in a fixed order, so the same
// gradients give the same bits (exact resume).

import Foundation

public enum LRSchedule: String, Sendable, CaseIterable {
    case cosine, linear, constant
}

public struct OptimizerSettings: Equatable, Sendable {
    /// Peak learning rate of the latent weights (and of the embedding/head when trained). 2e-3 since the decay toward
    /// the grid (DistillOptions.gridDecay): on stories260K's validation split 4.785 against 4.944 at 1e-3 (README).
    public var lr: Float = 2e-3
    /// Peak learning rate of α and γ.
    public var lrQParams: Float = 1e-3
    /// Peak learning rate of RMSNorm weights and biases.
    public var lrNorm: Float = 1e-3
    public var weightDecay: Float = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var eps: Float = 1e-8
    /// Global gradient-norm clip (≤ 0: none).
    public var clip: Float = 1
    public var warmup = 0
    public var schedule: LRSchedule = .cosine
    /// The decayed learning rate at the last step, as a fraction of the peak.
    public var minRatio: Float = 0
    public init() {}

    /// Multiplier of the peak rates at step s (0-based) of `total`.
    public func factor(step s: Int, total: Int) -> Float {
        if warmup > 0 && s < warmup { return Float(s + 1) / Float(warmup) }
        let span = max(1, total - warmup - 1), p = min(1, Float(s - warmup) / Float(span))
        switch schedule {
        case .constant: return 1
        case .linear: return 1 - (1 - minRatio) * p
        case .cosine: return minRatio + (1 - minRatio) * 0.5 * (1 + Foundation.cos(Float.pi * p))
        }
    }

    public func rate(_ kind: ParamKind) -> Float {
        switch kind {
        case .latent, .embedding, .head: return lr
        case .alpha, .gamma: return lrQParams
        case .norm, .bias: return lrNorm
        }
    }
}

public final class AdamW {
    public let settings: OptimizerSettings
    /// Values with moments: the tensors trained when the optimizer was made.
    public let count: Int
    /// First and second moments of the trained tensors, packed in tensor order.
    public let m: UnsafeMutablePointer<Float>
    public let v: UnsafeMutablePointer<Float>
    /// Offset of each trained tensor's moments (by ParamStore index).
    private let slot: [Int: Int]
    /// Updates taken.
    public var t = 0

    public init(settings: OptimizerSettings, params p: ParamStore) {
        self.settings = settings
        var s: [Int: Int] = [:], n = 0
        for (i, t) in p.tensors.enumerated() where t.trainable {
            s[i] = n
            n += t.count
        }
        slot = s
        count = n
        m = .allocate(capacity: max(1, n))
        v = .allocate(capacity: max(1, n))
        m.initialize(repeating: 0, count: max(1, n))
        v.initialize(repeating: 0, count: max(1, n))
    }

    deinit {
        m.deallocate()
        v.deallocate()
    }

    /// The moments of ParamStore tensor i (nil when it was not trained).
    public func moments(_ i: Int) -> (m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>)? {
        slot[i].map { (m + $0, v + $0) }
    }

    /// ‖g‖ over the trained tensors.
    public static func gradientNorm(_ p: ParamStore) -> Double {
        var s = 0.0
        for t in p.tensors where t.trainable {
            let g = p.grads + t.offset
            var part: Float = 0
            for i in 0..<t.count { part += g[i] * g[i] }
            s += Double(part)
        }
        return s.squareRoot()
    }

    /// One update with the rates scaled by `factor` (the schedule). Returns the gradient norm before clipping.
    @discardableResult
    public func step(_ p: ParamStore, factor: Float, pool: WorkerPool? = nil) -> Double {
        let st = settings
        let norm = AdamW.gradientNorm(p)
        let clipScale: Float = st.clip > 0 && norm > Double(st.clip) ? Float(Double(st.clip) / norm) : 1
        t += 1
        let bc1 = 1 - Foundation.pow(Double(st.beta1), Double(t)), bc2 = 1 - Foundation.pow(Double(st.beta2), Double(t))
        for (i, tensor) in p.tensors.enumerated() where tensor.trainable {
            guard let (m, v) = moments(i) else { continue }
            let lr = st.rate(tensor.kind) * factor
            let decay = tensor.kind == .latent ? st.weightDecay : 0
            let stepSize = Float(Double(lr) / bc1), vScale = Float(1 / bc2.squareRoot())
            let x = p.values + tensor.offset, g = p.grads + tensor.offset
            let b1 = st.beta1, b2 = st.beta2, eps = st.eps
            let isAlpha = tensor.kind == .alpha
            let body = { (r: Range<Int>) in
                for i in r {
                    let gi = g[i] * clipScale
                    m[i] = b1 * m[i] + (1 - b1) * gi
                    v[i] = b2 * v[i] + (1 - b2) * gi * gi
                    var xi = x[i]
                    if decay > 0 { xi -= lr * decay * xi }
                    xi -= stepSize * m[i] / ((v[i]).squareRoot() * vScale + eps)
                    x[i] = isAlpha ? max(xi, 1e-8) : xi
                }
            }
            if let pool { pool.forRanges(tensor.count, parallel: tensor.count >= 1 << 15, body) } else { body(0..<tensor.count) }
        }
        return norm
    }
}
