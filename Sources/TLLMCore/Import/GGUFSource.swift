// A GGUF model (architectures `llama` and `qwen2`) as a model source: config from `{arch}.*` metadata, tensors
// renamed to canonical names, F32/F16/BF16 kept as stored and every quantized type dequantized to f32, and for
// llama the q/k rows permuted back from GGUF's interleaved rotary layout to HF's rotate-half (DESIGN §3-4).
// An `output.weight` byte-identical to the embedding is a tied head. Tokenizer metadata is carried as JSON.

public final class GGUFSource: ModelSource {
    public let path: String
    public let formatName: String
    public let config: ModelConfig
    public let tensorInfos: [TensorInfo]
    public let files: [(name: String, bytes: [UInt8])]
    public let metadata: JSON
    public let gguf: GGUFFile
    private let order: [(info: GGUFTensorInfo, name: String)]
    private var cursor = 0

    /// Member names of the carried GGUF metadata (typed JSON, see GGUFValue): tokenizer.* keys, and the rest.
    public static let tokenizerMember = "source/gguf-tokenizer.json"
    public static let metadataMember = "source/gguf-metadata.json"

    /// Keys that describe the architecture; they are rebuilt from the config on export, so they are not carried.
    static func isStructural(_ key: String, arch: String) -> Bool {
        key.hasPrefix(arch + ".") || key == "general.architecture" || key == "general.alignment" || key == "general.file_type"
    }

    public init(path: String) throws {
        self.path = path
        let g = try GGUFFile(path: path)
        gguf = g
        guard let arch = g.value("general.architecture")?.string else { throw TLLMError(path, "no general.architecture in the metadata") }
        guard arch == "llama" || arch == "qwen2" else { throw TLLMError(path, "unsupported architecture \(arch) (llama and qwen2 are supported)") }
        func int(_ k: String) throws -> Int {
            guard let v = g.value("\(arch).\(k)")?.int else { throw TLLMError(path, "missing or non-integer metadata \(arch).\(k)") }
            return v
        }
        // f32 metadata read back as the decimal it was written from (1e-5, not 9.99999974e-06), as HF configs hold it.
        func dbl(_ k: String) -> Double? {
            guard let v = g.value("\(arch).\(k)") else { return nil }
            if case let .f32(f) = v { return Double("\(f)") }
            return v.double
        }

        // Tensors by canonical name.
        var byName: [String: GGUFTensorInfo] = [:]
        var types: [String: Int] = [:]
        for t in g.tensors {
            guard let c = TensorNames.canonical(gguf: t.name) else { throw TLLMError(path, "unexpected tensor \(t.name) for a \(arch) model") }
            guard t.type.traits.dequantize != nil else {
                throw TLLMError(path, "tensor \(t.name) has type \(t.type.traits.name), which tllm cannot dequantize")
            }
            byName[c] = t
            types[t.type.traits.name, default: 0] += 1
        }
        guard let embed = byName["model.embed_tokens.weight"] else { throw TLLMError(path, "missing tensor token_embd.weight") }
        // A head identical to the embedding (llama2.c exports, stories260K) is a tied head.
        var tied = byName["lm_head.weight"] == nil
        if let head = byName["lm_head.weight"], head.type == embed.type, head.ne == embed.ne,
           g.rawBytes(head).elementsEqual(g.rawBytes(embed))
        {
            tied = true
            byName["lm_head.weight"] = nil
        }

        let hidden = try int("embedding_length"), heads = try int("attention.head_count")
        let headDim = g.value("\(arch).attention.key_length")?.int ?? (heads > 0 ? hidden / heads : 0)
        if let rd = g.value("\(arch).rope.dimension_count")?.int, rd != headDim {
            throw TLLMError(path, "partial rotary embeddings (rope.dimension_count \(rd) < head dim \(headDim)) are not supported")
        }
        var scaling = RopeScaling.none
        if let type = g.value("\(arch).rope.scaling.type")?.string, type != "none" {
            guard type == "linear" else { throw TLLMError(path, "unsupported rope scaling type \(type)") }
            scaling = .linear(factor: dbl("rope.scaling.factor") ?? 1)
        }
        let vocab = g.value("\(arch).vocab_size")?.int ?? g.value("tokenizer.ggml.tokens")?.array?.count ?? embed.ne.last ?? 0
        let cfg = ModelConfig(
            architecture: arch, vocabSize: vocab, hiddenSize: hidden, intermediateSize: try int("feed_forward_length"),
            numLayers: try int("block_count"), numHeads: heads,
            numKVHeads: g.value("\(arch).attention.head_count_kv")?.int ?? heads, headDim: headDim,
            rmsNormEps: dbl("attention.layer_norm_rms_epsilon") ?? 1e-5, ropeTheta: dbl("rope.freq_base") ?? 10000,
            ropeScaling: scaling, maxPositions: g.value("\(arch).context_length")?.int ?? 2048,
            tieWordEmbeddings: tied, attentionBias: byName["model.layers.0.self_attn.q_proj.bias"] != nil,
            bosTokenId: g.value("tokenizer.ggml.bos_token_id")?.int, eosTokenId: g.value("tokenizer.ggml.eos_token_id")?.int)
        try cfg.validate(file: path)
        config = cfg

        var ord: [(GGUFTensorInfo, String)] = []
        for (name, shape) in TensorNames.expected(for: cfg) {
            guard let t = byName.removeValue(forKey: name) else {
                throw TLLMError(path, "missing tensor \(TensorNames.gguf(canonical: name) ?? name)")
            }
            guard t.shape == shape else {
                throw TLLMError(path, "tensor \(t.name) has shape \(t.shape), the metadata implies \(shape)")
            }
            ord.append((t, name))
        }
        if let freqs = byName.removeValue(forKey: "rope_freqs.weight") { ord.append((freqs, "rope_freqs.weight")) }
        if let extra = byName.values.map(\.name).sorted().first { throw TLLMError(path, "unexpected tensor \(extra)") }
        order = ord.map { (info: $0.0, name: $0.1) }
        tensorInfos = ord.map { TensorInfo(name: $0.1, dtype: $0.0.type.dtype ?? .f32, shape: $0.0.shape) }

        let tok = g.metadata.filter { $0.0.hasPrefix("tokenizer.") }
        let rest = g.metadata.filter { !$0.0.hasPrefix("tokenizer.") && !GGUFSource.isStructural($0.0, arch: arch) }
        files = [(GGUFSource.tokenizerMember, Array((GGUFValue.typedJSON(tok).text() + "\n").utf8)),
                 (GGUFSource.metadataMember, Array((GGUFValue.typedJSON(rest).text() + "\n").utf8))]
        formatName = "GGUF v\(g.version)"
        metadata = .object([
            ("source_format", .string(formatName)),
            ("source_types", .object(types.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })),
        ])
    }

    public func nextTensor() throws -> Tensor? {
        if cursor > 0 { gguf.file.release(gguf.rawBytes(order[cursor - 1].info)) }
        guard cursor < order.count else { return nil }
        let (info, name) = order[cursor]
        cursor += 1
        let t = try gguf.tensor(info, name: name)
        guard config.architecture == "llama" else { return t }  // qwen2 GGUFs keep HF's layout (NEOX rope)
        do {
            if name.hasSuffix("self_attn.q_proj.weight") || name.hasSuffix("self_attn.q_proj.bias") {
                return try RotaryPermutation.fromGGUF(t, heads: config.numHeads)
            }
            if name.hasSuffix("self_attn.k_proj.weight") || name.hasSuffix("self_attn.k_proj.bias") {
                return try RotaryPermutation.fromGGUF(t, heads: config.numKVHeads)
            }
        } catch let e as TLLMError { throw e.inFile(path) }
        return t
    }
}
