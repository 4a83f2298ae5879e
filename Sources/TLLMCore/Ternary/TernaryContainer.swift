// The ternary container (kind "ternary"): every tensor of the float model, except that each ternarized linear
// weight N [rows × K] is four tensors in this order: N (latent float weight, f32 [rows, K]), N.codes (i8
// [rows, K], −1/0/+1; manifest extra {"group_size": G}), N.alpha and N.gamma (f32 [rows, nG], nG = ⌈K/G⌉, last
// group shorter). Manifest metadata "ternary": {group_size, init, refit, skipped, report}; source metadata kept.

/// Names of the tensors of a ternarized weight, and which weights are ternarized.
public enum TernaryNames {
    public static func codes(_ n: String) -> String { n + ".codes" }
    public static func alpha(_ n: String) -> String { n + ".alpha" }
    public static func gamma(_ n: String) -> String { n + ".gamma" }

    /// Block linear weights ternarized by default (DESIGN §7): q, k, v, o, gate, up, down.
    public static let linearSuffixes = ["self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight",
                                        "self_attn.o_proj.weight", "mlp.gate_proj.weight", "mlp.up_proj.weight",
                                        "mlp.down_proj.weight"]

    /// True for `model.layers.{i}.<linear>.weight` of a 2-D shape.
    public static func isLinear(_ name: String, shape: [Int]) -> Bool {
        guard shape.count == 2, let l = TensorNames.layer(of: name) else { return false }
        let prefix = "model.layers.\(l)."
        return linearSuffixes.contains { name == prefix + $0 }
    }

    /// The manifest entries of a ternarized weight N [rows × K] with groups of `groupSize` (≤ 0: one per row).
    public static func entries(_ n: String, rows: Int, cols: Int, groupSize: Int) -> [ManifestTensor] {
        let layout = TernaryGroups(cols: cols, size: groupSize)
        return [ManifestTensor(name: n, dtype: .f32, shape: [rows, cols]),
                ManifestTensor(name: codes(n), dtype: .i8, shape: [rows, cols],
                               extra: .object([("group_size", JSON(layout.size))])),
                ManifestTensor(name: alpha(n), dtype: .f32, shape: [rows, layout.count]),
                ManifestTensor(name: gamma(n), dtype: .f32, shape: [rows, layout.count])]
    }
}

/// One ternarized weight as the manifest describes it.
public struct TernaryEntry: Equatable, Sendable {
    public var name: String
    public var rows: Int
    public var cols: Int
    public var groupSize: Int
}

extension Manifest {
    /// The ternarized weights of a ternary container, in order, after checking that each N is followed by
    /// N.codes (i8, extra.group_size), N.alpha and N.gamma (f32 [rows, nG]) with consistent shapes.
    public func ternaryEntries(file: String) throws -> [TernaryEntry] {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "ternary container: \(why)") }
        var out: [TernaryEntry] = []
        for (i, t) in tensors.enumerated() where t.name.hasSuffix(".codes") {
            let n = String(t.name.dropLast(".codes".count))
            guard i >= 1, tensors[i - 1].name == n else { throw bad("\(t.name) does not follow its latent weight \(n)") }
            guard i + 2 < tensors.count, tensors[i + 1].name == TernaryNames.alpha(n), tensors[i + 2].name == TernaryNames.gamma(n) else {
                throw bad("\(t.name) must be followed by \(TernaryNames.alpha(n)) and \(TernaryNames.gamma(n))")
            }
            let w = tensors[i - 1]
            guard t.dtype == .i8, t.shape.count == 2, t.shape[0] > 0, t.shape[1] > 0 else {
                throw bad("\(t.name) must be i8 [rows, K], is \(t.dtype.rawValue) \(t.shape)")
            }
            guard w.shape == t.shape, w.dtype.isFloat else {
                throw bad("latent weight \(n) is \(w.dtype.rawValue) \(w.shape), its codes \(t.shape)")
            }
            guard let g = t.extra?["group_size"]?.int, g > 0 else { throw bad("\(t.name) has no positive extra.group_size") }
            let layout = TernaryGroups(cols: t.shape[1], size: g)
            for s in [tensors[i + 1], tensors[i + 2]] {
                guard s.dtype == .f32, s.shape == [t.shape[0], layout.count] else {
                    throw bad("\(s.name) must be f32 [\(t.shape[0]), \(layout.count)] (K = \(t.shape[1]), group \(g)), is \(s.dtype.rawValue) \(s.shape)")
                }
            }
            out.append(TernaryEntry(name: n, rows: t.shape[0], cols: t.shape[1], groupSize: g))
        }
        return out
    }
}

// MARK: - TernarySource
// A ternary container read as a float model source, streaming (stdin and compressed files work; one weight's
// four tensors in memory at a time): it yields the float model's tensors in order, each ternarized weight N as
// Ŵ = α·T + γ (f32) under its plain name, so FloatModel and every float tool run a ternary container.
// `.latent` yields the latent float weights instead (the starting point of tllm-distill).

public final class TernarySource: ModelSource {
    /// What a ternarized weight N is read as.
    public enum Weights: Sendable {
        /// Ŵ = α·T + γ from N.codes, N.alpha, N.gamma.
        case dequantized
        /// The latent float weight N as stored.
        case latent
    }

    public let path: String
    public let formatName: String
    public let config: ModelConfig
    public let tensorInfos: [TensorInfo]
    public let files: [(name: String, bytes: [UInt8])]
    public let metadata: JSON
    /// The ternarized weights (name, shape, group size), in container order.
    public let entries: [TernaryEntry]
    public let weights: Weights
    private let reader: ContainerReader
    private let byName: [String: TernaryEntry]

    /// Opens the ternary container at `path` ("-" = stdin).
    public convenience init(path: String, weights: Weights = .dequantized) throws {
        try self.init(reader: try ContainerReader(path: path), weights: weights)
    }

    /// Reads from a container reader positioned before its first tensor.
    public init(reader: ContainerReader, weights: Weights = .dequantized) throws {
        self.reader = reader
        self.weights = weights
        path = reader.path
        let m = reader.manifest
        guard m.kind == .ternary else {
            throw TLLMError(path, "is a \(m.kind.rawValue) container; this needs a ternary container (kind \"ternary\")")
        }
        config = try ModelConfig(json: m.config, file: path)
        entries = try m.ternaryEntries(file: path)
        var map: [String: TernaryEntry] = [:]
        for e in entries { map[e.name] = e }
        byName = map
        let parts = Set(entries.flatMap { [TernaryNames.codes($0.name), TernaryNames.alpha($0.name), TernaryNames.gamma($0.name)] })
        tensorInfos = m.tensors.compactMap { t in
            if parts.contains(t.name) { return nil }
            if map[t.name] != nil { return TensorInfo(name: t.name, dtype: .f32, shape: t.shape) }
            return TensorInfo(name: t.name, dtype: t.dtype, shape: t.shape)
        }
        files = reader.files
        metadata = m.metadata
        formatName = "tllm container (ternary, version \(m.version))"
    }

    /// The "ternary" metadata object (group_size, init, refit, skipped, report).
    public var ternaryMetadata: JSON? { metadata["ternary"] }

    public func nextTensor() throws -> Tensor? {
        guard let t = try reader.next() else { return nil }
        guard let e = byName[t.name] else { return t }
        var parts: [Tensor] = []
        for n in [TernaryNames.codes(e.name), TernaryNames.alpha(e.name), TernaryNames.gamma(e.name)] {
            guard let p = try reader.next(), p.name == n else { throw TLLMError(path, "ternary container: \(n) is missing after \(e.name)") }
            parts.append(p)
        }
        if weights == .latent { return t.converted(to: .f32) }
        let tw = try TernaryWeight(name: e.name, codes: parts[0], alpha: parts[1], gamma: parts[2], groupSize: e.groupSize, file: path)
        return tw.dequantizedTensor(name: e.name)
    }
}
