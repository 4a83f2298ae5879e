// tllm-pack's work (DESIGN §10): a ternary container → a packed container (kind "packed", .tpk), streaming one
// weight at a time: each ternarized N (latent N, N.codes, N.alpha, N.gamma) becomes N.t2|N.t1 + f16 N.alpha,
// N.gamma; the latent weights are dropped; embedding and LM head as f16, q8 or q4 (the head also t2 when it was
// ternarized); norms and biases f32, skipped (float) linear layers f16; carried files copied. `unpackModel`
// goes back to a ternary container (through PackedSource).

import Foundation

/// How the embedding and the LM head are stored.
public enum PackedFloatFormat: String, CaseIterable, Sendable {
    case f16, q8, q4, t2
}

public struct PackOptions: Sendable {
    public var layout: PackedLayout = .t2
    public var embed: PackedFloatFormat = .f16
    /// nil: t2 when the input's head is ternarized, else f16.
    public var head: PackedFloatFormat?
    public var quiet = false
    public init(layout: PackedLayout = .t2, embed: PackedFloatFormat = .f16, head: PackedFloatFormat? = nil, quiet: Bool = false) {
        self.layout = layout
        self.embed = embed
        self.head = head
        self.quiet = quiet
    }
}

let embedName = "model.embed_tokens.weight", headName = "lm_head.weight"

/// One output tensor of the plan: what it is made from.
private enum PackStep {
    case copy(DType)  // a float tensor, stored as that dtype
    case float(PackedFloatFormat)  // the embedding or the head → f16, .q8 + .scale or .q4 + .scale
    case dropLatent
    case packCodes(PackedGeometry)
    case halfScales  // N.alpha / N.gamma → f16
    case dequantCodes(PackedFloatFormat)  // a ternarized head written as f16 / q8 / q4 (from codes, α, γ)
}

/// Packs the ternary container `input` into `output` ("-" for stdin / stdout).
@discardableResult
public func packModel(input: String, output: String, options o: PackOptions) throws -> PackSummary {
    let reader = try ContainerReader(path: input)
    let m = reader.manifest
    guard m.kind == .ternary else {
        throw TLLMError(input, "is a \(m.kind.rawValue) container; tllm-pack needs a ternary one (from tllm-ternarize or tllm-distill)")
    }
    let config = try ModelConfig(json: m.config, file: input)
    let ternary = Dictionary(uniqueKeysWithValues: try m.ternaryEntries(file: input).map { ($0.name, $0) })
    let headTernary = ternary[headName] != nil
    let head = o.head ?? (headTernary ? .t2 : .f16)
    guard o.embed != .t2 else { throw TLLMError(input, "--embed t2 is not supported (the embedding is looked up, not multiplied)") }
    if head == .t2 && !headTernary {
        throw TLLMError(input, "--head t2 needs a ternarized \(headName) (\(headName).codes) in the ternary container; use --head f16, q8 or q4")
    }
    // The plan: output entries and how each input tensor becomes them.
    var out: [ManifestTensor] = [], steps: [String: PackStep] = [:]
    var tiedHead: [ManifestTensor] = []
    for t in m.tensors {
        let base = t.name.hasSuffix(".codes") ? String(t.name.dropLast(6)) : t.name
        if ternary[t.name] != nil {
            steps[t.name] = .dropLatent
        } else if let e = ternary[base], t.name.hasSuffix(".codes") {
            if e.name == headName && head != .t2 {
                steps[t.name] = .dequantCodes(head)
                out += floatEntries(headName, head, rows: e.rows, cols: e.cols)
            } else {
                let geo = PackedGeometry(layout: e.name == headName ? .t2 : o.layout, cols: e.cols, groupSize: e.groupSize)
                steps[t.name] = .packCodes(geo)
                out += PackedNames.entries(e.name, rows: e.rows, geometry: geo)
            }
        } else if t.name.hasSuffix(".alpha") || t.name.hasSuffix(".gamma"), ternary[String(t.name.dropLast(6))] != nil {
            steps[t.name] = .halfScales  // entries already added with the codes (or dropped for a float head)
        } else if t.dtype.isFloat && (t.name == embedName || t.name == headName) && t.shape.count == 2 {
            let f = t.name == embedName ? o.embed : head
            steps[t.name] = .float(f)
            out += floatEntries(t.name, f, rows: t.shape[0], cols: t.shape[1])
            if t.name == embedName && config.tieWordEmbeddings && head != o.embed {  // the tied head in its own format
                tiedHead = floatEntries(headName, head, rows: t.shape[0], cols: t.shape[1])
                out += tiedHead
            }
        } else if t.dtype.isFloat {  // norms and biases f32; a linear layer the ternarizer skipped f16
            let d: DType = t.shape.count >= 2 ? .f16 : .f32
            steps[t.name] = .copy(d)
            out.append(ManifestTensor(name: t.name, dtype: d, shape: t.shape))
        } else {
            steps[t.name] = .copy(t.dtype)
            out.append(ManifestTensor(name: t.name, dtype: t.dtype, shape: t.shape, extra: t.extra))
        }
    }
    let summary = PackSummary(input: m.tensors, output: out, config: config, layout: o.layout, embed: o.embed, head: head)
    var meta = m.metadata
    meta.set("pack", summary.metadataJSON())
    let manifest = Manifest(kind: .packed, producer: "tllm-pack \(tllmVersion)", config: m.config, tensors: out, metadata: meta)
    let writer = try ContainerWriter(path: output, manifest: manifest, files: reader.files)
    let progress = Progress("packing", total: Double(m.tensors.reduce(0) { $0 + $1.byteCount }), unit: "B", quiet: o.quiet)
    var held: [String: Tensor] = [:]  // codes and α of a ternarized head being dequantized
    while let t = try reader.next() {
        progress.advance(by: Double(t.bytes.count))
        switch steps[t.name]! {
        case .dropLatent: continue
        case let .copy(d):
            try writer.write(t.dtype.isFloat ? t.converted(to: d) : t)
        case let .float(f):
            for x in floatTensors(t.name, f, t) { try writer.write(x) }
            if t.name == embedName && !tiedHead.isEmpty { for x in floatTensors(headName, head, t) { try writer.write(x) } }
        case let .packCodes(geo):
            let rows = t.shape[0], K = geo.cols
            let s = TensorStorage(count: rows * geo.rowBytes)
            let src = t.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
            let dst = s.mutableBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
            for i in 0..<(rows * K) where src[i] < -1 || src[i] > 1 {
                throw TLLMError(input, "\(t.name): code \(src[i]) at row \(i / K), column \(i % K) is not −1, 0 or +1")
            }
            for r in 0..<rows { geo.pack(codes: src + r * K, into: dst + r * geo.rowBytes) }
            try writer.write(Tensor(name: out[writer.written].name, dtype: .u8, shape: [rows, geo.rowBytes], storage: s))
        case .dequantCodes:
            held[t.name] = t
        case .halfScales:
            let base = String(t.name.dropLast(6))
            if case .dequantCodes(let f)? = steps[TernaryNames.codes(base)] {
                guard t.name.hasSuffix(".gamma") else { held[t.name] = t; continue }
                let w = try TernaryWeight(name: base, codes: held[TernaryNames.codes(base)]!, alpha: held[TernaryNames.alpha(base)]!,
                                          gamma: t, groupSize: ternary[base]!.groupSize, file: input)
                let f32 = w.dequantizedTensor(name: base)
                for x in floatTensors(base, f, f32) { try writer.write(x) }
                held = [:]
            } else {
                try writer.write(t.converted(to: .f16))
            }
        }
    }
    try writer.finish()
    progress.finish()
    var s = summary
    if output != "-", let a = try? FileManager.default.attributesOfItem(atPath: output), let n = a[.size] as? NSNumber {
        s.fileBytes = n.intValue
    }
    return s
}

private func rename(_ t: Tensor, _ name: String) -> Tensor { Tensor(name: name, dtype: t.dtype, shape: t.shape, storage: t.storage) }

/// The manifest entries of a float matrix X [rows × K] stored as f (f16, q8 or q4).
private func floatEntries(_ n: String, _ f: PackedFloatFormat, rows: Int, cols: Int) -> [ManifestTensor] {
    switch f {
    case .q8: PackedNames.q8Entries(n, rows: rows, cols: cols)
    case .q4: PackedNames.q4Entries(n, rows: rows, cols: cols)
    case .f16, .t2: [ManifestTensor(name: n, dtype: .f16, shape: [rows, cols])]  // t2 is for a ternarized head only (packCodes)
    }
}

/// The tensors of floatEntries for the float matrix t, named after n.
private func floatTensors(_ n: String, _ f: PackedFloatFormat, _ t: Tensor) -> [Tensor] {
    switch f {
    case .q8: quantizeQ8(name: n, t)
    case .q4: quantizeQ4(name: n, t)
    case .f16, .t2: [rename(t.converted(to: .f16), n)]
    }
}

/// Unpacks the packed container `input` back into a ternary container (PackedSource, `.ternary`): codes exact,
/// α and γ the stored f16 values as f32, the latent weight N = α·T + γ (the latent float weights are not in a
/// packed file), q8 and q4 tensors dequantized to f32, a separately stored head of a tied model dropped.
@discardableResult
public func unpackModel(input: String, output: String, quiet: Bool = false) throws -> Int {
    let src = try PackedSource(path: input, weights: .ternary)
    var meta = src.metadata
    if case .object(let kv) = meta { meta = .object(kv.filter { $0.0 != "pack" }) }
    meta.set("unpacked_from", .string("tllm-pack \(tllmVersion)"))
    let out = src.manifestTensors
    let writer = try ContainerWriter(path: output, manifest: Manifest(kind: .ternary, producer: "tllm-pack \(tllmVersion)",
                                                                      config: src.manifest.config, tensors: out, metadata: meta),
                                     files: src.files)
    let progress = Progress("unpacking", total: Double(out.reduce(0) { $0 + $1.byteCount }), unit: "B", quiet: quiet)
    while let t = try src.nextTensor() {
        progress.advance(by: Double(t.bytes.count))
        try writer.write(t)
    }
    try writer.finish()
    progress.finish()
    return out.count
}
