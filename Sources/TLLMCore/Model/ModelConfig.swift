// The architecture of a LLaMA-family decoder (DESIGN §3), as stored under "config" in every container's
// manifest. Filled from a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM)
// or from GGUF metadata (`llama.*`, `qwen2.*`); anything else is "unsupported architecture X".

public enum RopeScaling: Equatable, Sendable {
    case none
    case linear(factor: Double)
    /// LLaMA-3.1 frequency-dependent scaling.
    case llama3(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositions: Int)
}

public struct ModelConfig: Equatable, Sendable {
    /// "llama", "mistral" or "qwen2" (the family; all share one forward pass).
    public var architecture: String
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numLayers: Int
    public var numHeads: Int
    public var numKVHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RopeScaling
    public var maxPositions: Int
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry biases (Qwen2).
    public var attentionBias: Bool
    public var bosTokenId: Int?
    public var eosTokenId: Int?

    public static let supportedArchitectures = ["llama", "mistral", "qwen2"]

    public init(architecture: String, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numLayers: Int,
                numHeads: Int, numKVHeads: Int, headDim: Int? = nil, rmsNormEps: Double = 1e-5,
                ropeTheta: Double = 10000, ropeScaling: RopeScaling = .none, maxPositions: Int = 2048,
                tieWordEmbeddings: Bool = false, attentionBias: Bool = false, bosTokenId: Int? = 1, eosTokenId: Int? = 2)
    {
        self.architecture = architecture
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numLayers = numLayers
        self.numHeads = numHeads
        self.numKVHeads = numKVHeads
        self.headDim = headDim ?? (numHeads > 0 ? hiddenSize / numHeads : 0)
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maxPositions = maxPositions
        self.tieWordEmbeddings = tieWordEmbeddings
        self.attentionBias = attentionBias
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
    }

    /// Checks the numbers are usable (positive, heads divide evenly); `file` names the source in errors.
    public func validate(file: String) throws {
        func bad(_ m: String) -> TLLMError { TLLMError(file, "invalid model config: \(m)") }
        guard ModelConfig.supportedArchitectures.contains(architecture) else { throw TLLMError(file, "unsupported architecture \(architecture)") }
        let limit = 1 << 24
        for (n, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                       ("num_layers", numLayers), ("num_heads", numHeads), ("num_kv_heads", numKVHeads), ("head_dim", headDim)]
        where v <= 0 || v > limit {
            throw bad("\(n) = \(v)")
        }
        guard numLayers <= 4096 else { throw bad("num_layers = \(numLayers)") }
        guard numHeads % numKVHeads == 0 else { throw bad("num_heads \(numHeads) is not a multiple of num_kv_heads \(numKVHeads)") }
        guard headDim % 2 == 0 else { throw bad("head_dim \(headDim) is odd (RoPE rotates pairs)") }
        guard rmsNormEps > 0, rmsNormEps < 1 else { throw bad("rms_norm_eps = \(rmsNormEps)") }
        guard ropeTheta > 0 else { throw bad("rope_theta = \(ropeTheta)") }
    }

    public var qDim: Int { numHeads * headDim }
    public var kvDim: Int { numKVHeads * headDim }

    // MARK: our JSON form (manifest "config")

    public func toJSON() -> JSON {
        var scaling: JSON = .null
        switch ropeScaling {
        case .none: break
        case let .linear(f): scaling = .object([("type", "linear"), ("factor", .double(f))])
        case let .llama3(f, lo, hi, orig):
            scaling = .object([("type", "llama3"), ("factor", .double(f)), ("low_freq_factor", .double(lo)),
                               ("high_freq_factor", .double(hi)), ("original_max_position_embeddings", JSON(orig))])
        }
        return .object([
            ("architecture", .string(architecture)),
            ("vocab_size", JSON(vocabSize)),
            ("hidden_size", JSON(hiddenSize)),
            ("intermediate_size", JSON(intermediateSize)),
            ("num_layers", JSON(numLayers)),
            ("num_heads", JSON(numHeads)),
            ("num_kv_heads", JSON(numKVHeads)),
            ("head_dim", JSON(headDim)),
            ("rms_norm_eps", .double(rmsNormEps)),
            ("rope_theta", .double(ropeTheta)),
            ("rope_scaling", scaling),
            ("max_position_embeddings", JSON(maxPositions)),
            ("tie_word_embeddings", .bool(tieWordEmbeddings)),
            ("attention_bias", .bool(attentionBias)),
            ("bos_token_id", bosTokenId.map { JSON($0) } ?? .null),
            ("eos_token_id", eosTokenId.map { JSON($0) } ?? .null),
        ])
    }

    public init(json j: JSON, file: String) throws {
        func int(_ k: String) throws -> Int {
            guard let v = j[k]?.int else { throw TLLMError(file, "model config: missing or non-integer \(k)") }
            return v
        }
        func dbl(_ k: String) throws -> Double {
            guard let v = j[k]?.double else { throw TLLMError(file, "model config: missing or non-numeric \(k)") }
            return v
        }
        guard let arch = j["architecture"]?.string else { throw TLLMError(file, "model config: missing architecture") }
        var scaling = RopeScaling.none
        if let s = j["rope_scaling"], !s.isNull {
            scaling = try RopeScaling(json: s, file: file)
        }
        self.init(architecture: arch, vocabSize: try int("vocab_size"), hiddenSize: try int("hidden_size"),
                  intermediateSize: try int("intermediate_size"), numLayers: try int("num_layers"),
                  numHeads: try int("num_heads"), numKVHeads: try int("num_kv_heads"), headDim: try int("head_dim"),
                  rmsNormEps: try dbl("rms_norm_eps"), ropeTheta: try dbl("rope_theta"), ropeScaling: scaling,
                  maxPositions: try int("max_position_embeddings"),
                  tieWordEmbeddings: j["tie_word_embeddings"]?.bool ?? false,
                  attentionBias: j["attention_bias"]?.bool ?? false,
                  bosTokenId: j["bos_token_id"]?.int, eosTokenId: j["eos_token_id"]?.int)
        try validate(file: file)
    }
}

extension RopeScaling {
    /// From our form or HF's `rope_scaling` object (`type` or `rope_type`: linear / llama3; default / null = none).
    init(json s: JSON, file: String) throws {
        let type = s["type"]?.string ?? s["rope_type"]?.string ?? "default"
        let factor = s["factor"]?.double ?? 1
        switch type {
        case "default": self = .none
        case "linear": self = .linear(factor: factor)
        case "llama3":
            self = .llama3(factor: factor, lowFreqFactor: s["low_freq_factor"]?.double ?? 1,
                           highFreqFactor: s["high_freq_factor"]?.double ?? 4,
                           originalMaxPositions: s["original_max_position_embeddings"]?.int ?? 8192)
        default: throw TLLMError(file, "unsupported rope_scaling type \(type) (none, linear and llama3 are supported)")
        }
    }
}
