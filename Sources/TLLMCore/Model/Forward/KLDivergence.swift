// How far a model's next-token distributions are from a base model's, as llama.cpp's `llama-perplexity
// --kl-divergence` reports it for a quantized model against its float original: the chunks and scored positions of
// Perplexity.swift, and at each scored position KL(base ‖ model) = Σ_v p_base(v)·(log p_base(v) − log p_model(v))
// (nats), whether the two put their highest probability on the same token, and both perplexities.

import Foundation

public struct KLDivergenceResult: Equatable, Sendable {
    /// Perplexity of the model and of the base on the same chunks.
    public var model: PerplexityResult
    public var base: PerplexityResult
    /// Mean KL(base ‖ model) per scored token, and the standard error of that mean.
    public var meanKL: Double
    public var meanKLStderr: Double
    public var medianKL: Double
    /// The 99th percentile and the largest per-token KL.
    public var p99KL: Double
    public var maxKL: Double
    /// The share of scored positions where both models' most likely token is the same.
    public var sameTop: Double
    public var scored: Int
}

/// KL(base ‖ model) of two models given as `logits(chunk, logitsFrom)` → [(n_ctx − logitsFrom) × V], on llama.cpp's
/// perplexity chunks of `tokens`.
public func klDivergence(tokens: [Int32], context nCtx: Int, bos: Int32, vocabSize V: Int,
                         progress: PerplexityProgress? = nil,
                         base: (_ chunk: [Int32], _ logitsFrom: Int) throws -> [Float],
                         model: (_ chunk: [Int32], _ logitsFrom: Int) throws -> [Float]) throws -> KLDivergenceResult
{
    let chunking = try PerplexityChunking(tokens: tokens, context: nCtx, bos: bos)
    var nllModel = NLLStats(), nllBase = NLLStats()
    var kls: [Double] = []
    var same = 0
    var lb = [Double](repeating: 0, count: V), lm = lb
    for i in 0..<chunking.count {
        let chunk = chunking.chunk(i)
        let zb = try chunking.logits(of: chunk, vocabSize: V, base)
        let zm = try chunking.logits(of: chunk, vocabSize: V, model)
        for p in chunking.first..<(nCtx - 1) {
            let row = (p - chunking.first) * V
            let (topB, topM) = (logSoftmax(zb, row, V, into: &lb), logSoftmax(zm, row, V, into: &lm))
            let target = Int(chunk[p + 1])  // the NLLs as perplexity() computes them, so the PPLs are its own
            zb.withUnsafeBufferPointer { nllBase.add(-logSoftmaxAt($0.baseAddress! + row, V, target)) }
            zm.withUnsafeBufferPointer { nllModel.add(-logSoftmaxAt($0.baseAddress! + row, V, target)) }
            var kl = 0.0
            for v in 0..<V { kl += Foundation.exp(lb[v]) * (lb[v] - lm[v]) }
            kls.append(max(0, kl))
            if topB == topM { same += 1 }
        }
        progress?(i + 1, chunking.count, nllModel.ppl)
    }
    let n = Double(kls.count)
    let mean = kls.reduce(0, +) / n
    let variance = kls.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / max(n - 1, 1)
    let sorted = kls.sorted()
    func quantile(_ q: Double) -> Double { sorted[min(sorted.count - 1, Int((q * (n - 1)).rounded()))] }
    return KLDivergenceResult(model: nllModel.result(chunks: chunking.count), base: nllBase.result(chunks: chunking.count),
                              meanKL: mean, meanKLStderr: (variance / n).squareRoot(), medianKL: quantile(0.5),
                              p99KL: quantile(0.99), maxKL: sorted.last!, sameTop: Double(same) / n, scored: kls.count)
}

/// out[v] = log softmax(z[row ..< row + V])[v] in Double; returns the index of the largest logit (the first of ties).
private func logSoftmax(_ z: [Float], _ row: Int, _ V: Int, into out: inout [Double]) -> Int {
    var top = 0
    for v in 1..<V where z[row + v] > z[row + top] { top = v }
    let m = Double(z[row + top])
    var s = 0.0
    for v in 0..<V { s += Foundation.exp(Double(z[row + v]) - m) }
    let lse = m + Foundation.log(s)
    for v in 0..<V { out[v] = Double(z[row + v]) - lse }
    return top
}

extension LanguageModel {
    /// KL(base ‖ self) on `tokens` (see the file comment); the two models must share the vocabulary.
    public func klDivergence(from base: LanguageModel, tokens: [Int32], context nCtx: Int, bos: Int32,
                             progress: PerplexityProgress? = nil) throws -> KLDivergenceResult
    {
        guard base.config.vocabSize == config.vocabSize else {
            throw TLLMError("", "the base model's vocabulary has \(base.config.vocabSize) tokens, this model's \(config.vocabSize)")
        }
        let V = config.vocabSize
        guard tokens.allSatisfy({ $0 >= 0 && Int($0) < V }) else { throw TLLMError("", "a token id is outside the vocabulary of \(V)") }
        return try TLLMCore.klDivergence(tokens: tokens, context: nCtx, bos: bos, vocabSize: V, progress: progress,
                                         base: { try base.forward(tokens: $0, logitsFrom: $1) },
                                         model: { try self.forward(tokens: $0, logitsFrom: $1) })
    }
}
