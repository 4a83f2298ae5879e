// stories260K against ../shared/models/stories260K/golden: logits of the first 8 positions (an independent
// float64 forward, which agrees with llama.cpp to 6.7e-6) within 1e-4, through the batched pass and the KV-cache
// path, from the HF directory and the F32 GGUF; the greedy 64-token continuation of "Once upon a time".

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: stories260K golden", .enabled(if: SharedData.available))
struct ForwardStoriesTests {
    static let ids: [Int32] = [1, 403, 407, 261, 378, 432, 383, 286]

    static func golden() throws -> [Float] {
        let (shape, v) = try readNPY(SharedData.stories + "/golden/logits_first8.npy")
        #expect(shape == [8, 512])
        return v
    }

    static func hfModel(storage: DType? = nil, threads: Int = 2) throws -> FloatModel {
        try FloatModel(source: try openModel(SharedData.stories + "/hf"), storage: storage, threads: threads)
    }

    @Test func batchedLogitsHF() throws {
        let m = try Self.hfModel()
        let z = try m.forward(tokens: Self.ids)
        let d = maxAbsDiff(z, try Self.golden())
        ForwardFixtures.note("stories260K HF batched: max |Δ| = \(d)")
        #expect(d < 1e-4)
    }

    @Test func batchedLogitsGGUF() throws {
        let m = try FloatModel(source: try openModel(SharedData.stories + "/stories260K-F32.gguf"), threads: 2)
        #expect(m.config.tieWordEmbeddings)
        let z = try m.forward(tokens: Self.ids)
        let d = maxAbsDiff(z, try Self.golden())
        ForwardFixtures.note("stories260K GGUF batched: max |Δ| = \(d)")
        #expect(d < 1e-4)
    }

    @Test func incrementalLogits() throws {
        let g = try Self.golden()
        for threads in [1, 2] {
            let m = try Self.hfModel(threads: threads)
            let cache = m.makeCache()
            var z: [Float] = []
            for (p, t) in Self.ids.enumerated() { z += try m.step(token: t, position: p, cache: cache) }
            let d = maxAbsDiff(z, g)
            ForwardFixtures.note("stories260K KV-cache steps (\(threads) threads): max |Δ| = \(d)")
            #expect(d < 1e-4)
        }
    }

    /// Prefill of a prefix through the batched pass into the cache, then steps.
    @Test func prefillThenSteps() throws {
        let g = try Self.golden()
        let m = try Self.hfModel()
        let cache = m.makeCache(capacity: 16)
        let z5 = try m.forward(tokens: Array(Self.ids[0..<5]), cache: cache)
        var z = z5
        for p in 5..<8 { z += try m.step(token: Self.ids[p], position: p, cache: cache) }
        let d = maxAbsDiff(z, g)
        ForwardFixtures.note("stories260K prefill(5) + 3 steps: max |Δ| = \(d)")
        #expect(d < 1e-4)
        #expect(cache.count == 8)
    }

    @Test func greedyOnceUponATime() throws {
        let j = try JSON.parse(contentsOf: SharedData.stories + "/golden/greedy_once_upon_a_time.json")
        let prompt = ForwardFixtures.ints(j["prompt_ids"])
        let expected = ForwardFixtures.ints(j["greedy"]?["generated_ids"])
        #expect(prompt == [1, 403, 407, 261, 378] && expected.count == 64)
        let m = try Self.hfModel()
        // Steps only.
        let cache = m.makeCache()
        var logits: [Float] = []
        for (p, t) in prompt.enumerated() { logits = try m.step(token: t, position: p, cache: cache) }
        var out: [Int32] = []
        var sampler = Sampler.greedy
        for _ in 0..<64 {
            let t = sampler.sample(logits)
            out.append(t)
            logits = try m.step(token: t, position: cache.count, cache: cache)
        }
        #expect(out == expected)
        // Batched prefill, then `generate`.
        let gen = try m.generate(prompt: prompt, maxTokens: 64, sampler: Sampler.greedy, stopAtEOS: false)
        #expect(gen.tokens == expected)
    }
}
