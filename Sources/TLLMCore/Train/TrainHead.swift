// The top of the model for training: final RMSNorm, LM head, and the output losses (KD against the teacher's
// logits, cross-entropy against the next token), forward and backward over N rows; plus the no-gradient
// forward passes (logits, perplexity) that evaluation and the teacher use.

import Foundation

/// Weights of the loss terms: feature 1, kd 1, ce 1, τ = 1 (mse only in block-wise mode). DESIGN §8 has ce 0; on
/// stories260K adding CE lowered the held-out perplexity at every budget measured (scripts/distill/eval-distill.sh).
public struct LossWeights: Equatable, Sendable {
    public var feature: Float = 1
    public var kd: Float = 1
    public var ce: Float = 1
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

/// Rows of the head computed at a time (bounds the logits buffers to headChunk × V floats each).
public let headChunk = 512

/// Buffers of the head for up to R rows at a time.
final class HeadBuffers {
    let rows: Int
    let normOut, rstd, logits, dlogits, dnorm, teacherNorm, teacherRstd, teacherLogits: UnsafeMutablePointer<Float>
    let rowLoss: UnsafeMutablePointer<Double>
    init(config c: ModelConfig, rows N: Int, chunk: Int = headChunk) {
        rows = max(1, min(N, chunk))
        let R = rows
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(1, n)) }
        normOut = buf(R * c.hiddenSize); rstd = buf(R); logits = buf(R * c.vocabSize); dlogits = buf(R * c.vocabSize)
        dnorm = buf(R * c.hiddenSize); teacherNorm = buf(R * c.hiddenSize); teacherRstd = buf(R); teacherLogits = buf(R * c.vocabSize)
        rowLoss = .allocate(capacity: R)
    }
    deinit {
        for p in [normOut, rstd, logits, dlogits, dnorm, teacherNorm, teacherRstd, teacherLogits] { p.deallocate() }
        rowLoss.deallocate()
    }
}

extension TrainModel {
    /// logits [R × V] of the final hidden states x [R × C] (R ≤ the buffers' rows) into `logits`; the normed
    /// rows go to `normOut` / `rstd`.
    func headForward(_ x: UnsafePointer<Float>, _ R: Int, normOut: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                     logits: UnsafeMutablePointer<Float>)
    {
        normForward(normOut, rstd, x, norm, R)
        linearForward(logits, normOut, params.value(head), R, config.vocabSize, config.hiddenSize, pool: pool)
    }

    /// Sums per-row losses computed in parallel by `body(rows, scratch)` (scratch: 2·V floats a thread).
    func rowLosses(_ R: Int, _ hb: HeadBuffers, _ body: (Range<Int>, UnsafeMutablePointer<Float>) -> Void) -> Double {
        let V = config.vocabSize
        pool.forChunks(R, parallel: R * V >= 1 << 14) { th, r in body(r, pool.scratch(th, 2 * V)) }
        var s = 0.0
        for i in 0..<R { s += hb.rowLoss[i] }
        return s
    }

    /// KD and CE on the logits of x [N × C], their gradient back to dx (overwritten), and the head's and final
    /// norm's gradients, `headChunk` rows at a time. KD needs the teacher and its final hidden states
    /// `teacherHidden` [N × C] (before its final norm); CE needs `targets` [N] (−1: no target).
    func headLosses(_ x: UnsafePointer<Float>, _ N: Int, teacher: TrainModel?, teacherHidden: UnsafePointer<Float>?,
                    targets: UnsafePointer<Int32>?, weights w: LossWeights, _ hb: HeadBuffers, dx: UnsafeMutablePointer<Float>,
                    losses: inout StepLosses)
    {
        let V = config.vocabSize, C = config.hiddenSize
        dx.update(repeating: 0, count: N * C)
        let kd = w.kd > 0 && teacher != nil && teacherHidden != nil, ce = w.ce > 0 && targets != nil
        guard kd || ce else { return }
        var nCE = 0
        if ce { for i in 0..<N where targets![i] >= 0 { nCE += 1 } }
        let kdScale = w.kd / Float(N), ceScale = w.ce / Float(max(1, nCE)), tau = w.temperature
        var kdSum = 0.0, ceSum = 0.0
        var r0 = 0
        while r0 < N {
            let R = min(hb.rows, N - r0), xr = x + r0 * C
            headForward(xr, R, normOut: hb.normOut, rstd: hb.rstd, logits: hb.logits)
            hb.dlogits.update(repeating: 0, count: R * V)
            if kd, let t = teacher, let th = teacherHidden {
                t.headForward(th + r0 * C, R, normOut: hb.teacherNorm, rstd: hb.teacherRstd, logits: hb.teacherLogits)
                kdSum += rowLosses(R, hb) { r, s in
                    DistillLoss.kd(hb.logits + r.lowerBound * V, hb.teacherLogits + r.lowerBound * V, rows: r.count, V, temperature: tau,
                                   rowLoss: hb.rowLoss + r.lowerBound, grad: hb.dlogits + r.lowerBound * V, gradScale: kdScale, scratch: s)
                }
            }
            if ce, let y = targets {
                ceSum += rowLosses(R, hb) { r, s in
                    DistillLoss.crossEntropy(hb.logits + r.lowerBound * V, y + r0 + r.lowerBound, rows: r.count, V,
                                             rowLoss: hb.rowLoss + r.lowerBound, grad: hb.dlogits + r.lowerBound * V, gradScale: ceScale, scratch: s)
                }
            }
            hb.dnorm.update(repeating: 0, count: R * C)
            linearBackward(hb.dnorm, params.gradIfTrained(head), hb.dlogits, hb.normOut, params.value(head), R, V, C, pool: pool)
            normBackward(dx + r0 * C, hb.dnorm, xr, hb.rstd, norm, R)
            r0 += R
        }
        if kd { losses.kd = kdSum / Double(N) }
        if ce { losses.ce = ceSum / Double(max(1, nCE)) }
    }

    /// Forward pass of B sequences of T tokens through the blocks (no gradients), or through the first `blocks` of
    /// them: calls `hidden(l, h)` with each block's output [N × C] and returns the buffer (x or y) holding the last one.
    @discardableResult
    func inferenceForward(_ tokens: UnsafeBufferPointer<Int32>, B: Int, T: Int, acts: BlockActivations, x: UnsafeMutablePointer<Float>,
                          y: UnsafeMutablePointer<Float>, blocks: Int? = nil,
                          hidden: ((Int, UnsafePointer<Float>) -> Void)? = nil) -> UnsafeMutablePointer<Float>
    {
        var cur = x, nxt = y
        embed(tokens, into: cur)
        for l in 0..<min(blocks ?? layers.count, layers.count) {
            blockForward(l, cur, nxt, acts)
            hidden?(l, nxt)
            swap(&cur, &nxt)
        }
        return cur
    }
}
