// The top of the model for training: final RMSNorm, LM head, and the output losses (KD against the teacher's
// logits, cross-entropy against the next token), forward and backward over N rows; plus the no-gradient
// forward passes (logits, perplexity) that evaluation and the teacher use.

import Foundation

/// Weights of the loss terms (DESIGN §8 defaults: feature 1, kd 1, ce 0, τ = 1; mse only in block-wise mode).
public struct LossWeights: Equatable, Sendable {
    public var feature: Float = 1
    public var kd: Float = 1
    public var ce: Float = 0
    public var mse: Float = 0
    public var temperature: Float = 1
    public init() {}

    /// Parses `feature=1,kd=1,ce=0` (any subset; unnamed terms keep their defaults; `mse` for block-wise).
    public init(parsing s: String) throws {
        self.init()
        for part in s.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard kv.count == 2, let v = Float(kv[1]), v.isFinite, v >= 0 else {
                throw TLLMError("", "--loss: \"\(part)\" is not name=weight with a weight ≥ 0 (e.g. feature=1,kd=1,ce=0)")
            }
            switch kv[0] {
            case "feature", "feat", "cos": feature = v
            case "kd", "kl": kd = v
            case "ce": ce = v
            case "mse": mse = v
            default: throw TLLMError("", "--loss: unknown term \"\(kv[0])\" (feature, kd, ce, mse)")
            }
        }
    }

    public var description: String { "feature=\(feature),kd=\(kd),ce=\(ce)" + (mse > 0 ? ",mse=\(mse)" : "") }
}

/// Loss values of one step (means over tokens, before weighting) and the weighted total.
public struct StepLosses: Equatable, Sendable {
    public var feature = 0.0
    public var kd = 0.0
    public var ce = 0.0
    public var mse = 0.0
    public var total = 0.0
    public init() {}
}

/// Buffers of the head for N rows.
final class HeadBuffers {
    let normOut, rstd, logits, dlogits, dnorm: UnsafeMutablePointer<Float>
    let rowLoss: UnsafeMutablePointer<Double>
    init(config c: ModelConfig, rows N: Int) {
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(1, n)) }
        normOut = buf(N * c.hiddenSize); rstd = buf(N); logits = buf(N * c.vocabSize); dlogits = buf(N * c.vocabSize)
        dnorm = buf(N * c.hiddenSize)
        rowLoss = .allocate(capacity: max(1, N))
    }
    deinit { for p in [normOut, rstd, logits, dlogits, dnorm] { p.deallocate() }; rowLoss.deallocate() }
}

extension TrainModel {
    /// logits [N × V] of the final hidden states x [N × C] (the normed rows are left in `hb.normOut`).
    func headForward(_ x: UnsafePointer<Float>, _ N: Int, _ hb: HeadBuffers) {
        normForward(hb.normOut, hb.rstd, x, norm, N)
        linearForward(hb.logits, hb.normOut, params.value(head), N, config.vocabSize, config.hiddenSize, pool: pool)
    }

    /// Sums per-row losses computed in parallel by `body(rows, scratch)` (scratch: 2·V floats a thread).
    func rowLosses(_ N: Int, _ hb: HeadBuffers, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> Double {
        let V = config.vocabSize
        pool.forChunks(N, parallel: N * V >= 1 << 14) { th, r in body(r, pool.scratch(th, 2 * V)) }
        var s = 0.0
        for i in 0..<N { s += hb.rowLoss[i] }
        return s
    }

    /// KD and CE on the logits of x [N × C], their gradient back to dx (overwritten), and the head's and final
    /// norm's gradients. `teacherLogits` [N × V] is needed when w.kd > 0; `targets` [N] (−1: no target) when w.ce > 0.
    func headLosses(_ x: UnsafePointer<Float>, _ N: Int, teacherLogits: UnsafePointer<Float>?, targets: UnsafePointer<Int32>?,
                    weights w: LossWeights, _ hb: HeadBuffers, dx: UnsafeMutablePointer<Float>, losses: inout StepLosses)
    {
        let V = config.vocabSize, C = config.hiddenSize
        dx.update(repeating: 0, count: N * C)
        guard w.kd > 0 || w.ce > 0 else { return }
        headForward(x, N, hb)
        hb.dlogits.update(repeating: 0, count: N * V)
        if w.kd > 0, let zt = teacherLogits {
            let scale = w.kd / Float(N), tau = w.temperature
            losses.kd = rowLosses(N, hb) { r, s in
                DistillLoss.kd(hb.logits + r.lowerBound * V, zt + r.lowerBound * V, rows: r.count, V, temperature: tau,
                               rowLoss: hb.rowLoss + r.lowerBound, grad: hb.dlogits + r.lowerBound * V, gradScale: scale, scratch: s)
            } / Double(N)
        }
        if w.ce > 0, let y = targets {
            var n = 0
            for i in 0..<N where y[i] >= 0 { n += 1 }
            let scale = w.ce / Float(max(1, n))
            losses.ce = rowLosses(N, hb) { r, s in
                DistillLoss.crossEntropy(hb.logits + r.lowerBound * V, y + r.lowerBound, rows: r.count, V,
                                         rowLoss: hb.rowLoss + r.lowerBound, grad: hb.dlogits + r.lowerBound * V, gradScale: scale, scratch: s)
            } / Double(max(1, n))
        }
        hb.dnorm.update(repeating: 0, count: N * C)
        linearBackward(hb.dnorm, params.gradIfTrained(head), hb.dlogits, hb.normOut, params.value(head), N, V, C, pool: pool)
        normBackward(dx, hb.dnorm, x, hb.rstd, norm, N)
    }

    /// Forward pass of B sequences of T tokens (no gradients): calls `hidden(l, h)` with each block's output
    /// [N × C], and returns the logits [N × V] in `hb.logits` when `logits` is true.
    func inferenceForward(_ tokens: UnsafeBufferPointer<Int32>, B: Int, T: Int, acts: BlockActivations, x: UnsafeMutablePointer<Float>,
                          y: UnsafeMutablePointer<Float>, hb: HeadBuffers?, hidden: ((Int, UnsafePointer<Float>) -> Void)? = nil)
    {
        var cur = x, nxt = y
        embed(tokens, into: cur)
        for l in 0..<layers.count {
            blockForward(l, cur, nxt, acts)
            hidden?(l, nxt)
            swap(&cur, &nxt)
        }
        if let hb { headForward(cur, B * T, hb) }
    }
}
