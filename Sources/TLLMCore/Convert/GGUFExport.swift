// Export of a float model to GGUF v3 for llama.cpp: structural `{arch}.*` keys rebuilt from the config,
// general.* and tokenizer.* metadata carried from a GGUF source kept as they were, tensors under GGUF names
// with llama's q/k rows permuted back to the interleaved rotary layout. 2-D tensors are stored as the chosen
// dtype (F32, F16, BF16); 1-D tensors (norms, biases) stay F32 as llama.cpp's converter writes them.

import Foundation

/// Rotary permutation needed when writing `name` of a llama-family model to GGUF: the head count, or nil.
func ggufRotaryHeads(_ name: String, _ c: ModelConfig) -> Int? {
    guard c.architecture != "qwen2" else { return nil }
    if name.hasSuffix("self_attn.q_proj.weight") || name.hasSuffix("self_attn.q_proj.bias") { return c.numHeads }
    if name.hasSuffix("self_attn.k_proj.weight") || name.hasSuffix("self_attn.k_proj.bias") { return c.numKVHeads }
    return nil
}

/// The structural metadata llama.cpp reads for this config.
func ggufArchitectureMetadata(_ c: ModelConfig, fileType: UInt32) -> [(String, GGUFValue)] {
    let arch = c.architecture == "qwen2" ? "qwen2" : "llama"
    var m: [(String, GGUFValue)] = [
        ("general.architecture", .string(arch)),
        ("general.file_type", .u32(fileType)),
        ("\(arch).vocab_size", .u32(UInt32(c.vocabSize))),
        ("\(arch).context_length", .u32(UInt32(c.maxPositions))),
        ("\(arch).embedding_length", .u32(UInt32(c.hiddenSize))),
        ("\(arch).block_count", .u32(UInt32(c.numLayers))),
        ("\(arch).feed_forward_length", .u32(UInt32(c.intermediateSize))),
        ("\(arch).attention.head_count", .u32(UInt32(c.numHeads))),
        ("\(arch).attention.head_count_kv", .u32(UInt32(c.numKVHeads))),
        ("\(arch).attention.layer_norm_rms_epsilon", .f32(Float(c.rmsNormEps))),
        ("\(arch).rope.freq_base", .f32(Float(c.ropeTheta))),
        ("\(arch).rope.dimension_count", .u32(UInt32(c.headDim))),
    ]
    if c.headDim * c.numHeads != c.hiddenSize {
        m.append(("\(arch).attention.key_length", .u32(UInt32(c.headDim))))
        m.append(("\(arch).attention.value_length", .u32(UInt32(c.headDim))))
    }
    if case let .linear(f) = c.ropeScaling {
        m.append(("\(arch).rope.scaling.type", .string("linear")))
        m.append(("\(arch).rope.scaling.factor", .f32(Float(f))))
    }
    return m
}

/// Carried metadata of the source: general.* and tokenizer.* keys of a GGUF import, or a tokenizer built from
/// the Hugging Face tokenizer files. A model without any tokenizer is written without one (llama.cpp then loads
/// it with no vocabulary).
func ggufCarriedMetadata(_ src: ModelSource) throws -> [(String, GGUFValue)] {
    var out: [(String, GGUFValue)] = []
    for member in [GGUFSource.metadataMember, GGUFSource.tokenizerMember] {
        guard let f = src.files.first(where: { $0.name == member }) else { continue }
        let j = try f.bytes.withUnsafeBytes { try JSON.parse($0, file: "\(src.path): \(member)") }
        out += try GGUFValue.metadata(typedJSON: j, file: "\(src.path): \(member)")
    }
    let hasHFTokenizer = src.files.contains { $0.name == "source/tokenizer.json" }
    if !out.contains(where: { $0.0 == "tokenizer.ggml.model" }), hasHFTokenizer {
        out += try ggufTokenizerFromHF(src)
    }
    return out
}

public func writeGGUF(_ src: ModelSource, to path: String, dtype: DType, progress: Progress? = nil) throws {
    let c = src.config
    let type: GGMLType = dtype == .f16 ? .F16 : dtype == .bf16 ? .BF16 : .F32
    let fileType: UInt32 = dtype == .f16 ? 1 : dtype == .bf16 ? 32 : 0
    var metadata = ggufArchitectureMetadata(c, fileType: fileType)
    for (k, v) in try ggufCarriedMetadata(src) where !metadata.contains(where: { $0.0 == k }) {
        metadata.append((k, v))
    }
    for (k, id) in [("tokenizer.ggml.bos_token_id", c.bosTokenId), ("tokenizer.ggml.eos_token_id", c.eosTokenId)]
    where id != nil && !metadata.contains(where: { $0.0 == k }) {
        metadata.append((k, .u32(UInt32(id!))))
    }
    var plan: [(name: String, ne: [Int], type: GGMLType)] = []
    for t in src.tensorInfos {
        guard let g = TensorNames.gguf(canonical: t.name) else { throw TLLMError(src.path, "tensor \(t.name) has no GGUF name") }
        plan.append((g, t.shape.reversed(), t.shape.count == 1 ? .F32 : type))
    }
    let out = try AtomicOutput(path: path)
    let w = try GGUFWriter(output: out, metadata: metadata, tensors: plan)
    var i = 0
    while var t = try src.nextTensor() {
        if let heads = ggufRotaryHeads(t.name, c) {
            do { t = try RotaryPermutation.toGGUF(t, heads: heads) } catch let e as TLLMError { throw e.inFile(src.path) }
        }
        let target = plan[i].type.dtype!
        let stored = t.converted(to: target)
        try w.write(tensorData: stored.bytes)
        progress?.advance(by: Double(t.bytes.count))
        i += 1
    }
    try w.finish()
    try out.commit()
}
