// The tokenizer of any model file a tool is given: a container's normalized tokenizer.json (or its carried
// source files), a GGUF's tokenizer.ggml.* metadata, or a Hugging Face directory's tokenizer.json with
// tokenizer_config.json.

import Foundation

public func loadTokenizer(forModel path: String) throws -> Tokenizer {
    switch try detectModelFile(path) {
    case .gguf:
        let g = try GGUFFile(path: path)
        return try Tokenizer(ggufMetadata: g.metadata.filter { $0.0.hasPrefix("tokenizer.") }, file: path)
    case .container:
        let c = try openContainer(path)
        if c.manifest.kind == .calib || c.manifest.kind == .checkpoint {
            throw TLLMError(path, "is a \(c.manifest.kind.rawValue) container, not a model (float, ternary or packed)")
        }
        let files = c.fileNames.compactMap { n in c.file(named: n).map { (name: n, bytes: $0) } }
        return try Tokenizer.load(containerFiles: files, file: path)
    case .safetensors, .hfDirectory:
        var isDir: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: path, isDirectory: &isDir)
        let dir = URL(fileURLWithPath: isDir.boolValue ? path : URL(fileURLWithPath: path).deletingLastPathComponent().path)
        let tj = dir.appendingPathComponent("tokenizer.json").path
        guard FileManager.default.fileExists(atPath: tj) else { throw TLLMError(path, "no tokenizer.json beside the model") }
        let cfgPath = dir.appendingPathComponent("tokenizer_config.json").path
        let cfg = FileManager.default.fileExists(atPath: cfgPath) ? try JSON.parse(contentsOf: cfgPath) : nil
        return try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: tj), config: cfg, file: tj)
    }
}
