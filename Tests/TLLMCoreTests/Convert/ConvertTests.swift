import Foundation
import Testing
@testable import TLLMCore

/// Reads every tensor of a source into a name → tensor map.
func drain(_ s: ModelSource) throws -> [String: Tensor] {
    var out: [String: Tensor] = [:]
    while let t = try s.nextTensor() { out[t.name] = Tensor(name: t.name, dtype: t.dtype, shape: t.shape, storage: TensorStorage(copying: t.bytes)) }
    return out
}

func sameBytes(_ a: Tensor, _ b: Tensor) -> Bool {
    a.dtype == b.dtype && a.shape == b.shape && a.bytes.elementsEqual(b.bytes)
}

@Suite struct ConvertTests {
    // MARK: real model (../shared)

    @Test(.enabled(if: SharedData.available)) func ggufAndHFImportsOfStories260KAreIdentical() throws {
        let g = try GGUFSource(path: SharedData.stories + "/stories260K-F32.gguf")
        let h = try HFSource(path: SharedData.stories + "/hf")
        #expect(g.config == h.config)
        #expect(g.tensorInfos == h.tensorInfos)
        let gt = try drain(g), ht = try drain(h)
        #expect(gt.count == 47)  // the GGUF's output.weight copies the embedding: a tied head
        for (name, t) in ht {
            #expect(gt[name].map { sameBytes($0, t) } == true, "tensor \(name) differs")
        }
    }

    @Test(.enabled(if: SharedData.available)) func ggufToContainerToGGUFIsBitIdentical() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let orig = SharedData.stories + "/stories260K-F32.gguf"
        let c = dir.appendingPathComponent("m.tllm").path, back = dir.appendingPathComponent("m.gguf").path
        _ = try convertModel(input: orig, output: c, dtype: nil, quiet: true)
        _ = try convertModel(input: c, output: back, dtype: nil, quiet: true)
        let a = try GGUFFile(path: orig), b = try GGUFFile(path: back)
        // stories260K's GGUF stores output.weight as a copy of the embedding: imported as a tied head, not written back.
        #expect(Set(a.tensors.map(\.name)).subtracting(b.tensors.map(\.name)) == ["output.weight"])
        for t in b.tensors {
            let o = try #require(a.info(t.name))
            #expect(o.type == t.type && o.ne == t.ne)
            #expect(a.rawBytes(o).elementsEqual(b.rawBytes(t)), "tensor \(t.name) differs")
        }
        for (k, v) in a.metadata where k.hasPrefix("tokenizer.") || k.hasPrefix("llama.") || k == "general.architecture" {
            #expect(b.value(k) == v, "metadata \(k) differs")
        }
    }

    @Test(.enabled(if: SharedData.available)) func hfToContainerToSafetensorsIsBitIdentical() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = dir.appendingPathComponent("m.tllm.zst").path, back = dir.appendingPathComponent("hf").path + "/"
        _ = try convertModel(input: SharedData.stories + "/hf", output: c, dtype: nil, quiet: true)
        _ = try convertModel(input: c, output: back, dtype: nil, quiet: true)
        let a = try SafetensorsFile(path: SharedData.stories + "/hf/model.safetensors")
        let b = try SafetensorsFile(path: back + "model.safetensors")
        #expect(Set(a.entries.map(\.name)) == Set(b.entries.map(\.name)))
        for e in a.entries { #expect(sameBytes(a.tensor(e), try b.tensor(named: e.name)), "tensor \(e.name) differs") }
        // The directory written back imports to the same model, tokenizer files carried untouched.
        let h = try HFSource(path: back)
        #expect(h.config == (try HFSource(path: SharedData.stories + "/hf")).config)
        let tj = try #require(FileManager.default.contents(atPath: back + "tokenizer.json"))
        #expect(tj == FileManager.default.contents(atPath: SharedData.stories + "/hf/tokenizer.json"))
    }

    @Test(.enabled(if: SharedData.available)) func hfExportToGGUFCarriesATokenizerLlamaCppReads() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("m.gguf").path
        _ = try convertModel(input: SharedData.stories + "/hf", output: out, dtype: .f16, quiet: true)
        let a = try GGUFFile(path: SharedData.stories + "/stories260K-F32.gguf"), b = try GGUFFile(path: out)
        // Same vocabulary, scores and token types as llama.cpp's own conversion of this model.
        for k in ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
                  "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"] {
            #expect(b.value(k) == a.value(k), "\(k) differs")
        }
        #expect(b.info("blk.0.attn_q.weight")?.type == .F16)
        #expect(b.info("blk.0.attn_norm.weight")?.type == .F32)
        // The permuted-back q rows equal the GGUF's own after f16 rounding.
        let q16 = try b.tensor(b.info("blk.2.attn_q.weight")!).floats()
        let q32 = try a.tensor(a.info("blk.2.attn_q.weight")!).floats()
        #expect(zip(q16, q32).allSatisfy { Float(Float16($1)) == $0 })
    }

    @Test(.enabled(if: SharedData.available)) func quantizedGGUFsImport() throws {
        let zoo = try FileManager.default.contentsOfDirectory(atPath: SharedData.zoo).filter { $0.hasSuffix(".gguf") }.sorted()
        #expect(zoo.count >= 15)
        for f in zoo {
            let s = try GGUFSource(path: SharedData.zoo + "/" + f)
            let ts = try drain(s)
            #expect(ts.count == s.tensorInfos.count)
            #expect(s.config.tieWordEmbeddings)
        }
    }

    // MARK: seeded tiny models (no ../shared needed)

    @Test(arguments: [("llama", false, DType.f32), ("llama", true, DType.f16), ("qwen2", false, DType.bf16), ("mistral", true, DType.f32)])
    func tinyModelRoundTripsThroughEveryFormat(arch: String, tied: Bool, dtype: DType) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = TinyModel.config(arch: arch, tied: tied)
        let hf = try TinyModel.writeHF(cfg, to: dir.appendingPathComponent("hf"), seed: 3, dtype: dtype)
        let original = try drain(try HFSource(path: hf))
        // HF → container → GGUF → container → HF directory: all tensors bit-identical (dtype kept).
        let c1 = dir.appendingPathComponent("a.tllm").path, g = dir.appendingPathComponent("a.gguf").path
        let c2 = dir.appendingPathComponent("b.tllm.gz").path, back = dir.appendingPathComponent("back").path + "/"
        _ = try convertModel(input: hf, output: c1, dtype: nil, quiet: true)
        _ = try convertModel(input: c1, output: g, dtype: dtype, quiet: true)
        _ = try convertModel(input: g, output: c2, dtype: nil, quiet: true)
        _ = try convertModel(input: c2, output: back, dtype: dtype, quiet: true)
        let src = try HFSource(path: back)
        var expectCfg = cfg
        if arch == "mistral" { expectCfg.architecture = "llama" }  // GGUF has no separate mistral architecture
        #expect(src.config == expectCfg)
        let final = try drain(src)
        #expect(final.count == original.count)
        for (n, t) in original { #expect(final[n].map { sameBytes($0, t) } == true, "tensor \(n) differs") }
    }

    @Test func rotaryPermutationInvertsAndMatchesLlamaCpp() throws {
        // llama.cpp's permute for 2 heads of 4 rows: HF rows [0,1,2,3 | 4,5,6,7] → GGUF [0,2,1,3 | 4,6,5,7].
        let t = Tensor(name: "q", shape: [8, 1], floats: (0..<8).map(Float.init))
        let g = try RotaryPermutation.toGGUF(t, heads: 2)
        #expect(g.floats() == [0, 2, 1, 3, 4, 6, 5, 7])
        #expect(try RotaryPermutation.fromGGUF(g, heads: 2).floats() == t.floats())
    }

    @Test func unsupportedArchitectureIsNamed() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var j = TinyModel.config().hfConfigJSON()
        j.set("architectures", ["GPTNeoXForCausalLM"])
        try Data(j.text().utf8).write(to: dir.appendingPathComponent("config.json"))
        do {
            _ = try HFSource(path: dir.path)
            Issue.record("accepted an unsupported architecture")
        } catch let e as TLLMError {
            #expect(e.description.contains("unsupported architecture GPTNeoXForCausalLM"))
        }
    }

    @Test func shardedDirectoryImports() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cfg = TinyModel.config()
        let ts = TinyModel.tensors(cfg, seed: 9)
        // Two shards split in the middle, and the index mapping names to shards.
        var map: [(String, JSON)] = []
        for (k, part) in [Array(ts[..<10]), Array(ts[10...])].enumerated() {
            let name = "model-0000\(k + 1)-of-00002.safetensors"
            let out = try AtomicOutput(path: dir.appendingPathComponent(name).path)
            let w = try SafetensorsWriter(output: out, tensors: part.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape) })
            for t in part { try w.write(t); map.append((t.name, .string(name))) }
            try w.finish()
            try out.commit()
        }
        try Data(JSON.object([("metadata", .object([])), ("weight_map", .object(map))]).text().utf8)
            .write(to: dir.appendingPathComponent("model.safetensors.index.json"))
        try Data(cfg.hfConfigJSON().text().utf8).write(to: dir.appendingPathComponent("config.json"))
        let s = try HFSource(path: dir.path)
        #expect(s.formatName == "safetensors (2 shards)")
        let got = try drain(s)
        for t in ts { #expect(got[t.name].map { sameBytes($0, t) } == true) }
    }
}
