// A LLaMA-family float model ready to run (DESIGN §3, §6): the weights of any ModelSource (GGUF, HF directory,
// container), each linear weight kept in its storage dtype (f32/f16/bf16, optionally converted once at load),
// norms and biases as f32. Fields are named after the canonical tensors. The forward passes live beside it:
// Forward.swift (batched, sequence at a time), Decode.swift (one token with a KVCache). A model runs one pass at
// a time (its worker pool is shared by all of them); the batched pass sets OpenBLAS to one thread and splits the
// products over the pool itself.

import Foundation

/// One decoder block's weights (`model.layers.{i}.*`).
public struct FloatLayer: @unchecked Sendable {
    /// input_layernorm [C]
    public var inputNorm: [Float]
    /// q_proj [H·D × C], k_proj / v_proj [Hkv·D × C], o_proj [C × H·D]
    public var q: WeightMatrix, k: WeightMatrix, v: WeightMatrix, o: WeightMatrix
    /// q/k/v biases (Qwen2) [H·D], [Hkv·D], [Hkv·D]
    public var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
    /// post_attention_layernorm [C]
    public var postNorm: [Float]
    /// gate_proj / up_proj [F × C], down_proj [C × F]
    public var gate: WeightMatrix, up: WeightMatrix, down: WeightMatrix
}

public final class FloatModel: @unchecked Sendable {
    public let config: ModelConfig
    /// model.embed_tokens [V × C]
    public let embedding: WeightMatrix
    public let layers: [FloatLayer]
    /// model.norm [C]
    public let norm: [Float]
    /// lm_head [V × C], or the embedding when tied.
    public let head: WeightMatrix
    public let rope: RopeTable
    /// Threads used by the mat-vec pool and OpenBLAS.
    public let threads: Int
    let pool: WorkerPool

    /// Reads every tensor of `source`. `storage` converts the linear weights (and embedding/head) to that dtype
    /// once; nil keeps each as the source yields it.
    public convenience init(source: ModelSource, storage: DType? = nil, threads: Int = FloatModel.defaultThreads) throws {
        var tensors: [Tensor] = []
        while let t = try source.nextTensor() { tensors.append(t) }
        try self.init(config: source.config, tensors: tensors, storage: storage, threads: threads, file: source.path)
    }

    /// From canonical tensors (any order); `file` names the source in errors.
    public init(config c: ModelConfig, tensors: [Tensor], storage: DType? = nil, threads: Int = FloatModel.defaultThreads,
                file: String = "") throws
    {
        try c.validate(file: file)
        if let s = storage, !s.isFloat { throw TLLMError(file, "weight storage must be f32, f16 or bf16, not \(s.rawValue)") }
        var byName: [String: Tensor] = [:]
        for t in tensors { byName[t.name] = t }
        var freqFactors: [Float]?
        if let f = byName.removeValue(forKey: "rope_freqs.weight") {
            guard f.count == c.headDim / 2 else { throw TLLMError(file, "rope_freqs.weight has \(f.count) values, expected \(c.headDim / 2)") }
            freqFactors = f.floats()
        }
        for (name, shape) in TensorNames.expected(for: c) {
            guard let t = byName[name] else { throw TLLMError(file, "missing tensor \(name)") }
            guard t.shape == shape else { throw TLLMError(file, "tensor \(name) has shape \(t.shape), the config implies \(shape)") }
            guard t.dtype.isFloat else { throw TLLMError(file, "tensor \(name) has dtype \(t.dtype.rawValue), expected a float type") }
        }
        func matrix(_ n: String) throws -> WeightMatrix {
            let m = try WeightMatrix(byName[n]!)
            return try storage.map { try m.converted(to: $0) } ?? m
        }
        func vector(_ n: String) -> [Float] { byName[n]!.floats() }

        config = c
        embedding = try matrix("model.embed_tokens.weight")
        var ls: [FloatLayer] = []
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l)."
            ls.append(FloatLayer(
                inputNorm: vector(p + "input_layernorm.weight"),
                q: try matrix(p + "self_attn.q_proj.weight"), k: try matrix(p + "self_attn.k_proj.weight"),
                v: try matrix(p + "self_attn.v_proj.weight"), o: try matrix(p + "self_attn.o_proj.weight"),
                qBias: c.attentionBias ? vector(p + "self_attn.q_proj.bias") : nil,
                kBias: c.attentionBias ? vector(p + "self_attn.k_proj.bias") : nil,
                vBias: c.attentionBias ? vector(p + "self_attn.v_proj.bias") : nil,
                postNorm: vector(p + "post_attention_layernorm.weight"),
                gate: try matrix(p + "mlp.gate_proj.weight"), up: try matrix(p + "mlp.up_proj.weight"),
                down: try matrix(p + "mlp.down_proj.weight")))
        }
        layers = ls
        norm = vector("model.norm.weight")
        head = c.tieWordEmbeddings ? embedding : try matrix("lm_head.weight")
        rope = RopeTable(config: c, frequencyFactors: freqFactors)
        self.threads = max(1, threads)
        pool = WorkerPool(threads: self.threads)
    }

    public static var defaultThreads: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// Bytes of weights one decode step reads (all linear layers, the head, one embedding row, norms).
    public var weightBytesPerToken: Int {
        var b = head.byteCount + embedding.cols * embedding.dtype.size + norm.count * 4
        for l in layers {
            b += [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce(0) { $0 + $1.byteCount }
            b += (l.inputNorm.count + l.postNorm.count + (l.qBias?.count ?? 0) + (l.kBias?.count ?? 0) + (l.vBias?.count ?? 0)) * 4
        }
        return b
    }

    /// Parameter count (a tied head counted once).
    public var parameterCount: Int {
        var n = embedding.rows * embedding.cols + norm.count + (config.tieWordEmbeddings ? 0 : head.rows * head.cols)
        for l in layers {
            n += [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce(0) { $0 + $1.rows * $1.cols }
            n += l.inputNorm.count + l.postNorm.count + (l.qBias?.count ?? 0) + (l.kBias?.count ?? 0) + (l.vBias?.count ?? 0)
        }
        return n
    }

    func checkTokens(_ tokens: [Int32]) throws {
        for t in tokens where t < 0 || Int(t) >= config.vocabSize {
            throw TLLMError("", "token id \(t) is outside the vocabulary (size \(config.vocabSize))")
        }
    }
}
