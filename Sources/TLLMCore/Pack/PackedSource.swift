// A packed container (.tpk, kind "packed") read as a model source, streaming (stdin and compressed files work;
// one weight's tensors in memory at a time). `.dequantized` yields the float model the packed file computes:
// each N.t2|N.t1 + f16 N.alpha, N.gamma [rows, nG] as Ŵ = α·T + γ (f32 [rows, K]), each X.q8 (i8 [rows, K]) +
// X.scale (f16 [rows]) as q·scale (f32), each X.q4 + X.scale as d·(u − 8) (f32), every other tensor as stored;
// so tllm-convert exports a .tpk to GGUF or safetensors and every float tool runs one. `.ternary` yields the
// ternary container again (tllm-pack --unpack).

/// The tensor groups of a packed container, each named by its first member.
private enum PackedGroup {
    /// N.t2|N.t1 (u8 [rows, rowBytes]), N.alpha, N.gamma (f16 [rows, nG]).
    case ternary(name: String, geometry: PackedGeometry)
    /// X.q8 (i8 [rows, K]), X.scale (f16 [rows]).
    case q8(name: String)
    /// X.q4 (u8 [rows, ⌈K/256⌉·128], extra {"k": K}), X.scale (f16 [rows, ⌈K/256⌉·8]).
    case q4(name: String, cols: Int)
    case copy
    /// The separately stored head of a tied model, left out of the ternary container, with its group's other members.
    case drop(followers: Int)
}

public final class PackedSource: ModelSource {
    /// What a packed weight is read as.
    public enum Weights: Sendable {
        /// Ŵ = α·T + γ (f32) under its plain name; a q8 matrix as q·scale, a q4 matrix as d·(u − 8). The float
        /// model the packed file runs.
        case dequantized
        /// The ternary container's tensors: N = α·T + γ (the latent weights are not in a packed file), N.codes,
        /// N.alpha, N.gamma (f32); q8 and q4 matrices dequantized; a tied model's separately stored head dropped.
        case ternary
    }

    public let path: String
    public let formatName: String
    /// The packed file's config; with `.dequantized`, a tied model whose head is stored separately (e.g.
    /// `--embed f16 --head q8`) is untied, so the float model uses that head as the packed model does.
    public let config: ModelConfig
    public let tensorInfos: [TensorInfo]
    /// The entries of the tensors `nextTensor` yields, with their extras (N.codes: group_size).
    public let manifestTensors: [ManifestTensor]
    public let files: [(name: String, bytes: [UInt8])]
    public let metadata: JSON
    /// The packed container's own manifest.
    public let manifest: Manifest
    public let weights: Weights
    private let reader: ContainerReader
    private let groups: [String: PackedGroup]
    private var pending: [Tensor] = []

    /// Opens the packed container at `path` ("-" = stdin).
    public convenience init(path: String, weights: Weights = .dequantized) throws {
        try self.init(reader: try ContainerReader(path: path), weights: weights)
    }

    /// Reads from a container reader positioned before its first tensor; checks that every packed weight is
    /// followed by its α and γ and every q8 or q4 matrix by its scale, with consistent shapes.
    public init(reader: ContainerReader, weights: Weights = .dequantized) throws {
        self.reader = reader
        self.weights = weights
        path = reader.path
        let m = reader.manifest
        manifest = m
        guard m.kind == .packed else {
            throw TLLMError(path, "is a \(m.kind.rawValue) container; this needs a packed one (kind \"packed\", from tllm-pack)")
        }
        var cfg = try ModelConfig(json: m.config, file: path)
        func bad(_ why: String) -> TLLMError { TLLMError(reader.path, "packed container: \(why)") }
        let ts = m.tensors
        let headStored = cfg.tieWordEmbeddings && ts.contains { $0.name.hasPrefix(headName + ".") || $0.name == headName }
        if headStored && weights == .dequantized { cfg.tieWordEmbeddings = false }
        let dropHead = headStored && weights == .ternary
        var plan: [String: PackedGroup] = [:], out: [ManifestTensor] = []
        var i = 0
        while i < ts.count {
            let t = ts[i]
            if t.extra?["layout"] != nil {
                let g = try PackedNames.geometry(of: t, file: path)
                let n = String(t.name.dropLast(g.layout.rawValue.count + 1)), rows = t.shape[0]
                guard i + 2 < ts.count, ts[i + 1].name == TernaryNames.alpha(n), ts[i + 2].name == TernaryNames.gamma(n) else {
                    throw bad("\(t.name) must be followed by \(TernaryNames.alpha(n)) and \(TernaryNames.gamma(n))")
                }
                for s in ts[(i + 1)...(i + 2)] where !(s.dtype == .f16 && s.shape == [rows, g.groups]) {
                    throw bad("\(s.name) must be f16 [\(rows), \(g.groups)] (K = \(g.cols), group \(g.groupSize)), is \(s.dtype.rawValue) \(s.shape)")
                }
                plan[t.name] = dropHead && n == headName ? .drop(followers: 2) : .ternary(name: n, geometry: g)
                if !(dropHead && n == headName) {
                    out += weights == .ternary ? TernaryNames.entries(n, rows: rows, cols: g.cols, groupSize: g.groupSize)
                                               : [ManifestTensor(name: n, dtype: .f32, shape: [rows, g.cols])]
                }
                i += 3
            } else if t.name.hasSuffix(".q8") {
                let n = String(t.name.dropLast(3))
                guard t.dtype == .i8, t.shape.count == 2 else { throw bad("\(t.name) must be i8 [rows, K], is \(t.dtype.rawValue) \(t.shape)") }
                guard i + 1 < ts.count, ts[i + 1].name == PackedNames.scale(n), ts[i + 1].dtype == .f16, ts[i + 1].shape == [t.shape[0]] else {
                    throw bad("\(t.name) must be followed by \(PackedNames.scale(n)) (f16 [\(t.shape[0])])")
                }
                plan[t.name] = dropHead && n == headName ? .drop(followers: 1) : .q8(name: n)
                if !(dropHead && n == headName) { out.append(ManifestTensor(name: n, dtype: .f32, shape: t.shape)) }
                i += 2
            } else if t.name.hasSuffix(".q4") {
                let n = String(t.name.dropLast(3))
                guard i + 1 < ts.count else { throw bad("\(t.name) must be followed by \(PackedNames.scale(n))") }
                let K = try PackedNames.q4Cols(of: t, scale: ts[i + 1], file: path)
                plan[t.name] = dropHead && n == headName ? .drop(followers: 1) : .q4(name: n, cols: K)
                if !(dropHead && n == headName) { out.append(ManifestTensor(name: n, dtype: .f32, shape: [t.shape[0], K])) }
                i += 2
            } else {
                plan[t.name] = dropHead && t.name == headName ? .drop(followers: 0) : .copy
                if !(dropHead && t.name == headName) { out.append(t) }
                i += 1
            }
        }
        config = cfg
        groups = plan
        manifestTensors = out
        tensorInfos = out.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        files = reader.files
        metadata = m.metadata
        formatName = "tllm container (packed, version \(m.version))"
    }

    public func nextTensor() throws -> Tensor? {
        if !pending.isEmpty { return pending.removeFirst() }
        while let t = try reader.next() {
            func follower(_ n: String) throws -> Tensor {
                guard let p = try reader.next(), p.name == n else { throw TLLMError(path, "packed container: \(n) is missing after \(t.name)") }
                return p
            }
            switch groups[t.name] {
            case .copy?: return t
            case let .q8(n)?:
                return dequantizeQ8(name: n, q8: t, scale: try follower(PackedNames.scale(n)))
            case let .q4(n, K)?:
                return dequantizeQ4(name: n, q4: t, scale: try follower(PackedNames.scale(n)), cols: K)
            case let .ternary(n, g)?:
                let a = try follower(TernaryNames.alpha(n)), b = try follower(TernaryNames.gamma(n))
                let ts = unpackTernaryWeight(name: n, packed: t, geometry: g, alpha: a, gamma: b)
                let w = try TernaryWeight(name: n, codes: ts[0], alpha: ts[1], gamma: ts[2], groupSize: g.groupSize, file: path)
                if weights == .ternary { pending = ts }
                return w.dequantizedTensor(name: n)
            case let .drop(followers)?:
                for _ in 0..<followers { _ = try reader.next() }
            case nil:
                throw TLLMError(path, "packed container: unexpected tensor \(t.name) (a member of a packed, q8 or q4 group out of place)")
            }
        }
        return nil
    }
}
