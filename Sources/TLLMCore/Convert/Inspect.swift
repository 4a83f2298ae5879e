// `tllm-convert --inspect`: what a model file holds, for any supported format (GGUF, safetensors file, HF
// directory, tllm container): format, architecture, tokenizer kind, and a table of tensors with dtype, shape
// and value statistics (min, max, mean, std over the dequantized values). Rendered as text or JSON.

import Foundation

public struct InspectedTensor {
    public var name: String
    /// The stored type as the file names it (e.g. "Q4_K", "BF16", "f16").
    public var dtype: String
    public var shape: [Int]
    public var min: Float, max: Float, mean: Double, std: Double
}

public struct InspectReport {
    public var path: String
    public var format: String
    public var architecture: String
    public var tokenizer: String
    public var config: ModelConfig?
    public var facts: [(String, String)]
    public var tensors: [InspectedTensor]

    public var parameterCount: Int { tensors.reduce(0) { $0 + (elementCount($1.shape) ?? 0) } }

    public func toJSON() -> JSON {
        .object([
            ("path", .string(path)),
            ("format", .string(format)),
            ("architecture", .string(architecture)),
            ("tokenizer", .string(tokenizer)),
            ("config", config?.toJSON() ?? .null),
            ("facts", .object(facts.map { ($0.0, .string($0.1)) })),
            ("parameters", JSON(parameterCount)),
            ("tensors", .array(tensors.map { t in
                .object([("name", .string(t.name)), ("dtype", .string(t.dtype)), ("shape", .array(t.shape.map { JSON($0) })),
                         ("min", .double(Double(t.min))), ("max", .double(Double(t.max))),
                         ("mean", .double(t.mean)), ("std", .double(t.std))])
            })),
        ])
    }

    public func text() -> String {
        var s = "file:          \(path)\nformat:        \(format)\narchitecture:  \(architecture)\ntokenizer:     \(tokenizer)\n"
        if let c = config {
            s += "config:        vocab \(c.vocabSize), hidden \(c.hiddenSize), ffn \(c.intermediateSize), layers \(c.numLayers), "
            s += "heads \(c.numHeads)/\(c.numKVHeads) kv, head dim \(c.headDim), rope θ \(c.ropeTheta), eps \(c.rmsNormEps), "
            s += "ctx \(c.maxPositions)\(c.tieWordEmbeddings ? ", tied embeddings" : "")\(c.attentionBias ? ", qkv bias" : "")\n"
        }
        for (k, v) in facts { s += (k + ":").padding(toLength: 15, withPad: " ", startingAt: 0) + v + "\n" }
        s += "parameters:    \(parameterCount) in \(tensors.count) tensors\n\n"
        let w = max(4, tensors.map { $0.name.count }.max() ?? 4)
        func col(_ x: String, _ n: Int) -> String { x.count >= n ? x : x + String(repeating: " ", count: n - x.count) }
        func rcol(_ x: String, _ n: Int) -> String { x.count >= n ? x : String(repeating: " ", count: n - x.count) + x }
        s += col("name", w) + "  " + col("dtype", 6) + "  " + col("shape", 14) + rcol("min", 11) + rcol("max", 11) + rcol("mean", 11) + rcol("std", 11) + "\n"
        for t in tensors {
            let shape = t.shape.map(String.init).joined(separator: "×")
            s += col(t.name, w) + "  " + col(t.dtype, 6) + "  " + col(shape, 14)
            s += rcol(String(format: "%.4g", t.min), 11) + rcol(String(format: "%.4g", t.max), 11)
            s += rcol(String(format: "%.4g", t.mean), 11) + rcol(String(format: "%.4g", t.std), 11) + "\n"
        }
        return s
    }
}

/// Describes a tokenizer from HF tokenizer.json bytes.
func hfTokenizerKind(_ bytes: [UInt8]?) -> String {
    guard let bytes, let j = try? bytes.withUnsafeBytes({ try JSON.parse($0, file: "tokenizer.json") }) else { return "none" }
    let model = j["model"]?["type"]?.string ?? "?"
    let vocab = j["model"]?["vocab"]?.object?.count ?? 0
    if model == "BPE" {
        if j["model"]?["byte_fallback"]?.bool == true { return "SentencePiece-style BPE with byte fallback (\(vocab) tokens)" }
        let pre = j["pre_tokenizer"]?.text(pretty: false) ?? ""
        if pre.contains("ByteLevel") { return "byte-level BPE (\(vocab) tokens)" }
    }
    return "\(model) (\(vocab) tokens)"
}

func stats(_ t: Tensor, dtypeName: String) -> InspectedTensor {
    let s = t.statistics()
    return InspectedTensor(name: t.name, dtype: dtypeName, shape: t.shape, min: s.min, max: s.max, mean: s.mean, std: s.std)
}

/// Inspects any supported model file.
public func inspectModel(_ path: String) throws -> InspectReport {
    switch try detectModelFile(path) {
    case .gguf: return try inspectGGUF(path)
    case .container: return try inspectContainer(path)
    case .safetensors, .hfDirectory:
        // A lone safetensors file without config.json is still worth listing.
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        if !isDir.boolValue, !FileManager.default.fileExists(atPath: dir + "/config.json") {
            let f = try SafetensorsFile(path: path)
            return InspectReport(path: path, format: "safetensors", architecture: "unknown (no config.json)", tokenizer: "none",
                                 config: nil, facts: f.metadata.map { ("meta." + $0.0, $0.1) },
                                 tensors: f.entries.map { stats(f.tensor($0), dtypeName: $0.dtype.safetensorsName) })
        }
        let src = try HFSource(path: path)
        var ts: [InspectedTensor] = []
        while let t = try src.nextTensor() { ts.append(stats(t, dtypeName: t.dtype.safetensorsName)) }
        let tok = src.files.first { $0.name == "source/tokenizer.json" }?.bytes
        return InspectReport(path: path, format: src.formatName, architecture: src.config.architecture,
                             tokenizer: hfTokenizerKind(tok), config: src.config, facts: [], tensors: ts)
    }
}

func ggufTokenizerKind(_ g: GGUFFile) -> String {
    let n = g.value("tokenizer.ggml.tokens")?.array?.count ?? 0
    switch g.value("tokenizer.ggml.model")?.string {
    case "llama": return "SentencePiece-style BPE with byte fallback (\(n) tokens)"
    case "gpt2": return "byte-level BPE, pre-tokenizer \(g.value("tokenizer.ggml.pre")?.string ?? "default") (\(n) tokens)"
    case let m?: return "\(m) (\(n) tokens)"
    case nil: return "none"
    }
}

/// A GGUF as stored: GGUF names and ggml types; statistics over the dequantized values.
func inspectGGUF(_ path: String) throws -> InspectReport {
    let g = try GGUFFile(path: path)
    let cfg = try? GGUFSource(path: path).config
    var facts: [(String, String)] = [("alignment", "\(g.alignment)"), ("metadata keys", "\(g.metadata.count)")]
    if let n = g.value("general.name")?.string { facts.insert(("name", n), at: 0) }
    var ts: [InspectedTensor] = []
    for info in g.tensors {
        let t: Tensor
        if info.type.traits.dequantize != nil {
            t = try g.tensor(info)
        } else {
            ts.append(InspectedTensor(name: info.name, dtype: info.type.traits.name, shape: info.shape, min: .nan, max: .nan, mean: .nan, std: .nan))
            continue
        }
        ts.append(stats(t, dtypeName: info.type.traits.name))
    }
    return InspectReport(path: path, format: "GGUF v\(g.version)", architecture: g.value("general.architecture")?.string ?? "unknown",
                         tokenizer: ggufTokenizerKind(g), config: cfg, facts: facts, tensors: ts)
}

/// A tllm container: its manifest and tensors.
func inspectContainer(_ path: String) throws -> InspectReport {
    let c = try openContainer(path)
    let m = c.manifest
    let cfg = try? ModelConfig(json: m.config, file: path)
    var tokenizer = "none"
    let files = c.fileNames.compactMap { n in c.file(named: n).map { (name: n, bytes: $0) } }
    if files.contains(where: { $0.name == Tokenizer.containerMember || $0.name.hasPrefix("source/") }) {
        do {
            let t = try Tokenizer.load(containerFiles: files, file: path)
            let kind = t.spec.model == .spm ? "SentencePiece-style BPE" : (t.spec.byteLevel ? "byte-level BPE" : "BPE")
            tokenizer = "\(kind)\(t.spec.byteFallback ? " with byte fallback" : "") (\(t.vocabSize) tokens)"
        } catch let e as TLLMError {
            tokenizer = "unsupported: \(e.message)"
        }
    }
    var facts: [(String, String)] = [("kind", m.kind.rawValue), ("version", "\(m.version)"), ("producer", m.producer)]
    if let kv = m.metadata.object { for (k, v) in kv { facts.append((k, v.string ?? v.text(pretty: false))) } }
    let ts = m.tensors.indices.map { i in stats(c.tensor(at: i), dtypeName: m.tensors[i].dtype.rawValue) }
    return InspectReport(path: path, format: "tllm container", architecture: cfg?.architecture ?? "unknown",
                         tokenizer: tokenizer, config: cfg, facts: facts, tensors: ts)
}

/// With --verify: checks a container input's checksums (other formats have none).
public func verifyContainerIfAny(_ path: String) throws {
    guard path != "-", try detectModelFile(path) == .container else { return }  // stdin is verified as it streams
    try openContainer(path).verify()
}
