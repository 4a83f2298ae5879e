// The one table between GGUF tensor names and our canonical (Hugging Face) names (DESIGN §3), e.g.
// `blk.3.attn_q.weight` ↔ `model.layers.3.self_attn.q_proj.weight`. Both directions are derived from the same
// rows so they cannot drift apart.

public enum TensorNames {
    /// Per-block rows: (GGUF suffix after `blk.N.`, HF suffix after `model.layers.N.`).
    static let blockRows: [(gguf: String, hf: String)] = [
        ("attn_norm.weight", "input_layernorm.weight"),
        ("attn_q.weight", "self_attn.q_proj.weight"),
        ("attn_q.bias", "self_attn.q_proj.bias"),
        ("attn_k.weight", "self_attn.k_proj.weight"),
        ("attn_k.bias", "self_attn.k_proj.bias"),
        ("attn_v.weight", "self_attn.v_proj.weight"),
        ("attn_v.bias", "self_attn.v_proj.bias"),
        ("attn_output.weight", "self_attn.o_proj.weight"),
        ("ffn_norm.weight", "post_attention_layernorm.weight"),
        ("ffn_gate.weight", "mlp.gate_proj.weight"),
        ("ffn_up.weight", "mlp.up_proj.weight"),
        ("ffn_down.weight", "mlp.down_proj.weight"),
    ]

    /// Whole-model rows.
    static let globalRows: [(gguf: String, hf: String)] = [
        ("token_embd.weight", "model.embed_tokens.weight"),
        ("output_norm.weight", "model.norm.weight"),
        ("output.weight", "lm_head.weight"),
        ("rope_freqs.weight", "rope_freqs.weight"),
    ]

    /// Canonical name of a GGUF tensor, or nil when it is not part of a LLaMA-family model.
    public static func canonical(gguf name: String) -> String? {
        if let r = globalRows.first(where: { $0.gguf == name }) { return r.hf }
        guard name.hasPrefix("blk.") else { return nil }
        let rest = name.dropFirst(4)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let r = blockRows.first(where: { $0.gguf == suffix }) else { return nil }
        return "model.layers.\(layer).\(r.hf)"
    }

    /// GGUF name of a canonical tensor, or nil.
    public static func gguf(canonical name: String) -> String? {
        if let r = globalRows.first(where: { $0.hf == name }) { return r.gguf }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0 else { return nil }
        let suffix = String(rest[rest.index(after: dot)...])
        guard let r = blockRows.first(where: { $0.hf == suffix }) else { return nil }
        return "blk.\(layer).\(r.gguf)"
    }

    /// Block index of a canonical per-layer name.
    public static func layer(of name: String) -> Int? {
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        return Int(rest[..<dot])
    }

    /// Every canonical tensor a model with this config has, in the order we write them
    /// (embedding, blocks in order, final norm, head).
    public static func expected(for c: ModelConfig) -> [(name: String, shape: [Int])] {
        var out: [(String, [Int])] = [("model.embed_tokens.weight", [c.vocabSize, c.hiddenSize])]
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l)."
            out.append((p + "input_layernorm.weight", [c.hiddenSize]))
            out.append((p + "self_attn.q_proj.weight", [c.qDim, c.hiddenSize]))
            if c.attentionBias { out.append((p + "self_attn.q_proj.bias", [c.qDim])) }
            out.append((p + "self_attn.k_proj.weight", [c.kvDim, c.hiddenSize]))
            if c.attentionBias { out.append((p + "self_attn.k_proj.bias", [c.kvDim])) }
            out.append((p + "self_attn.v_proj.weight", [c.kvDim, c.hiddenSize]))
            if c.attentionBias { out.append((p + "self_attn.v_proj.bias", [c.kvDim])) }
            out.append((p + "self_attn.o_proj.weight", [c.hiddenSize, c.qDim]))
            out.append((p + "post_attention_layernorm.weight", [c.hiddenSize]))
            out.append((p + "mlp.gate_proj.weight", [c.intermediateSize, c.hiddenSize]))
            out.append((p + "mlp.up_proj.weight", [c.intermediateSize, c.hiddenSize]))
            out.append((p + "mlp.down_proj.weight", [c.hiddenSize, c.intermediateSize]))
        }
        out.append(("model.norm.weight", [c.hiddenSize]))
        if !c.tieWordEmbeddings { out.append(("lm_head.weight", [c.vocabSize, c.hiddenSize])) }
        return out
    }

    /// Sort key putting canonical names in `expected` order (unknown names last, by name).
    public static func orderKey(_ name: String) -> (Int, Int, String) {
        if name == "model.embed_tokens.weight" { return (0, 0, name) }
        if let l = layer(of: name) {
            let suffix = name.split(separator: ".", maxSplits: 3).last.map(String.init) ?? ""
            let idx = blockRows.firstIndex(where: { $0.hf == suffix }) ?? blockRows.count
            return (1, l * 64 + idx, name)
        }
        if name == "model.norm.weight" { return (2, 0, name) }
        if name == "lm_head.weight" { return (3, 0, name) }
        return (4, 0, name)
    }
}
