// Hugging Face config.json → ModelConfig for LlamaForCausalLM, MistralForCausalLM and Qwen2ForCausalLM
// (DESIGN §3), and back (for safetensors export). Defaults follow transformers' config classes: missing
// num_key_value_heads = num_attention_heads, rope_theta 10000 (Qwen2 1e6), Qwen2 always has q/k/v biases.

extension ModelConfig {
    static let hfArchitectures = ["LlamaForCausalLM": "llama", "MistralForCausalLM": "mistral", "Qwen2ForCausalLM": "qwen2"]

    public init(hfConfig j: JSON, file: String) throws {
        let archName = j["architectures"]?.array?.first?.string
        let modelType = j["model_type"]?.string
        var family: String?
        if let a = archName {
            guard let f = ModelConfig.hfArchitectures[a] else { throw TLLMError(file, "unsupported architecture \(a)") }
            family = f
        } else if let t = modelType {
            guard ModelConfig.supportedArchitectures.contains(t) else { throw TLLMError(file, "unsupported architecture \(t)") }
            family = t
        }
        guard let arch = family else { throw TLLMError(file, "config.json names no architecture (architectures or model_type)") }
        func int(_ k: String) throws -> Int {
            guard let v = j[k]?.int else { throw TLLMError(file, "config.json: missing or non-integer \(k)") }
            return v
        }
        func firstInt(_ k: String) -> Int? { j[k]?.int ?? j[k]?.array?.first?.int }
        let heads = try int("num_attention_heads")
        let hidden = try int("hidden_size")
        var scaling = RopeScaling.none
        if let s = j["rope_scaling"], !s.isNull { scaling = try RopeScaling(json: s, file: file) }
        let headDim = j["head_dim"]?.int ?? (heads > 0 ? hidden / heads : 0)
        self.init(architecture: arch, vocabSize: try int("vocab_size"), hiddenSize: hidden,
                  intermediateSize: try int("intermediate_size"), numLayers: try int("num_hidden_layers"),
                  numHeads: heads, numKVHeads: j["num_key_value_heads"]?.int ?? heads, headDim: headDim,
                  rmsNormEps: j["rms_norm_eps"]?.double ?? 1e-6,
                  ropeTheta: j["rope_theta"]?.double ?? (arch == "qwen2" ? 1_000_000 : 10000),
                  ropeScaling: scaling, maxPositions: j["max_position_embeddings"]?.int ?? 2048,
                  tieWordEmbeddings: j["tie_word_embeddings"]?.bool ?? false,
                  attentionBias: arch == "qwen2" ? true : (j["attention_bias"]?.bool ?? false),
                  bosTokenId: firstInt("bos_token_id"), eosTokenId: firstInt("eos_token_id"))
        try validate(file: file)
    }

    /// A config.json that transformers loads for this model.
    public func hfConfigJSON() -> JSON {
        let names = ["llama": ("LlamaForCausalLM", "llama"), "mistral": ("MistralForCausalLM", "mistral"),
                     "qwen2": ("Qwen2ForCausalLM", "qwen2")]
        let (cls, type) = names[architecture] ?? ("LlamaForCausalLM", "llama")
        var scaling: JSON = .null
        switch ropeScaling {
        case .none: break
        case let .linear(f): scaling = .object([("rope_type", "linear"), ("factor", .double(f))])
        case let .llama3(f, lo, hi, orig):
            scaling = .object([("rope_type", "llama3"), ("factor", .double(f)), ("low_freq_factor", .double(lo)),
                               ("high_freq_factor", .double(hi)), ("original_max_position_embeddings", JSON(orig))])
        }
        var kv: [(String, JSON)] = [
            ("architectures", [.string(cls)]),
            ("model_type", .string(type)),
            ("hidden_size", JSON(hiddenSize)),
            ("intermediate_size", JSON(intermediateSize)),
            ("num_hidden_layers", JSON(numLayers)),
            ("num_attention_heads", JSON(numHeads)),
            ("num_key_value_heads", JSON(numKVHeads)),
            ("head_dim", JSON(headDim)),
            ("vocab_size", JSON(vocabSize)),
            ("max_position_embeddings", JSON(maxPositions)),
            ("rms_norm_eps", .double(rmsNormEps)),
            ("rope_theta", .double(ropeTheta)),
            ("rope_scaling", scaling),
            ("hidden_act", "silu"),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("torch_dtype", "float32"),
        ]
        if architecture != "qwen2" { kv.append(("attention_bias", .bool(attentionBias))) }
        if let b = bosTokenId { kv.append(("bos_token_id", JSON(b))) }
        if let e = eosTokenId { kv.append(("eos_token_id", JSON(e))) }
        return .object(kv)
    }
}
