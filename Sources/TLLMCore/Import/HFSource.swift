// A Hugging Face model: a directory with config.json and model.safetensors, or shards listed in
// model.safetensors.index.json, or one .safetensors file with config.json beside it (DESIGN §4).
// Tensors keep their stored dtype (F32/F16/BF16) and come out in canonical order, borrowed from the mapped
// shards. Tokenizer files (and config.json itself) are carried untouched under `source/`.

import Foundation

public final class HFSource: ModelSource {
    public let path: String
    public let formatName: String
    public let config: ModelConfig
    public let tensorInfos: [TensorInfo]
    public let files: [(name: String, bytes: [UInt8])]
    public let metadata: JSON
    private let locations: [(file: SafetensorsFile, entry: SafetensorsEntry)]
    private var cursor = 0

    /// Files copied from the model directory into the container, when present.
    public static let carriedFiles = ["config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                      "special_tokens_map.json", "tokenizer.model", "added_tokens.json"]

    public init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let dir = isDir.boolValue ? path : URL(fileURLWithPath: path).deletingLastPathComponent().path
        func inDir(_ n: String) -> String { URL(fileURLWithPath: dir).appendingPathComponent(n).path }

        let configPath = inDir("config.json")
        guard FileManager.default.fileExists(atPath: configPath) else {
            throw TLLMError(path, "no config.json \(isDir.boolValue ? "in the directory" : "beside the file") (a Hugging Face model needs one)")
        }
        var cfg = try ModelConfig(hfConfig: try JSON.parse(contentsOf: configPath), file: configPath)

        // The shard files.
        var shardPaths: [String] = []
        if !isDir.boolValue {
            shardPaths = [path]
        } else if FileManager.default.fileExists(atPath: inDir("model.safetensors.index.json")) {
            let indexPath = inDir("model.safetensors.index.json")
            let index = try JSON.parse(contentsOf: indexPath)
            guard let map = index["weight_map"]?.object else { throw TLLMError(indexPath, "no weight_map object") }
            for (_, f) in map {
                guard let f = f.string, !f.contains("/"), !f.hasPrefix(".") else { throw TLLMError(indexPath, "bad shard name in weight_map") }
                if !shardPaths.contains(inDir(f)) { shardPaths.append(inDir(f)) }
            }
        } else if FileManager.default.fileExists(atPath: inDir("model.safetensors")) {
            shardPaths = [inDir("model.safetensors")]
        } else {
            let all = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
            shardPaths = all.filter { $0.hasSuffix(".safetensors") }.sorted().map(inDir)
        }
        guard !shardPaths.isEmpty else { throw TLLMError(path, "no .safetensors files found") }

        // Index every tensor by name.
        var byName: [String: (SafetensorsFile, SafetensorsEntry)] = [:]
        var sourceDTypes: [String: Int] = [:]
        for sp in shardPaths {
            let f = try SafetensorsFile(path: sp)
            for e in f.entries {
                if e.name.hasSuffix("rotary_emb.inv_freq") { continue }  // derived from the config; old checkpoints store it
                guard byName[e.name] == nil else { throw TLLMError(sp, "tensor \(e.name) also appears in another shard") }
                guard e.dtype.isFloat else { throw TLLMError(sp, "tensor \(e.name) has dtype \(e.dtype.safetensorsName); a float model needs F32, F16 or BF16") }
                byName[e.name] = (f, e)
                sourceDTypes[e.dtype.safetensorsName, default: 0] += 1
            }
        }
        // Tied models may still store lm_head; some untied configs omit tie_word_embeddings but have no head.
        if cfg.tieWordEmbeddings { byName["lm_head.weight"] = nil }
        if !cfg.tieWordEmbeddings, byName["lm_head.weight"] == nil { cfg.tieWordEmbeddings = true }
        config = cfg

        var locs: [(SafetensorsFile, SafetensorsEntry)] = []
        for (name, shape) in TensorNames.expected(for: cfg) {
            guard let (f, e) = byName.removeValue(forKey: name) else { throw TLLMError(path, "missing tensor \(name)") }
            guard e.shape == shape else { throw TLLMError(f.path, "tensor \(name) has shape \(e.shape), the config implies \(shape)") }
            locs.append((f, e))
        }
        if let extra = byName.keys.sorted().first {
            throw TLLMError(byName[extra]!.0.path, "unexpected tensor \(extra) for a \(cfg.architecture) model")
        }
        locations = locs.map { (file: $0.0, entry: $0.1) }
        tensorInfos = locs.map { TensorInfo(name: $0.1.name, dtype: $0.1.dtype, shape: $0.1.shape) }
        formatName = shardPaths.count == 1 ? "safetensors" : "safetensors (\(shardPaths.count) shards)"

        var carried: [(String, [UInt8])] = []
        for n in HFSource.carriedFiles where FileManager.default.fileExists(atPath: inDir(n)) {
            guard let d = FileManager.default.contents(atPath: inDir(n)) else { throw TLLMError(inDir(n), "cannot read") }
            carried.append(("source/" + n, [UInt8](d)))
        }
        files = carried
        metadata = .object([
            ("source_format", .string(formatName)),
            ("source_dtypes", .object(sourceDTypes.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })),
        ])
    }

    public func nextTensor() throws -> Tensor? {
        if cursor > 0 {  // the previous tensor has been consumed: drop its pages
            let (f, e) = locations[cursor - 1]
            f.file.release(f.tensor(e).bytes)
        }
        guard cursor < locations.count else { return nil }
        defer { cursor += 1 }
        let (f, e) = locations[cursor]
        return f.tensor(e)
    }
}
