// A packed model (.tpk) ready to run (DESIGN §10): the container memory-mapped (openContainer), every linear
// layer a PackedLinear read in place — packed ternary (t2/t1), float (a layer the ternarizer skipped), q8 or
// q4 — embedding f16, q8 or q4, norms and biases f32. Same forward passes as FloatModel (PackedForward.swift:
// batched and decode; PackedRun.swift: generate, perplexity, benchmark), with the packed kernels for the
// projections.

import Foundation

/// One linear layer's weight W [N × K] in whichever form the packed container stores it.
public enum PackedLinear: @unchecked Sendable {
    case ternary(PackedTernaryMatrix)
    case float(WeightMatrix)
    case q8(Q8Matrix)
    case q4(Q4Matrix)

    public var rows: Int {
        switch self { case let .ternary(m): m.rows; case let .float(m): m.rows; case let .q8(m): m.rows; case let .q4(m): m.rows }
    }
    public var cols: Int {
        switch self { case let .ternary(m): m.cols; case let .float(m): m.cols; case let .q8(m): m.cols; case let .q4(m): m.cols }
    }
    /// Bytes one mat-vec reads.
    public var byteCount: Int {
        switch self {
        case let .ternary(m): m.byteCount
        case let .float(m): m.byteCount
        case let .q8(m): m.byteCount
        case let .q4(m): m.byteCount
        }
    }
}

/// One decoder block (`model.layers.{i}.*`); shapes as in FloatLayer.
public struct PackedLayer: @unchecked Sendable {
    public var inputNorm: [Float]
    public var q: PackedLinear, k: PackedLinear, v: PackedLinear, o: PackedLinear
    public var qBias: [Float]?, kBias: [Float]?, vBias: [Float]?
    public var postNorm: [Float]
    public var gate: PackedLinear, up: PackedLinear, down: PackedLinear
}

public final class PackedModel: @unchecked Sendable {
    public let config: ModelConfig
    public let path: String
    /// model.embed_tokens [V × C]: .float (f16), .q8 or .q4.
    public let embedding: PackedLinear
    public let layers: [PackedLayer]
    public let norm: [Float]
    /// lm_head [V × C] (the embedding when tied and not stored separately).
    public let head: PackedLinear
    public let rope: RopeTable
    public let threads: Int
    public let level: KernelLevel
    /// Whether the file's t1 matrices were re-packed as t2 in memory at load (`expandT1`).
    public let expandedT1: Bool
    /// The container's files (tokenizer.json) and metadata.
    public let container: MappedContainer
    let pool: WorkerPool
    let workspace = PackedWorkspace()

    /// Maps the packed container at `path` (a compressed one is decompressed into memory).
    public convenience init(path: String, threads: Int = FloatModel.defaultThreads, level: KernelLevel = .best,
                            expandT1: Bool? = nil) throws {
        try self.init(container: try openContainer(path), threads: threads, level: level, expandT1: expandT1)
    }

    /// Whether t1 matrices are re-packed as t2 in memory at load by default (`expandT1: nil`): at the AVX2 and VNNI
    /// levels. On 2 cores the t1 mat-vec is compute-bound: five base-3 digits a byte take two dot products per digit
    /// (VNNI) or byte compares (AVX2), against one dot product per 2-bit plane for t2, and t1's 20% fewer bytes did not
    /// make up for it on any host measured: native t1 decoded at 0.57-0.66× of t2 on a Zen 3 (AVX2) host, 0.85× on a
    /// Zen 4 reading 37 GB/s and 0.64-0.75× on one reading 77 GB/s; re-packed, at t2's speed. Not at the scalar level.
    /// TLLM_T1_NATIVE=1 keeps t1 as stored.
    public static func expandsT1(at level: KernelLevel) -> Bool {
        level >= .avx2 && ProcessInfo.processInfo.environment["TLLM_T1_NATIVE"] != "1"
    }

    /// `expandT1`: re-pack t1 matrices as t2 in memory (the file is unchanged; nil: `expandsT1(at: level)`).
    public init(container c: MappedContainer, threads: Int = FloatModel.defaultThreads, level: KernelLevel = .best,
                expandT1: Bool? = nil) throws {
        let workers = WorkerPool(threads: max(1, threads))
        let expand = expandT1 ?? Self.expandsT1(at: level)
        var expanded = false
        let file = c.path
        guard c.manifest.kind == .packed else {
            throw TLLMError(file, "is a \(c.manifest.kind.rawValue) container; this needs a packed model (tllm-pack)")
        }
        let cfg = try ModelConfig(json: c.manifest.config, file: file)
        try cfg.validate(file: file)
        func linear(_ n: String, _ shape: [Int]) throws -> PackedLinear {
            for l in PackedLayout.allCases {
                if let e = c.manifest.tensor(named: PackedNames.packed(n, l)) {
                    let g = try PackedNames.geometry(of: e, file: file)
                    guard let a = c.tensor(named: TernaryNames.alpha(n)), let b = c.tensor(named: TernaryNames.gamma(n)) else {
                        throw TLLMError(file, "packed weight \(n) has no \(TernaryNames.alpha(n)) / \(TernaryNames.gamma(n))")
                    }
                    let m = try PackedTernaryMatrix(name: n, packed: c.tensor(named: e.name)!, alpha: a, gamma: b, geometry: g, file: file)
                    guard [m.rows, m.cols] == shape else { throw TLLMError(file, "packed weight \(n) is \(m.rows)×\(m.cols), the config implies \(shape)") }
                    guard expand, g.layout == .t1 else { return .ternary(m) }
                    expanded = true
                    return .ternary(m.expandedToT2(level: level, pool: workers))
                }
            }
            if let q = c.tensor(named: PackedNames.q8(n)), let s = c.tensor(named: PackedNames.scale(n)) {
                guard q.shape == shape else { throw TLLMError(file, "q8 weight \(n) has shape \(q.shape), the config implies \(shape)") }
                return .q8(try Q8Matrix(name: n, q8: q, scale: s, file: file))
            }
            if let e = c.manifest.tensor(named: PackedNames.q4(n)), let se = c.manifest.tensor(named: PackedNames.scale(n)) {
                let K = try PackedNames.q4Cols(of: e, scale: se, file: file)
                guard [e.shape[0], K] == shape else { throw TLLMError(file, "q4 weight \(n) is \(e.shape[0])×\(K), the config implies \(shape)") }
                return .q4(try Q4Matrix(name: n, q4: c.tensor(named: e.name)!, scale: c.tensor(named: se.name)!, cols: K, file: file))
            }
            guard let t = c.tensor(named: n) else { throw TLLMError(file, "missing tensor \(n) (packed, q8, q4 or float)") }
            guard t.shape == shape, t.dtype.isFloat else { throw TLLMError(file, "tensor \(n) is \(t.dtype.rawValue) \(t.shape), expected float \(shape)") }
            return .float(try WeightMatrix(t))
        }
        func vector(_ n: String, _ count: Int) throws -> [Float] {
            guard let t = c.tensor(named: n), t.count == count, t.dtype.isFloat else { throw TLLMError(file, "missing or malformed tensor \(n) (\(count) floats)") }
            return t.floats()
        }
        let C = cfg.hiddenSize, F = cfg.intermediateSize
        var ls: [PackedLayer] = []
        for l in 0..<cfg.numLayers {
            let p = "model.layers.\(l)."
            let bias = cfg.attentionBias
            ls.append(PackedLayer(
                inputNorm: try vector(p + "input_layernorm.weight", C),
                q: try linear(p + "self_attn.q_proj.weight", [cfg.qDim, C]), k: try linear(p + "self_attn.k_proj.weight", [cfg.kvDim, C]),
                v: try linear(p + "self_attn.v_proj.weight", [cfg.kvDim, C]), o: try linear(p + "self_attn.o_proj.weight", [C, cfg.qDim]),
                qBias: bias ? try vector(p + "self_attn.q_proj.bias", cfg.qDim) : nil,
                kBias: bias ? try vector(p + "self_attn.k_proj.bias", cfg.kvDim) : nil,
                vBias: bias ? try vector(p + "self_attn.v_proj.bias", cfg.kvDim) : nil,
                postNorm: try vector(p + "post_attention_layernorm.weight", C),
                gate: try linear(p + "mlp.gate_proj.weight", [F, C]), up: try linear(p + "mlp.up_proj.weight", [F, C]),
                down: try linear(p + "mlp.down_proj.weight", [C, F])))
        }
        let emb = try linear("model.embed_tokens.weight", [cfg.vocabSize, C])
        if case .ternary = emb { throw TLLMError(file, "a ternary embedding is not supported") }
        let headStored = c.manifest.tensors.contains { $0.name.hasPrefix("lm_head.weight") }
        config = cfg
        path = file
        embedding = emb
        layers = ls
        norm = try vector("model.norm.weight", C)
        head = cfg.tieWordEmbeddings && !headStored ? emb : try linear("lm_head.weight", [cfg.vocabSize, C])
        var freq: [Float]?
        if let f = c.tensor(named: "rope_freqs.weight") { freq = f.floats() }
        rope = RopeTable(config: cfg, frequencyFactors: freq)
        self.threads = max(1, threads)
        self.level = level
        container = c
        pool = workers
        expandedT1 = expanded
    }

    /// Bytes of weights one decode step reads (every linear layer, the head, one embedding row, norms).
    public var weightBytesPerToken: Int {
        var b = head.byteCount + embedding.byteCount / max(1, config.vocabSize) + norm.count * 4
        for l in layers {
            b += [l.q, l.k, l.v, l.o, l.gate, l.up, l.down].reduce(0) { $0 + $1.byteCount }
            b += (l.inputNorm.count + l.postNorm.count + (l.qBias?.count ?? 0) + (l.kBias?.count ?? 0) + (l.vBias?.count ?? 0)) * 4
        }
        return b
    }

    /// Parameter count (a tied head counted once; each ternary weight counted by its rows × K).
    public var parameterCount: Int {
        var n = embedding.rows * embedding.cols + norm.count
        if !config.tieWordEmbeddings { n += head.rows * head.cols }
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

    /// A KV cache for up to `capacity` positions (default: the model's max positions).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: capacity ?? config.maxPositions)
    }

    /// Rows `ids` of the embedding as f32 into out [T × C].
    func embed(_ ids: UnsafeBufferPointer<Int32>, into out: UnsafeMutablePointer<Float>) {
        let C = config.hiddenSize
        switch embedding {
        case let .float(m): embeddingForward(out, ids, m)
        case let .q8(m): for (t, id) in ids.enumerated() { m.row(Int(id), into: out + t * C) }
        case let .q4(m): for (t, id) in ids.enumerated() { m.row(Int(id), into: out + t * C) }
        case .ternary: fatalError("unreachable: refused at load")
        }
    }
}
