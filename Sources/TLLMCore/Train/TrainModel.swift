// A LLaMA-family model held for training (DESIGN §8): every tensor in f32 in a ParamStore, each ternarized linear
// with its latent weight W, per-group α and γ, the dequantized Ŵ of the current step and its codes (FakeQuant).
// The teacher is the same type with no ternarized linears and nothing trained. The passes live beside it:
// TrainBlock.swift (one block forward and backward), TrainHead.swift (final norm, LM head, losses).

import Foundation

/// Which parameters a run trains besides the latent weights of the ternarized linears.
public struct TrainableSet: Equatable, Sendable {
    public var latent = true
    public var alpha = true
    public var gamma = true
    public var norms = true
    public var biases = true
    public var embedding = false
    public var head = false
    public init() {}
    /// Nothing trained (a teacher).
    public static var frozen: TrainableSet {
        var s = TrainableSet()
        s.latent = false; s.alpha = false; s.gamma = false; s.norms = false; s.biases = false
        return s
    }
}

/// One linear layer: Y = X·Ŵᵀ, with Ŵ = fake-quantized W for a ternarized weight, Ŵ = W otherwise.
public struct TrainLinear: @unchecked Sendable {
    public let name: String
    public let rows: Int, cols: Int
    /// Parameter ids of W, and of α, γ when ternarized.
    public let w: Int
    public let alpha: Int?, gamma: Int?
    public let quantizer: FakeQuantizer?
    /// Ŵ (own buffer when ternarized, else W's values) and ∂L/∂Ŵ (own buffer when ternarized, else W's gradient).
    let hat: UnsafeMutablePointer<Float>
    let dhat: UnsafeMutablePointer<Float>
    /// The codes of the current Ŵ (ternarized only).
    let codes: UnsafeMutablePointer<Int8>?
}

public struct TrainLayer: Sendable {
    public let inputNorm: Int, postNorm: Int
    public let q: TrainLinear, k: TrainLinear, v: TrainLinear, o: TrainLinear
    public let gate: TrainLinear, up: TrainLinear, down: TrainLinear
    public let qBias: Int?, kBias: Int?, vBias: Int?
    public var linears: [TrainLinear] { [q, k, v, o, gate, up, down] }
}

/// The ternary parts of one weight as loaded from a ternary container.
public struct TernaryParts: Sendable {
    public var codes: [Int8]
    public var alpha: [Float]
    public var gamma: [Float]
    public var groupSize: Int
    public init(codes: [Int8], alpha: [Float], gamma: [Float], groupSize: Int) {
        self.codes = codes
        self.alpha = alpha
        self.gamma = gamma
        self.groupSize = groupSize
    }
}

public final class TrainModel: @unchecked Sendable {
    public let config: ModelConfig
    public let params: ParamStore
    public let layers: [TrainLayer]
    /// Parameter ids of the embedding, the final norm and the head (the embedding's id when tied).
    public let embedding: Int, norm: Int, head: Int
    public let rope: RopeTable
    public let pool: WorkerPool
    /// Latent weights moved at load so the first forward pass reproduces the stored codes (FakeQuantizer.anchor).
    public private(set) var anchored = 0
    private var owned: [UnsafeMutableRawPointer] = []

    /// From canonical float tensors (any order; `latent` values for the ternarized ones) and the ternary parts of
    /// the ternarized linears. `file` names the source in errors. `pool`: share another model's workers (a teacher
    /// beside its student: a second pool's idle workers would spin on the cores the first one computes on).
    public init(config c: ModelConfig, tensors: [Tensor], ternary: [String: TernaryParts] = [:], trainable: TrainableSet,
                steClip: Float = 1.5, threads: Int = FloatModel.defaultThreads, pool shared: WorkerPool? = nil, file: String = "") throws
    {
        try c.validate(file: file)
        var byName: [String: Tensor] = [:]
        for t in tensors { byName[t.name] = t }
        var freqFactors: [Float]?
        if let f = byName["rope_freqs.weight"] { freqFactors = f.floats() }
        var items: [(name: String, shape: [Int], kind: ParamKind, trainable: Bool, values: [Float])] = []
        for (name, shape) in TensorNames.expected(for: c) {
            guard let t = byName[name] else { throw TLLMError(file, "missing tensor \(name)") }
            guard t.shape == shape else { throw TLLMError(file, "tensor \(name) has shape \(t.shape), the config implies \(shape)") }
            guard t.dtype.isFloat else { throw TLLMError(file, "tensor \(name) has dtype \(t.dtype.rawValue), expected a float type") }
            let kind: ParamKind
            var train: Bool
            if name == "model.embed_tokens.weight" { kind = .embedding; train = trainable.embedding }
            else if name == "lm_head.weight" { kind = .head; train = trainable.head }
            else if name.hasSuffix("norm.weight") { kind = .norm; train = trainable.norms }
            else if name.hasSuffix(".bias") { kind = .bias; train = trainable.biases }
            else { kind = .latent; train = trainable.latent }
            if kind == .embedding && c.tieWordEmbeddings { train = trainable.embedding || trainable.head }
            items.append((name, shape, kind, train, t.floats()))
            if kind == .latent, let p = ternary[name] {
                let groups = TernaryGroups(cols: shape[1], size: p.groupSize)
                guard p.codes.count == shape[0] * shape[1], p.alpha.count == shape[0] * groups.count, p.gamma.count == p.alpha.count else {
                    throw TLLMError(file, "ternary parts of \(name) do not match its shape \(shape)")
                }
                items.append((TernaryNames.alpha(name), [shape[0], groups.count], .alpha, trainable.alpha, p.alpha))
                items.append((TernaryNames.gamma(name), [shape[0], groups.count], .gamma, trainable.gamma, p.gamma))
            }
        }
        let ps = ParamStore(items)
        params = ps
        config = c
        rope = RopeTable(config: c, frequencyFactors: freqFactors)
        pool = shared ?? WorkerPool(threads: max(1, threads))
        // The pool splits every GEMM itself: OpenBLAS's own threads on top would oversubscribe the cores (with
        // --threads 2 on 2 cores, four busy threads; OpenBLAS's spinning workers took a third of a core each).
        setBLASThreads(1)

        var own: [UnsafeMutableRawPointer] = []
        var moved = 0
        func linear(_ name: String) -> TrainLinear {
            let id = ps.id(name)!
            let shape = ps.tensors[id].shape
            guard let parts = ternary[name] else {
                // a float linear: Ŵ is W itself, ∂L/∂Ŵ its gradient (none in a store with nothing trained: never used)
                return TrainLinear(name: name, rows: shape[0], cols: shape[1], w: id, alpha: nil, gamma: nil, quantizer: nil,
                                   hat: ps.value(id), dhat: ps.hasGradients ? ps.grad(id) : ps.grads, codes: nil)
            }
            let n = shape[0] * shape[1]
            let q = FakeQuantizer(rows: shape[0], groups: TernaryGroups(cols: shape[1], size: parts.groupSize), steClip: steClip)
            let hat = UnsafeMutablePointer<Float>.allocate(capacity: n), dhat = UnsafeMutablePointer<Float>.allocate(capacity: n)
            let codes = UnsafeMutablePointer<Int8>.allocate(capacity: n)
            dhat.initialize(repeating: 0, count: n)
            own += [UnsafeMutableRawPointer(hat), UnsafeMutableRawPointer(dhat), UnsafeMutableRawPointer(codes)]
            let a = ps.id(TernaryNames.alpha(name))!, g = ps.id(TernaryNames.gamma(name))!
            moved += parts.codes.withUnsafeBufferPointer { q.anchor(ps.value(id), codes: $0.baseAddress!, ps.value(a), ps.value(g)) }
            return TrainLinear(name: name, rows: shape[0], cols: shape[1], w: id, alpha: a, gamma: g, quantizer: q,
                               hat: hat, dhat: dhat, codes: codes)
        }
        var ls: [TrainLayer] = []
        for l in 0..<c.numLayers {
            let p = "model.layers.\(l)."
            ls.append(TrainLayer(
                inputNorm: ps.id(p + "input_layernorm.weight")!, postNorm: ps.id(p + "post_attention_layernorm.weight")!,
                q: linear(p + "self_attn.q_proj.weight"), k: linear(p + "self_attn.k_proj.weight"),
                v: linear(p + "self_attn.v_proj.weight"), o: linear(p + "self_attn.o_proj.weight"),
                gate: linear(p + "mlp.gate_proj.weight"), up: linear(p + "mlp.up_proj.weight"),
                down: linear(p + "mlp.down_proj.weight"),
                qBias: ps.id(p + "self_attn.q_proj.bias"), kBias: ps.id(p + "self_attn.k_proj.bias"),
                vBias: ps.id(p + "self_attn.v_proj.bias")))
        }
        layers = ls
        embedding = ps.id("model.embed_tokens.weight")!
        norm = ps.id("model.norm.weight")!
        head = c.tieWordEmbeddings ? embedding : ps.id("lm_head.weight")!
        owned = own
        anchored = moved
        refreshWeights()
    }

    deinit { for p in owned { p.deallocate() } }

    /// Every ternarized linear, in layer order.
    public var ternaryLinears: [TrainLinear] { layers.flatMap { $0.linears }.filter { $0.quantizer != nil } }

    /// Recomputes Ŵ and the codes of every ternarized linear from the current W, α, γ (once per step).
    /// `layer`: only that block's (the others did not change).
    public func refreshWeights(layer: Int? = nil) {
        for lin in layer.map({ layers[$0].linears.filter { $0.quantizer != nil } }) ?? ternaryLinears {
            lin.quantizer!.forward(lin.hat, lin.codes!, params.value(lin.w), params.value(lin.alpha!), params.value(lin.gamma!), pool: pool)
        }
    }

    /// Moves the trained latent weights the fraction κ of the way to their dequantized values
    /// (FakeQuantizer.decayTowardGrid); the codes stay. `layer`: only that block's.
    public func decayTowardGrid(_ kappa: Float, layer: Int? = nil) {
        guard kappa > 0 else { return }
        for lin in layer.map({ layers[$0].linears.filter { $0.quantizer != nil } }) ?? ternaryLinears where params.trainable(lin.w) {
            lin.quantizer!.decayTowardGrid(params.value(lin.w), params.value(lin.alpha!), params.value(lin.gamma!), kappa: kappa, pool: pool)
        }
    }

    /// Sets every ∂L/∂Ŵ buffer and every parameter gradient to zero.
    public func zeroGrads() {
        params.zeroGrads()
        for lin in ternaryLinears { lin.dhat.update(repeating: 0, count: lin.rows * lin.cols) }
    }

    /// Turns the accumulated ∂L/∂Ŵ of the ternarized linears into gradients of W, α, γ (FakeQuantizer.backward).
    public func finishGradients() {
        for lin in ternaryLinears {
            lin.quantizer!.backward(lin.dhat, params.value(lin.w), lin.codes!, params.value(lin.alpha!), params.value(lin.gamma!),
                                    dw: params.gradIfTrained(lin.w), dalpha: params.gradIfTrained(lin.alpha),
                                    dgamma: params.gradIfTrained(lin.gamma), pool: pool)
        }
    }

    /// The current codes of a ternarized linear.
    public func codes(_ lin: TrainLinear) -> [Int8] { Array(UnsafeBufferPointer(start: lin.codes!, count: lin.rows * lin.cols)) }

    /// The current Ŵ of a linear.
    public func effectiveWeight(_ lin: TrainLinear) -> [Float] { Array(UnsafeBufferPointer(start: lin.hat, count: lin.rows * lin.cols)) }

    /// x[N × C] = embedding rows of `tokens`.
    public func embed(_ tokens: UnsafeBufferPointer<Int32>, into x: UnsafeMutablePointer<Float>) {
        embeddingForward(x, tokens, params.value(embedding), config.hiddenSize)
    }

    func checkTokens(_ tokens: [Int32], file: String) throws {
        for t in tokens where t < 0 || Int(t) >= config.vocabSize {
            throw TLLMError(file, "token id \(t) is outside the vocabulary (size \(config.vocabSize))")
        }
    }
}
