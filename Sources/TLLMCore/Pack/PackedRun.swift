// Generation, perplexity and the speed benchmark of a packed model: the same protocols as FloatModel
// (Generate.swift, Perplexity.swift, Bench.swift) over PackedModel's forward passes, so `tllm-gen` can run a
// .tpk exactly as it runs a float container.

import Foundation

extension PackedModel {
    /// Generates up to `maxTokens` after `prompt` (batched prefill, then one decode step per token).
    @discardableResult
    public func generate(prompt: [Int32], maxTokens: Int, sampler: Sampler, stopAtEOS: Bool = true,
                         onToken: ((Int32) -> Bool)? = nil) throws -> GenerationResult
    {
        guard !prompt.isEmpty else { throw TLLMError("", "empty prompt (it needs at least BOS)") }
        var sampler = sampler
        let cache = makeCache(capacity: prompt.count + max(0, maxTokens))
        let t0 = DispatchTime.now().uptimeNanoseconds
        var logits = try prefill(tokens: prompt, cache: cache)
        let t1 = DispatchTime.now().uptimeNanoseconds
        var history = prompt, out: [Int32] = [], eos = false
        while out.count < maxTokens {
            let t = sampler.sample(logits, history: history)
            out.append(t)
            history.append(t)
            if stopAtEOS, let e = config.eosTokenId, Int(t) == e { eos = true; break }
            if let onToken, !onToken(t) { break }
            if out.count == maxTokens { break }
            logits = try step(token: t, position: cache.count, cache: cache)
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        return GenerationResult(tokens: out, promptTokens: prompt.count, promptSeconds: Double(t1 - t0) / 1e9,
                                generationSeconds: Double(t2 - t1) / 1e9, stoppedAtEOS: eos)
    }

    /// Perplexity by llama.cpp's protocol (Perplexity.swift); `bos` defaults to the config's BOS id.
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

    /// Prompt processing (`promptTokens` at once) and generation (`genTokens` decode steps) in tokens/s, as
    /// FloatModel.benchmark: seeded random ids, one untimed warm-up run.
    public func benchmark(promptTokens: Int, genTokens: Int, repetitions: Int = 3, seed: UInt64 = 1) throws -> ForwardBenchResult {
        var rng = SeededRNG(seed: seed)
        let V = UInt64(config.vocabSize)
        func ids(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.next() % V) } }
        var pp: [Double] = [], tg: [Double] = []
        for rep in 0...max(1, repetitions) {
            if promptTokens > 0 {
                let toks = ids(promptTokens)
                let t0 = DispatchTime.now().uptimeNanoseconds
                _ = try forward(tokens: toks, logitsFrom: promptTokens - 1)
                if rep > 0 { pp.append(Double(promptTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) }
            }
            if genTokens > 0 {
                let cache = makeCache(capacity: genTokens + 1)
                let toks = ids(genTokens + 1)
                _ = try stepInPlace(token: toks[0], position: 0, cache: cache)
                let t0 = DispatchTime.now().uptimeNanoseconds
                for i in 1...genTokens { _ = try stepInPlace(token: toks[i], position: i, cache: cache) }
                if rep > 0 { tg.append(Double(genTokens) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)) }
            }
        }
        return ForwardBenchResult(promptTokens: promptTokens, generatedTokens: genTokens, promptRates: pp,
                                  generationRates: tg, weightBytesPerToken: weightBytesPerToken)
    }
}
