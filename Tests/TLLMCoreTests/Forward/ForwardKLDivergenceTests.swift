// klDivergence (Model/Forward/KLDivergence.swift) against a plain Double computation written here from the
// definition, on seeded random logits; a model against itself; and stories260K against its own weights rounded to
// f16 (where ../shared is present).

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: KL divergence")
struct ForwardKLDivergenceTests {
    /// Seeded logits for any chunk: a function of the chunk's tokens and the salt, so both calls see fixed values.
    static func logits(_ chunk: [Int32], _ from: Int, V: Int, salt: UInt64, scale: Float) -> [Float] {
        var rng = TestRNG(chunk.reduce(salt) { $0 &* 31 &+ UInt64(UInt32(bitPattern: $1)) })
        return rng.floats((chunk.count - from) * V, scale: scale)
    }

    static func close(_ a: PerplexityResult, _ b: PerplexityResult) -> Bool {
        a.chunks == b.chunks && a.scored == b.scored && abs(a.ppl / b.ppl - 1) < 1e-6 && abs(a.stderr / b.stderr - 1) < 1e-4
    }

    @Test func matchesTheDefinition() throws {
        let V = 37, nCtx = 12
        var rng = TestRNG(7)
        let tokens = (0..<(3 * nCtx + 5)).map { _ in Int32(rng.next() % UInt64(V)) }
        let base = { (c: [Int32], f: Int) in Self.logits(c, f, V: V, salt: 1, scale: 3) }
        let model = { (c: [Int32], f: Int) in Self.logits(c, f, V: V, salt: 2, scale: 2) }
        let r = try klDivergence(tokens: tokens, context: nCtx, bos: 1, vocabSize: V, base: base, model: model)
        // the reference: every chunk, every scored position, softmax and KL in Double
        var kls: [Double] = [], same = 0
        for i in 0..<(tokens.count / nCtx) {
            var chunk = Array(tokens[(i * nCtx)..<((i + 1) * nCtx)])
            chunk[0] = 1
            let zb = base(chunk, nCtx / 2), zm = model(chunk, nCtx / 2)
            for p in (nCtx / 2)..<(nCtx - 1) {
                let rb = (0..<V).map { Double(zb[(p - nCtx / 2) * V + $0]) }, rm = (0..<V).map { Double(zm[(p - nCtx / 2) * V + $0]) }
                let zB = rb.map(Foundation.exp).reduce(0, +), zM = rm.map(Foundation.exp).reduce(0, +)
                let pb = rb.map { Foundation.exp($0) / zB }, pm = rm.map { Foundation.exp($0) / zM }
                kls.append((0..<V).reduce(0.0) { $0 + pb[$1] * Foundation.log(pb[$1] / pm[$1]) })
                if pb.firstIndex(of: pb.max()!) == pm.firstIndex(of: pm.max()!) { same += 1 }
            }
        }
        let mean = kls.reduce(0, +) / Double(kls.count)
        #expect(r.scored == kls.count && r.scored == 3 * (nCtx - 1 - nCtx / 2))
        #expect(abs(r.meanKL - mean) < 1e-9 * max(1, mean))
        #expect(abs(r.maxKL - kls.max()!) < 1e-9 * max(1, kls.max()!))
        #expect(r.sameTop == Double(same) / Double(kls.count))
        #expect(r.medianKL > kls.min()! && r.medianKL < kls.max()! && r.p99KL <= r.maxKL && r.p99KL >= r.medianKL)
        #expect(mean > 0.1)  // two unrelated distributions: far apart, so the comparison above is not of zeros
        // both perplexities as perplexity() gives them on the same chunks (its log-softmax sums Float exponentials)
        let pb = try perplexity(tokens: tokens, context: nCtx, bos: 1, vocabSize: V, logits: base)
        let pm = try perplexity(tokens: tokens, context: nCtx, bos: 1, vocabSize: V, logits: model)
        #expect(Self.close(r.base, pb) && Self.close(r.model, pm))
    }

    @Test func aModelAgainstItselfIsZero() throws {
        let V = 19, nCtx = 8
        let tokens = (0..<20).map { Int32($0 % V) }
        let f = { (c: [Int32], from: Int) in Self.logits(c, from, V: V, salt: 5, scale: 4) }
        let r = try klDivergence(tokens: tokens, context: nCtx, bos: 1, vocabSize: V, base: f, model: f)
        #expect(r.meanKL == 0 && r.maxKL == 0 && r.sameTop == 1 && r.model == r.base)
    }

    @Test(.enabled(if: SharedData.available && ForwardFixtures.slowTestsEnabled))
    func storiesAgainstItsF16Rounding() throws {
        let dir = SharedData.stories + "/hf"
        let tok = try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: dir + "/tokenizer.json"),
                                config: try JSON.parse(contentsOf: dir + "/tokenizer_config.json"), file: dir + "/tokenizer.json")
        let text = try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)
        let ids = Array(tok.encode(text).prefix(4096))
        let f32: LanguageModel = try FloatModel(source: try openModel(dir), threads: 2)
        let f16: LanguageModel = try FloatModel(source: try openModel(dir), storage: .f16, threads: 2)
        let r = try f16.klDivergence(from: f32, tokens: ids, context: 256, bos: 1)
        ForwardFixtures.note("stories260K f16 vs f32: mean KLD \(r.meanKL), same top \(r.sameTop), PPL \(r.model.ppl) vs \(r.base.ppl)")
        #expect(r.meanKL > 0 && r.meanKL < 1e-3)
        #expect(r.sameTop > 0.97)
        #expect(abs(r.model.ppl / r.base.ppl - 1) < 2e-3)
        #expect(Self.close(r.base, try f32.perplexity(tokens: ids, context: 256, bos: 1, progress: nil)))
    }
}
