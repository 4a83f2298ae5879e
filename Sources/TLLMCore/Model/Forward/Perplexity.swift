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
    let chunking = try PerplexityChunking(tokens: tokens, context: nCtx, bos: bos)
    var stats = NLLStats()
    for i in 0..<chunking.count {
        let chunk = chunking.chunk(i)
        let z = try chunking.logits(of: chunk, vocabSize: V, logits)
        z.withUnsafeBufferPointer { zp in
            for p in chunking.first..<(nCtx - 1) {
                stats.add(-logSoftmaxAt(zp.baseAddress! + (p - chunking.first) * V, V, Int(chunk[p + 1])))
            }
        }
        progress?(i + 1, chunking.count, stats.ppl)
    }
    return stats.result(chunks: chunking.count)
}

/// llama.cpp's chunks of a token sequence: ⌊n / n_ctx⌋ chunks, each starting with BOS, positions first..<n_ctx − 1
/// scored.
struct PerplexityChunking {
    let tokens: [Int32], nCtx: Int, bos: Int32
    let count: Int, first: Int

    init(tokens: [Int32], context nCtx: Int, bos: Int32) throws {
        guard nCtx >= 4 else { throw TLLMError("", "perplexity context \(nCtx) is too small (at least 4)") }
        guard tokens.count / nCtx >= 1 else {
            throw TLLMError("", "\(tokens.count) tokens are fewer than one context of \(nCtx); perplexity needs at least \(nCtx)")
        }
        (self.tokens, self.nCtx, self.bos, count, first) = (tokens, nCtx, bos, tokens.count / nCtx, nCtx / 2)
    }

    func chunk(_ i: Int) -> [Int32] {
        var c = Array(tokens[(i * nCtx)..<((i + 1) * nCtx)])
        c[0] = bos
        return c
    }

    /// The logits of the scored rows, their count checked.
    func logits(of chunk: [Int32], vocabSize V: Int, _ model: (_ chunk: [Int32], _ logitsFrom: Int) throws -> [Float]) throws -> [Float] {
        let z = try model(chunk, first)
        guard z.count == (nCtx - first) * V else { throw TLLMError("", "model returned \(z.count) logits, expected \((nCtx - first) * V)") }
        return z
    }
}

/// Running mean and spread of per-token negative log-likelihoods.
struct NLLStats {
    private(set) var sum = 0.0, sum2 = 0.0, count = 0

    mutating func add(_ v: Double) { sum += v; sum2 += v * v; count += 1 }

    var ppl: Double { Foundation.exp(sum / Double(max(count, 1))) }

    func result(chunks: Int) -> PerplexityResult {
        let mean = sum / Double(count), ppl = Foundation.exp(mean)
        let variance = sum2 / Double(count) - mean * mean
        let se = variance > 0 && count > 1 ? (variance / Double(count - 1)).squareRoot() * ppl : 0
        return PerplexityResult(ppl: ppl, stderr: se, meanNLL: mean, chunks: chunks, scored: count)
    }
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
