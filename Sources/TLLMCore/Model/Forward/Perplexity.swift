// Perplexity by llama.cpp's `llama-perplexity` protocol (DESIGN §6): the whole text's tokens (BOS prepended once
// by the caller), n_chunk = ⌊n_tokens / n_ctx⌋ non-overlapping chunks, each chunk's first token replaced by BOS,
// positions p ∈ [n_ctx/2, n_ctx − 2] scored on predicting token p + 1. PPL = exp(mean NLL); the ± is llama.cpp's
// PPL · sqrt((mean(NLL²) − mean(NLL)²) / (count − 1)) (perplexity.cpp, "Final estimate: PPL = x +/- y").

import Foundation

public struct PerplexityResult: Equatable, Sendable {
    public var ppl: Double
    /// llama.cpp's ± estimate.
    public var stderr: Double
    /// Mean negative log-likelihood (nats per token).
    public var meanNLL: Double
    public var chunks: Int
    public var scored: Int
}

/// Progress after each chunk: (chunks done, chunks in all, running PPL).
public typealias PerplexityProgress = (_ done: Int, _ total: Int, _ ppl: Double) -> Void

/// Perplexity of any model given as `logits(chunk, logitsFrom)` → [(n_ctx − logitsFrom) × V] logits.
public func perplexity(tokens: [Int32], context nCtx: Int, bos: Int32, vocabSize V: Int,
                       progress: PerplexityProgress? = nil,
                       logits: (_ chunk: [Int32], _ logitsFrom: Int) throws -> [Float]) throws -> PerplexityResult
{
    guard nCtx >= 4 else { throw TLLMError("", "perplexity context \(nCtx) is too small (at least 4)") }
    let nChunk = tokens.count / nCtx
    guard nChunk >= 1 else {
        throw TLLMError("", "\(tokens.count) tokens are fewer than one context of \(nCtx); perplexity needs at least \(nCtx)")
    }
    let first = nCtx / 2
    var nll = 0.0, nll2 = 0.0
    var count = 0
    for i in 0..<nChunk {
        var chunk = Array(tokens[(i * nCtx)..<((i + 1) * nCtx)])
        chunk[0] = bos
        let z = try logits(chunk, first)
        guard z.count == (nCtx - first) * V else { throw TLLMError("", "model returned \(z.count) logits, expected \((nCtx - first) * V)") }
        z.withUnsafeBufferPointer { zp in
            for p in first..<(nCtx - 1) {
                let v = -logSoftmaxAt(zp.baseAddress! + (p - first) * V, V, Int(chunk[p + 1]))
                nll += v
                nll2 += v * v
            }
        }
        count += nCtx - 1 - first
        progress?(i + 1, nChunk, Foundation.exp(nll / Double(count)))
    }
    let mean = nll / Double(count)
    let ppl = Foundation.exp(mean)
    let variance = nll2 / Double(count) - mean * mean
    let se = variance > 0 && count > 1 ? (variance / Double(count - 1)).squareRoot() * ppl : 0
    return PerplexityResult(ppl: ppl, stderr: se, meanNLL: mean, chunks: nChunk, scored: count)
}

extension FloatModel {
    /// Perplexity of this model on `tokens` (see the file comment); `bos` defaults to the config's BOS id.
    public func perplexity(tokens: [Int32], context nCtx: Int, bos: Int32? = nil,
                           progress: PerplexityProgress? = nil) throws -> PerplexityResult
    {
        guard let b = bos ?? config.bosTokenId.map(Int32.init) else {
            throw TLLMError("", "the model has no BOS token id; perplexity chunks start with BOS")
        }
        try checkTokens(tokens)
        return try TLLMCore.perplexity(tokens: tokens, context: nCtx, bos: b, vocabSize: config.vocabSize, progress: progress) {
            try forward(tokens: $0, logitsFrom: $1)
        }
    }
}
