// PackedModel against the ternary container it was packed from, run as a float model (TernarySource →
// FloatModel: Ŵ = α·T + γ in f32): logits of the batched pass and of KV-cache decode steps agree to the int8
// activation error, for both layouts and every head/embedding format (q4 against the float model of the unpacked
// container, which holds the dequantized q4 weights); and on stories260K (ternarized by
// tllm-ternarize's DLT), the packed model's perplexity is within 0.5% of the ternary container's (issue 7).

import Foundation
import Testing
@testable import TLLMCore

@Suite("Pack: packed model")
struct PackedModelTests {
    /// Cosine similarity and max |Δ| relative to max |a| of two logit vectors.
    static func compare(_ a: [Float], _ b: [Float]) -> (cos: Double, rel: Double) {
        var ab = 0.0, aa = 0.0, bb = 0.0, d = 0.0, m = 0.0
        for i in 0..<a.count {
            ab += Double(a[i]) * Double(b[i]); aa += Double(a[i]) * Double(a[i]); bb += Double(b[i]) * Double(b[i])
            d = max(d, abs(Double(a[i] - b[i]))); m = max(m, abs(Double(a[i])))
        }
        return (ab / (aa * bb).squareRoot(), d / m)
    }

    @Test(arguments: [(PackedLayout.t2, PackedFloatFormat.f16, PackedFloatFormat.f16, false),
                      (.t1, .q8, .f16, false), (.t2, .f16, .q8, true), (.t1, .q8, .t2, false)])
    func matchesTernaryFloatModel(_ layout: PackedLayout, _ embed: PackedFloatFormat, _ head: PackedFloatFormat, _ tied: Bool) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = TinyModel.config(arch: tied ? "qwen2" : "llama", tied: tied)
        let src = dir.appendingPathComponent("m.t.tllm").path, out = dir.appendingPathComponent("m.tpk").path
        try writeSyntheticTernaryContainer(config: cfg, path: src, groupSize: 24, seed: 3, ternarizeHead: head == .t2)
        try packModel(input: src, output: out, options: PackOptions(layout: layout, embed: embed, head: head, quiet: true))
        let ref = try FloatModel(source: try TernarySource(path: src), threads: 1)
        let tokens: [Int32] = [1, 7, 30, 2, 47, 11, 5, 5, 19, 40, 3, 8]
        let want = try ref.forward(tokens: tokens)
        // every level, and a t1 file both as stored and re-packed as t2 at load (PackedModel.expandsT1)
        for level in KernelLevel.supported {
          for expand in layout == .t1 ? [false, true] : [false] {
            let m = try PackedModel(path: out, threads: 2, level: level, expandT1: expand)
            #expect(m.expandedT1 == expand)
            let got = try m.forward(tokens: tokens)
            let c = Self.compare(want, got)
            #expect(c.cos > 0.999 && c.rel < 0.05, "\(layout) \(embed)/\(head) \(level): batched cos \(c.cos), rel \(c.rel)")
            let cache = m.makeCache(capacity: 16)
            let V = cfg.vocabSize
            for (i, t) in tokens.enumerated() {
                let s = try m.step(token: t, position: i, cache: cache)
                let d = Self.compare(Array(want[(i * V)..<((i + 1) * V)]), s)
                #expect(d.cos > 0.999 && d.rel < 0.05, "\(layout) \(level) step \(i): cos \(d.cos), rel \(d.rel)")
            }
            let r = try m.perplexity(tokens: tokens + tokens, context: 8, bos: 1)
            let rr = try ref.perplexity(tokens: tokens + tokens, context: 8, bos: 1)
            #expect(abs(r.ppl / rr.ppl - 1) < 0.01)
          }
        }
    }

    /// A t1 matrix re-packed as t2 has the same codes, α and γ (groups of one and of several blocks, ragged, superblocks
    /// and a t2-coded tail), at every level (the AVX2 repacking covers blocks of 128, the scalar one the rest).
    @Test func t1ExpandsToTheSameT2Codes() throws {
        let pool = WorkerPool(threads: 2)
        for (i, s) in PackTestData.shapes.enumerated() {
            let w = PackTestData.weight(rows: s.rows, cols: s.cols, group: s.group, seed: UInt64(900 + i))
            let m = try PackTestData.matrix(w, .t1)
            for level in KernelLevel.supported {
                let e = m.expandedToT2(level: level, pool: pool)
                #expect(e.geometry == m.geometry.with(layout: .t2))
                for r in 0..<s.rows where e.codes(row: r) != m.codes(row: r) {
                    Issue.record("\(s) \(level): row \(r) codes differ after expansion")
                    break
                }
                #expect(e.alpha == m.alpha && e.gamma == m.gamma)
            }
        }
    }

    /// q4 embedding / head (4.5-bit weights, not within the int8 activation error of the ternary float model):
    /// against the float model of the container --unpack gives back, whose embedding and head are the dequantized
    /// q4 weights (tied only with the same format, since unpacking drops a separately stored tied head).
    @Test(arguments: [(PackedLayout.t2, PackedFloatFormat.q4, PackedFloatFormat.q4, false), (.t1, .f16, .q4, false),
                      (.t2, .q4, .q8, false), (.t1, .q4, .q4, true)])
    func q4MatchesUnpackedFloatModel(_ layout: PackedLayout, _ embed: PackedFloatFormat, _ head: PackedFloatFormat, _ tied: Bool) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = TinyModel.config(arch: tied ? "qwen2" : "llama", tied: tied)
        let src = dir.appendingPathComponent("m.t.tllm").path, out = dir.appendingPathComponent("m.tpk").path
        let back = dir.appendingPathComponent("b.t.tllm").path
        try writeSyntheticTernaryContainer(config: cfg, path: src, groupSize: 24, seed: 3)
        try packModel(input: src, output: out, options: PackOptions(layout: layout, embed: embed, head: head, quiet: true))
        try unpackModel(input: out, output: back, quiet: true)
        let ref = try FloatModel(source: try TernarySource(path: back), threads: 1)
        let tokens: [Int32] = [1, 7, 30, 2, 47, 11, 5, 5, 19, 40, 3, 8]
        let want = try ref.forward(tokens: tokens)
        for level in KernelLevel.supported {
            let m = try PackedModel(path: out, threads: 2, level: level)
            let c = Self.compare(want, try m.forward(tokens: tokens))
            #expect(c.cos > 0.999 && c.rel < 0.05, "\(layout) \(embed)/\(head) \(level): batched cos \(c.cos), rel \(c.rel)")
            let cache = m.makeCache(capacity: 16)
            let V = cfg.vocabSize
            for (i, t) in tokens.enumerated() {
                let d = Self.compare(Array(want[(i * V)..<((i + 1) * V)]), try m.step(token: t, position: i, cache: cache))
                #expect(d.cos > 0.999 && d.rel < 0.05, "\(layout) \(embed)/\(head) \(level) step \(i): cos \(d.cos), rel \(d.rel)")
            }
            let r = try m.perplexity(tokens: tokens + tokens, context: 8, bos: 1)
            let rr = try ref.perplexity(tokens: tokens + tokens, context: 8, bos: 1)
            #expect(abs(r.ppl / rr.ppl - 1) < 0.01)
        }
    }

    @Test func loadsByKind() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("m.t.tllm").path, out = dir.appendingPathComponent("m.tpk").path
        try writeSyntheticTernaryContainer(config: TinyModel.config(), path: src, groupSize: 24)
        try packModel(input: src, output: out, options: PackOptions(quiet: true))
        let p = try loadLanguageModel(out, threads: 1)
        #expect(p is PackedModel)
        #expect(p.parameterCount == (try FloatModel(source: try TernarySource(path: src), threads: 1)).parameterCount)
        let hf = try TinyModel.writeHF(TinyModel.config(), to: dir.appendingPathComponent("hf"))
        #expect(try loadLanguageModel(hf, threads: 1) is FloatModel)
    }

    @Test func skippedLayersStayFloat() throws {
        // A container from tllm-ternarize's own pipeline, with the down projections left in float.
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let hf = try TinyModel.writeHF(TinyModel.config(), to: dir.appendingPathComponent("hf"))
        let src = dir.appendingPathComponent("m.t.tllm").path, out = dir.appendingPathComponent("m.tpk").path
        var o = TernarizeOptions()
        o.groupSize = 16
        o.skip = ["mlp.down_proj"]
        o.threads = 1
        try ternarizeModel(input: hf, output: src, options: o)
        try packModel(input: src, output: out, options: PackOptions(layout: .t1, quiet: true))
        let m = try PackedModel(path: out, threads: 2)
        guard case .float(let w) = m.layers[0].down else { Issue.record("down_proj should be float"); return }
        #expect(w.dtype == .f16)
        guard case .ternary = m.layers[1].up else { Issue.record("up_proj should be packed"); return }
        let tokens: [Int32] = [1, 9, 4, 33, 2, 17]
        let c = Self.compare(try FloatModel(source: try TernarySource(path: src), threads: 1).forward(tokens: tokens),
                             try m.forward(tokens: tokens))
        #expect(c.cos > 0.999 && c.rel < 0.05, "cos \(c.cos), rel \(c.rel)")
    }

    @Test func refusesOtherKinds() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let src = dir.appendingPathComponent("m.t.tllm").path
        try writeSyntheticTernaryContainer(config: TinyModel.config(), path: src, groupSize: 24)
        #expect(throws: TLLMError.self) { try PackedModel(path: src) }
    }

    /// The tinystories calibration text tokenized with BOS by stories260K's tokenizer.
    static func calibIDs() throws -> [Int32] {
        let dir = SharedData.stories + "/hf"
        let tok = try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: dir + "/tokenizer.json"),
                                config: try JSON.parse(contentsOf: dir + "/tokenizer_config.json"), file: dir + "/tokenizer.json")
        return tok.encode(try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8))
    }

    /// stories260K ternarized once (DLT, G = 128) for the perplexity tests of both layouts.
    static let storiesTernary: Result<String, Error> = Result {
        let path = processTempDir.appendingPathComponent("stories.t.tllm").path
        var o = TernarizeOptions()
        o.threads = 2
        let t0 = Date()
        try ternarizeModel(input: SharedData.stories + "/hf", output: path, options: o)
        ForwardFixtures.note("stories260K ternarized in \(Date().timeIntervalSince(t0)) s")
        return path
    }

    @Test(.enabled(if: SharedData.available), arguments: PackedLayout.allCases)
    func storiesPerplexityWithinHalfPercent(_ layout: PackedLayout) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let tern = try Self.storiesTernary.get(), out = dir.appendingPathComponent("s.tpk").path
        try packModel(input: tern, output: out, options: PackOptions(layout: layout, quiet: true))
        #if DEBUG
        let chunks = 4  // unoptimized Swift: about 9 s per model and chunk count 4
        #else
        let chunks = 64  // swift test -c release --filter PackedModel
        #endif
        let ids = Array(try Self.calibIDs().prefix(256 * chunks))
        let tok = try loadTokenizer(forModel: out)  // carried through tllm-ternarize and tllm-pack
        #expect(Array(tok.encode(try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)).prefix(ids.count)) == ids)
        let t0 = Date()
        let ref = try FloatModel(source: try TernarySource(path: tern), threads: 2).perplexity(tokens: ids, context: 256)
        let t1 = Date()
        let got = try PackedModel(path: out, threads: 2).perplexity(tokens: ids, context: 256)
        ForwardFixtures.note("stories260K ternary ppl \(ref.ppl) (\(t1.timeIntervalSince(t0)) s), packed \(layout) \(got.ppl) "
                             + "(\(Date().timeIntervalSince(t1)) s, \(KernelLevel.best))")
        #expect(abs(got.ppl / ref.ppl - 1) < 0.005)
    }
}
