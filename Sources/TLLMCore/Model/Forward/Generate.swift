// Text generation loop over token ids: batched prefill of the prompt into a KV cache (Forward.swift), then one
// decode step per new token (Decode.swift) with a Sampler; stops at EOS, at maxTokens, or when the handler says
// so. Times both phases for the tokens/s summary.

import Foundation

public struct GenerationResult: Sendable {
    /// The new tokens (the prompt not included; an EOS that stopped generation included).
    public var tokens: [Int32]
    public var promptTokens: Int
    public var promptSeconds: Double
    /// Time of the decode steps (the first sampled token comes from the prefill's logits).
    public var generationSeconds: Double
    public var stoppedAtEOS: Bool
}

extension FloatModel {
    /// Generates up to `maxTokens` after `prompt`. `onToken` sees each new token as it is sampled and may return
    /// false to stop. The repetition penalty looks at prompt and output together.
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
        var history = prompt
        var out: [Int32] = []
        var eos = false
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
}
