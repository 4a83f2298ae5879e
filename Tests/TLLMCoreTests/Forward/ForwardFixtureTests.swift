// The seeded random tiny models of scripts/reference/forward_ref.py (committed under Fixtures/forward) against
// that independent numpy float64 reference: Qwen2 biases, llama3 RoPE scaling, untied head, GQA ratio 4
// ("qwen2-llama3"); linear RoPE scaling, tied head, GQA ratio 2 ("llama-linear-tied"). Logits batched and
// incremental within 1e-4, perplexity (llama.cpp protocol) against the reference's, f16/bf16 storage.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: numpy reference fixtures")
struct ForwardFixtureTests {
    static func model(_ name: String, storage: DType? = nil, threads: Int = 2) throws -> FloatModel {
        try FloatModel(source: try openModel(ForwardFixtures.path(name)), storage: storage, threads: threads)
    }

    static func reference(_ name: String) throws -> (ids: [Int32], logits: [Float]) {
        let g = ForwardFixtures.golden["models"]![name]!
        let (shape, z) = try readNPY(ForwardFixtures.path(g["logits_file"]!.string!))
        let ids = ForwardFixtures.ints(g["logits_ids"])
        #expect(shape == [ids.count, 64])
        return (ids, z)
    }

    @Test(arguments: ForwardFixtures.modelNames)
    func configCoversTheCase(_ name: String) throws {
        let c = try Self.model(name).config
        if name == "qwen2-llama3" {
            #expect(c.attentionBias && !c.tieWordEmbeddings && c.numHeads / c.numKVHeads == 4 && c.qDim != c.hiddenSize)
            guard case .llama3 = c.ropeScaling else { Issue.record("expected llama3 scaling"); return }
            // The fixture's frequencies fall in all three llama3 bands (high: unchanged, medium: smoothed, low: /factor).
            let plain = RopeTable.frequencies(headDim: c.headDim, theta: c.ropeTheta, scaling: .none)
            let scaled = RopeTable.frequencies(headDim: c.headDim, theta: c.ropeTheta, scaling: c.ropeScaling)
            let ratios = zip(plain, scaled).map { $0 / $1 }
            #expect(ratios.contains { abs($0 - 1) < 1e-12 } && ratios.contains { abs($0 - 8) < 1e-9 }
                && ratios.contains { $0 > 1.01 && $0 < 7.99 })
        } else {
            #expect(!c.attentionBias && c.tieWordEmbeddings && c.ropeScaling == .linear(factor: 2))
        }
    }

    @Test(arguments: ForwardFixtures.modelNames)
    func batchedLogits(_ name: String) throws {
        let (ids, ref) = try Self.reference(name)
        let z = try Self.model(name).forward(tokens: ids)
        let d = maxAbsDiff(z, ref)
        ForwardFixtures.note("\(name) batched: max |Δ| = \(d)")
        #expect(d < 1e-4)
    }

    @Test(arguments: ForwardFixtures.modelNames, [1, 2])
    func incrementalLogits(_ name: String, threads: Int) throws {
        let (ids, ref) = try Self.reference(name)
        let m = try Self.model(name, threads: threads)
        let cache = m.makeCache(capacity: ids.count)
        var z: [Float] = []
        for (p, t) in ids.enumerated() { z += try m.step(token: t, position: p, cache: cache) }
        let d = maxAbsDiff(z, ref)
        ForwardFixtures.note("\(name) KV-cache steps (\(threads) threads): max |Δ| = \(d)")
        #expect(d < 1e-4)
    }

    /// Prefill in two batched pieces, then steps, then a rewind to position 10 and the same steps again.
    @Test(arguments: ForwardFixtures.modelNames)
    func mixedPrefillAndRewind(_ name: String) throws {
        let (ids, ref) = try Self.reference(name)
        let V = 64
        let m = try Self.model(name)
        let cache = m.makeCache(capacity: ids.count)
        var z = try m.forward(tokens: Array(ids[0..<7]), cache: cache)
        z += try m.forward(tokens: Array(ids[7..<15]), cache: cache)
        for p in 15..<ids.count { z += try m.step(token: ids[p], position: p, cache: cache) }
        #expect(maxAbsDiff(z, ref) < 1e-4)
        var again: [Float] = []
        for p in 10..<ids.count { again += try m.step(token: ids[p], position: p, cache: cache) }
        #expect(maxAbsDiff(again, Array(ref[(10 * V)...])) < 1e-4)
    }

    @Test(arguments: ForwardFixtures.modelNames)
    func perplexityMatchesReference(_ name: String) throws {
        let g = ForwardFixtures.golden["models"]![name]!
        let ids = ForwardFixtures.ints(g["perplexity_ids"])
        let m = try Self.model(name)
        for ctx in [16, 32] {
            let r = g["perplexity"]![String(ctx)]!
            var progress: [Int] = []
            let p = try m.perplexity(tokens: ids, context: ctx) { done, total, _ in progress.append(done); #expect(total == r["chunks"]!.int!) }
            let relPPL = abs(p.ppl / r["ppl"]!.double! - 1), relSE = abs(p.stderr / r["stderr"]!.double! - 1)
            ForwardFixtures.note("\(name) ctx \(ctx): ppl \(p.ppl) (rel Δ \(relPPL)), ± \(p.stderr) (rel Δ \(relSE))")
            #expect(relPPL < 1e-5)
            #expect(relSE < 1e-4)
            #expect(p.chunks == r["chunks"]!.int! && p.scored == r["scored"]!.int!)
            #expect(progress == Array(1...p.chunks))
        }
    }

    /// The same model stored as f16 / bf16 (converted at load): the result matches the f32 model run on the
    /// rounded weights, and stays near the f32 logits.
    @Test(arguments: ForwardFixtures.modelNames, [DType.f16, .bf16])
    func halfStorage(_ name: String, dtype: DType) throws {
        let (ids, ref) = try Self.reference(name)
        let half = try Self.model(name, storage: dtype)
        // The f32 model on the same rounded values: matrices converted to `dtype` and back (norms and biases
        // stay f32 in both).
        let src = try openModel(ForwardFixtures.path(name))
        var ts: [Tensor] = []
        while let t = try src.nextTensor() { ts.append(t.shape.count == 2 ? t.converted(to: dtype).converted(to: .f32) : t) }
        let rounded = try FloatModel(config: src.config, tensors: ts)
        let zHalf = try half.forward(tokens: ids), zRounded = try rounded.forward(tokens: ids)
        #expect(maxAbsDiff(zHalf, zRounded) < 1e-4)
        let cache = half.makeCache(capacity: ids.count)
        var zStep: [Float] = []
        for (p, t) in ids.enumerated() { zStep += try half.step(token: t, position: p, cache: cache) }
        #expect(maxAbsDiff(zStep, zRounded) < 1e-4)
        // Rounding moves the logits, but not far (bf16 keeps 8 bits of mantissa).
        #expect(maxRelDiff(zHalf, ref) < (dtype == .f16 ? 0.02 : 0.1))
    }

    @Test func errors() throws {
        let m = try Self.model("qwen2-llama3")
        #expect(throws: TLLMError.self) { try m.forward(tokens: [1, 64]) }
        #expect(throws: TLLMError.self) { try m.forward(tokens: [-1]) }
        let cache = m.makeCache(capacity: 4)
        #expect(throws: TLLMError.self) { try m.step(token: 1, position: 1, cache: cache) }  // skips position 0
        #expect(throws: TLLMError.self) { try m.forward(tokens: [1, 2, 3, 4, 5], cache: cache) }  // over capacity
        #expect(throws: TLLMError.self) { try m.perplexity(tokens: [1, 2, 3], context: 16) }  // less than one chunk
        // A tensor with the wrong shape names the tensor.
        let src = try openModel(ForwardFixtures.path("qwen2-llama3"))
        var ts: [Tensor] = []
        while let t = try src.nextTensor() { ts.append(t) }
        ts[1] = Tensor(name: ts[1].name, shape: [3], floats: [1, 2, 3])
        #expect(throws: TLLMError.self) { try FloatModel(config: src.config, tensors: ts) }
        #expect(throws: TLLMError.self) { try FloatModel(config: src.config, tensors: Array(ts.dropLast())) }
    }

    /// Block outputs: as many as layers, [T × C] each, and the last one feeds the logits.
    @Test func blockOutputs() throws {
        let (ids, _) = try Self.reference("qwen2-llama3")
        let m = try Self.model("qwen2-llama3")
        var seen: [Int] = []
        var last: [Float] = []
        _ = try m.forward(tokens: ids) { l, h in
            seen.append(l)
            #expect(h.count == ids.count * m.config.hiddenSize)
            last = Array(h)
        }
        #expect(seen == Array(0..<m.config.numLayers))
        // logits = head(norm(last)) for the final row.
        let C = m.config.hiddenSize, V = m.config.vocabSize
        let row = Array(last[((ids.count - 1) * C)...])
        var normed = [Float](repeating: 0, count: C)
        rmsnormForward(&normed, nil, row, m.norm, 1, C, eps: Float(m.config.rmsNormEps))
        var z = [Float](repeating: 0, count: V)
        matvecReference(m.head, normed, &z)
        let full = try m.forward(tokens: ids, logitsFrom: ids.count - 1)
        #expect(maxAbsDiff(z, full) < 1e-4)
    }
}
