// The calibration container (kind "calib", DESIGN §9), written by tllm-calib. Tensors, in manifest order:
//   tokens                      i32 [N, L]   sequences (train and held-out); each starts with BOS
//   split                       u8  [N]      0 = train, 1 = held-out (statistics use train sequences only)
//   origin                      u8  [N]      0 = from the text, 1 = sampled from the model (--generate)
//   hidden.{l}                  f16 [N, L, C] output of block l (the residual stream), for --layers l
//   then per block l and input site S (below), in order:
//   xtx.model.layers.{l}.S      f32 [K, K]   Σ x xᵀ over train tokens (only when K ≤ --xtx-max)
//   sumsq.model.layers.{l}.S    f32 [K]      Σ x² per channel over train tokens
//   absmax.model.layers.{l}.S   f32 [K]      max |x| per channel over train tokens
//   absmax.block.{l}            f32 [C]      max |h| per channel of block l's output over train tokens
// Sites S: self_attn.qkv (input of q/k/v_proj, K = C), self_attn.o_proj (K = H·D), mlp.gate_up (input of
// gate/up_proj, K = C), mlp.down_proj (K = F). Metadata "calib": seq_len, samples, train, holdout, tokens_train…

import Foundation

/// Where a linear layer's input comes from: the four distinct inputs of a block.
public enum CalibSite: String, CaseIterable, Sendable {
    case qkv = "self_attn.qkv"
    case o = "self_attn.o_proj"
    case gateUp = "mlp.gate_up"
    case down = "mlp.down_proj"

    /// K: channels of the input.
    public func width(_ c: ModelConfig) -> Int {
        switch self {
        case .qkv, .gateUp: return c.hiddenSize
        case .o: return c.qDim
        case .down: return c.intermediateSize
        }
    }

    /// `model.layers.{l}.<site>`.
    public func name(layer l: Int) -> String { "model.layers.\(l).\(rawValue)" }

    /// The input site of a block linear weight (`model.layers.3.self_attn.k_proj.weight` → (3, .qkv)).
    public static func of(linear name: String) -> (layer: Int, site: CalibSite)? {
        guard let l = TensorNames.layer(of: name) else { return nil }
        let p = "model.layers.\(l)."
        switch name.dropFirst(p.count) {
        case "self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight": return (l, .qkv)
        case "self_attn.o_proj.weight": return (l, .o)
        case "mlp.gate_proj.weight", "mlp.up_proj.weight": return (l, .gateUp)
        case "mlp.down_proj.weight": return (l, .down)
        default: return nil
        }
    }
}

public enum CalibNames {
    public static let tokens = "tokens"
    public static let split = "split"
    public static let origin = "origin"
    public static func hidden(_ l: Int) -> String { "hidden.\(l)" }
    public static func xtx(_ l: Int, _ s: CalibSite) -> String { "xtx." + s.name(layer: l) }
    public static func sumsq(_ l: Int, _ s: CalibSite) -> String { "sumsq." + s.name(layer: l) }
    public static func absmax(_ l: Int, _ s: CalibSite) -> String { "absmax." + s.name(layer: l) }
    public static func blockAbsmax(_ l: Int) -> String { "absmax.block.\(l)" }

    /// Every tensor of a calib container, in order. `xtxMax`: largest K whose full XᵀX is stored.
    public static func manifestTensors(config c: ModelConfig, samples n: Int, seqLen L: Int, hiddenLayers: [Int],
                                       xtxMax: Int) -> [ManifestTensor]
    {
        var out = [ManifestTensor(name: tokens, dtype: .i32, shape: [n, L]),
                   ManifestTensor(name: split, dtype: .u8, shape: [n]),
                   ManifestTensor(name: origin, dtype: .u8, shape: [n])]
        for l in hiddenLayers { out.append(ManifestTensor(name: hidden(l), dtype: .f16, shape: [n, L, c.hiddenSize])) }
        for l in 0..<c.numLayers {
            for s in CalibSite.allCases {
                let K = s.width(c)
                if K <= xtxMax { out.append(ManifestTensor(name: xtx(l, s), dtype: .f32, shape: [K, K])) }
                out.append(ManifestTensor(name: sumsq(l, s), dtype: .f32, shape: [K]))
                out.append(ManifestTensor(name: absmax(l, s), dtype: .f32, shape: [K]))
            }
            out.append(ManifestTensor(name: blockAbsmax(l), dtype: .f32, shape: [c.hiddenSize]))
        }
        return out
    }
}

/// A calib container opened for random access (memory-mapped when uncompressed).
public final class CalibData {
    public let path: String
    public let container: MappedContainer
    public let config: ModelConfig
    /// N sequences of L tokens.
    public let samples: Int
    public let seqLen: Int

    public init(path: String) throws {
        self.path = path
        container = try openContainer(path)
        let m = container.manifest
        guard m.kind == .calib else {
            throw TLLMError(path, "is a \(m.kind.rawValue) container; this needs a calibration container (kind \"calib\", from tllm-calib)")
        }
        config = try ModelConfig(json: m.config, file: path)
        guard let t = m.tensor(named: CalibNames.tokens), t.dtype == .i32, t.shape.count == 2 else {
            throw TLLMError(path, "calib container has no i32 [N, L] tensor \"tokens\"")
        }
        samples = t.shape[0]
        seqLen = t.shape[1]
    }

    /// Throws unless this calibration was captured from a model with `other`'s architecture.
    public func checkMatches(_ other: ModelConfig, model: String) throws {
        guard other == config else {
            let diff = zip(other.toJSON().object ?? [], config.toJSON().object ?? []).first { $0.0.1 != $0.1.1 }
            let what = diff.map { "\($0.0.0) \($0.1.1.text(pretty: false)) in the calibration, \($0.0.1.text(pretty: false)) in \(model)" } ?? "different config"
            throw TLLMError(path, "was captured from a different model than \(model) (\(what))")
        }
    }

    public var metadata: JSON { container.manifest.metadata["calib"] ?? .object([]) }

    /// Token ids [N × L].
    public func tokens() -> [Int32] {
        let t = container.tensor(named: CalibNames.tokens)!
        return Array(t.bytes.bindMemory(to: Int32.self))
    }

    /// 0 = train, 1 = held-out, per sequence.
    public func split() -> [UInt8] { container.tensor(named: CalibNames.split).map { Array($0.bytes) } ?? [] }

    /// Block l's output for every sequence, f16 [N, L, C], when captured.
    public func hidden(_ l: Int) -> Tensor? { container.tensor(named: CalibNames.hidden(l)) }

    /// The input moments of a block linear weight: XᵀX when stored, Σx² always.
    public func moments(forLinear name: String) throws -> InputMoments? {
        guard let (l, s) = CalibSite.of(linear: name) else { return nil }
        guard let sq = container.tensor(named: CalibNames.sumsq(l, s)) else {
            throw TLLMError(path, "calib container lacks \(CalibNames.sumsq(l, s)) (needed for \(name))")
        }
        let K = s.width(config)
        guard sq.dtype == .f32, sq.shape == [K] else { throw TLLMError(path, "\(sq.name) is \(sq.dtype.rawValue) \(sq.shape), expected f32 [\(K)]") }
        var full: [Float]?
        if let x = container.tensor(named: CalibNames.xtx(l, s)) {
            guard x.dtype == .f32, x.shape == [K, K] else { throw TLLMError(path, "\(x.name) is \(x.dtype.rawValue) \(x.shape), expected f32 [\(K), \(K)]") }
            full = x.floats()
        }
        return InputMoments(cols: K, xtx: full, sumsq: sq.floats())
    }
}
