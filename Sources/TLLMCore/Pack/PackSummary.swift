// What tllm-pack reports (DESIGN §10): bytes and bits per weight of the whole packed model (file size over
// all parameters, a tied head counted once) and of the ternarized linear layers alone (packed codes + f16 α, γ
// over their weights), plus the embedding and head formats with their bytes and bits per weight. Printed on
// stderr, or as JSON with --json, and the static part stored under the packed manifest's metadata.pack.

import Foundation

public struct PackSummary: Sendable {
    public var layout: PackedLayout
    public var embed: PackedFloatFormat
    public var head: PackedFloatFormat
    /// Parameters of the model (each ternarized weight counted by its K·rows).
    public var parameters: Int
    /// Ternarized linear weights: count, parameters, packed bytes (codes + α + γ).
    public var linearWeights: Int, linearParameters: Int, linearBytes: Int
    public var embedBytes: Int, headBytes: Int
    /// Weights of the embedding (V·C), and of the head when stored.
    public var embedParameters: Int
    /// Bytes of all tensors of the output.
    public var tensorBytes: Int
    /// Size of the output file (nil when written to stdout).
    public var fileBytes: Int?

    init(input: [ManifestTensor], output: [ManifestTensor], config: ModelConfig, layout: PackedLayout,
         embed: PackedFloatFormat, head: PackedFloatFormat) {
        self.layout = layout
        self.embed = embed
        self.head = head
        let derived = Set(input.flatMap { t -> [String] in
            guard t.name.hasSuffix(".codes") else { return [] }
            let n = String(t.name.dropLast(6))
            return [t.name, TernaryNames.alpha(n), TernaryNames.gamma(n)]
        })
        parameters = input.filter { !derived.contains($0.name) }.reduce(0) { $0 + (elementCount($1.shape) ?? 0) }
        let byName = Dictionary(uniqueKeysWithValues: output.map { ($0.name, $0) })
        var lw = 0, lp = 0, lb = 0
        for t in output where t.extra?["layout"] != nil {
            let n = String(t.name.dropLast(3)), K = t.extra?["k"]?.int ?? 0
            lw += 1
            lp += t.shape[0] * K
            lb += t.byteCount + (byName[TernaryNames.alpha(n)]?.byteCount ?? 0) + (byName[TernaryNames.gamma(n)]?.byteCount ?? 0)
        }
        linearWeights = lw
        linearParameters = lp
        linearBytes = lb
        func bytes(_ n: String) -> Int {
            [n, PackedNames.q8(n), PackedNames.q4(n), PackedNames.scale(n), n + ".t2", TernaryNames.alpha(n), TernaryNames.gamma(n)]
                .reduce(0) { $0 + (byName[$1]?.byteCount ?? 0) }
        }
        embedBytes = bytes(embedName)
        embedParameters = config.vocabSize * config.hiddenSize
        headBytes = output.contains { $0.name.hasPrefix(headName) } ? bytes(headName) : 0
        tensorBytes = output.reduce(0) { $0 + $1.byteCount }
    }

    /// Bits per weight of the whole model: the file (or, on stdout, the tensors) over all parameters.
    public var bitsPerWeight: Double { Double(8 * (fileBytes ?? tensorBytes)) / Double(max(1, parameters)) }
    public var linearBitsPerWeight: Double { Double(8 * linearBytes) / Double(max(1, linearParameters)) }
    /// f16 16, q8 8 + 16/C, q4 4.5 (C a multiple of 256), t2 2 + 32/G.
    public var embedBitsPerWeight: Double { Double(8 * embedBytes) / Double(max(1, embedParameters)) }
    /// 0 for a tied head that is not stored separately.
    public var headBitsPerWeight: Double { Double(8 * headBytes) / Double(max(1, embedParameters)) }

    /// The part known before the file is written (metadata.pack).
    func metadataJSON() -> JSON {
        .object([("layout", .string(layout.rawValue)), ("embed", .string(embed.rawValue)), ("head", .string(head.rawValue)),
                 ("linear_weights", JSON(linearWeights)), ("linear_bits_per_weight", .double(linearBitsPerWeight)),
                 ("parameters", JSON(parameters)), ("tensor_bytes", JSON(tensorBytes))])
    }

    public func toJSON() -> JSON {
        var j = metadataJSON()
        j.set("linear_parameters", JSON(linearParameters))
        j.set("linear_bytes", JSON(linearBytes))
        j.set("embed_bytes", JSON(embedBytes))
        j.set("head_bytes", JSON(headBytes))
        j.set("embed_bits_per_weight", .double(embedBitsPerWeight))
        j.set("head_bits_per_weight", .double(headBitsPerWeight))
        j.set("file_bytes", fileBytes.map { JSON($0) } ?? .null)
        j.set("bits_per_weight", .double(bitsPerWeight))
        return j
    }

    public func text() -> String {
        func mb(_ b: Int) -> String { String(format: "%.2f MB", Double(b) / 1e6) }
        let size = fileBytes.map { "file \(mb($0))" } ?? "tensors \(mb(tensorBytes))"
        func part(_ b: Int, _ bits: Double) -> String { String(format: "%@ (%.2f bits/weight)", mb(b), bits) }
        return String(format: "%@, %.3f bits/weight over %d parameters; linear layers (%d, %@): %@, %.3f bits/weight; embedding %@ %@, head %@ %@",
                      size, bitsPerWeight, parameters, linearWeights, layout.rawValue, mb(linearBytes), linearBitsPerWeight,
                      embed.rawValue, part(embedBytes, embedBitsPerWeight), head.rawValue,
                      headBytes == 0 ? "(tied)" : part(headBytes, headBitsPerWeight))
    }
}
